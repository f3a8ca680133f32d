"""Memory, process and CPU limits for running environments, without root, cgroups or Docker.

One named thread watches every environment that is running an invocation:

* **memory**: the resident memory of the runtime and its children, summed; over MemorySize the
  environment is killed (``Runtime.OutOfMemory``), as Lambda's cgroup would;
* **processes**: threads plus processes over the 1,024 quota kill it (the kernel's RLIMIT_NPROC
  does this for ordinary users, but not for root);
* **CPU**: a token bucket the way CFS bandwidth control meters a cgroup: the environment may use
  ``share`` CPU-seconds per second (MemorySize / 1,769 MB) plus a small burst; once over, its
  process group is stopped (SIGSTOP) until the bucket refills, then continued (SIGCONT).

Idle environments are frozen by their own thread and cost this one nothing.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .linux import children as _children
from .process import signal_group

MEMORY_TICK = 0.010  # seconds between memory checks of a running environment
BURST = 0.020  # seconds of CPU at full share an environment may use ahead of its bucket
PSS_BUDGET = 0.020  # seconds the governor may spend reading PSS to confirm an overrun
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
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
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    # after the command: state(0) ... utime(11) stime(12) cutime(13) cstime(14) ... threads(17) ... rss(21)
    return _cpu_seconds(pid, fields), int(fields[17]), int(fields[21]) * _PAGE


def _cpu_seconds(pid: int, stat_fields: list[bytes]) -> float:
    """CPU time of all the process's threads, to the nanosecond from schedstat where the kernel has it.

    /proc/PID/stat counts in clock ticks (10 ms), too coarse to meter a handler that runs for 12 ms.
    """
    try:
        total = 0
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/schedstat", "rb") as f:
                total += int(f.read().split()[0])
        return total / 1e9
    except (OSError, ValueError, IndexError):
        return (int(stat_fields[11]) + int(stat_fields[12])) / _HZ


def measure(pid: int, max_tasks: int = 1 << 30) -> Usage:
    """Current usage of ``pid`` and its descendants (psutil where /proc is missing).

    The walk stops as soon as more than ``max_tasks`` threads and processes are seen, so a
    fork bomb cannot keep the governor busy while it grows.
    """
    if not os.path.exists("/proc/self/stat"):  # pragma: no cover - macOS
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
        todo.extend(_children(p))
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
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmHWM:"):
                    hwm = int(line.split()[1]) * 1024
                    break
            else:
                hwm = 0
    except OSError:
        return 0
    children = sum(measure(c).rss for c in _children(pid))
    return hwm + children


@dataclass
class Watch:
    pgid: int
    memory_limit: int  # bytes
    max_tasks: int
    share: float | None  # vCPUs; None when not throttled
    on_violation: Callable[[str], None]  # called with "oom" or "tasks", once
    started: float = field(default_factory=time.monotonic)
    cpu0: float = 0.0  # the tree's CPU seconds when the event was delivered (metered when share is set)
    peak: int = 0  # highest tree RSS seen
    stopped_until: float = 0.0
    next_check: float = 0.0
    done: bool = False


class Governor:
    def __init__(self, enforce_processes: bool) -> None:
        self._watches: dict[int, Watch] = {}
        self._cond = threading.Condition()
        self._enforce_tasks = enforce_processes
        self._stopped = False
        self._wake_at: float | None = None  # when the thread will look next, while it waits
        self._thread = threading.Thread(target=self._run, name="lambdalab-governor", daemon=True)
        self._thread.start()

    def watch(self, watch: Watch) -> None:
        """Start watching; the first look comes after a tick (or sooner, when the CPU burst is small),
        so invocations shorter than that cost the governor nothing."""
        first = MEMORY_TICK if watch.share is None else min(MEMORY_TICK, max(0.001, watch.share * BURST))
        watch.next_check = watch.started + first
        with self._cond:
            self._watches[watch.pgid] = watch
            if self._wake_at is None or watch.next_check < self._wake_at:
                self._cond.notify()

    def unwatch(self, pgid: int) -> Watch | None:
        """Stop watching; the group is left running (continued if the governor had stopped it)."""
        with self._cond:
            watch = self._watches.pop(pgid, None)
            if watch is not None and watch.stopped_until:
                signal_group(pgid, signal.SIGCONT)
            return watch

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        with self._cond:
            while not self._stopped:
                now = time.monotonic()
                for watch in list(self._watches.values()):
                    if watch.next_check <= now:
                        self._check(watch, now)
                self._wake_at = min((w.next_check for w in self._watches.values()), default=None)
                self._cond.wait(None if self._wake_at is None else max(0.0, self._wake_at - time.monotonic()))
                self._wake_at = None

    def _check(self, w: Watch, now: float) -> None:
        if w.stopped_until:
            if now < w.stopped_until:
                w.next_check = w.stopped_until
                return
            w.stopped_until = 0.0
            signal_group(w.pgid, signal.SIGCONT)
        usage = measure(w.pgid, w.max_tasks)
        violation = None
        if self._enforce_tasks and usage.tasks > w.max_tasks:  # first: a cut-short walk undercounts memory
            violation = "tasks"
        elif usage.rss > w.memory_limit and (usage.shared_aware_rss() or 0) > w.memory_limit:
            violation = "oom"
        else:
            w.peak = max(w.peak, usage.rss)
        if violation and not w.done:
            w.done = True
            self._watches.pop(w.pgid, None)
            w.on_violation(violation)
            return
        w.next_check = now + MEMORY_TICK
        if w.share is None:
            return
        used = usage.cpu - w.cpu0
        allowed = w.share * (now - w.started + BURST)
        if used > allowed:
            w.stopped_until = now + (used - allowed) / w.share
            w.next_check = w.stopped_until
            signal_group(w.pgid, signal.SIGSTOP)
        else:  # look again about when the bucket could run dry at full speed
            w.next_check = now + min(MEMORY_TICK, max(0.001, (allowed - used) / HOST_CPUS))


def cpu_share(memory_mb: int, mb_per_vcpu: int, vcpus_max: int) -> float | None:
    """vCPUs that come with ``memory_mb``; None when the host cannot give less than that anyway."""
    share = min(memory_mb / mb_per_vcpu, vcpus_max)
    return None if share >= HOST_CPUS else share
