"""Exercises of chapter 03, configuration and limits: memory and cost, timeout, out of memory."""

from __future__ import annotations

import json
import math
import numbers
from typing import Any

from . import Exercise

# -- q1: the cheapest memory size of a sweep ------------------------------------------------------


def _example_sweep():
    """A sweep to test the exercise with: aws-lambda-power-tuning's README example (averages, ms)."""
    import pandas as pd

    from ..widgets.memory import gb_seconds, invocation_cost

    rows = []
    for memory, ms in ((128, 37002.0), (256, 18648.0), (512, 8489.0), (1024, 3891.0), (1536, 2512.0),
                       (3008, 2010.0)):
        billed = math.ceil(ms)
        rows.append({"memory_mb": memory, "duration_ms": ms, "billed_ms": billed,
                     "gb_seconds": gb_seconds(billed, memory), "cost_usd": invocation_cost(billed, memory)})
    return pd.DataFrame(rows)


def _as_memory(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value != int(value):
        return None
    return int(value)


def _check_cheapest(sweep, cheapest_mb) -> str | None:
    import pandas as pd

    frame = pd.DataFrame(sweep)
    if not {"memory_mb", "cost_usd"} <= set(frame.columns):
        return "`sweep` should be the DataFrame memory_sweep() returned (with memory_mb and cost_usd columns)."
    memory = _as_memory(cheapest_mb)
    sizes = [int(m) for m in frame["memory_mb"]]
    if memory is None:
        return f"`cheapest_mb` should be a memory size in MB, one of {sizes}; it is {cheapest_mb!r}."
    if memory not in sizes:
        return f"your sweep has no row for {memory} MB; pick one of {sizes}."
    cost = dict(zip(sizes, frame["cost_usd"], strict=True))
    best = min(cost.values())
    if cost[memory] == best:
        return None
    winner = next(m for m in sizes if cost[m] == best)
    why = ""
    if "duration_ms" in frame.columns and memory == int(frame.loc[frame["duration_ms"].idxmin(), "memory_mb"]):
        why = " That is the fastest size, not the cheapest one."
    elif memory == max(sizes):
        why = (" The most memory is fast, but past one vCPU a single-threaded handler gets no faster, "
               "while each ms costs more.")
    elif memory == min(sizes):
        why = " The smallest size has the lowest price per ms, but it runs longest."
    return (f"{memory} MB costs ${cost[memory]:.3e} per invocation, but {winner} MB costs ${best:.3e} "
            f"({1 - best / cost[memory]:.0%} less).{why} Look for the smallest value in the cost_usd column.")


q1 = Exercise(
    name="cheapest memory size",
    variables=("sweep", "cheapest_mb"),
    checker=_check_cheapest,
    hint_text="The cost_usd column is the cost of one invocation at each memory size. "
              "sweep.sort_values('cost_usd') puts the cheapest first; idxmin() gives its row.",
    solution_code='cheapest_mb = int(sweep.loc[sweep["cost_usd"].idxmin(), "memory_mb"])',
    wrong_code='cheapest_mb = int(sweep["memory_mb"].max())',
    praise="that is the memory size where one invocation costs least. With a CPU-bound handler it is rarely "
           "the smallest one: up to one vCPU, more memory mostly buys a shorter duration, not a bigger bill.",
    setup={"sweep": _example_sweep()},
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
TIMEOUT_FUNCTION = "ch03-timeout-exercise"


def _check_timeout(cloud, timeout_s) -> str | None:
    from ..packaging import deploy

    if isinstance(timeout_s, bool) or not isinstance(timeout_s, numbers.Real):
        return f"`timeout_s` should be a number of seconds, like 5; it is {timeout_s!r}."
    if timeout_s != int(timeout_s):
        return f"Lambda's Timeout is a whole number of seconds; {timeout_s} is not."
    timeout_s = int(timeout_s)
    if not 1 <= timeout_s <= 900:
        return f"Lambda accepts a Timeout from 1 to 900 seconds; {timeout_s} is outside that range."
    if timeout_s > 2:
        return (f"with Timeout={timeout_s}, a runaway request runs {timeout_s} s before Lambda stops it, and you pay "
                "for every one of them; the task asks for at most 2 s.")
    lam = cloud.client("lambda")
    deploy(lam, TIMEOUT_FUNCTION, TIMEOUT_JOB, MemorySize=128, Timeout=timeout_s)
    try:  # run both requests for real, then delete the function again
        normal = lam.invoke(FunctionName=TIMEOUT_FUNCTION, Payload=b"{}")
        body = json.loads(normal["Payload"].read())
        if "FunctionError" in normal:
            return (f"with Timeout={timeout_s} the normal request failed: {body.get('errorType')} "
                    f"\"{body.get('errorMessage')}\". The job needs about 1.3 s, so the timeout must be longer.")
        runaway = lam.invoke(FunctionName=TIMEOUT_FUNCTION, Payload=json.dumps({"runaway": True}))
        body = json.loads(runaway["Payload"].read())
        if body.get("errorType") != "Sandbox.Timedout":
            return f"the runaway request should have been stopped by the timeout, but it answered {body!r}."
        return None
    finally:
        lam.delete_function(FunctionName=TIMEOUT_FUNCTION)


q2 = Exercise(
    name="timeout",
    variables=("cloud", "timeout_s"),
    checker=_check_timeout,
    hint_text="The timeout is whole seconds. It must be longer than the normal job (about 1.3 s) and no longer "
              "than the 2 s you are willing to let a runaway request burn.",
    solution_code="timeout_s = 2",
    wrong_code="timeout_s = 1",
    praise="the normal request finished, and the runaway one was stopped with Sandbox.Timedout after 2 s. "
           "Leave some headroom over your slowest normal request, not the 900 s maximum.",
)

# -- q3: what a handler that allocates more than its memory gets ----------------------------------

_WRONG_ERRORS = {
    "memoryerror": "Python raises MemoryError only when the operating system refuses an allocation. In Lambda the "
                   "allocation succeeds and the environment is killed from outside once it passes MemorySize, so "
                   "the handler never sees an exception.",
    "sandbox.timedout": "Sandbox.Timedout is the timeout's error. Allocating 300 MB takes milliseconds, far less "
                        "than any timeout.",
    "runtime.exiterror": "Runtime.ExitError is a runtime that exited or was killed for another reason; Lambda used it "
                         "for memory kills too (\"signal: killed\"), but now it names the cause.",
    "function.responsesizetoolarge": "that error is about a response over 6 MB, not about memory.",
    "unhandled": "Unhandled is the X-Amz-Function-Error header of every failed invocation; the errorType in the "
                 "response payload is more precise.",
}


def _check_oom(error_type) -> str | None:
    if not isinstance(error_type, str):
        return f"`error_type` should be a string, like \"Sandbox.Timedout\"; it is {error_type!r}."
    answer = error_type.strip()
    if answer == "Runtime.OutOfMemory":
        return None
    key = answer.lower()
    if key in ("runtime.outofmemory", "outofmemory", "out of memory"):
        return "almost: write it as the errorType in the response shows it, with its prefix and capitals."
    return _WRONG_ERRORS.get(key, f"{answer!r} is not what the caller gets. Look at the out-of-memory example "
                                  "above: which errorType did the response carry?")


q3 = Exercise(
    name="out of memory",
    variables=("error_type",),
    checker=_check_oom,
    hint_text="Scroll up to the out-of-memory example: the caller read the error type from the response's "
              "errorType. The same happens to a 300 MB allocation at 256 MB.",
    solution_code='error_type = "Runtime.OutOfMemory"',
    wrong_code='error_type = "MemoryError"',
    praise="Lambda kills the environment when it passes its memory size; the caller gets Runtime.OutOfMemory and "
           "the REPORT line says Max Memory Used = Memory Size.",
)

__all__ = ["TIMEOUT_JOB", "q1", "q2", "q3"]
