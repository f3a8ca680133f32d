"""Sandbox processes, seen from the cloud: started by the reaper, ended with everything they started.

Every runtime is forked by the cloud's *reaper* (:mod:`reaper`), a small single-threaded process
that sets each sandbox up before ``execve`` (the cloud's own threads cannot safely run code
between fork and exec) and outlives them all. A :class:`Sandbox` is the cloud's handle on one
runtime, shaped like the part of ``subprocess.Popen`` the environment uses (``pid``, ``stdout``,
``poll``, ``wait``, ``returncode``); its channel to the reaper also carries the kill, and closing
it releases the runtime's pid. The runtime stays a zombie until then, so its pid (and process
group) can never be recycled while the environment may still signal it.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

log = logging.getLogger(__name__)
REAPER = Path(__file__).with_name("reaper.py")
RELEASE_TIMEOUT = 5.0  # seconds release() waits for the reaper to reap a runtime


class Sandbox:
    """A runtime the reaper started; the ``subprocess.Popen`` interface the environment relies on."""

    def __init__(self, pid: int, channel: socket.socket, stdout) -> None:
        self.pid, self.stdout = pid, stdout
        self.returncode: int | None = None
        self._channel = channel
        self._killed = False

    def poll(self) -> int | None:
        if self.returncode is None and self._channel is not None:
            self._channel.setblocking(False)
            try:
                self._receive()
            except BlockingIOError:
                pass
            finally:
                self._channel.setblocking(True)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self._channel is None:  # released: whatever it was, it is gone
            self.returncode = -signal.SIGKILL if self.returncode is None else self.returncode
            return self.returncode
        self._channel.settimeout(timeout)
        try:
            while self.returncode is None:
                self._receive()
        except TimeoutError:
            raise subprocess.TimeoutExpired(str(self.pid), timeout) from None
        finally:
            if self._channel is not None:
                self._channel.settimeout(None)
        return self.returncode

    def kill_all(self) -> None:
        """End the runtime and every process it ever started; returns when they are gone."""
        if self._channel is None:
            return
        self._channel.send(b'{"op": "kill"}')
        while not self._killed:
            self._receive()

    def release(self, timeout: float = RELEASE_TIMEOUT) -> None:
        """Let the reaper reap the runtime (and kill whatever is left of it); returns once it has, so
        the pid is gone, not a zombie, when the environment says it stopped."""
        if self._channel is None:
            return
        channel, self._channel = self._channel, None
        try:
            channel.shutdown(socket.SHUT_WR)
            channel.settimeout(timeout)
            while channel.recv(4096):  # an exit status still on its way; the reaper closes once it has reaped
                pass
        except OSError:  # the reaper is gone (its runtimes with it), or it took too long: it reaps on its own
            pass
        finally:
            channel.close()

    def _receive(self) -> None:
        data = self._channel.recv(4096)
        if not data:  # the reaper is gone, and with it the runtime (PR_SET_PDEATHSIG)
            self.returncode = -signal.SIGKILL if self.returncode is None else self.returncode
            self._killed = True
            return
        msg = json.loads(data)
        if "exit" in msg:
            self.returncode = msg["exit"]
        self._killed = self._killed or msg.get("killed", False)


class Reaper:
    """The cloud's reaper process and the requests it serves (any thread may call them)."""

    def __init__(self, workdir: str, config: dict) -> None:
        self._control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._proc = subprocess.Popen([sys.executable, "-S", "-E", "-s", str(REAPER), workdir, str(theirs.fileno())],
                                      env={}, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      pass_fds=(theirs.fileno(),), start_new_session=True)
        theirs.close()
        self._closed = threading.Event()
        self.pid = self.configure(config)

    def configure(self, config: dict) -> int:
        """What every sandbox gets (priority, Landlock's common rules, ...); returns the reaper's pid."""
        return self._call({"op": "configure", "config": config})["pid"]

    def spawn(self, argv: list[str], *, env: dict[str, str], cwd: str, limits: dict[str, int], uid: int | None,
              landlock: dict) -> Sandbox:
        """Start a runtime; raises OSError (with the filename) as ``execve`` would have."""
        out_r, out_w = os.pipe()
        try:
            channel = self._request({"op": "spawn", "argv": argv, "env": env, "cwd": cwd, "limits": limits,
                                     "uid": uid, "gid": uid, "landlock": landlock}, out_w)
            reply = _receive(channel)
        except OSError as e:
            os.close(out_r)
            raise OSError(e.errno, "lambdalab's reaper process is gone; restart the cloud", argv[0]) from None
        finally:
            os.close(out_w)
        if "pid" not in reply:
            channel.close()
            os.close(out_r)
            if reply.get("step", "exec") != "exec":
                log.error("sandbox set-up failed at %s: %s", reply["step"], reply["strerror"])
                raise OSError(reply["errno"], f"sandbox set-up failed ({reply['step']}): {reply['strerror']}", argv[0])
            raise OSError(reply["errno"], reply["strerror"], reply["filename"])
        return Sandbox(reply["pid"], channel, open(out_r, "rb", buffering=0))

    def allocate_user(self, first: int, count: int) -> int:
        """A uid of its own for one environment, unique on this machine until released."""
        reply = self._call({"op": "user", "first": first, "count": count})
        if "error" in reply:
            raise OSError(0, reply["error"])
        return reply["uid"]

    def release_user(self, uid: int) -> None:
        """Kill whatever still runs as ``uid`` and give it back (a reaper that is gone did so on its way out)."""
        if not self._closed.is_set():
            try:
                self._call({"op": "free_user", "uid": uid})
            except OSError:
                pass

    def close(self) -> None:
        """The reaper kills everything left, removes the working directory and exits."""
        self._closed.set()
        self._control.close()
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            log.error("the reaper did not finish in 30 s; killing it")
            self._proc.kill()
            self._proc.wait()

    def _request(self, msg: dict, *fds: int) -> socket.socket:
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            socket.send_fds(self._control, [json.dumps(msg).encode()], [theirs.fileno(), *fds])
        except OSError:
            mine.close()
            raise
        finally:
            theirs.close()
        return mine

    def _call(self, msg: dict) -> dict:
        with self._request(msg) as channel:
            return _receive(channel)


class PlainSandbox(subprocess.Popen):
    """A runtime started without the reaper in between: its process group is all there is to kill."""

    reaper: PlainReaper

    def kill_all(self) -> None:
        signal_group(self.pid, signal.SIGKILL)

    def release(self) -> None:
        self.reaper.unregister(self.pid)


_PLAIN_REAPER = """\
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


class PlainReaper:
    """Where there are no pidfds, subreapers or Landlock (macOS, Linux < 5.4): sandboxes are plain
    subprocesses, each in a process group of its own, and a reaper process that reads the live
    groups on its stdin kills them all when the cloud goes away. A process that leaves its group
    (``setsid``) escapes this; ``cloud.isolation()`` says so."""

    def __init__(self, workdir: str, config: dict) -> None:
        self._proc = subprocess.Popen([sys.executable, "-S", "-c", _PLAIN_REAPER, workdir], stdin=subprocess.PIPE,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                                      text=True, bufsize=1)
        self.pid = self._proc.pid
        self._lock = threading.Lock()

    def configure(self, config: dict) -> int:
        return self.pid

    def spawn(self, argv: list[str], *, env: dict[str, str], cwd: str, limits: dict[str, int], uid: int | None,
              landlock: dict) -> PlainSandbox:
        proc = PlainSandbox(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True, bufsize=0)
        proc.reaper = self
        self._send(f"+{proc.pid}\n")
        if hasattr(resource, "prlimit"):  # Linux only
            for limit, key in ((resource.RLIMIT_NOFILE, "nofile"), (resource.RLIMIT_NPROC, "nproc"),
                               (resource.RLIMIT_FSIZE, "fsize")):
                try:
                    resource.prlimit(proc.pid, limit, (limits[key], limits[key]))
                except (OSError, ValueError):
                    log.debug("could not set limit %s on %s", limit, proc.pid)
        return proc

    def unregister(self, pgid: int) -> None:
        self._send(f"-{pgid}\n")

    def close(self) -> None:
        with self._lock:
            try:
                self._proc.stdin.close()
            except OSError:
                pass
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()

    def _send(self, line: str) -> None:
        with self._lock:
            try:
                self._proc.stdin.write(line)
            except (OSError, ValueError):
                pass


def _receive(channel: socket.socket) -> dict:
    data = channel.recv(65536)
    if not data:
        raise OSError(0, "the reaper process is gone")
    return json.loads(data)


def signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def kill_tree(proc: Sandbox) -> None:
    """End the runtime and everything it started (daemons and orphans included), then release it."""
    try:
        proc.kill_all()
        proc.wait(timeout=10)
    except (OSError, subprocess.TimeoutExpired):  # pragma: no cover - the reaper kills what it can
        log.error("sandbox %s did not end cleanly", proc.pid)
    finally:
        proc.release()


def exit_error(returncode: int) -> str:
    """What Lambda says of a runtime that ended: a clean exit (``sys.exit()``) gave no reason
    (recorded: tests/fidelity/cases/inv-sys-exit-*.json), any other end its status or signal."""
    if returncode == 0:
        return "Runtime exited without providing a reason"
    return f"Runtime exited with error: {describe_exit(returncode)}"


def describe_exit(returncode: int) -> str:
    """The Go-style wording Lambda's platform uses: ``exit status 1``, ``signal: killed``."""
    if returncode >= 0:
        return f"exit status {returncode}"
    names = {signal.SIGKILL: "killed", signal.SIGSEGV: "segmentation fault", signal.SIGABRT: "aborted",
             signal.SIGTERM: "terminated", signal.SIGBUS: "bus error", signal.SIGFPE: "floating point exception",
             signal.SIGILL: "illegal instruction", signal.SIGXFSZ: "file size limit exceeded",
             signal.SIGPIPE: "broken pipe", signal.SIGINT: "interrupt", signal.SIGHUP: "hangup"}
    return f"signal: {names.get(-returncode, signal.Signals(-returncode).name.lower())}"
