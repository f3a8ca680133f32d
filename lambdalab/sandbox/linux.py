"""The Linux calls the standard library lacks (prctl, unshare, mount, Landlock's three), with ctypes.

Landlock is the security module an unprivileged process can sandbox itself with. A *ruleset*
names the access rights it handles; whatever it handles is denied unless a rule allows it beneath
a path (file system, ABI 1+) or for a TCP port (network, ABI 4+); scopes (ABI 6+) confine signals
and abstract unix sockets to the domain. ``Ruleset.enforce()`` makes it the calling thread's
domain for good: it survives fork and execve, and only ever gets stricter. Every right is chosen
from the ABI the kernel reports, so the same code runs on ABI 1..7 and degrades to "unavailable"
with a reason. https://docs.kernel.org/userspace-api/landlock.html

Why not a PyPI binding: ``landlock`` (1.0.0.dev5, a development release) has neither network
rules nor scopes; ``py-landlock`` (0.1.1) and ``landlockpy`` (0.2.0) are young one-author
projects. Each would be a dependency of every learner's install for three system calls.

This file is imported both as ``lambdalab.sandbox.linux`` and as the top-level ``linux`` of the
reaper process (which starts without site-packages): it imports nothing but the standard library.
"""

from __future__ import annotations

import ctypes
import errno
import os

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_ULONG = ctypes.c_ulong

PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_GET_DUMPABLE = 1, 4, 3
PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 36, 38
CLONE_NEWNS, CLONE_NEWUSER = 0x00020000, 0x10000000
MS_NOSUID, MS_NODEV, MS_BIND, MS_REC, MS_PRIVATE = 2, 4, 4096, 16384, 1 << 18


def _check(result: int) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


def prctl(option: int, arg: int = 0) -> int:
    return _check(_libc.prctl(ctypes.c_int(option), _ULONG(arg), _ULONG(0), _ULONG(0), _ULONG(0)))


def unshare(flags: int) -> None:
    _check(_libc.unshare(ctypes.c_int(flags)))


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(_libc.mount(*(None if s is None else os.fsencode(s) for s in (source, target, fstype)), _ULONG(flags),
                       None if data is None else os.fsencode(data)))


def read_proc(path: str) -> bytes:
    """A /proc file's whole text in three system calls (open() adds fstat, ioctl and lseek: this is
    read on every invocation); raises OSError as open() does."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = [os.read(fd, 65536)]
        while chunks[-1]:
            chunks.append(os.read(fd, 65536))
        return b"".join(chunks)
    finally:
        os.close(fd)


def children(pid: int, threads: int | None = None) -> list[int]:
    """The child processes of ``pid`` (of all its threads), from /proc; [] once it is gone.
    ``threads`` (from its stat or status) 1 spares listing its tasks, which costs 20 us."""
    kids: list[int] = []
    try:
        for tid in (pid,) if threads == 1 else os.listdir(f"/proc/{pid}/task"):
            kids.extend(int(k) for k in read_proc(f"/proc/{pid}/task/{tid}/children").split())
    except OSError:
        pass
    return kids


def expose(plan: list) -> None:
    """As root, in a mount namespace of its own: make directories the sandbox user cannot traverse
    (``/root`` holding the Python installation) traversable, showing only what the runtime needs.

    ``plan`` is ``[[blocked_dir, [needed paths under it]], ...]``: a tmpfs (mode 0711) covers the
    blocked directory and each needed path is bind-mounted back onto it, read-only for that user
    by its own permissions.
    """
    unshare(CLONE_NEWNS)
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    for blocked, needed in plan:
        keep = [(path, os.open(path, os.O_PATH | os.O_CLOEXEC)) for path in needed if os.path.exists(path)]
        mount("tmpfs", blocked, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0711,size=64k")
        for path, fd in keep:
            parent = os.path.dirname(path)
            os.makedirs(parent, mode=0o711, exist_ok=True)
            if os.path.isdir(f"/proc/self/fd/{fd}"):
                os.mkdir(path, 0o711)
            else:
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o400))
            mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
            os.close(fd)


# -- Landlock ------------------------------------------------------------------------------------
_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446  # the same numbers on every architecture
_CREATE_RULESET_VERSION = 1 << 0
_RULE_PATH_BENEATH, _RULE_NET_PORT = 1, 2

# File system rights (linux/landlock.h), and the ABI that introduced them
EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REMOVE_DIR, REMOVE_FILE, MAKE_CHAR, MAKE_DIR = 1 << 4, 1 << 5, 1 << 6, 1 << 7
MAKE_REG, MAKE_SOCK, MAKE_FIFO, MAKE_BLOCK, MAKE_SYM = 1 << 8, 1 << 9, 1 << 10, 1 << 11, 1 << 12
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
_FS_BY_ABI = {1: (1 << 13) - 1, 2: REFER, 3: TRUNCATE, 5: IOCTL_DEV}
_FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV  # all a rule on a file may hold

CONNECT_TCP = 1 << 1  # network, ABI 4; BIND_TCP is left unhandled: handlers may listen
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1  # ABI 6

READ = READ_FILE | READ_DIR
READ_EXEC = READ | EXECUTE
READ_WRITE = READ | WRITE_FILE | REMOVE_DIR | REMOVE_FILE | MAKE_DIR | MAKE_REG | MAKE_SOCK | MAKE_FIFO | \
    MAKE_SYM | REFER | TRUNCATE  # everything but device nodes and execution


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class _NetPort(ctypes.Structure):
    _fields_ = [("allowed_access", ctypes.c_uint64), ("port", ctypes.c_uint64)]


def _landlock(number: int, *args) -> int:
    return _check(_libc.syscall(ctypes.c_long(number), *args))


def landlock_abi() -> tuple[int, str]:
    """(the Landlock ABI version of this kernel, why it is 0 when Landlock is unavailable)."""
    try:
        return _landlock(_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(_CREATE_RULESET_VERSION)), ""
    except OSError as e:
        if e.errno == errno.ENOSYS:
            return 0, f"kernel {os.uname().release} has no Landlock (Linux 5.13+ with CONFIG_SECURITY_LANDLOCK)"
        if e.errno == errno.EOPNOTSUPP:
            return 0, "Landlock is built into the kernel but not enabled at boot (missing from the lsm= list)"
        return 0, f"landlock_create_ruleset: {e.strerror}"


def fs_rights(version: int) -> int:
    """Every file system right ABI ``version`` knows: all are handled, so all are denied by default."""
    return sum(bits for since, bits in _FS_BY_ABI.items() if version >= since)


class Ruleset:
    """Rules to enforce on the calling thread and everything it execs, for ABI ``version``.

    Network rules and scopes are left out on ABIs that predate them: ``handles_net`` and
    ``scoped`` say what the ruleset got.
    """

    def __init__(self, version: int, *, net: bool = True, scopes: bool = True) -> None:
        self.fs = fs_rights(version)
        self.handles_net = net and version >= 4
        self.scoped = (SCOPE_SIGNAL | SCOPE_ABSTRACT_UNIX_SOCKET) if scopes and version >= 6 else 0
        attr = _RulesetAttr(self.fs, CONNECT_TCP if self.handles_net else 0, self.scoped)
        size = 24 if version >= 6 else 16 if version >= 4 else 8  # the struct as this ABI defines it
        self._fd = _landlock(_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))

    def allow_path(self, path: str, access: int) -> bool:
        """Allow ``access`` beneath ``path`` (a directory) or on it (a file); False if it does not exist."""
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            return False
        try:
            if not os.path.isdir(f"/proc/self/fd/{fd}"):
                access &= _FILE_RIGHTS
            rule = _PathBeneath(access & self.fs, fd)
            if rule.allowed_access:
                _landlock(_ADD_RULE, ctypes.c_int(self._fd), ctypes.c_int(_RULE_PATH_BENEATH), ctypes.byref(rule),
                          ctypes.c_uint32(0))
        finally:
            os.close(fd)
        return True

    def allow_ports(self, ports) -> None:
        """Allow TCP connect() to each port of ``ports`` (nothing to do when the network is not handled)."""
        if not self.handles_net:
            return
        rule = _NetPort(CONNECT_TCP, 0)
        args = (ctypes.c_long(_ADD_RULE), ctypes.c_int(self._fd), ctypes.c_int(_RULE_NET_PORT), ctypes.byref(rule),
                ctypes.c_uint32(0))
        syscall = _libc.syscall
        for port in ports:
            rule.port = port
            if syscall(*args) < 0:
                _check(-1)

    def enforce(self) -> None:
        """Restrict the calling thread from now on (no_new_privs first, as the kernel requires)."""
        try:
            prctl(PR_SET_NO_NEW_PRIVS, 1)
            _landlock(_RESTRICT_SELF, ctypes.c_int(self._fd), ctypes.c_uint32(0))
        finally:
            self.close()

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
