"""Limits enforced without root, cgroups or Docker: time, memory, CPU share, processes, files, output."""

from __future__ import annotations

import base64
import math
import re
import time

import pandas as pd
import pytest
from deploy import Deployer

import lambdalab

REQUEST_ID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@pytest.mark.parametrize("body", ["time.sleep(60)", "while True: pass"])
def test_timeout_kills_and_reports_sandbox_timedout(fn, body):
    name = fn.create(f"import time\ndef handler(e, c):\n    {body}\n", Timeout=1)
    t0 = time.perf_counter()
    out = fn.invoke(name, LogType="Tail")
    # Killed at 1 s; left alone, it would sleep for 60 s or loop for ever. How soon after the
    # deadline (overshoot) is the benchmark's figure: a loaded machine delays the kill.
    assert time.perf_counter() - t0 < 30, "the handler was not killed at its deadline"
    assert out["FunctionError"] == "Unhandled"
    assert out["Payload"]["errorType"] == "Sandbox.Timedout"
    assert re.fullmatch(f"RequestId: {REQUEST_ID} Error: Task timed out after 1.00 seconds",
                        out["Payload"]["errorMessage"])
    line = base64.b64decode(out["LogResult"]).decode().splitlines()[-1]
    # AWS reports a timed-out invocation as lasting its timeout exactly, and bills it so (plus its init)
    report = re.fullmatch(rf"REPORT RequestId: {REQUEST_ID}\tDuration: 1000.00 ms\tBilled Duration: (\d+) ms\t"
                          r"Memory Size: 128 MB\tMax Memory Used: \d+ MB\t(Init Duration: ([\d.]+) ms\t)?"
                          r"Status: timeout", line)
    assert report, line
    record = fn.records(name).iloc[-1]
    assert (record["status"], record["error_type"]) == ("timeout", "Sandbox.Timedout")
    assert record["duration_ms"] == 1000 and record["billed_ms"] == int(report[1])
    assert record["billed_ms"] == math.ceil(1000 + (0 if pd.isna(record["init_ms"]) else record["init_ms"]))
    assert record["measured_ms"] >= 1000  # when the kill really landed
    assert fn.invoke(name, LogType="Tail")["Payload"]["errorType"] == "Sandbox.Timedout"  # reset, still usable


def test_remaining_time_counts_down_to_the_deadline(fn):
    name = fn.create("import time\ndef handler(e, c):\n    a = c.get_remaining_time_in_millis()\n"
                     "    time.sleep(0.2)\n    return [a, c.get_remaining_time_in_millis()]\n", Timeout=3)
    before, after = fn.invoke(name)["Payload"]
    # from the 3 s deadline (less what delivering the event took), down by at least the 0.2 s slept
    assert 1000 < before <= 3000 and 0 < after <= before - 200


def test_memory_over_memory_size_is_runtime_out_of_memory(fn):
    name = fn.create("def handler(e, c):\n    blocks = []\n    while True:\n"
                     "        blocks.append(bytearray(8 * 1024 * 1024))\n", MemorySize=128, Timeout=30)
    out = fn.invoke(name, LogType="Tail")
    assert out["Payload"]["errorType"] == "Runtime.OutOfMemory"
    assert re.fullmatch(f"RequestId: {REQUEST_ID} Error: Runtime exited with error: signal: killed",
                        out["Payload"]["errorMessage"])
    report = base64.b64decode(out["LogResult"]).decode().splitlines()[-1]
    assert "\tMax Memory Used: 128 MB\t" in report and report.endswith("Status: error\tError Type: Runtime.OutOfMemory")
    assert fn.records(name).iloc[-1]["max_memory_used_mb"] == 128


def test_memory_of_child_processes_counts_too(fn):
    name = fn.create("""
import subprocess, sys
def handler(e, c):
    code = "b = bytearray(300 * 1024 * 1024)\\nimport time\\ntime.sleep(30)"
    subprocess.run([sys.executable, "-c", code])
""", MemorySize=256, Timeout=30)
    assert fn.invoke(name)["Payload"]["errorType"] == "Runtime.OutOfMemory"


def test_max_memory_used_reflects_what_the_handler_held(fn):
    name = fn.create("def handler(e, c):\n    b = bytearray(e['mb'] * 1024 * 1024)\n    return len(b)\n",
                     MemorySize=512)
    fn.invoke(name, {"mb": 1})
    small = fn.records(name).iloc[-1]["max_memory_used_mb"]
    fn.invoke(name, {"mb": 200})
    big = fn.records(name).iloc[-1]["max_memory_used_mb"]
    assert small < 60 and big >= 200 + small - 10


CPU_BOUND = """
import time
def handler(event, context):
    wall, cpu = time.perf_counter(), time.process_time()
    total = 0
    for i in range(event["n"]):
        total += i
    return [time.perf_counter() - wall, time.process_time() - cpu]
"""


def test_cpu_share_follows_memory(fn):
    """An environment gets MemorySize / 1,769 MB of a vCPU: at 128 MB, about 7% of a CPU-second per second.

    The handler measures its own CPU time against the wall clock, so the share it got depends
    little on what else the machine is doing: a busy machine still gives a process more than 7%
    of a core, but it delays the governor's stops and restarts, hence the bounds of half and
    twice the share (without the throttle a process gets a core or a good part of one). The
    benchmark reports the precise figures.
    """
    slow = fn.create(CPU_BOUND, MemorySize=128, Timeout=60)
    fast = fn.create(CPU_BOUND, MemorySize=1769, Timeout=60)
    wall, cpu = fn.invoke(slow, {"n": 2_000_000})["Payload"]
    share = cpu / wall
    assert 0.036 < share < 0.144, f"128 MB got {share:.3f} of a CPU (expected 128/1769 = 0.072)"
    wall, cpu = fn.invoke(fast, {"n": 2_000_000})["Payload"]
    assert cpu / wall > 2 * share, f"1,769 MB got only {cpu / wall:.2f} of a CPU"


def test_cpu_throttle_can_be_turned_off():
    with lambdalab.start(cpu_throttle=False) as cloud:
        fn = Deployer(cloud)
        slow = fn.create(CPU_BOUND, MemorySize=128, Timeout=60)
        wall, cpu = fn.invoke(slow, {"n": 1_000_000})["Payload"]
        # twice its share at least (unthrottled it gets what the machine gives, a core when idle)
        assert cpu / wall > 2 * 128 / 1769, f"with the throttle off, 128 MB still got only {cpu / wall:.2f} of a CPU"


def test_processes_and_threads_are_capped(fn):
    name = fn.create("""
import threading, time
def handler(e, c):
    threads = []
    try:
        for _ in range(2000):
            t = threading.Thread(target=time.sleep, args=(5,), daemon=True)
            t.start()
            threads.append(t)
    except RuntimeError as err:
        return {"started": len(threads), "error": str(err)}
    return {"started": len(threads)}
""", Timeout=20, MemorySize=1024)
    out = fn.invoke(name)
    if "FunctionError" in out:  # as root the kernel's limit does not apply: lambdalab kills the environment
        assert out["Payload"]["errorType"] == "Runtime.ExitError"
        assert out["Payload"]["errorMessage"].endswith("signal: killed")
    else:
        assert out["Payload"]["started"] < 1024 and "can't start new thread" in out["Payload"]["error"]


@pytest.mark.parametrize(("body", "memory", "reset"), [
    # as in the issue: the handler raises once a fork is refused; its environment (and its frozen forks) lives on
    ("while True:\n        os.fork()", 128, False),
    # forks until the timeout, which resets the environment
    ("while True:\n        try:\n            os.fork()\n        except OSError:\n            time.sleep(0.01)", 1024,
     True),
])
def test_fork_bomb_is_contained_and_leaves_nothing(fn, cloud, body, memory, reset):
    """The bomb never passes 1,024 tasks where the kernel counts per environment, another function's
    timeout still fires meanwhile, and nothing of the bomb is left once its environment ends."""
    import threading

    import psutil

    from lambdalab.sandbox.governor import measure

    name = fn.create(f"import os, time\ndef handler(e, c):\n    {body}\n", Timeout=3, MemorySize=memory)
    sleeper = fn.create("import time\ndef handler(e, c):\n    time.sleep(30)\n", Timeout=1)
    fn.invoke(sleeper, {})  # its environment is warm before the bomb starts
    peak, done, sleeper_out = [0], threading.Event(), []

    def sample() -> None:
        while not done.is_set():
            for env in cloud.environments(name):
                if env._proc is not None:
                    peak[0] = max(peak[0], measure(env._proc.pid).tasks)

    threads = [threading.Thread(target=sample), threading.Thread(target=lambda: sleeper_out.append(fn.invoke(sleeper)))]
    for thread in threads:
        thread.start()
    try:
        out = fn.invoke(name)
    finally:
        done.set()
        for thread in threads:
            thread.join()
    assert out["FunctionError"] == "Unhandled"
    assert sleeper_out[0]["Payload"]["errorType"] == "Sandbox.Timedout"  # not stuck until its sleep ended
    limit = cloud.isolation().set_index("protection").loc["processes and threads: 1,024 per environment"]
    if limit.active:
        assert peak[0] <= 1024, f"{peak[0]} tasks ({limit.detail})"
    if not reset:  # what the bomb made is frozen with its environment, until the environment ends
        env = cloud.environments(name)[0]
        proc = env._proc  # None, or gone a moment later: as root without a uid per environment the governor
        try:              # kills it at 1,025 tasks, later on a loaded machine; then what it made goes with it
            forks = psutil.Process(proc.pid).children(recursive=True) if proc is not None else None
        except psutil.NoSuchProcess:
            forks = None
        if forks is not None:
            deadline = time.monotonic() + 10  # frozen once the runtime asks for its next event
            while time.monotonic() < deadline and not _all_frozen(forks):
                time.sleep(0.05)
            assert _all_frozen(forks)
        fn.lam.delete_function(FunctionName=name)
    me = psutil.Process()

    def leftovers() -> int:  # our descendants beyond the reaper and the live runtimes
        return len(me.children(recursive=True)) - 1 - len(cloud.environments())

    deadline = time.monotonic() + 30  # the bomb's processes are not ours to wait() for: watch them go
    while leftovers() > 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert leftovers() <= 0
    assert fn.invoke(fn.create("def handler(e, c):\n    return 'still fine'\n"))["Payload"] == "still fine"


def _all_frozen(processes) -> bool:
    import psutil

    def status(p):
        try:
            return p.status()
        except psutil.NoSuchProcess:
            return psutil.STATUS_ZOMBIE

    return {status(p) for p in processes} <= {psutil.STATUS_STOPPED, psutil.STATUS_ZOMBIE}


def test_files_in_tmp_are_limited_to_ephemeral_storage(fn):
    name = fn.create("""
def handler(e, c):
    chunk = b"x" * (1024 * 1024)
    written = 0
    try:
        with open("/tmp/big", "wb") as f:
            for _ in range(600):
                f.write(chunk)
                f.flush()
                written += 1
    except OSError as err:
        return {"mb": written, "error": err.strerror}
    return {"mb": written}
""", Timeout=30, MemorySize=512)
    out = fn.invoke(name)["Payload"]
    assert out["mb"] <= 512 and out["error"] == "File too large"


def test_a_flood_of_output_is_capped_not_fatal(fn, cloud):
    cloud.quotas.set(log_bytes_per_invocation=200_000)
    try:
        name = fn.create("def handler(e, c):\n    for i in range(200000):\n        print('flood', i)\n"
                         "    return 'done'\n", Timeout=30, MemorySize=1024)
        out = fn.invoke(name, LogType="Tail")
        assert out["Payload"] == "done"
        tail = base64.b64decode(out["LogResult"]).decode()
        assert "bytes of log output beyond the per-invocation cap of 200000 bytes were dropped" in tail
    finally:
        cloud.quotas.set(log_bytes_per_invocation=5 * 1024 * 1024)


@pytest.mark.parametrize(("body", "ending"), [
    ("import sys\n    sys.exit(2)", "Runtime exited with error: exit status 2"),
    ("import os\n    os._exit(0)", "Runtime exited without providing a reason"),  # as AWS says of sys.exit()
    ("import ctypes\n    ctypes.string_at(0)", "Runtime exited with error: signal: segmentation fault"),
    ("import os, signal\n    os.kill(os.getpid(), signal.SIGABRT)", "Runtime exited with error: signal: aborted"),
])
def test_a_dying_runtime_is_runtime_exit_error(fn, body, ending):
    name = fn.create(f"def handler(e, c):\n    {body}\n")
    out = fn.invoke(name, LogType="Tail")
    assert out["FunctionError"] == "Unhandled"
    assert out["Payload"]["errorType"] == "Runtime.ExitError"
    assert re.fullmatch(f"RequestId: {REQUEST_ID} Error: {ending}", out["Payload"]["errorMessage"])
    assert f"Error: {ending}\nRuntime.ExitError" in \
        base64.b64decode(out["LogResult"]).decode()


def test_open_files_are_capped_at_1024(fn):
    name = fn.create("""
def handler(e, c):
    files = []
    try:
        for i in range(2000):
            files.append(open("/tmp/f%d" % i, "w"))
    except OSError as err:
        return {"opened": len(files), "error": err.strerror}
    return {"opened": len(files)}
""", Timeout=30, MemorySize=512)
    out = fn.invoke(name)["Payload"]
    assert out["error"] == "Too many open files" and 1000 < out["opened"] < 1024
