"""Run pytest beside CPU hogs: the suite must pass on a busy machine, not only on an idle one.

    python tests/under_load.py [--hogs N] [pytest arguments...]     # make test-load: the whole suite

It starts N processes that spin at the same priority as the tests (what a learner's other work
does to a laptop, or other jobs to a shared CI runner; two per core by default), runs pytest with
the given arguments in a process of its own, stops the hogs and exits with pytest's status. It
prints how busy the machine was and how much of it the hogs took, which shows that the load was
real (on a machine shared with other work, the hogs get less of it, and the others make it busy).
A hog also ends by itself when this script dies (it watches its parent), so none is left spinning.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
HOG = """
import os
parent = os.getppid()
while os.getppid() == parent:
    for _ in range(100_000):
        pass
"""


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass
class Outcome:
    returncode: int
    output: str
    seconds: float
    hog_cores: float  # CPU the hogs took, in cores
    machine_busy: float  # the share of the machine's CPU time that was busy (anyone's), 0-1


def run(pytest_args: list[str], hogs: int, capture: bool = True) -> Outcome:
    """pytest ``pytest_args`` (from the repository's root) with ``hogs`` busy processes beside it."""
    spinning = [subprocess.Popen([sys.executable, "-c", HOG], stdin=subprocess.DEVNULL) for _ in range(hogs)]
    procs = [psutil.Process(p.pid) for p in spinning]
    before = psutil.cpu_times()
    t0 = time.monotonic()
    try:
        result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *pytest_args], cwd=ROOT,
                                stdout=subprocess.PIPE if capture else None, stderr=subprocess.STDOUT, text=True)
        seconds = time.monotonic() - t0
        used = sum(sum(p.cpu_times()[:2]) for p in procs)
        busy = _busy_share(before, psutil.cpu_times())
    finally:
        for hog in spinning:
            hog.kill()
            hog.wait()
    return Outcome(result.returncode, result.stdout or "", seconds, used / seconds, busy)


def _busy_share(before, after) -> float:
    total = sum(after) - sum(before)
    idle = (after.idle - before.idle) + (getattr(after, "iowait", 0.0) - getattr(before, "iowait", 0.0))
    return (total - idle) / total if total > 0 else 0.0


def main(argv: list[str]) -> int:
    hogs = 2 * cores()
    if argv[:1] == ["--hogs"]:
        hogs, argv = int(argv[1]), argv[2:]
    outcome = run(argv, hogs, capture=False)
    print(f"\nunder load: {hogs} hogs at the tests' priority took {outcome.hog_cores:.2f} of {cores()} cores "
          f"for {outcome.seconds:.0f} s, the machine was {outcome.machine_busy:.0%} busy; "
          f"pytest exited with {outcome.returncode}")
    return outcome.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
