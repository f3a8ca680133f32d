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
from datetime import datetime, timezone

from .clock import Clock
from .newest import Newest

_clocks: Newest[Clock] = Newest()


def _utcnow() -> datetime:
    """moto's ``utcnow``: a naive UTC datetime, read from the cloud's clock."""
    clock = _clocks.get()
    now = clock.time() if clock else datetime.now(timezone.utc).timestamp()
    return datetime.fromtimestamp(now, timezone.utc).replace(tzinfo=None)


def follow(clock: Clock) -> None:
    """From now on (until :func:`unfollow`), moto's time is ``clock``'s."""
    _clocks.add(clock, _install)


def unfollow(clock: Clock) -> None:
    _clocks.remove(clock)


def _install() -> None:
    """Once per process: moto's modules that imported ``utcnow`` by name get the replacement too."""
    import moto.core.utils

    original = moto.core.utils.utcnow
    if original is not _utcnow:
        for name, module in list(sys.modules.items()):
            if name.startswith("moto") and getattr(module, "utcnow", None) is original:
                module.utcnow = _utcnow
