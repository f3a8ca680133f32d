"""start() undoes what it started when a step fails; stop() runs every step even when one fails."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import psutil
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from deploy import Deployer
from gate import TEST_ISOLATION

import lambdalab
from lambdalab.gateway import Gateway
from lambdalab.sandbox.governor import Governor


def snapshot() -> tuple[set[threading.Thread], set[int]]:
    """This process's threads and child processes."""
    return set(threading.enumerate()), {p.pid for p in psutil.Process().children(recursive=True)}


def left_since(before: tuple[set[threading.Thread], set[int]], cloud: lambdalab.LocalCloud) -> dict[str, list]:
    """What the cloud left: threads, processes, and its working directory (other clouds on the machine aside)."""
    threads, children = snapshot()
    alive = [p for p in children - before[1]
             if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    workdir = getattr(cloud, "workdir", None)
    return {"threads": sorted(t.name for t in threads - before[0] if t.is_alive()), "processes": alive,
            "directories": [str(workdir)] if workdir is not None and workdir.exists() else []}


def test_a_port_in_use_leaves_nothing_behind():
    taken = socket.create_server(("127.0.0.1", 0))
    try:
        before = snapshot()
        cloud = lambdalab.LocalCloud(port=taken.getsockname()[1])
        with pytest.raises(OSError):
            cloud.start()
        assert cloud.workdir.parent == Path(tempfile.gettempdir())  # it got as far as making its directory
        assert left_since(before, cloud) == {"threads": [], "processes": [], "directories": []}
    finally:
        taken.close()


def test_a_late_step_that_fails_undoes_every_earlier_one(monkeypatch: pytest.MonkeyPatch):
    def fail(self) -> None:
        raise RuntimeError("the gateway cannot start")

    monkeypatch.setattr(Gateway, "start", fail)
    before = snapshot()
    cloud = lambdalab.LocalCloud()
    with pytest.raises(RuntimeError, match="the gateway cannot start"):
        cloud.start()
    assert left_since(before, cloud) == {"threads": [], "processes": [], "directories": []}
    assert not cloud.running
    cloud.stop()  # nothing to stop


def test_a_failing_stop_step_does_not_leave_the_rest_running(monkeypatch: pytest.MonkeyPatch):
    real_stop = Governor.stop

    def broken(self) -> None:
        real_stop(self)
        raise RuntimeError("the governor failed to stop")

    monkeypatch.setattr(Governor, "stop", broken)  # an early step: everything after it must still stop
    before = snapshot()
    cloud = lambdalab.start()
    fn = Deployer(cloud)
    fn.invoke(fn.create("def handler(event, context):\n    return 1\n"))
    with pytest.raises(RuntimeError, match="the governor failed to stop"):
        cloud.stop()
    assert left_since(before, cloud) == {"threads": [], "processes": [], "directories": []}
    assert not cloud.running
    cloud.stop()  # stopped once is stopped


def test_stop_with_invocations_in_flight_ends_them():
    before = snapshot()
    cloud = lambdalab.start()
    fn = Deployer(cloud)
    name = fn.create("import time\ndef handler(event, context):\n    time.sleep(60)\n", Timeout=120)
    lam = cloud.client("lambda", config=Config(retries={"max_attempts": 0}, read_timeout=120))
    outcomes: list = []
    threads = [threading.Thread(target=lambda: outcomes.append(_invoke(lam, name)), name=f"test-in-flight-{i}")
               for i in range(3)]
    for thread in threads:
        thread.start()
    paced = threading.Event()  # never set: its wait paces a bounded poll
    for _ in range(1500):  # until the three invocations are inside their handlers (30 s at most)
        if cloud.leases.running(name) == 3 and len(cloud.environments(name)) == 3:
            break
        paced.wait(0.02)
    assert cloud.leases.running(name) == 3
    cloud.stop()
    for thread in threads:
        thread.join(30)
    assert len(outcomes) == 3 and all(outcome != "ok" for outcome in outcomes)
    assert left_since(before, cloud) == {"threads": [], "processes": [], "directories": []}


def _invoke(lam, name: str) -> str:
    try:
        response = lam.invoke(FunctionName=name)
        return response.get("FunctionError") or "ok"
    except Exception as e:  # the cloud went away mid-call: what the caller sees
        return type(e).__name__


def test_an_invoke_that_arrives_while_the_cloud_stops_gets_a_service_exception():
    """stop() closes the pool before the endpoint: a request in between is answered, not a traceback."""
    with lambdalab.start() as cloud:
        fn = Deployer(cloud)
        name = fn.create("def handler(event, context):\n    return 1\n")
        lam = cloud.client("lambda", config=Config(retries={"max_attempts": 0}))
        cloud.pool.stop()  # the first step of stop(): the endpoint is still up
        with pytest.raises(ClientError) as caught:
            lam.invoke(FunctionName=name)
        assert caught.value.response["Error"] == {"Code": "ServiceException",
                                                  "Message": "The local cloud is stopping: no new invocation starts."}
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


def test_in_a_notebook_a_cloud_started_again_replaces_the_one_of_its_accounts_and_starts_empty():
    """A chapter's set-up cell run again: the kernel's earlier cloud stops (moto keeps buckets and topics per
    account for the whole process, so the two would share them) and the learner is told; outside IPython,
    clouds of the same accounts run side by side as before."""
    code = """
import json
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
for cell in ("import lambdalab\\nfirst = lambdalab.start()\\nfirst.client('s3').create_bucket(Bucket='ch-bucket')",
             "apart = lambdalab.start(account='333333333333', other_account='444444444444')",
             "second = lambdalab.start()"):
    assert shell.run_cell(cell).success
ns = shell.user_ns
seen = {"first": ns["first"].running, "apart": ns["apart"].running, "second": ns["second"].running,
        "buckets": [b["Name"] for b in ns["second"].client("s3").list_buckets()["Buckets"]]}
ns["second"].stop(); ns["apart"].stop()
print(json.dumps(seen))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert json.loads(lines[-1]) == {"first": False, "apart": True, "second": True, "buckets": []}
    assert any(line.startswith("lambdalab: stopped the local cloud this kernel started before") for line in lines)
    with lambdalab.start(isolation=TEST_ISOLATION) as one, lambdalab.start(isolation=TEST_ISOLATION) as two:
        assert one.running and two.running  # not in IPython: side by side
