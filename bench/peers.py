"""python-lambda-local, measured on the same trivial handler (run in its own process by run.py).

    python bench/peers.py --calls 200 --cli-runs 10      # prints one JSON object

python-lambda-local 0.1.x offers two ways to run a handler:

* ``lambda_local.main.call(func, event, context)``: in the caller's process, which forks a
  ``multiprocessing.Process`` per call to run the handler (timeout by SIGALRM inside that child;
  no memory or CPU limit, no Runtime API, nothing kept warm between calls);
* the CLI ``python-lambda-local -f handler app.py event.json -t 3``: a new interpreter per invoke,
  which then does the same fork.

It runs in a process of its own here so that its fork copies a small interpreter, not the
benchmark's (which holds a whole local cloud with its threads).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from handlers import TRIVIAL


def handler(e, c):  # the trivial handler, importable by the forked child
    return e


def measure_call(calls: int, warmups: int) -> list[float]:
    from lambda_local.context import Context
    from lambda_local.main import call

    # lambda_local logs every call (event, START, END, REPORT, RESULT) to stdout at INFO; keep the
    # formatting cost but send it to /dev/null so that stdout stays JSON.
    devnull = open(os.devnull, "w")
    for h in logging.getLogger().handlers:
        if isinstance(h, logging.StreamHandler):
            h.setStream(devnull)
    times = []
    for i in range(warmups + calls):
        t0 = time.perf_counter()
        result, err = call(handler, {"n": i}, Context(3))
        dt = (time.perf_counter() - t0) * 1000
        if err is not None or result != {"n": i}:
            raise RuntimeError(f"python-lambda-local call() failed: {result!r}")
        if i >= warmups:
            times.append(dt)
    return times


def measure_cli(runs: int) -> list[float]:
    exe = Path(sys.executable).with_name("python-lambda-local")
    times = []
    with tempfile.TemporaryDirectory(prefix="bench-pll-") as tmp:
        Path(tmp, "app.py").write_text(TRIVIAL)
        Path(tmp, "event.json").write_text('{"hello": "world"}')
        for _ in range(runs):
            t0 = time.perf_counter()
            proc = subprocess.run([str(exe), "-f", "handler", "app.py", "event.json", "-t", "3"], cwd=tmp,
                                  capture_output=True, text=True, timeout=60)
            times.append((time.perf_counter() - t0) * 1000)
            if proc.returncode != 0 or "hello" not in proc.stdout:
                raise RuntimeError(f"python-lambda-local CLI failed ({proc.returncode}): {proc.stdout[-500:]}"
                                   f"{proc.stderr[-500:]}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--warmups", type=int, default=5)
    parser.add_argument("--cli-runs", type=int, default=10)
    args = parser.parse_args()
    from importlib.metadata import version

    out = {"version": version("python-lambda-local"), "call_ms": measure_call(args.calls, args.warmups),
           "cli_ms": measure_cli(args.cli_runs)}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
