"""Isolation: what keeps environments apart from each other and from the cloud, found out at start.

AWS gives every execution environment a microVM. A process without root can promise less, so
each cloud finds out at start what this machine allows, uses it, and says so (``cloud.isolation()``):

* **Landlock** (any user, Linux >= 5.13): a handler reads only its task root, its layers, the
  Python installation, ``/usr``, ``/lib*``, ``/etc`` and ``/proc``, and writes only its own
  ``/tmp``. ABI 4+ also limits TCP connect() to an allow-list of ports, so one environment
  cannot reach another's Runtime API; ABI 6+ confines signals and abstract unix sockets to the
  environment. Landlock also refuses ptrace-class access (``/proc/PID/environ``, ``mem``, ``cwd``)
  to processes outside the environment, though a root handler (CAP_SYS_PTRACE) still reads their
  ``environ``. Rules hold for whole subtrees, so ``/`` itself cannot be listed.
* **A user per environment** (root only): its own uid and gid, so RLIMIT_NPROC counts that
  environment alone, the kernel refuses its signals to anyone else, and ``kill(-1)`` as that uid
  ends all it ever started. When the Python installation lives where other users cannot go
  (``/root/.pyenv``), each sandbox gets a mount namespace that shows it just that.
* **A user namespace per environment** (not root, where allowed): processes are counted per
  namespace, so RLIMIT_NPROC limits each environment, not all of your user's processes together.
* Always: a child subreaper per runtime and the reaper behind it (nothing escapes a kill), a
  lower priority for sandboxes than for the cloud's own threads, and a cloud process whose memory
  and environment same-user processes cannot read (``PR_SET_DUMPABLE`` 0).

Every protection is probed by starting a real sandbox before the cloud serves anything; one
that fails is left out with the reason, never half-applied.
"""

from __future__ import annotations

import os
import site
import sys
import sysconfig
import threading
from dataclasses import dataclass
from pathlib import Path

from .. import runtimes
from . import linux
from .process import PlainReaper, PlainSandbox, Reaper, Sandbox

# Where handlers may open TCP connections, besides the cloud's endpoint and their own Runtime API:
# the well-known ports (HTTP, HTTPS, DNS over TCP, ...) and those of common databases and local
# servers. Other environments' Runtime APIs listen on ephemeral ports, which are not here.
DEFAULT_TCP_PORTS = ((1, 1023), 1433, 1521, 2049, 3000, 3306, 4566, 5000, 5432, 5672, 6379, 8000, 8080, 8443,
                     9000, 9042, 9092, 9200, 11211, 27017)
_SYSTEM_READ_EXEC = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_SYSTEM_READ = ("/etc", "/proc", "/sys/devices/system/cpu", "/dev/urandom", "/dev/random")
_DEVICES = ("/dev/null", "/dev/zero", "/dev/full")
_PROBE = "import _json, _socket, traceback"  # what the Python runtime needs before it runs a handler


@dataclass(frozen=True)
class Settings:
    """How sandboxes are isolated: ``lambdalab.start(isolation={"tcp_ports": [...], ...})``.

    ``tcp_ports``: ports (or ``(first, last)`` ranges) handlers may connect to besides the cloud's
    endpoint and their own Runtime API (Landlock ABI 4+; each port costs a rule at every cold start,
    about 1 µs). ``nice``: how much lower than the cloud sandboxes run, so that the cloud's own
    threads (the governor, timeouts) keep their deadlines while a handler floods the CPUs.
    The other fields turn a protection off, e.g. to compare behaviours in a lesson.
    """

    tcp_ports: tuple = DEFAULT_TCP_PORTS
    nice: int = 10
    landlock: bool = True
    users: bool = True  # as root: a uid per environment
    user_namespaces: bool = True  # not root: a user namespace per environment
    uids: tuple[int, int] = (1_500_000_000, 1_000_000)  # first uid and how many, when the machine maps them
    user_locks: str = "/run/lambdalab/uids" if os.access("/run", os.W_OK) else "/tmp/lambdalab-uids"

    @classmethod
    def of(cls, values: dict | None) -> Settings:
        return cls(**(values or {}))


@dataclass
class Protection:
    name: str
    active: bool
    detail: str


class Isolation:
    """One cloud's reaper, the protections this machine allows, and the policy each sandbox gets.

    Set up once at start and read-only afterwards, so any thread may use it; the reaper client
    behind it is thread-safe.
    """

    def __init__(self, workdir: Path, endpoint_port: int, settings: Settings, pythons: list[str] = ()) -> None:
        """``pythons``: the installations of the other interpreters that run Python runtimes (readable too)."""
        self.workdir, self.endpoint_port, self.settings = workdir, endpoint_port, settings
        self._pythons = _python_paths() + [p for p in pythons if os.path.isdir(p)]
        self.root = os.geteuid() == 0
        self.pidfds = _pidfds()  # the reaper's way of holding processes (Linux >= 5.4)
        self.abi, self._no_landlock = linux.landlock_abi() if sys.platform == "linux" else \
            (0, f"Landlock is part of Linux, this is {sys.platform}")
        self._reasons: dict[str, str] = {}
        self._expose: list | None = None
        self._uids = self._uid_range() if self.root else None
        if not self.pidfds:
            self._reasons = dict.fromkeys(("landlock", "users", "userns"), "sandboxes are plain process groups here: "
                                          "the reaper that sets them up needs pidfds (Linux >= 5.4)")
        _compile_runtime()
        _hide_process()
        self.landlock = self.pidfds and self.settings.landlock and self.abi > 0
        self.users = self.pidfds and self.root and self.settings.users and self._uids is not None and \
            self._plan_exposure()
        self.userns = self.pidfds and not self.root and self.settings.user_namespaces
        self.reaper = (Reaper if self.pidfds else PlainReaper)(str(self.workdir), self._config())
        self._probe()

    # -- what environments use --------------------------------------------------------------------
    def make_tmp(self, tmp: Path) -> int | None:
        """Create an environment's /tmp; as root, allocate the environment's own uid and hand it over."""
        tmp.mkdir(parents=True, mode=0o700)
        if not self.users:
            return None
        uid = self.reaper.allocate_user(*self._uids)
        os.chown(tmp, uid, uid)
        return uid

    def release(self, uid: int | None) -> None:
        """After the environment's last process: kill anything still running as its uid, free it."""
        if uid is not None:
            self.reaper.release_user(uid)

    def spawn(self, argv: list[str], *, env: dict[str, str], cwd: str, uid: int | None, tmp: Path,
              opt: Path | None, runtime_api: str, max_files: int, max_procs: int,
              max_file_bytes: int) -> Sandbox | PlainSandbox:
        """Start a runtime in its sandbox; raises OSError as ``execve`` would (no bootstrap, not executable)."""
        port = int(runtime_api.rpartition(":")[2])
        own = {"read_exec": [cwd] + ([str(opt)] if opt else []), "read_write": [str(tmp)], "ports": [[port, port]]}
        return self.reaper.spawn(argv, env=env, cwd=cwd, uid=uid, landlock=own,
                                 limits={"nofile": max_files, "nproc": max_procs, "fsize": max_file_bytes})

    def close(self) -> None:
        self.reaper.close()
        _unhide_process()

    # -- what the learner sees --------------------------------------------------------------------
    def protections(self) -> list[Protection]:
        """Which protections are active here, and why the others are not."""
        abi, r = self.abi, self._reasons
        ll = self.landlock
        fs_off = self._no_landlock or r.get("landlock") or "turned off (isolation={'landlock': False})"
        ports = ", ".join(f"{p[0]}-{p[1]}" if isinstance(p, (tuple, list)) else str(p) for p in self.settings.tcp_ports)
        same_user = "each handler runs as your user, like the notebook"
        signals = (ll and abi >= 6) or self.users
        rows = [
            Protection("file system (Landlock)", ll,
                       f"ABI {abi}: a handler reads its task root, its layers (/opt), the Python installation, "
                       "/usr, /lib, /etc and /proc, and writes only its own /tmp" if ll else fs_off),
            Protection("other processes' /proc (environ, mem, cwd)", self.users or (ll and not self.root),
                       "refused: they belong to other uids" if self.users else
                       ("refused by Landlock outside the environment" if not self.root else
                        "partly: Landlock refuses mem and cwd, but a root handler (CAP_SYS_PTRACE) still reads "
                        "/proc/PID/environ, other environments' credentials included") if ll else
                       f"readable by same-user handlers ({fs_off})"),
            Protection("signals", signals,
                       "Landlock scope: a handler can signal only its own environment's processes"
                       if ll and abi >= 6 else "the kernel refuses signals to other uids" if self.users else
                       f"a handler can signal every process of your user, the notebook included "
                       f"({fs_off if not ll else f'Landlock ABI {abi} < 6 has no signal scope'})"),
            Protection("abstract unix sockets", ll and abi >= 6,
                       "Landlock scope: only within the environment" if ll and abi >= 6 else
                       "reachable across environments" + (f" (Landlock ABI {abi} < 6)" if ll else "")),
            Protection("TCP connect", ll and abi >= 4,
                       f"Landlock ABI {abi}: the cloud's endpoint (:{self.endpoint_port}), the environment's own "
                       f"Runtime API and ports {ports}; other environments' Runtime APIs are refused"
                       if ll and abi >= 4 else "any port, other environments' Runtime APIs included"
                       + (f" (Landlock ABI {abi} < 4)" if ll else "")),
            Protection("a user per environment", self.users,
                       f"uids from {self._uids[0]:,}, {self._uids[1]:,} of them, one per environment"
                       + (" (a mount namespace shows each the Python installation under "
                          + ", ".join(b for b, _ in self._expose) + ")" if self._expose else "")
                       if self.users else r.get("users") or (same_user if not self.root else
                                                            "turned off (isolation={'users': False})")),
            Protection("processes and threads: 1,024 per environment", self.users or self.userns,
                       "RLIMIT_NPROC of the environment's own uid" if self.users else
                       "RLIMIT_NPROC counted in the environment's own user namespace" if self.userns else
                       ("root is exempt from RLIMIT_NPROC: the governor counts every 10 ms and kills "
                        "(a fast fork bomb can pass 1,024 before it looks)" if self.root else
                        "RLIMIT_NPROC counts all processes of your user together: "
                        + r.get("userns", "user namespaces turned off"))),
            Protection("user namespace per environment", self.userns,
                       "only for the process count: its uid and gid map to yours (files of other users, root's "
                       "included, show as owned by 65534)"
                       if self.userns else "not needed as root" if self.root else r.get("userns", "turned off")),
            Protection("pid namespace", False,
                       "not used: the runtime would be pid 1 and os.getpid()/psutil would read the host's pid 1, "
                       "and a fresh /proc cannot be mounted inside most containers"),
            Protection("nothing outlives its environment", self.pidfds,
                       "the runtime is a child subreaper and the reaper is behind it: daemons and orphans "
                       "are frozen, then killed, through pidfds" + (", and kill(-1) as the environment's uid"
                                                                      if self.users else "")
                       + ("" if signals else "; but a handler that kills the reaper (nothing refuses its signals "
                          "here) leaves its daemons to the system") if self.pidfds else
                       "process groups only (no pidfds here): a process that calls setsid() escapes the kill"),
            Protection("sandbox priority", self.settings.nice > 0,
                       f"nice +{self.settings.nice}: the cloud's threads run first when the CPUs are busy"
                       if self.settings.nice > 0 else "the same as the cloud's"),
            Protection("cloud process memory and environment", _undumpable(),
                       "PR_SET_DUMPABLE 0: same-user processes cannot read /proc/PID/environ or mem"
                       if _undumpable() else "readable by same-user processes"),
        ]
        return rows

    # -- set-up -----------------------------------------------------------------------------------
    def _config(self) -> dict:
        config: dict = {"nice": self.settings.nice, "userns": self.userns, "user_locks": self.settings.user_locks}
        if self.landlock:
            ports = [list(p) if isinstance(p, (tuple, list)) else [p, p] for p in self.settings.tcp_ports]
            config["landlock"] = {"abi": self.abi, "read_exec": self._pythons + list(_SYSTEM_READ_EXEC),
                                  "read": list(_SYSTEM_READ) + _resolved_config_files(), "devices": list(_DEVICES),
                                  "ports": [*ports, [self.endpoint_port, self.endpoint_port]]}
        if self.users and self._expose:
            config["expose"] = self._expose
        return config

    def _probe(self) -> None:
        """Start a real sandbox with every protection; leave out, one by one, what makes it fail."""
        while (error := self._try_sandbox()) is not None:
            if self.users:
                self.users, self._reasons["users"] = False, f"a sandbox could not start as another user: {error}"
            elif self.userns:
                self.userns, self._reasons["userns"] = False, f"unavailable here: {error}"
            elif self.landlock:
                self.landlock, self._reasons["landlock"] = False, f"a sandbox could not start under it: {error}"
            else:
                raise OSError(0, f"a sandbox cannot start on this machine: {error}")
            self.reaper.configure(self._config())

    def _try_sandbox(self) -> str | None:
        uid = self.reaper.allocate_user(*self._uids) if self.users else None
        try:
            proc = self.spawn([sys.executable, "-E", "-c", _PROBE], env={}, cwd=str(runtimes.PYTHON_DIR), uid=uid,
                              tmp=self.workdir / "probe", opt=None, runtime_api=f"127.0.0.1:{self.endpoint_port}",
                              max_files=64, max_procs=1024, max_file_bytes=1 << 20)
            with proc.stdout:
                output = proc.stdout.read().decode(errors="replace").strip()
            code = proc.wait(timeout=30)
            proc.release()
        except OSError as e:
            return e.strerror
        finally:
            self.release(uid)
        return None if code == 0 else (output.splitlines() or [f"exit status {code}"])[-1]

    def _uid_range(self) -> tuple[int, int] | None:
        """The configured uids if this (possibly user-namespaced) root can switch to them."""
        first, count = self.settings.uids
        try:
            with open("/proc/self/uid_map") as f:
                maps = [tuple(int(x) for x in line.split()) for line in f]
        except OSError:
            return first, count
        if any(inside <= first and first + count <= inside + length for inside, _, length in maps):
            return first, count
        self._reasons["users"] = f"uids {first:,}-{first + count - 1:,} are not mapped in this user namespace"
        return None

    def _plan_exposure(self) -> bool:
        """Which directories other users cannot traverse stand between them and what sandboxes need."""
        needs = dict.fromkeys(self._pythons, 0o005) | {str(self.workdir): 0o001}
        self._expose, reason = exposure_plan(needs)
        if reason:
            self._reasons["users"] = reason
        return not reason


def exposure_plan(needs: dict[str, int]) -> tuple[list | None, str]:
    """The ``linux.expose`` plan that lets another user reach each path of ``needs`` with its permission bits
    (0o005: read and traverse, 0o001: traverse), or why that cannot be done."""
    plan: dict[str, list[str]] = {}
    for path, bits in sorted((os.path.realpath(p), b) for p, b in needs.items()):
        if not os.path.exists(path):
            continue
        if not _others_can(path, bits):
            return None, f"{path} is not readable by other users"
        blocked = next((a for a in _ancestors(path) if not _others_can(a, 0o001)), None)
        if blocked is not None and not any(path.startswith(p + "/") for p in plan.get(blocked, [])):
            plan.setdefault(blocked, []).append(path)
    return sorted([b, needed] for b, needed in plan.items()) or None, ""


def _python_paths() -> list[str]:
    """The Python installation the runtime runs on and the site-packages handlers import from."""
    paths = {str(runtimes.PYTHON_DIR), sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             os.path.dirname(os.path.realpath(sys.executable)), sysconfig.get_paths()["stdlib"],
             *site.getsitepackages()}
    if site.ENABLE_USER_SITE and site.getusersitepackages():
        paths.add(site.getusersitepackages())
    return sorted(p for p in paths if p and p != "/")


def _resolved_config_files() -> list[str]:
    """Where /etc's resolver files point when they are links out of /etc (systemd-resolved, ...)."""
    out = []
    for name in ("/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf"):
        real = os.path.realpath(name)
        if not real.startswith("/etc/") and os.path.exists(real):
            out.append(real)
    return out


def _ancestors(path: str) -> list[str]:
    parts = Path(path).parts
    return [str(Path(*parts[:i])) for i in range(2, len(parts))]


def _others_can(path: str, bits: int) -> bool:
    try:
        return os.stat(path).st_mode & bits == bits
    except OSError:
        return False


def _pidfds() -> bool:
    try:
        os.close(os.pidfd_open(os.getpid()))
        return hasattr(os, "P_PIDFD")
    except (AttributeError, OSError):
        return False


def _compile_runtime() -> None:
    """Write the runtime's bytecode now: sandboxes may not write next to it, and compiling costs every cold start."""
    import compileall

    compileall.compile_dir(str(runtimes.PYTHON_DIR), quiet=2)


# The cloud process's own memory and environment, hidden from same-user processes while a cloud runs.
_dumpable_lock = threading.Lock()
_clouds = 0
_was_dumpable = 1


def _hide_process() -> None:
    global _clouds, _was_dumpable
    with _dumpable_lock:
        if _clouds == 0 and sys.platform == "linux":
            _was_dumpable = linux.prctl(linux.PR_GET_DUMPABLE)
            linux.prctl(linux.PR_SET_DUMPABLE, 0)
        _clouds += 1


def _unhide_process() -> None:
    global _clouds
    with _dumpable_lock:
        _clouds -= 1
        if _clouds == 0 and sys.platform == "linux":
            linux.prctl(linux.PR_SET_DUMPABLE, _was_dumpable)


def _undumpable() -> bool:
    return sys.platform == "linux" and linux.prctl(linux.PR_GET_DUMPABLE) == 0
