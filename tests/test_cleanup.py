"""Nothing survives the cloud: not after stop(), and not after the owning process is killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import psutil
from deploy import Deployer
from gate import TEST_ISOLATION, WAIT_AT_GATE, Gate

import lambdalab

SPAWNER = WAIT_AT_GATE + """
import subprocess
def handler(event, context):
    child = subprocess.Popen(["sleep", "300"])  # outlives the invocation inside the environment
    if "gate" in event:
        wait_at_gate(event["gate"])
    return {"child": child.pid}
"""


def _gone(pids: list[int], within: float = 60.0) -> list[int]:
    """The processes still alive once ``pids`` are gone or ``within`` s have passed (they are not
    our children, so there is no wait() to block on: watch them go)."""
    deadline = time.monotonic() + within
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if _running(p)]
        time.sleep(0.05)
    return alive


def _running(pid: int) -> bool:
    """Alive and not a zombie; a process that ends between the two looks is gone."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_stop_leaves_no_process_and_no_thread():
    threads_before = set(threading.enumerate())
    children_before = {p.pid for p in psutil.Process().children(recursive=True)}
    cloud = lambdalab.start(isolation=TEST_ISOLATION)
    fn = Deployer(cloud)
    name = fn.create(SPAWNER, Timeout=60)  # the first handler waits at the gate for the others
    with Gate() as gate:  # three environments at once
        results = gate.run(lambda: fn.invoke(name, {"gate": gate.port})["Payload"], 3)
    ours = [p.pid for p in psutil.Process().children(recursive=True) if p.pid not in children_before]
    assert len(ours) >= 7  # the reaper, three runtimes and their three children
    assert {r["child"] for r in results} <= set(ours)
    cloud.stop()
    assert _gone(ours) == []
    leftover = [t.name for t in set(threading.enumerate()) - threads_before if t.is_alive()]
    assert leftover == []
    assert not cloud.workdir.exists()


def test_stop_is_idempotent_and_the_context_manager_stops():
    with lambdalab.start(isolation=TEST_ISOLATION) as cloud:
        assert repr(cloud).startswith("<LocalCloud http://127.0.0.1:")
    assert repr(cloud) == "<LocalCloud stopped>"
    cloud.stop()


DAEMON = """
import ctypes, os, time
def handler(event, context):
    if event.get("escape"):  # stop being a subreaper: orphans would go to whoever is above
        ctypes.CDLL(None).prctl(36, ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0))
    r, w = os.pipe()
    if os.fork() == 0:  # the classic daemon: fork, setsid, fork again, the middle one exits
        os.setsid()
        daemon = os.fork()
        if daemon == 0:
            while True:
                time.sleep(1)
        os.write(w, str(daemon).encode())  # before the daemon is orphaned: the reaper may kill it at once
        os._exit(0)
    os.close(w)
    daemon = int(os.read(r, 32))
    os.wait()
    time.sleep(event.get("hold", 0))
    return {"daemon": daemon}
"""


def test_a_daemon_ends_when_its_environment_is_reset(fn, cloud):
    name = fn.create(DAEMON, Timeout=1)
    daemon = fn.invoke(name)["Payload"]["daemon"]
    assert _gone([daemon], within=0.5) == [daemon], "the daemon should live as long as its environment"
    assert fn.invoke(name, {"hold": 5})["Payload"]["errorType"] == "Sandbox.Timedout"  # the reset kills everything
    assert _gone([daemon]) == []


def test_a_process_that_leaves_its_environment_is_killed_at_once(fn):
    """A handler that gives up being a subreaper: its orphan lands on the reaper, which kills it."""
    name = fn.create(DAEMON, Timeout=10)
    daemon = fn.invoke(name, {"escape": True})["Payload"]["daemon"]
    assert _gone([daemon]) == []
    assert fn.invoke(name)["Payload"]["daemon"] > 0  # the environment itself carries on


def test_stop_ends_daemons_and_removes_the_work_directory():
    cloud = lambdalab.start(isolation=TEST_ISOLATION)
    fn = Deployer(cloud)
    daemons = [fn.invoke(fn.create(DAEMON))["Payload"]["daemon"] for _ in range(2)]
    escaped = fn.invoke(fn.create("import os, signal\ndef handler(e, c):\n"
                                  "    try:\n        os.kill(os.getppid(), signal.SIGKILL)\n"
                                  "    except OSError as err:\n        return err.strerror\n"))["Payload"]
    cloud.stop()
    assert _gone(daemons) == []
    assert not cloud.workdir.exists(), f"left behind after a handler's kill of its parent ({escaped})"


def test_killing_the_owner_process_leaves_nothing_behind(tmp_path):
    script = tmp_path / "owner.py"
    script.write_text(textwrap.dedent(f"""
        import json, os, sys, time
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        import lambdalab
        from deploy import Deployer
        cloud = lambdalab.start()
        fn = Deployer(cloud)
        name = fn.create({SPAWNER!r}, Timeout=10)
        child = fn.invoke(name)["Payload"]["child"]
        daemon = fn.invoke(fn.create({DAEMON!r}))["Payload"]["daemon"]
        runtimes = [env._proc.pid for env in cloud.environments()]
        print(json.dumps({{"child": child, "daemon": daemon, "runtimes": runtimes, "workdir": str(cloud.workdir)}}),
              flush=True)
        time.sleep(300)
    """))
    owner = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        info = json.loads(owner.stdout.readline())
        tree = [p.pid for p in psutil.Process(owner.pid).children(recursive=True)]
        assert {info["child"], info["daemon"], *info["runtimes"]} <= set(tree)
        os.kill(owner.pid, signal.SIGKILL)  # no atexit, no finally: only the reaper can clean up
        owner.wait()
        assert _gone(tree) == []
        deadline = time.monotonic() + 60  # the reaper removes it once it sees its owner die
        while os.path.exists(info["workdir"]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not os.path.exists(info["workdir"])
    finally:
        if owner.poll() is None:
            owner.kill()


def test_a_terminated_reaper_still_ends_everything():
    """SIGTERM (a `pkill`, a container stopping) makes the reaper clean up as if the cloud had gone."""
    cloud = lambdalab.start(isolation=TEST_ISOLATION)
    fn = Deployer(cloud)
    daemon = fn.invoke(fn.create(DAEMON))["Payload"]["daemon"]
    runtime = cloud.environments()[0]._proc.pid
    reaper = cloud._isolation.reaper._proc
    reaper.terminate()
    reaper.wait(timeout=30)
    try:
        assert _gone([daemon, runtime]) == []
        assert not cloud.workdir.exists()
    finally:
        cloud.stop()
