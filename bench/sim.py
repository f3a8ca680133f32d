"""The simulator's speed against its budget: 1 M invocations exactly in 10 s, a month at 100 requests/s in 60 s.

    python bench/sim.py            # both figures (about half a minute on 2 cores)
    python bench/sim.py --quick    # 100,000 invocations and a day: a smoke run

Prints ``metric | measured | budget | verdict`` as ``bench/run.py`` does, with the machine's load:
figures taken while other work competes for the CPU prove nothing.
"""

from __future__ import annotations

import argparse
import os
import time

from lambdalab import sim

EXACT_BUDGET_S, AGGREGATE_BUDGET_S = 10.0, 60.0
MONTH_S = 30 * 86_400


def timed(function, *args, **kwargs):
    began = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - began


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the invocations and a day, not a month")
    args = parser.parse_args(argv)
    invocations, horizon = (100_000, 86_400) if args.quick else (1_000_000, MONTH_S)
    scale = invocations / 1_000_000
    durations = sim.lognormal(100.0, 0.5)

    exact, exact_s = timed(sim.run, sim.constant(1000, invocations / 1000), duration_ms=durations)
    rough, rough_s = timed(sim.run, sim.constant(100, horizon), mode="aggregate", duration_ms=durations)
    month = horizon / MONTH_S
    rows = [
        (f"exact: {exact.invocations:,} invocations at 1,000/s", f"{exact_s:.2f} s",
         f"{EXACT_BUDGET_S * scale:.1f} s", exact_s <= EXACT_BUDGET_S * scale),
        ("exact: invocations per second", f"{exact.invocations / exact_s:,.0f}", ">= 100,000",
         exact.invocations / exact_s >= 100_000),
        (f"aggregate: {horizon / 86_400:.0f} days at 100/s ({rough.invocations / 1e6:,.0f} M invocations)",
         f"{rough_s:.2f} s", f"{AGGREGATE_BUDGET_S * month:.1f} s", rough_s <= AGGREGATE_BUDGET_S * month),
    ]
    load = os.getloadavg()[0]
    cores = os.cpu_count() or 1
    print(f"machine: {cores} cores, load {load:.2f}{'  BUSY MACHINE' if load > 0.5 * cores else ''}")
    print("metric | measured | budget | verdict")
    for metric, measured, budget, ok in rows:
        print(f"{metric} | {measured} | {budget} | {'-' if ok is None else 'ok' if ok else 'OVER'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
