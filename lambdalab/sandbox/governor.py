"""Memory, process and CPU limits for running environments, without root, cgroups or Docker.

One named thread watches every environment that is running an invocation:

* **memory**: the resident memory of the runtime and its children, summed; over MemorySize the
  environment is killed (``Runtime.OutOfMemory``), as Lambda's cgroup would;
* **processes**: threads plus processes over the 1,024 quota kill it (the kernel's RLIMIT_NPROC
  does this for ordinary users, but not for root);
* **CPU**: a token bucket the way CFS bandwidth control meters a cgroup: the environment may use
  ``share`` CPU-seconds per second (MemorySize / 1,769 MB) plus a small burst; once over, its
  process group is stopped (SIGSTOP) until the bucket refills, then continued (SIGCONT).

Idle environments are frozen by their own thread and cost this one nothing.  Every signal goes
through the environment's :class:`~.process_group.ProcessGroup`, never to a bare pgid.
"""

from __future__ import annotations

import math
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .linux import children as _children
from .linux import read_proc
from .process_group import ProcessGroup

MEMORY_TICK = 0.010  # seconds between memory checks of a running environment
BURST = 0.020  # seconds of CPU at full share an environment may use ahead of its bucket
PSS_BUDGET = 0.020  # seconds the governor may spend reading PSS to confirm an overrun
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PROC = os.path.exists("/proc/self/stat")
HOST_CPUS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@dataclass
class Usage:
    rss: int  # bytes, the process tree together
    cpu: float  # CPU seconds used by the tree's live processes
    tasks: int  # threads and processes
    procs: list[int]

    def shared_aware_rss(self) -> int | None:
        """Memory with copy-on-write pages counted once, as a cgroup counts it (PSS summed).

        Reading PSS is slow while processes fork (it waits on their memory maps), so it is only
        done to confirm an apparent overrun, within a time budget; None means "could not tell in
        time" and the task limit or the timeout deals with such a storm.
        """
        if len(self.procs) <= 1:
            return self.rss
        give_up = time.monotonic() + PSS_BUDGET
        total = 0
        for p in self.procs:
            if time.monotonic() > give_up:
                return None
            total += _pss(p)
        return total


def _stat(pid: int) -> tuple[float, int, int]:
    """(CPU seconds, threads, resident bytes) of one process."""
    fields = read_proc(f"/proc/{pid}/stat").rsplit(b")", 1)[1].split()
    # after the command: state(0) ... utime(11) stime(12) cutime(13) cstime(14) ... threads(17) ... rss(21)
    return _cpu_seconds(pid, fields), int(fields[17]), int(fields[21]) * _PAGE


def _process_clock(pid: int) -> float:
    """The process's CPU-time clock (Linux: every thread, exited ones included, to the nanosecond),
    read without opening a file: the clock id clock_getcpuclockid(3) makes, CPUCLOCK_SCHED of ``pid``."""
    return time.clock_gettime(((~pid) << 3) | 2)


def _cpu_seconds(pid: int, stat_fields: list[bytes]) -> float:
    """CPU time of all the process's threads, to the nanosecond from its CPU-time clock, else schedstat.

    /proc/PID/stat counts in clock ticks (10 ms), too coarse to meter a handler that runs for 12 ms.
    """
    try:
        return _process_clock(pid)
    except OSError:
        pass
    try:
        total = 0
        for tid in os.listdir(f"/proc/{pid}/task"):
            total += int(read_proc(f"/proc/{pid}/task/{tid}/schedstat").split()[0])
        return total / 1e9
    except (OSError, ValueError, IndexError):
        return (int(stat_fields[11]) + int(stat_fields[12])) / _HZ


def measure(pid: int, max_tasks: int = 1 << 30) -> Usage:
    """Current usage of ``pid`` and its descendants (psutil where /proc is missing).

    The walk stops as soon as more than ``max_tasks`` threads and processes are seen, so a
    fork bomb cannot keep the governor busy while it grows.
    """
    if not _PROC:  # pragma: no cover - macOS
        import psutil

        procs = [psutil.Process(pid)]
        procs += procs[0].children(recursive=True)
        rss = cpu = tasks = 0
        for p in procs:
            with p.oneshot():
                rss += p.memory_info().rss
                t = p.cpu_times()
                cpu += t.user + t.system
                tasks += p.num_threads()
        return Usage(rss, cpu, tasks, [p.pid for p in procs])
    rss = tasks = 0
    cpu = 0.0
    procs, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            c, threads, r = _stat(p)
        except (OSError, IndexError, ValueError):
            continue
        procs.append(p)
        cpu, tasks, rss = cpu + c, tasks + threads, rss + r
        if tasks > max_tasks:
            break
        todo.extend(_children(p, threads))
    return Usage(rss, cpu, tasks, procs)


def _pss(pid: int) -> int:
    """Proportional set size: a process's share of the pages it maps (smaps_rollup, Linux >= 4.14)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def peak_rss(pid: int) -> int:
    """High-water mark of the runtime's resident memory (VmHWM) plus its children's current RSS.

    Lambda's "Max Memory Used" is the environment's peak so far, so it never goes down between
    warm invocations; VmHWM has the same meaning for one process.
    """
    try:
        text = read_proc(f"/proc/{pid}/status")
    except OSError:
        return 0
    hwm, threads = _status_field(text, b"VmHWM") * 1024, _status_field(text, b"Threads")
    children = sum(measure(c).rss for c in _children(pid, threads))
    return hwm + children


def _status_field(text: bytes, name: bytes) -> int:
    """The number in a line of /proc/PID/status (0 when the line is missing)."""
    start = text.find(b"\n" + name + b":")
    return int(text[start + len(name) + 2:text.index(b"\n", start + 1)].split()[0]) if start >= 0 else 0


@dataclass(eq=False)  # watches are compared (and hashed) by identity
class Watch:
    """One running invocation's limits, watched until ``unwatch`` or a violation ends it.

    ``removed``, ``stopped_until`` and the signals sent to ``group`` change only under ``lock``,
    so an ``unwatch`` that comes in the middle of a check waits at most for one signal, and no
    check acts on a watch once it is removed.  ``next_check`` belongs to the governor's thread.
    """

    group: ProcessGroup
    memory_limit: int  # bytes
    max_tasks: int
    share: float | None  # vCPUs; None when not throttled
    started: float = field(default_factory=time.monotonic)
    cpu0: float = 0.0  # the tree's CPU seconds when the event was delivered (metered when share is set)
    peak: int = 0  # highest tree RSS seen
    stopped_until: float = 0.0
    next_check: float = 0.0
    removed: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        # the first look comes after a tick, or sooner when the CPU burst is small
        first = MEMORY_TICK if self.share is None else min(MEMORY_TICK, max(0.001, self.share * BURST))
        self.next_check = self.started + first


class Governor:
    """Checks every watched environment on its own deadline, from one named thread.

    ``_cond`` protects the set of watches and nothing else: the thread takes a snapshot of the
    watches that are due under it, then measures /proc and acts with it released, so ``watch``
    and ``unwatch`` (on every invocation's path) never wait for another environment's scan.
    ``measure`` is the probe (``measure`` of /proc unless given another, e.g. a slow one in a test).
    """

    def __init__(self, enforce_processes: bool, measure: Callable[[int, int], Usage] = measure) -> None:
        self._watches: set[Watch] = set()
        self._cond = threading.Condition()
        self._enforce_tasks = enforce_processes
        self._measure = measure
        self._stopped = False
        self._wake_at: float | None = None  # while the thread waits: when it looks next (inf: no watch)
        self._thread = threading.Thread(target=self._run, name="lambdalab-governor", daemon=True)
        self._thread.start()

    def watch(self, watch: Watch) -> None:
        """Start watching; the first look is at ``watch.next_check`` (the environment hands a watch
        over only then, so invocations shorter than that cost the governor nothing)."""
        with self._cond:
            self._watches.add(watch)
            if self._wake_at is not None and watch.next_check < self._wake_at:
                self._cond.notify()

    def unwatch(self, watch: Watch) -> None:
        """Stop watching; the group is left running (continued if the governor had stopped it)."""
        with self._cond:
            self._watches.discard(watch)
        with watch.lock:
            watch.removed = True
            if watch.stopped_until:
                watch.stopped_until = 0.0
                watch.group.signal(signal.SIGCONT)

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stopped:
                    return
                now = time.monotonic()
                due = sorted((w for w in self._watches if w.next_check <= now), key=lambda w: w.next_check)
                if not due:
                    self._wake_at = min((w.next_check for w in self._watches), default=math.inf)
                    self._cond.wait(None if self._wake_at == math.inf else self._wake_at - now)
                    self._wake_at = None
                    continue
            for watch in due:  # the most overdue first; a removed one is skipped inside
                if self._check(watch, time.monotonic()) is not None:
                    with self._cond:
                        self._watches.discard(watch)

    def _check(self, w: Watch, now: float) -> str | None:
        """Look at one watch (no lock held while /proc is read); the violation that ended it, if any."""
        if w.stopped_until:
            if now < w.stopped_until:
                w.next_check = w.stopped_until
                return None
            with w.lock:
                if w.removed:
                    return None
                w.stopped_until = 0.0
                w.group.signal(signal.SIGCONT)
        usage = self._measure(w.group.pid, w.max_tasks)
        violation = None
        if self._enforce_tasks and usage.tasks > w.max_tasks:  # first: a cut-short walk undercounts memory
            violation = "tasks"
        elif usage.rss > w.memory_limit and (usage.shared_aware_rss() or 0) > w.memory_limit:
            violation = "oom"
        used = usage.cpu - w.cpu0
        allowed = 0.0 if w.share is None else w.share * (now - w.started + BURST)
        with w.lock:
            if w.removed:
                return None
            if violation:
                w.removed = True
                w.group.kill(violation)
                return violation
            w.peak = max(w.peak, usage.rss)
            w.next_check = now + MEMORY_TICK
            if w.share is None:
                return None
            if used > allowed:
                w.stopped_until = now + (used - allowed) / w.share
                w.next_check = w.stopped_until
                w.group.signal(signal.SIGSTOP)
            else:  # look again about when the bucket could run dry at full speed
                w.next_check = now + min(MEMORY_TICK, max(0.001, (allowed - used) / HOST_CPUS))
        return None


def cpu_share(memory_mb: int, mb_per_vcpu: int, vcpus_max: int) -> float | None:
    """vCPUs that come with ``memory_mb``; None when the host cannot give less than that anyway."""
    share = min(memory_mb / mb_per_vcpu, vcpus_max)
    return None if share >= HOST_CPUS else share
