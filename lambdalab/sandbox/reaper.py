"""The reaper: one small process per cloud that starts every sandbox and outlives all of them.

The cloud runs it as ``python -S -E -s reaper.py WORKDIR FD``, FD being a SOCK_SEQPACKET socket,
so it is single-threaded, imports only the standard library, and is the parent of every runtime:

* **spawn**: it forks, and the child sets the sandbox up before ``execve``: its own session,
  rlimits, a lower priority, its own user (as root) or user namespace, child-subreaper, parent-
  death signal, no_new_privs and Landlock; so no handler code ever runs unconfined. Each sandbox
  has a *channel* (a socket pair end) where the cloud gets the runtime's pid, later its exit
  status, and asks for the kill; closing the channel releases (reaps) the runtime, which stays a
  zombie until then so that its pid and process group cannot be reused while the cloud signals them.
* **contain**: the runtime is a child subreaper, so daemons and double-forked orphans stay in its
  tree; the reaper is one too, so a process can never leave its environment's tree without
  landing here, where it is killed at once. Kills freeze a tree (SIGSTOP) until nothing in it
  runs, then SIGKILL it, always through pidfds of processes whose parent was checked, so a
  recycled pid is never signalled. As root each environment has its own uid, and ``kill(-1)``
  as that uid ends every process it ever started in one atomic step.
* **users**: as root it hands out a machine-unique uid per environment (a lock file per uid,
  held for as long as this process lives) and purges leftovers of that uid before reuse.
* **last resort**: when that socket closes (the cloud stopped or died, even by ``kill -9``) it kills
  every process below it and removes the cloud's working directory.
"""

from __future__ import annotations

import fcntl
import json
import os
import resource
import select
import signal
import socket
import sys
import time

import linux

PDEATH_TIMEOUT = 5.0  # seconds to wait for killed processes to be gone
SWEEP_INTERVAL_MS = 100  # look for escaped processes this often while sandboxes run


class Runtime:
    """A runtime this process started, and the channel of the cloud that owns it."""

    def __init__(self, pid: int, pidfd: int, channel: socket.socket, uid: int | None) -> None:
        self.pid, self.pidfd, self.channel, self.uid = pid, pidfd, channel, uid
        self.exit: int | None = None
        self.killed = False


class Pending:
    """A forked child that has not exec'd yet: its error pipe says whether execve worked."""

    def __init__(self, pid: int, pidfd: int, errpipe: int, channel: socket.socket, uid: int | None) -> None:
        self.pid, self.pidfd, self.errpipe, self.channel, self.uid = pid, pidfd, errpipe, channel, uid


class Reaper:
    """The loop over the cloud's requests, the runtimes' exits and their channels; all its state
    belongs to this process's only thread."""

    def __init__(self, workdir: str, control: socket.socket) -> None:
        self.workdir, self.control = workdir, control
        self.config: dict = {}
        self.runtimes: dict[int, Runtime] = {}  # by pid
        self.pending: dict[int, Pending] = {}  # by error pipe fd
        self.channels: dict[int, Runtime] = {}  # by channel fd
        self.exits: dict[int, Runtime] = {}  # by pidfd
        self.users: dict[int, int] = {}  # uid -> the fd of its lock file
        self.poll = select.poll()
        self.poll.register(control, select.POLLIN)
        self._wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.poll.register(self._wake_r, select.POLLIN)

    # -- the loop ----------------------------------------------------------------------------------
    def serve(self) -> None:
        """Until the cloud's socket closes; a failure serving one request is reported, never fatal."""
        try:
            while True:
                timeout = SWEEP_INTERVAL_MS if self.runtimes or self.pending else None
                for fd, _ in self.poll.poll(timeout):
                    try:
                        if fd == self.control.fileno():
                            if not self._request():
                                return
                        elif fd == self._wake_r:
                            while _read(fd, 4096):
                                pass
                        elif fd in self.pending:
                            self._exec_result(self.pending.pop(fd))
                        elif fd in self.exits:
                            self._exited(self.exits.pop(fd))
                        elif fd in self.channels:
                            self._channel(self.channels[fd])
                    except Exception:  # the reaper must outlive any one request
                        import traceback  # imported on demand, like shutil: the reaper stays small

                        traceback.print_exc()
                self._sweep()
        finally:
            self._shutdown()

    def _request(self) -> bool:
        try:
            data, fds, _, _ = socket.recv_fds(self.control, 1 << 20, 4)
        except OSError:
            return False
        if not data:
            return False
        msg = json.loads(data)
        reply = socket.socket(fileno=fds[0])
        op = msg["op"]
        if op == "configure":
            self.config = msg["config"]
            _send(reply, {"pid": os.getpid()})
        elif op == "spawn":
            self._spawn(msg, reply, fds[1])
            return True
        elif op == "user":
            _send(reply, self._allocate_user(msg["first"], msg["count"]))
        elif op == "free_user":
            self._free_user(msg["uid"])
            _send(reply, {})
        reply.close()
        return True

    # -- spawning ----------------------------------------------------------------------------------
    def _spawn(self, msg: dict, channel: socket.socket, stdout: int) -> None:
        errpipe_r, errpipe_w = os.pipe2(os.O_CLOEXEC)
        try:
            pid = os.fork()
        except OSError as e:  # the machine is out of processes
            for fd in (errpipe_r, errpipe_w, stdout):
                os.close(fd)
            _send(channel, {"errno": e.errno, "strerror": e.strerror, "step": "fork", "filename": None})
            channel.close()
            return
        if pid == 0:
            os.close(errpipe_r)
            _child(self.config, msg, stdout, errpipe_w, os.getppid())
        os.close(errpipe_w)
        os.close(stdout)
        pending = Pending(pid, os.pidfd_open(pid), errpipe_r, channel, msg.get("uid"))
        self.pending[errpipe_r] = pending
        self.poll.register(errpipe_r, select.POLLIN)

    def _exec_result(self, p: Pending) -> None:
        self.poll.unregister(p.errpipe)
        error = b"".join(iter(lambda: _read(p.errpipe, 65536), b""))
        os.close(p.errpipe)
        if error:  # the child failed before or in execve and exits
            os.waitpid(p.pid, 0)
            os.close(p.pidfd)
            _send(p.channel, json.loads(error))
            p.channel.close()
            return
        runtime = Runtime(p.pid, p.pidfd, p.channel, p.uid)
        self.runtimes[p.pid] = runtime
        self.channels[p.channel.fileno()] = runtime
        self.exits[p.pidfd] = runtime
        self.poll.register(p.channel, select.POLLIN)
        self.poll.register(p.pidfd, select.POLLIN)
        _send(p.channel, {"pid": p.pid})

    def _exited(self, runtime: Runtime) -> None:
        """The runtime ended: tell the cloud, but keep it a zombie (its pid reserved) until released."""
        self.poll.unregister(runtime.pidfd)
        info = os.waitid(os.P_PIDFD, runtime.pidfd, os.WEXITED | os.WNOWAIT)
        runtime.exit = info.si_status if info.si_code == os.CLD_EXITED else -info.si_status
        _send(runtime.channel, {"exit": runtime.exit})

    def _channel(self, runtime: Runtime) -> None:
        try:
            data = runtime.channel.recv(4096)
        except OSError:
            data = b""
        if data:  # {"op": "kill"}
            self._kill_runtime(runtime, by_user=True)
            _send(runtime.channel, {"killed": True})
            return
        if not runtime.killed:  # the cloud let go of it unkilled; its uid may already run a successor
            self._kill_runtime(runtime, by_user=False)
        if runtime.exit is None:
            self.poll.unregister(runtime.pidfd)
            del self.exits[runtime.pidfd]
        os.waitid(os.P_PIDFD, runtime.pidfd, os.WEXITED)
        os.close(runtime.pidfd)
        del self.runtimes[runtime.pid]
        self.poll.unregister(runtime.channel)
        del self.channels[runtime.channel.fileno()]
        runtime.channel.close()  # after the reaping: the cloud's release() returns once the pid is gone

    # -- killing -----------------------------------------------------------------------------------
    def _kill_runtime(self, runtime: Runtime, by_user: bool) -> None:
        """End the runtime and everything it started; returns once they are all gone."""
        runtime.killed = True
        if by_user and runtime.uid is not None:
            _kill_user(runtime.uid)
        tree = _freeze({runtime.pid: os.dup(runtime.pidfd)}, os.getpid())
        _kill_and_wait(tree)
        self._sweep()

    def _sweep(self) -> None:
        """Kill and reap every child that is not a runtime: orphans of dead runtimes, escapees."""
        strays = {}
        for pid in linux.children(os.getpid()):
            if pid in self.runtimes or any(p.pid == pid for p in self.pending.values()):
                continue
            try:
                strays[pid] = os.pidfd_open(pid)  # our child: its pid cannot be reused before we reap it
            except OSError:
                continue
        if strays:
            _kill_and_wait(_freeze(strays, os.getpid()))
        for pid in strays:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass

    def _shutdown(self) -> None:
        """The cloud is gone: nothing it started may remain."""
        roots = {}
        for pid in linux.children(os.getpid()):
            try:
                roots[pid] = os.pidfd_open(pid)
            except OSError:
                pass
        for uid in self.users:
            _kill_user(uid)
        _kill_and_wait(_freeze(roots, os.getpid()))
        while True:
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                break
        for uid in list(self.users):
            self._free_user(uid)
        import shutil

        for path, _dirs, _files in os.walk(self.workdir):  # unpacked code is read-only: make it removable
            os.chmod(path, 0o700)
        shutil.rmtree(self.workdir, ignore_errors=True)

    # -- users (root) ------------------------------------------------------------------------------
    def _allocate_user(self, first: int, count: int) -> dict:
        """A uid no other cloud on this machine uses: the first free lock file of the range."""
        locks = self.config["user_locks"]
        os.makedirs(locks, mode=0o700, exist_ok=True)
        start = int.from_bytes(os.urandom(4), "little") % count  # concurrent clouds rarely contend
        for i in range(count):
            uid = first + (start + i) % count
            fd = os.open(os.path.join(locks, str(uid)), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            _kill_user(uid)  # whatever a crashed owner left behind
            self.users[uid] = fd
            return {"uid": uid, "gid": uid}
        return {"error": f"all {count} sandbox uids from {first} are in use"}

    def _free_user(self, uid: int) -> None:
        fd = self.users.pop(uid, None)
        if fd is not None:
            _kill_user(uid)
            os.close(fd)


# -- the child, between fork and execve ------------------------------------------------------------
def _child(config: dict, msg: dict, stdout: int, errpipe: int, reaper: int) -> None:
    """Set the sandbox up and exec the runtime; on failure report ``{errno, filename}`` and exit."""
    step = "setsid"
    try:
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        os.setsid()
        linux.prctl(linux.PR_SET_DUMPABLE, 1)  # ours is 0, which would make /proc/self root's (uid_map, ...)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(stdout, 1)
        os.dup2(stdout, 2)
        os.closerange(3, errpipe)
        os.closerange(errpipe + 1, 65536)
        step = "priority"
        if config.get("nice"):
            os.nice(config["nice"])
        step = "rlimits"
        limits = msg["limits"]
        for name, value in (("RLIMIT_NOFILE", limits["nofile"]), ("RLIMIT_FSIZE", limits["fsize"])):
            resource.setrlimit(getattr(resource, name), (value, value))
        if config.get("expose"):
            step = "mount namespace"
            linux.expose(config["expose"])
        uid = msg.get("uid")
        if uid is not None:
            step = "user"
            os.setgroups([])
            os.setresgid(msg["gid"], msg["gid"], msg["gid"])
            os.setresuid(uid, uid, uid)
        elif config.get("userns"):
            step = "user namespace"
            _own_user_namespace()
        step = "rlimits"
        resource.setrlimit(resource.RLIMIT_NPROC, (limits["nproc"], limits["nproc"]))
        step = "prctl"
        linux.prctl(linux.PR_SET_CHILD_SUBREAPER, 1)
        linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != reaper:  # the reaper died before the line above took effect
            os._exit(1)
        linux.prctl(linux.PR_SET_NO_NEW_PRIVS, 1)
        if config.get("landlock"):
            step = "landlock"
            _landlock(config["landlock"], msg["landlock"])
        step = "chdir"
        os.chdir(msg["cwd"])
        step = "exec"
        os.execve(msg["argv"][0], msg["argv"], msg["env"])
    except BaseException as e:  # whatever it was, the reaper must hear of it
        err = e if isinstance(e, OSError) else OSError(0, repr(e))
        os.write(errpipe, json.dumps({"errno": err.errno, "strerror": err.strerror, "step": step,
                                      "filename": err.filename if step == "exec" else None}).encode())
    finally:
        os._exit(127)


def _own_user_namespace() -> None:
    """Unprivileged: a user namespace of its own, mapping only our uid and gid to themselves.

    Processes are counted per user namespace (Linux >= 5.14), so RLIMIT_NPROC limits this
    environment alone; the parent namespace keeps counting against our hard limit.
    """
    uid, gid = os.geteuid(), os.getegid()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NPROC)
    resource.setrlimit(resource.RLIMIT_NPROC, (hard, hard))  # the limit the parent level keeps
    linux.unshare(linux.CLONE_NEWUSER)
    for name, line in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(line)


def _landlock(common: dict, own: dict) -> None:
    ruleset = linux.Ruleset(common["abi"])
    for access, key in ((linux.READ_EXEC, "read_exec"), (linux.READ, "read"), (linux.READ_WRITE, "read_write"),
                        (linux.READ_WRITE | linux.IOCTL_DEV, "devices")):
        for path in common.get(key, []) + own.get(key, []):
            ruleset.allow_path(path, access)
    ruleset.allow_ports(port for first, last in common["ports"] + own["ports"] for port in range(first, last + 1))
    ruleset.enforce()


# -- process trees ---------------------------------------------------------------------------------
def _parent(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return int(f.read().rsplit(b")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _signal(pidfd: int, sig: int) -> bool:
    try:
        signal.pidfd_send_signal(pidfd, sig)
        return True
    except OSError:
        return False


def _freeze(roots: dict[int, int], reaper: int) -> dict[int, int]:
    """Stop ``roots`` and all their descendants; returns pid -> pidfd for every process found.

    Rounds repeat until one finds nothing new: a stopped process cannot fork, so a fork bomb
    cannot outrun it. A child is only signalled through a pidfd opened while its parent (in the
    tree, or this reaper after reparenting) was checked, so a recycled pid is never touched.
    """
    tree = dict(roots)
    for fd in roots.values():
        _signal(fd, signal.SIGSTOP)
    grew = True
    while grew:
        grew = False
        for parent in list(tree):
            for child in linux.children(parent):
                if child in tree:
                    continue
                try:
                    fd = os.pidfd_open(child)
                except OSError:
                    continue
                if (_parent(child) in tree or _parent(child) == reaper) and _signal(fd, signal.SIGSTOP):
                    tree[child] = fd
                    grew = True
                else:
                    os.close(fd)
    return tree


def _kill_and_wait(tree: dict[int, int]) -> None:
    """SIGKILL every (frozen) process of ``tree`` and wait until each has exited; closes the pidfds."""
    for fd in tree.values():
        _signal(fd, signal.SIGKILL)
    waiting = select.poll()
    for fd in tree.values():
        waiting.register(fd, select.POLLIN)
    left, deadline = len(tree), time.monotonic() + PDEATH_TIMEOUT
    while left and time.monotonic() < deadline:
        for fd, _ in waiting.poll(100):
            waiting.unregister(fd)
            left -= 1
    for fd in tree.values():
        os.close(fd)


def _kill_user(uid: int) -> None:
    """SIGKILL every process of ``uid`` at once: ``kill(-1)`` as that user cannot race with fork."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setresuid(uid, uid, uid)
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
        os._exit(0)
    os.waitpid(pid, 0)


# -- plumbing --------------------------------------------------------------------------------------
def _send(sock: socket.socket, msg: dict) -> None:
    try:
        sock.send(json.dumps(msg).encode())
    except OSError:
        pass  # the cloud is gone; its end of the channel will read as closed


def _read(fd: int, size: int) -> bytes:
    try:
        return os.read(fd, size)
    except BlockingIOError:
        return b""


def main() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # a pidfd and a channel per sandbox
    linux.prctl(linux.PR_SET_CHILD_SUBREAPER, 1)
    linux.prctl(linux.PR_SET_DUMPABLE, 0)  # same-user processes cannot read our memory or environment
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl+C in the notebook's terminal is not for us
    for sig in (signal.SIGTERM, signal.SIGHUP):  # asked to go: clean up first, as when the cloud goes
        signal.signal(sig, lambda *_: sys.exit(0))
    Reaper(sys.argv[1], socket.socket(fileno=int(sys.argv[2]))).serve()


if __name__ == "__main__":
    main()
