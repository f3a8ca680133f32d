"""Chapter 03 (configuration and limits): memory and cost, a timeout that fits, memory that fits."""

from __future__ import annotations

import math
import numbers

from . import Chapter, Exercise
from .judges import Case, Deploys, Expect

# -- q1: the cheapest memory size of a sweep ------------------------------------------------------


def example_sweep():
    """A sweep to test the exercise with: aws-lambda-power-tuning's README example (average durations, ms)."""
    import pandas as pd

    from ..widgets.memory import sweep_row

    return pd.DataFrame([sweep_row(memory, ms, math.ceil(ms)) for memory, ms in (
        (128, 37002.0), (256, 18648.0), (512, 8489.0), (1024, 3891.0), (1536, 2512.0), (3008, 2010.0))])


def _cheapest(ctx, sweep) -> int:
    return int(sweep.loc[sweep["cost_usd"].idxmin(), "memory_mb"])


def _usual_mistakes(ctx, sweep) -> dict[int, str]:
    fastest = int(sweep.loc[sweep["duration_ms"].idxmin(), "memory_mb"])
    return {int(sweep["memory_mb"].min()): "The smallest size has the lowest price per ms, but it runs longest.",
            int(sweep["memory_mb"].max()): "The most memory is fast, but past one vCPU a single-threaded handler gets "
                                           "no faster, while each ms costs more.",
            fastest: f"{fastest} MB is the fastest size, not the cheapest one."}


q1 = Exercise(
    name="ch03.q1",
    answer="cheapest_mb",
    facts=("sweep",),
    judge=Expect(_cheapest, kind=numbers.Integral, normalize=int, mistakes=_usual_mistakes,
                 otherwise=lambda got, best, sweep: (
                     f"{got} MB is not the cheapest row of your sweep (its sizes: {sweep['memory_mb'].tolist()}). "
                     "Look for the smallest value in the cost column.")),
    hints=("The cost_usd column is the cost of one invocation at each memory size (usd_per_million the same, for a "
           "million invocations).",
           "sweep.sort_values('cost_usd') puts the cheapest first; idxmin() gives its row."),
    solution='cheapest_mb = int(sweep.loc[sweep["cost_usd"].idxmin(), "memory_mb"])',
    mistake='cheapest_mb = int(sweep["memory_mb"].max())',
    praise="that is the memory size where one invocation costs least. With a CPU-bound handler it is rarely the "
           "smallest one: up to one vCPU, more memory mostly buys a shorter duration, not a bigger bill.",
    given={"sweep": example_sweep()},
)

# -- q2: a timeout that lets the job finish and stops a runaway soon -------------------------------
TIMEOUT_JOB = """\
import time

def handler(event, context):
    if event.get("runaway"):   # a bug: this request never ends
        while True:
            pass
    time.sleep(1.3)            # the normal job takes about 1.3 s
    return "report ready"
"""


def _within_two_seconds(ctx, timeout_s) -> str | None:
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, numbers.Real):
        return f"`timeout_s` should be a number of seconds, like 5; it is {timeout_s!r}."
    if timeout_s != int(timeout_s):
        return f"Lambda's Timeout is a whole number of seconds; {timeout_s} is not."
    if not 1 <= timeout_s <= 900:
        return f"Lambda accepts a Timeout from 1 to 900 seconds; {timeout_s} is outside that range."
    if timeout_s > 2:
        return (f"with Timeout={timeout_s}, a runaway request runs {timeout_s} s before Lambda stops it, and you pay "
                "for every one of them; the task asks for at most 2 s.")
    return None


q2 = Exercise(
    name="ch03.q2",
    answer="timeout_s",
    judge=(_within_two_seconds,
           Deploys(source=TIMEOUT_JOB, config=lambda ctx, timeout_s: {"MemorySize": 128, "Timeout": int(timeout_s)},
                   cases=(Case({}, expect="report ready", on_error={
                       "Sandbox.Timedout": "The normal job needs about 1.3 s, so the timeout must be longer."}),
                          Case({"runaway": True}, error="Sandbox.Timedout")),
                   prefix="check-ch03-q2")),
    hints=("The timeout is whole seconds. It must be longer than the normal job (about 1.3 s)...",
           "...and no longer than the 2 s you are willing to let a runaway request burn."),
    solution="timeout_s = 2",
    mistake="timeout_s = 1",
    praise="the normal request finished, and the runaway one was stopped with Sandbox.Timedout after 2 s. Leave some "
           "headroom over your slowest normal request, not the 900 s maximum.",
)

# -- q3: the smallest memory size in which a 150 MB allocation fits -------------------------------
SIZES_MB = (128, 150, 256, 512)

q3 = Exercise(
    name="ch03.q3",
    answer="smallest_mb",
    judge=Expect(256, kind=numbers.Integral, mistakes={
        128: "128 MB is the default, below 150 MB: the environment would be killed with Runtime.OutOfMemory.",
        150: "150 MB holds the data and nothing else. Python itself (the interpreter, the runtime, your code) needs "
             "memory too, so the environment would be killed with Runtime.OutOfMemory.",
        512: "512 MB works, but a size half as big does too, at half the price per millisecond: 150 MB of data "
             "plus Python's own memory.",
    }, otherwise=lambda got, expected: f"{got} is not one of the sizes to choose from: {SIZES_MB}."),
    hints=("A function is killed when its whole environment (Python itself, its imports, your data) uses more than "
           "MemorySize.",
           "150 MB of data fills a 150 MB function on its own. Is there room for the data plus Python's own memory "
           "in the next size?"),
    solution="smallest_mb = 256  # 150 MB of data + the runtime's own memory; 150 is too small",
    mistake="smallest_mb = 150",
    praise="150 MB of data and Python's own memory fit in 256 MB, not in 150 MB. The next cell runs it at both "
           "sizes.",
)

exercises = Chapter(q1, q2, q3)

__all__ = ["SIZES_MB", "TIMEOUT_JOB", "example_sweep", "exercises", "q1", "q2", "q3"]
