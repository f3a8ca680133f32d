"""lambdalab.sandbox.process: the reaper's requests, and the plain fallback for systems without pidfds."""

from __future__ import annotations

import sys
import time

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
