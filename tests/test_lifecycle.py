"""The execution environment's lifecycle: INIT, warm reuse, freezing, resets, reaping, retirement."""

from __future__ import annotations

import itertools
import time

from gate import WAIT_AT_GATE, Gate

import lambdalab

COUNTER = WAIT_AT_GATE + """
import os
INIT_PID = os.getpid()
COUNT = 0

def handler(event, context):
    global COUNT
    COUNT += 1
    if event.get("write"):
        with open("/tmp/note.txt", "w") as f:
            f.write(event["write"])
    note = open("/tmp/note.txt").read() if os.path.exists("/tmp/note.txt") else None
    if "gate" in event:
        wait_at_gate(event["gate"])
    return {"count": COUNT, "pid": INIT_PID, "note": note}
"""


def test_cold_then_warm_keeps_globals_and_tmp(fn):
    name = fn.create(COUNTER)
    first = fn.invoke(name, {"write": "kept"})["Payload"]
    second = fn.invoke(name)["Payload"]
    assert (first["count"], second["count"]) == (1, 2)
    assert first["pid"] == second["pid"]
    assert second["note"] == "kept"
    records = fn.records(name)
    assert list(records["cold"]) == [True, False]
    assert records["init_ms"][0] > 0 and records["init_ms"].isna()[1]
    assert records["environment"][0] == records["environment"][1]


def test_concurrent_invocations_get_their_own_environments(fn, cloud):
    name = fn.create(COUNTER, Timeout=60)  # the first handler waits at the gate for the others
    with Gate() as gate:  # all three handlers run at once
        results = gate.run(lambda: fn.invoke(name, {"gate": gate.port})["Payload"], 3)
    assert len({r["pid"] for r in results}) == 3
    assert len(cloud.environments(name)) == 3
    assert fn.records(name)["environment"].nunique() == 3


def test_an_environment_runs_one_invocation_at_a_time(fn):
    name = fn.create(COUNTER, Timeout=60)
    fn.invoke(name)
    with Gate() as gate:
        results = gate.run(lambda: fn.invoke(name, {"gate": gate.port})["Payload"], 2)
    records = fn.records(name)
    assert records["environment"].nunique() == 2  # the warm one was busy, so a second one started
    assert sorted(r["count"] for r in results) == [1, 2]


TICKER = """
import threading, time
TICKS = []

def tick():
    while True:
        TICKS.append(time.time())
        time.sleep(0.01)

def handler(event, context):
    if event.get("start"):
        threading.Thread(target=tick, daemon=True).start()
    seen = len(TICKS)
    while len(TICKS) < seen + 5:  # it runs while the handler does (and ticks again once thawed)
        time.sleep(0.005)
    return TICKS
"""
IDLE_S = 1.0


def longest_pause(fn, name: str) -> float:
    """Start a thread that ticks every 10 ms, leave the environment idle for IDLE_S, and return the
    longest pause between two ticks: about IDLE_S if the thread was frozen, ~10 ms if it ran.
    (The idle time is the experiment, not a wait for an event; a busy machine delays ticks by far
    less than half of it.)"""
    fn.invoke(name, {"start": True})
    time.sleep(IDLE_S)
    ticks = fn.invoke(name)["Payload"]
    return max(b - a for a, b in itertools.pairwise(ticks))


def test_background_threads_are_frozen_between_invocations(fn):
    name = fn.create(TICKER, MemorySize=1769)  # a whole vCPU: no CPU throttle pauses the ticks
    assert longest_pause(fn, name) > IDLE_S / 2, "the background thread ran while the environment was idle"


def test_freezing_can_be_turned_off(tmp_path):
    from deploy import Deployer

    with lambdalab.start(freeze=False) as cloud:
        fn = Deployer(cloud)
        name = fn.create(TICKER, MemorySize=1769)
        assert longest_pause(fn, name) < IDLE_S / 2, "the background thread stopped while the environment was idle"


def test_crash_resets_the_environment_and_next_invoke_inits_again(fn):
    name = fn.create("""
import os
STATE = {"n": 0}
def handler(event, context):
    STATE["n"] += 1
    if event.get("crash"):
        os._exit(3)
    return STATE["n"]
""")
    assert fn.invoke(name)["Payload"] == 1
    crashed = fn.invoke(name, {"crash": True})
    assert crashed["FunctionError"] == "Unhandled"
    assert crashed["Payload"]["errorType"] == "Runtime.ExitError"
    assert crashed["Payload"]["errorMessage"].endswith("Error: Runtime exited with error: exit status 3")
    assert fn.invoke(name)["Payload"] == 1  # a fresh init
    records = fn.records(name)
    assert records["environment"].nunique() == 1  # the same environment, reset
    assert list(records["cold"]) == [True, False, True]
    assert records["init_ms"].isna()[2]  # a suppressed init is folded into Duration


def test_idle_environments_are_reaped_after_keep_alive_on_the_cloud_clock(fn, cloud):
    name = fn.create(COUNTER)
    fn.invoke(name)
    assert len(cloud.environments(name)) == 1
    cloud.clock.advance(cloud.quotas.keep_alive_s + 1)
    assert cloud.environments(name) == []
    fn.invoke(name)
    assert list(fn.records(name)["cold"]) == [True, True]


def test_advance_returns_after_reaping_and_a_lowered_keep_alive_applies_to_idle_environments(fn, cloud):
    name = fn.create(COUNTER)
    fn.invoke(name)
    cloud.quotas.set(keep_alive_s=60)
    try:
        cloud.clock.advance(30)
        assert len(cloud.environments(name)) == 1
        cloud.clock.advance(31)
        assert cloud.environments(name) == []  # no waiting: advance() returns once due timers have run
    finally:
        cloud.quotas.set(keep_alive_s=600)


def test_update_retires_old_environments(fn, cloud):
    name = fn.create(COUNTER)
    before = fn.invoke(name)["Payload"]["pid"]
    fn.lam.update_function_configuration(FunctionName=name, MemorySize=256)
    after = fn.invoke(name)["Payload"]
    assert after["pid"] != before and after["count"] == 1
    assert len(cloud.environments(name)) == 1
    assert fn.records(name)["memory_mb"].tolist() == [128, 256]


def test_delete_stops_environments(fn, cloud):
    name = fn.create(COUNTER)
    fn.invoke(name)
    fn.lam.delete_function(FunctionName=name)
    assert cloud.environments(name) == []


def test_init_failure_is_retried_inside_the_invoke(fn):
    name = fn.create("import does_not_exist\ndef handler(e, c):\n    return 1\n")
    out = fn.invoke(name, LogType="Tail")
    assert out["FunctionError"] == "Unhandled"
    assert out["Payload"] == {"errorMessage": "Unable to import module 'app': No module named 'does_not_exist'",
                              "errorType": "Runtime.ImportModuleError", "requestId": "", "stackTrace": []}
    import base64

    tail = base64.b64decode(out["LogResult"]).decode()
    assert "INIT_REPORT Init Duration:" in tail and "Phase: invoke\tStatus: error\tError Type: " \
        "Runtime.ImportModuleError" in tail
    assert fn.records(name)["error_type"].tolist() == ["Runtime.ImportModuleError"]


def test_init_over_its_limit_is_retried_under_the_function_timeout(cloud):
    from deploy import Deployer

    cloud.quotas.set(init_timeout_s=1)
    try:
        fn = Deployer(cloud)
        name = fn.create("import time\ntime.sleep(1.5)\ndef handler(e, c):\n    return 'late'\n", Timeout=60)
        out = fn.invoke(name)
        assert out["Payload"] == "late"  # the second init, inside the invoke, had the function's 60 s
        cloud.logs.flush()
        events = cloud.client("logs").filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        assert any(e["message"].startswith("INIT_REPORT Init Duration: ") and
                   e["message"].endswith("\tPhase: init\tStatus: timeout\n") for e in events)
    finally:
        cloud.quotas.set(init_timeout_s=10)
