"""The governor's threading, and the process-group handle every signal goes through.

The governor takes a probe (``measure`` of /proc by default); these tests give it one that
blocks on a chosen process group, which makes "a slow scan" happen exactly when they want it.
"""

from __future__ import annotations

import signal
import subprocess
import threading

import pytest

from lambdalab.sandbox.governor import Governor, Usage, Watch, measure
from lambdalab.sandbox.process_group import ProcessGroup

HUGE = 1 << 50


@pytest.fixture
def sleepers():
    """Start runtimes stand-ins (``sleep``, each in its own session); all killed at the end."""
    started: list[subprocess.Popen] = []

    def start(command: str = "sleep 60") -> subprocess.Popen:
        proc = subprocess.Popen(["sh", "-c", command], start_new_session=True)
        started.append(proc)
        return proc
    yield start
    for proc in started:
        proc.kill()
        proc.wait()


class SlowProbe:
    """``measure``, except that looking at ``slow_pid`` blocks until ``release`` and then reports
    ``then`` (or the truth)."""

    def __init__(self, slow_pid: int, then: Usage | None = None) -> None:
        self.slow_pid, self.then = slow_pid, then
        self.scanning, self.release = threading.Event(), threading.Event()

    def __call__(self, pid: int, max_tasks: int) -> Usage:
        if pid == self.slow_pid:
            self.scanning.set()
            self.release.wait(10)
            if self.then is not None:
                return self.then
        return measure(pid, max_tasks)


def watch_of(proc: subprocess.Popen, share: float | None = None, memory: int = HUGE) -> Watch:
    return Watch(group=ProcessGroup(proc.pid), memory_limit=memory, max_tasks=HUGE, share=share)


def state_of(pid: int) -> str:
    with open(f"/proc/{pid}/stat", "rb") as f:
        return f.read().rsplit(b")", 1)[1].split()[0].decode()


def test_unwatch_does_not_wait_for_another_environments_scan(sleepers):
    slow, other = sleepers(), sleepers()
    probe = SlowProbe(slow.pid)
    governor = Governor(enforce_processes=False, measure=probe)
    try:
        governor.watch(watch_of(slow))
        assert probe.scanning.wait(5), "the governor never looked at the slow group"
        mine = watch_of(other)
        governor.watch(mine)  # the invoke path, while the governor is stuck in the other scan
        unwatched = threading.Event()
        finisher = threading.Thread(target=lambda: (governor.unwatch(mine), unwatched.set()), name="test-unwatch")
        finisher.start()
        assert unwatched.wait(2), "unwatch() waited for another environment's /proc scan"
    finally:
        probe.release.set()
        governor.stop()


@pytest.mark.parametrize(("usage", "share"), [
    (Usage(rss=HUGE, cpu=0.0, tasks=1, procs=[]), None),  # over its memory: would be killed
    (Usage(rss=0, cpu=1000.0, tasks=1, procs=[]), 0.1),  # far over its CPU share: would be stopped
])
def test_a_watch_removed_during_its_scan_is_not_acted_on(sleepers, usage, share):
    proc = sleepers()
    probe = SlowProbe(proc.pid, then=usage)
    governor = Governor(enforce_processes=False, measure=probe)
    try:
        watch = watch_of(proc, share=share, memory=1 << 20)
        governor.watch(watch)
        assert probe.scanning.wait(5)
        governor.unwatch(watch)  # the invocation ended while its last scan was under way
        probe.release.set()
        governor.stop()  # the scan is over once the thread is
        assert proc.poll() is None, "the governor killed a group it no longer watched"
        assert state_of(proc.pid) != "T", "the governor stopped a group it no longer watched"
        assert watch.group.kill_reason is None
    finally:
        probe.release.set()
        governor.stop()


def test_a_violation_kills_the_whole_group_and_says_why(sleepers):
    proc = sleepers("sleep 60 & sleep 60; wait")
    governor = Governor(enforce_processes=False, measure=lambda pid, n: Usage(rss=HUGE, cpu=0.0, tasks=1, procs=[]))
    try:
        watch = watch_of(proc, memory=1 << 20)
        governor.watch(watch)
        assert proc.wait(5) == -signal.SIGKILL
        assert watch.group.kill_reason == "oom"
    finally:
        governor.stop()


def test_a_closed_group_handle_signals_nothing(sleepers):
    proc = sleepers()
    group = ProcessGroup(proc.pid)
    group.close()  # what the environment does before it reaps the runtime
    assert group.signal(signal.SIGKILL) is False
    group.kill("timeout")
    assert proc.poll() is None and group.kill_reason is None


def test_the_first_kill_reason_stays(sleepers):
    group = ProcessGroup(sleepers().pid)
    group.kill("oom")
    group.kill("timeout")
    assert group.kill_reason == "oom"
    group.close()
