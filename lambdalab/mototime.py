"""moto tells the time by the cloud's clock, so that AWS's own waits in moto follow ``clock.advance``.

moto's services read the time through ``moto.core.utils.utcnow`` (directly, or through
``unix_time``/``unix_time_millis``): SQS's visibility timeouts, delays, receive timestamps and
retention; Kinesis's arrival timestamps (and so AT_TIMESTAMP iterators and record ages); DynamoDB
Streams' ``ApproximateCreationDateTime``.  :func:`follow` replaces that function, once per process,
by one that answers the newest running cloud's clock (the real time when no cloud runs), so
advancing a cloud's clock by 30 s makes a message received with a 30 s visibility timeout visible
again, in moto's eyes as in lambdalab's.  Modules that imported ``utcnow`` by name before the
replacement (``moto.kinesis.models``, ``moto.sts.models``, ...) get it too: all of moto keeps the
cloud's time (STS sessions' expiry, S3's LastModified, ...).

moto keeps one state per process, shared by every cloud the process runs; so it has one time too.
With several clouds running at once it is the newest one's clock (tests start clouds one after the
other; a notebook runs one).
"""

from __future__ import annotations

import sys
import threading
from datetime import datetime, timezone

from .clock import Clock

_clocks: tuple[Clock, ...] = ()  # the running clouds' clocks, newest last; replaced whole under _lock
_lock = threading.Lock()


def _utcnow() -> datetime:
    """moto's ``utcnow``: a naive UTC datetime, read from the cloud's clock."""
    clocks = _clocks  # one read: another thread may replace the tuple meanwhile
    now = clocks[-1].time() if clocks else datetime.now(timezone.utc).timestamp()
    return datetime.fromtimestamp(now, timezone.utc).replace(tzinfo=None)


def follow(clock: Clock) -> None:
    """From now on (until :func:`unfollow`), moto's time is ``clock``'s."""
    global _clocks
    import moto.core.utils

    with _lock:
        original = moto.core.utils.utcnow
        if original is not _utcnow:  # once per process: moto's modules imported later take the replacement
            for name, module in list(sys.modules.items()):
                if name.startswith("moto") and getattr(module, "utcnow", None) is original:
                    module.utcnow = _utcnow
        _clocks = (*_clocks, clock)


def unfollow(clock: Clock) -> None:
    global _clocks
    with _lock:
        _clocks = tuple(c for c in _clocks if c is not clock)
