"""What isolation costs and what it contains, measured: cold start, idle memory, and a fork bomb.

    python bench/isolation.py                   # this lambdalab, every protection this machine allows
    python bench/isolation.py --settings '{"nice": 0}'  # the same with one isolation setting changed
    PYTHONPATH=/path/to/older/lambdalab python bench/isolation.py --settings none  # an older version

Prints one JSON object: Init Duration of cold starts (p50/p90), the idle environment's memory
(runtime tree RSS/USS, and the reaper's), and for a fork bomb (``while True: os.fork()`` with
``except OSError: sleep``, 1,024 MB, Timeout 3 s): the peak number of tasks of its environment, the
time to reach it and to get back to nothing, and how late another function's 1 s timeout fired
while the bomb ran. Tasks are counted by a separate process, so the count does not slow the cloud.
Run it on an idle machine: the load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import zipfile

import lambdalab

ROLE = "arn:aws:iam::123456789012:role/lambda-role"
BOMB = """
import os, time
def handler(event, context):
    while event.get("go"):
        try:
            os.fork()
        except OSError:
            time.sleep(0.01)
"""
# Counts the tasks (threads and processes) below a pid every 2 ms, until stdin closes.
COUNTER = """
import os, sys, threading, time
root, samples, done = int(sys.argv[1]), [], threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
def tasks(pid):
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            threads = os.listdir(f"/proc/{p}/task")
            total += len(threads)
            for t in threads:
                with open(f"/proc/{p}/task/{t}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return total
while not done.is_set():
    samples.append((time.monotonic(), tasks(root)))
    time.sleep(0.002)
print(" ".join(f"{t:.4f}:{n}" for t, n in samples))
"""


def package(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


def create(lam, name: str, source: str, **config) -> None:
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": package(source)}, **config)


def invoke(lam, name: str, event: dict | None = None) -> dict:
    out = lam.invoke(FunctionName=name, Payload=json.dumps(event or {}))
    out["Payload"] = json.loads(out["Payload"].read() or b"null")
    return out


def cold_starts(cloud, lam, n: int) -> dict:
    create(lam, "cold", "def handler(e, c):\n    return 1\n", MemorySize=128)
    for i in range(n):
        lam.update_function_configuration(FunctionName="cold", Description=f"cold {i}")
        invoke(lam, "cold")
    frame = cloud.invocations()
    init = sorted(frame[frame["function"] == "cold"]["init_ms"].dropna().astype(float))
    return {"n": len(init), "p50_ms": round(statistics.median(init), 1), "p90_ms": round(init[int(0.9 * len(init))], 1)}


def idle_memory(cloud, lam) -> dict:
    import psutil

    create(lam, "idle", "def handler(e, c):\n    return 1\n", MemorySize=128)
    invoke(lam, "idle")
    time.sleep(0.3)  # frozen by then
    runtime = psutil.Process(cloud.environments("idle")[0]._proc.pid)
    tree = [runtime, *runtime.children(recursive=True)]
    out = {"runtime_tree_rss_mb": round(sum(p.memory_info().rss for p in tree) / 2**20, 1),
           "runtime_tree_uss_mb": round(sum(p.memory_full_info().uss for p in tree) / 2**20, 1)}
    reaper = getattr(getattr(cloud, "_isolation", None), "reaper", None) or getattr(cloud, "_reaper", None)
    if reaper is not None:
        process = psutil.Process(reaper._proc.pid)
        out["reaper_rss_mb"] = round(process.memory_info().rss / 2**20, 1)
        try:  # not dumpable: only root reads its memory maps
            info = process.memory_full_info()
            out.update(reaper_uss_mb=round(info.uss / 2**20, 1), reaper_pss_mb=round(info.pss / 2**20, 1))
        except psutil.AccessDenied:
            pass
    return out


def fork_bomb(cloud, lam) -> dict:
    create(lam, "bomb", BOMB, MemorySize=1024, Timeout=3)
    create(lam, "sleeper", "import time\ndef handler(e, c):\n    time.sleep(30)\n", Timeout=1)
    invoke(lam, "bomb")  # warm: its runtime pid is known before it forks
    invoke(lam, "sleeper")
    runtime = cloud.environments("bomb")[0]._proc.pid
    counter = subprocess.Popen([sys.executable, "-c", COUNTER, str(runtime)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    time.sleep(0.2)
    sleeper: dict = {}

    def late_sleeper() -> None:
        time.sleep(0.5)
        t0 = time.perf_counter()
        out = invoke(lam, "sleeper")
        sleeper.update(error=out["Payload"].get("errorType"), client_s=round(time.perf_counter() - t0, 3))

    thread = threading.Thread(target=late_sleeper)
    start = time.monotonic()
    thread.start()
    bomb = invoke(lam, "bomb", {"go": True})
    bomb_s = time.monotonic() - start
    thread.join()
    # the runtime is killed at the timeout (its pid may be gone): count its tree's end from the invoke's end
    time.sleep(1.0)
    samples = [(float(t), int(n)) for t, n in (s.split(":") for s in counter.communicate("")[0].split())]
    during = [(t - start, n) for t, n in samples if t >= start]
    peak = max(n for _, n in during)
    frame = cloud.invocations()
    record = frame[frame["function"] == "sleeper"].iloc[-1]
    return {"peak_tasks": peak, "s_to_peak": round(next(t for t, n in during if n == peak), 3),
            "s_to_1000_tasks": next((round(t, 3) for t, n in during if n >= 1000), None),
            "s_until_none_left": next((round(t, 3) for t, n in during if t > bomb_s and n <= 1), None),
            "bomb_error": bomb["Payload"].get("errorType") if isinstance(bomb["Payload"], dict) else None,
            "bomb_invoke_s": round(bomb_s, 3), "other_timeout": sleeper,
            "other_timeout_overshoot_ms": round(float(record["measured_ms"]) - 1000, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--settings", default="{}", help="isolation settings as JSON, or 'none' for older versions")
    parser.add_argument("--cold", type=int, default=20)
    parser.add_argument("--no-bomb", action="store_true")
    args = parser.parse_args()
    kwargs = {} if args.settings == "none" else {"isolation": json.loads(args.settings)}
    result = {"uid": os.geteuid(), "load_before": os.getloadavg(), "lambdalab": os.path.dirname(lambdalab.__file__),
              "settings": args.settings}
    with lambdalab.start(**kwargs) as cloud:
        lam = cloud.client("lambda")
        if hasattr(cloud, "isolation"):
            result["active"] = [row.protection for row in cloud.isolation().itertuples() if row.active]
        result["cold_start"] = cold_starts(cloud, lam, args.cold)
        result["idle"] = idle_memory(cloud, lam)
        if not args.no_bomb:
            result["fork_bomb"] = fork_bomb(cloud, lam)
    result["load_after"] = os.getloadavg()
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
