"""Give back what a stopped cloud held, so that a notebook's kernel shrinks after ``cloud.stop()``.

A chapter's kernel lives on after its cloud stops, and Binder gives the whole session 1-2 GB.
What a cloud leaves behind in the process: moto's backends keep every account's state (IAM
with AWS's managed policies, buckets, queues, log events, metric data) in module-level tables;
moto's own botocore session keeps the service models it parsed; and freed memory stays with the
allocator unless it is handed back. :func:`release` drops the first two for the stopped cloud's
accounts, when no other running cloud in this process uses them (tests run several at once),
collects garbage, and asks glibc to return free pages to the system (``malloc_trim``).
Measured on the course: about 10 MB per chapter; what the kernel keeps beyond that is imported
code and objects the notebook itself still references (its clients, frames and figures).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .cloud import LocalCloud


def release(cloud: LocalCloud) -> None:
    """Free what the stopped ``cloud`` kept in this process (call it at the end of ``stop()``)."""
    from .cloud import _running

    in_use = {a for other in _running if other is not cloud for a in (other.account, other.other_account)}
    _drop_moto_accounts({cloud.account, cloud.other_account} - in_use)
    gc.collect()
    _trim_heap()


def _drop_moto_accounts(accounts: set[str]) -> None:
    """Forget moto's state for ``accounts`` in every backend in use; moto recreates an account's
    backends, empty, the next time a request names it."""
    base = sys.modules.get("moto.core.base_backend")
    if base is None or not accounts:
        return
    with base.backend_lock:
        for backends in list(getattr(base.BackendDict, "_instances", ())):
            for account in accounts & set(backends):
                dict.__delitem__(backends, account)
            names = getattr(backends, "bucket_accounts", {})  # S3's global bucket names: free them too
            for name in [n for n, (_, account) in names.items() if account in accounts]:
                del names[name]
    get_session = base.AccountSpecificBackend.get_session  # moto's botocore session, cached for the process
    if get_session.cache_info().currsize:
        get_session()._session.get_component("data_loader")._cache.clear()  # the models it parsed: reloaded on use


def _trim_heap() -> None:
    """Return free heap pages to the system where the C library can (glibc); a no-op elsewhere."""
    if sys.platform != "linux":
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):  # musl and others have no malloc_trim
        pass
