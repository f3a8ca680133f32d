"""ProcessGroup: a handle on a runtime's process group that can never signal a recycled one.

Three threads signal a runtime's group: the environment's own (freeze, thaw, timeout, shutdown),
the governor's (CPU stop and continue, out-of-memory kill) and, through them, ``stop()``.  A bare
``killpg(pgid)`` is only safe while the group's leader is unreaped: once it is reaped and its group
empty, the number can name someone else's group.  So every signal goes through this handle:

* where the kernel has it (Linux >= 6.9), ``pidfd_send_signal(..., PIDFD_SIGNAL_PROCESS_GROUP)``
  names the group by its leader's pidfd, which keeps naming that group whoever reaps the leader;
* elsewhere, ``killpg`` under the handle's lock while the handle is open. The environment's
  thread, the only one that reaps the runtime, closes the handle before it reaps, so an open
  handle means an unreaped leader and a pgid that is still its own.

The lock is held only for one signal syscall, so the governor and the environment never wait on
each other for longer than that.  The first kill's reason (``timeout``, ``oom``, ``tasks``,
``shutdown``) is kept for the environment to report.
"""

from __future__ import annotations

import errno
import os
import signal
import threading

_PIDFD_SIGNAL_PROCESS_GROUP = 1 << 2  # linux/pidfd.h, Linux >= 6.9
_group_pidfd_signals = hasattr(signal, "pidfd_send_signal")  # cleared once the kernel refuses the flag


class ProcessGroup:
    """The process group led by ``pid`` (a runtime started in its own session)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.kill_reason: str | None = None
        self._lock = threading.Lock()
        self._open = True
        self._pidfd = os.pidfd_open(pid) if hasattr(os, "pidfd_open") else None

    def fileno(self) -> int | None:
        """A pidfd that becomes readable when the leader exits (None without pidfds: poll instead)."""
        return self._pidfd

    def signal(self, sig: int) -> bool:
        """Signal every process of the group; False once the handle is closed (nothing is sent)."""
        with self._lock:
            if not self._open:
                return False
            self._send(sig)
            return True

    def kill(self, reason: str) -> None:
        """SIGKILL the group, remembering why if it is the first kill."""
        with self._lock:
            if not self._open:
                return
            if self.kill_reason is None:
                self.kill_reason = reason
            self._send(signal.SIGKILL)

    def close(self) -> None:
        """No signal goes through this handle any more; call before reaping the leader."""
        with self._lock:
            self._open = False
            if self._pidfd is not None:
                os.close(self._pidfd)
                self._pidfd = None

    def _send(self, sig: int) -> None:
        global _group_pidfd_signals
        try:
            if self._pidfd is not None and _group_pidfd_signals:
                try:
                    signal.pidfd_send_signal(self._pidfd, sig, None, _PIDFD_SIGNAL_PROCESS_GROUP)
                    return
                except OSError as e:
                    if e.errno != errno.EINVAL:  # a kernel without the flag; anything else is final
                        raise
                    _group_pidfd_signals = False
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
