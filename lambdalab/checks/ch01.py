"""Chapter 01 (first function): write a handler, read a REPORT line, fix a broken handler.

The handler exercises are checked for real: the check deploys the learner's source as a new
function in the notebook's cloud, invokes it with boto3, compares what it answered, and deletes it.
"""

from __future__ import annotations

import numbers

from . import Chapter, Exercise
from .judges import Calls, Case, Deploys

# -- q1: a handler that returns a given shape --------------------------------------------------------
Q1_MEMORY_MB = 256


def _shape(name: str):
    """What the handler must answer for {"name": name}, given the function and invocation the check made."""
    return lambda run: {"greeting": f"Hello, {name}!", "function": run.function, "memory_mb": Q1_MEMORY_MB,
                        "request_id": run.invocation.request_id}


_Q1_EXPLAIN = {
    "greeting": "Build it from event['name'].",
    "function": "Take it from context.function_name rather than writing a name yourself: the check deploys your "
                "code under a name of its own.",
    "memory_mb": "Read it from context.memory_limit_in_mb, which is a string in Python: convert it with int(...).",
    "request_id": "Use context.aws_request_id, which is new for every invocation.",
}

q1 = Exercise(
    name="ch01.q1",
    answer="q1_source",
    judge=Deploys(cases=tuple(Case({"name": name}, expect=_shape(name), explain=_Q1_EXPLAIN)
                              for name in ("Grace", "Alan")),
                  config={"MemorySize": Q1_MEMORY_MB}, prefix="check-ch01-q1"),
    hints=("The event is a dict: event['name'] is the name to greet.",
           "The context has function_name, memory_limit_in_mb (a string: use int()) and aws_request_id. "
           "Return a dict with exactly the keys greeting, function, memory_mb and request_id."),
    solution='''q1_source = """
def handler(event, context):
    return {
        "greeting": f"Hello, {event['name']}!",
        "function": context.function_name,
        "memory_mb": int(context.memory_limit_in_mb),
        "request_id": context.aws_request_id,
    }
"""''',
    mistake='''q1_source = """
def handler(event, context):
    return {
        "greeting": f"Hello, {event['name']}!",
        "function": context.function_name,
        "memory_mb": context.memory_limit_in_mb,
        "request_id": context.aws_request_id,
    }
"""''',
    praise="your handler read the event and the context, and its answer came back through the real Invoke API.",
)

# -- q2: the Billed Duration of a REPORT line --------------------------------------------------------
_RID = "3f6c1a52-9d0e-4c7b-8a31-5b2e7d9f0c14"
REPORT_LINES: tuple[tuple[str, int, float], ...] = (  # (REPORT line, its Billed Duration, its Duration)
    (f"REPORT RequestId: {_RID}\tDuration: 1.62 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\t"
     "Max Memory Used: 31 MB\t", 2, 1.62),
    (f"REPORT RequestId: {_RID}\tDuration: 2.07 ms\tBilled Duration: 87 ms\tMemory Size: 128 MB\t"
     "Max Memory Used: 36 MB\tInit Duration: 84.00 ms\t", 87, 2.07),
    (f"REPORT RequestId: {_RID}\tDuration: 1234.56 ms\tBilled Duration: 1235 ms\tMemory Size: 1769 MB\t"
     "Max Memory Used: 210 MB\t", 1235, 1234.56),
    (f"REPORT RequestId: {_RID}\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 128 MB\t"
     "Max Memory Used: 45 MB\tStatus: timeout", 3000, 3000.0),
)


def _report_case(line: str, billed: int, duration: float) -> Case:
    return Case(line, expect=billed, mistakes={
        duration: "That is the Duration, the time the handler ran. Billed Duration is the field after "
                  "'Billed Duration:'.",
        str(billed): "That is the right number, as a string: convert it with int(...) so it can be added up."})


q2 = Exercise(
    name="ch01.q2",
    answer="billed_duration",
    judge=Calls(cases=tuple(_report_case(*case) for case in REPORT_LINES), kind=numbers.Integral),
    hints=("The fields of a REPORT line are separated by tabs ('\\t'): split the line and find the field that starts "
           "with 'Billed Duration:'.",
           "Careful: 'Duration:' also appears inside 'Billed Duration:'. 'Billed Duration: 87 ms'.split() is "
           "['Billed', 'Duration:', '87', 'ms']: int() of the third item. (A regular expression works too: "
           "r'Billed Duration: (\\d+) ms'.)"),
    solution='''def billed_duration(report_line):
    for field in report_line.split("\\t"):
        if field.startswith("Billed Duration:"):
            return int(field.split()[2])  # "Billed Duration: 87 ms" -> "87"''',
    mistake='''def billed_duration(report_line):
    after = report_line.split("Duration: ")[1]  # the first "Duration: " is the plain Duration
    return float(after.split(" ms")[0])''',
    praise="this is exactly how tools such as aws-lambda-power-tuning read the bill of each invocation.",
)

# -- q3: fix a broken handler ------------------------------------------------------------------------
_Q3_ON_ERROR = {
    "Runtime.MarshalError": "The runtime turns your return value into JSON, and JSON has lists but no sets: return a "
                           "list (sorted(...) gives one).",
    "KeyError": 'An event may have no "items": event.get("items", []) gives an empty list then.',
}
_Q3_EXPLAIN = {"unique": "`unique` lists each item once, sorted.",
               "count": "`count` counts every item, repeats included."}

q3 = Exercise(
    name="ch01.q3",
    answer="q3_source",
    judge=Deploys(cases=tuple(Case(event, expect=expected, on_error=_Q3_ON_ERROR, explain=_Q3_EXPLAIN)
                              for event, expected in (
                                  ({"items": [3, 1, 3, 2]}, {"unique": [1, 2, 3], "count": 4}),
                                  ({"items": ["pear", "apple", "pear", "fig"]},
                                   {"unique": ["apple", "fig", "pear"], "count": 4}),
                                  ({}, {"unique": [], "count": 0}))),
                  prefix="check-ch01-q3"),
    hints=("Invoke the broken function with {} and with {\"items\": [2, 1, 2]}, and read errorType in each payload.",
           "Two fixes: event.get('items', []) for a missing key, and sorted(set(items)), a list, because a set "
           "cannot be turned into JSON."),
    solution='''q3_source = """
def handler(event, context):
    items = event.get("items", [])
    return {"unique": sorted(set(items)), "count": len(items)}
"""''',
    mistake='''q3_source = """
def handler(event, context):
    items = event["items"]
    return {"unique": sorted(set(items)), "count": len(items)}
"""''',
    praise="both failures are fixed: a missing key and a return value that JSON cannot encode.",
)

exercises = Chapter(q1, q2, q3)

__all__ = ["exercises", "q1", "q2", "q3"]
