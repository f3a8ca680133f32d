"""Sandbox processes: spawn them with Lambda's limits, kill them with everything they started.

Each runtime gets its own session (process group), so one ``killpg`` reaches the forks and
threads it made.  Limits are set with ``prlimit`` from outside right after the spawn, which keeps
``subprocess`` on its fast, thread-safe path (no ``preexec_fn``).  A tiny *reaper* process holds
the list of live groups and kills them all if the process that owns the cloud dies, however it
dies: that is what guarantees no sandbox outlives a crashed notebook kernel.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading

log = logging.getLogger(__name__)

try:
    import resource
except ImportError:  # pragma: no cover - Windows runs lambdalab through WSL
    resource = None  # type: ignore[assignment]

_REAPER = """\
import os, shutil, signal, sys
groups = set()
for line in sys.stdin:
    (groups.add if line[0] == "+" else groups.discard)(int(line[1:]))
for group in groups:
    try:
        os.killpg(group, signal.SIGKILL)
    except OSError:
        pass
for path, dirs, files in os.walk(sys.argv[1]):  # unpacked code is read-only: make it removable
    os.chmod(path, 0o700)
shutil.rmtree(sys.argv[1], ignore_errors=True)
"""


class Reaper:
    """When its stdin closes (the cloud stopped or died), kills every registered process group
    and removes the cloud's working directory."""

    def __init__(self, workdir: str) -> None:
        self._proc = subprocess.Popen([sys.executable, "-S", "-c", _REAPER, workdir], stdin=subprocess.PIPE,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      start_new_session=True, text=True, bufsize=1)
        self._lock = threading.Lock()

    def _send(self, line: str) -> None:
        with self._lock:
            try:
                self._proc.stdin.write(line)
            except (OSError, ValueError):
                pass

    def register(self, pgid: int) -> None:
        self._send(f"+{pgid}\n")

    def unregister(self, pgid: int) -> None:
        self._send(f"-{pgid}\n")

    def close(self) -> None:
        with self._lock:
            try:
                self._proc.stdin.close()
            except OSError:
                pass
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


def spawn(argv: list[str], *, env: dict[str, str], cwd: str, max_files: int, max_procs: int,
          max_file_bytes: int) -> subprocess.Popen:
    """Start a runtime in its own session with stdout and stderr on one pipe."""
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True, bufsize=0)
    if resource is not None and hasattr(resource, "prlimit"):
        for limit, value in ((resource.RLIMIT_NOFILE, max_files), (resource.RLIMIT_NPROC, max_procs),
                             (resource.RLIMIT_FSIZE, max_file_bytes)):
            try:
                resource.prlimit(proc.pid, limit, (value, value))
            except (OSError, ValueError):
                log.debug("could not set limit %s on %s", limit, proc.pid)
    return proc


def signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL the runtime's whole process group (frozen members included) and reap the runtime."""
    signal_group(proc.pid, signal.SIGKILL)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL does not time out
        log.error("sandbox %s did not die", proc.pid)


def describe_exit(returncode: int) -> str:
    """The Go-style wording Lambda's platform uses: ``exit status 1``, ``signal: killed``."""
    if returncode >= 0:
        return f"exit status {returncode}"
    names = {signal.SIGKILL: "killed", signal.SIGSEGV: "segmentation fault", signal.SIGABRT: "aborted",
             signal.SIGTERM: "terminated", signal.SIGBUS: "bus error", signal.SIGFPE: "floating point exception",
             signal.SIGILL: "illegal instruction", signal.SIGXFSZ: "file size limit exceeded",
             signal.SIGPIPE: "broken pipe", signal.SIGINT: "interrupt", signal.SIGHUP: "hangup"}
    return f"signal: {names.get(-returncode, signal.Signals(-returncode).name.lower())}"
