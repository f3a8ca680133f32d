"""lambdalab.sandbox.process: the reaper's requests, and the plain fallback for systems without pidfds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest
from deploy import Deployer

import lambdalab
from lambdalab.sandbox import isolation
from lambdalab.sandbox.process import PlainReaper, Reaper, kill_tree

LIMITS = {"nofile": 64, "nproc": 4096, "fsize": 1 << 20}
SLEEPER = "import subprocess, time\nprint(subprocess.Popen(['sleep', '60']).pid, flush=True)\ntime.sleep(60)\n"


def gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
            return True
        time.sleep(0.02)
    return False


@pytest.mark.parametrize("kind", [Reaper, PlainReaper])
def test_a_sandbox_runs_reports_its_exit_and_is_killed_with_its_children(tmp_path, kind):
    reaper = kind(str(tmp_path / "work"), {})
    (tmp_path / "work").mkdir()
    try:
        proc = reaper.spawn([sys.executable, "-c", "print('hello'); raise SystemExit(3)"], env={}, cwd=str(tmp_path),
                            limits=LIMITS, uid=None, landlock={})
        assert proc.stdout.read() == b"hello\n" and proc.wait(timeout=30) == 3
        kill_tree(proc)
        proc = reaper.spawn([sys.executable, "-c", SLEEPER], env={}, cwd=str(tmp_path), limits=LIMITS, uid=None,
                            landlock={})
        child = int(proc.stdout.readline())
        kill_tree(proc)
        assert proc.returncode == -9 and gone(proc.pid) and gone(child)
    finally:
        reaper.close()
    assert not (tmp_path / "work").exists()  # the reaper removes the cloud's working directory


def test_a_missing_executable_is_reported_as_execve_would(tmp_path):
    reaper = Reaper(str(tmp_path), {})
    try:
        with pytest.raises(FileNotFoundError) as excinfo:
            reaper.spawn([str(tmp_path / "bootstrap")], env={}, cwd="/", limits=LIMITS, uid=None, landlock={})
        assert excinfo.value.filename == str(tmp_path / "bootstrap")
    finally:
        reaper.close()


def test_without_pidfds_a_cloud_runs_on_plain_process_groups_and_says_so(monkeypatch):
    monkeypatch.setattr(isolation, "_pidfds", lambda: False)
    with lambdalab.start() as cloud:
        assert isinstance(cloud._isolation.reaper, PlainReaper)
        fn = Deployer(cloud)
        assert fn.invoke(fn.create("def handler(e, c):\n    return 'plain'\n"))["Payload"] == "plain"
        table = cloud.isolation().set_index("protection")
        assert not table.loc[["file system (Landlock)", "a user per environment", "nothing outlives its environment"],
                             "active"].any()
        assert "pidfds" in table.loc["file system (Landlock)", "detail"]


@pytest.mark.skipif(os.geteuid() != 0, reason="only root gives each environment a user of its own")
def test_uids_are_unique_on_the_machine_and_freed_when_their_owner_dies(tmp_path):
    """Two reapers (two clouds, maybe in two processes) never hold the same uid; a dead owner's uids come back."""
    first = 1_999_000_000 + os.getpid() % 1000 * 2  # a range no real cloud uses
    config = {"user_locks": str(tmp_path / "locks")}
    mine = Reaper(str(tmp_path / "a"), config)
    owner = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(Path(isolation.__file__).parents[2])!r})
        from lambdalab.sandbox.process import Reaper
        reaper = Reaper({str(tmp_path / "b")!r}, {config!r})
        print(reaper.allocate_user({first}, 2), flush=True)
        time.sleep(300)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        theirs = int(owner.stdout.readline())
        ours = mine.allocate_user(first, 2)
        assert {ours, theirs} == {first, first + 1}
        with pytest.raises(OSError, match="are in use"):
            mine.allocate_user(first, 2)
        os.kill(owner.pid, signal.SIGKILL)  # its reaper notices, cleans up and lets go of the uid
        owner.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                assert mine.allocate_user(first, 2) == theirs
                break
            except OSError:
                time.sleep(0.05)
        else:
            pytest.fail("the dead owner's uid never came back")
    finally:
        owner.kill()
        mine.close()
