"""Chapter 01 (first function): write a handler, read a REPORT line, fix a broken handler.

The handler exercises are checked for real: the checker deploys the learner's source as a new
function in the notebook's ``cloud``, invokes it with boto3, reads the response, and deletes the
function again.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from ..packaging import deploy
from . import Exercise


# -- deploying and invoking the learner's source ------------------------------------------------------
class _Deployed:
    """The learner's source as a short-lived function in their cloud (deleted on exit)."""

    def __init__(self, cloud, source: str, exercise: str, **config: Any) -> None:
        self.lam = cloud.client("lambda")
        self.name = f"check-{exercise}-{uuid.uuid4().hex[:6]}"
        deploy(self.lam, self.name, source, **config)

    def __enter__(self) -> _Deployed:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.lam.delete_function(FunctionName=self.name)
        except Exception:  # the cloud may already be stopped; nothing to clean then
            pass

    def invoke(self, event: Any) -> tuple[dict, Any, str]:
        """(response, decoded payload, log tail) for a synchronous invoke with ``event``."""
        response = self.lam.invoke(FunctionName=self.name, Payload=json.dumps(event), LogType="Tail")
        raw = response["Payload"].read()
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = raw.decode(errors="replace")
        return response, payload, base64.b64decode(response.get("LogResult", "")).decode(errors="replace")


def _source_problem(source: Any, variable: str) -> str | None:
    if not isinstance(source, str):
        return (f"`{variable}` should be a string that holds the source of app.py (write it between triple "
                f'quotes, \"\"\"...\"\"\"); you gave a {type(source).__name__}.')
    try:
        compile(source, "app.py", "exec")
    except SyntaxError as e:
        return f"the source in `{variable}` is not valid Python: {e.msg} (line {e.lineno} of the string)."
    if "def handler(" not in source:
        return (f"the source in `{variable}` has no `def handler(event, context):`. The checker deploys it with "
                "Handler='app.handler', so app.py needs a function called handler.")
    return None


def _failure(event: Any, payload: Any) -> str:
    error = payload if isinstance(payload, dict) else {}
    kind, message = error.get("errorType", "an error"), error.get("errorMessage", "")
    return f"invoked with the event {json.dumps(event)}, your function failed with {kind}: {message}"


def _request_id(log_tail: str) -> str | None:
    for line in log_tail.splitlines():
        if line.startswith("START RequestId: "):
            return line.split()[2]
    return None


# -- q1: a handler that returns a given shape --------------------------------------------------------
Q1_MEMORY_MB = 256


def _check_q1(q1_source: Any, cloud: Any) -> str | None:
    problem = _source_problem(q1_source, "q1_source")
    if problem:
        return problem
    event = {"name": f"Ada-{uuid.uuid4().hex[:4]}"}
    with _Deployed(cloud, q1_source, "q1", MemorySize=Q1_MEMORY_MB) as fn:
        response, payload, log_tail = fn.invoke(event)
    if response.get("FunctionError"):
        return _failure(event, payload) + ". Read the message, fix the handler and check again."
    if not isinstance(payload, dict):
        return f"your handler returned {payload!r}; it should return a dict with the four keys of the exercise."
    expected_keys = {"greeting", "function", "memory_mb", "request_id"}
    if set(payload) != expected_keys:
        missing, extra = sorted(expected_keys - set(payload)), sorted(set(payload) - expected_keys)
        parts = [f"missing {missing}" if missing else "", f"unexpected {extra}" if extra else ""]
        return f"the dict your handler returned has the wrong keys: {', '.join(p for p in parts if p)}."
    greeting = f"Hello, {event['name']}!"
    if payload["greeting"] != greeting:
        return (f"for the event {json.dumps(event)} the greeting should be {greeting!r}, but your handler "
                f"returned {payload['greeting']!r}. Build it from event['name'].")
    if payload["function"] != fn.name:
        return (f"`function` is {payload['function']!r}, but the checker deployed your code as {fn.name!r}. "
                "Take it from context.function_name rather than writing a name yourself.")
    memory = payload["memory_mb"]
    if memory == str(Q1_MEMORY_MB):
        return (f"`memory_mb` is the string {memory!r}. In Python, context.memory_limit_in_mb is a string; "
                "convert it with int(...) so the answer is a number.")
    if memory != Q1_MEMORY_MB or isinstance(memory, bool):
        return (f"`memory_mb` is {memory!r}, but the checker deployed your function with {Q1_MEMORY_MB} MB. "
                "Read it from context.memory_limit_in_mb (and convert it to an int).")
    request_id = _request_id(log_tail)
    if payload["request_id"] != request_id:
        return (f"`request_id` is {payload['request_id']!r}, but this invocation's START line says "
                f"{request_id}. Use context.aws_request_id, which is new for every invocation.")
    return None


q1 = Exercise(
    name="ch01.q1",
    variables=("q1_source", "cloud"),
    checker=_check_q1,
    hint_text=("The event is a dict: event['name']. The context has function_name, memory_limit_in_mb "
               "(a string: use int()) and aws_request_id. Return a dict with exactly the keys greeting, "
               "function, memory_mb and request_id."),
    solution_code='''q1_source = """
def handler(event, context):
    return {
        "greeting": f"Hello, {event['name']}!",
        "function": context.function_name,
        "memory_mb": int(context.memory_limit_in_mb),
        "request_id": context.aws_request_id,
    }
"""''',
    wrong_code='''q1_source = """
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
Q2_CASES: tuple[tuple[str, int, float], ...] = (  # (REPORT line, its Billed Duration, its Duration)
    (f"REPORT RequestId: {_RID}\tDuration: 1.62 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\t"
     "Max Memory Used: 31 MB\t", 2, 1.62),
    (f"REPORT RequestId: {_RID}\tDuration: 2.07 ms\tBilled Duration: 87 ms\tMemory Size: 128 MB\t"
     "Max Memory Used: 36 MB\tInit Duration: 84.00 ms\t", 87, 2.07),
    (f"REPORT RequestId: {_RID}\tDuration: 1234.56 ms\tBilled Duration: 1235 ms\tMemory Size: 1769 MB\t"
     "Max Memory Used: 210 MB\t", 1235, 1234.56),
    (f"REPORT RequestId: {_RID}\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 128 MB\t"
     "Max Memory Used: 45 MB\tStatus: timeout", 3000, 3000.0),
)


def _check_q2(billed_duration: Any) -> str | None:
    if not callable(billed_duration):
        return (f"`billed_duration` should be a function (def billed_duration(report_line): ...), "
                f"not {billed_duration!r}.")
    for line, billed, duration in Q2_CASES:
        shown = line.replace("\t", "  ")
        try:
            got = billed_duration(line)
        except Exception as e:
            return f"for the line {shown!r} your function raised {type(e).__name__}: {e}"
        if isinstance(got, bool) or not isinstance(got, (int, float, str)):
            return f"for the line {shown!r} your function returned {got!r}; it should return an int such as {billed}."
        if isinstance(got, str):
            return f"your function returned the string {got!r}; convert it with int(...) so it can be added up."
        if got == duration and duration != billed:
            return (f"for the line {shown!r} you returned {got}, which is the Duration (the time the handler ran). "
                    f"Billed Duration is the field after 'Billed Duration:', here {billed}.")
        if got != billed:
            return f"for the line {shown!r} you returned {got!r}, but its Billed Duration is {billed} ms."
        if isinstance(got, float):
            return f"you returned {got!r}, a float; Billed Duration is a whole number of ms: return int(...)."
    return None


q2 = Exercise(
    name="ch01.q2",
    variables=("billed_duration",),
    checker=_check_q2,
    hint_text=("The fields of a REPORT line are separated by tabs ('\\t'). Split the line, find the field that "
               "starts with 'Billed Duration:', and turn its number into an int. (A regular expression works "
               "too: r'Billed Duration: (\\d+) ms'.) Careful: 'Duration:' also appears inside 'Billed Duration:'."),
    solution_code='''def billed_duration(report_line):
    for field in report_line.split("\\t"):
        if field.startswith("Billed Duration:"):
            return int(field.split()[2])  # "Billed Duration: 87 ms" -> "87"''',
    wrong_code='''def billed_duration(report_line):
    after = report_line.split("Duration: ")[1]  # the first "Duration: " is the plain Duration
    return float(after.split(" ms")[0])''',
    praise="this is exactly how tools such as aws-lambda-power-tuning read the bill of each invocation.",
)


# -- q3: fix a broken handler ------------------------------------------------------------------------
Q3_CASES: tuple[tuple[dict, dict], ...] = (
    ({"items": [3, 1, 3, 2]}, {"unique": [1, 2, 3], "count": 4}),
    ({"items": ["pear", "apple", "pear", "fig"]}, {"unique": ["apple", "fig", "pear"], "count": 4}),
    ({}, {"unique": [], "count": 0}),
)


def _check_q3(q3_source: Any, cloud: Any) -> str | None:
    problem = _source_problem(q3_source, "q3_source")
    if problem:
        return problem
    with _Deployed(cloud, q3_source, "q3") as fn:
        for event, expected in Q3_CASES:
            response, payload, _ = fn.invoke(event)
            if response.get("FunctionError"):
                reason = _failure(event, payload)
                kind = payload.get("errorType") if isinstance(payload, dict) else None
                if kind == "Runtime.MarshalError":
                    reason += (". The runtime turns your return value into JSON, and JSON has lists but no sets: "
                               "return a list (sorted(...) gives one).")
                elif kind == "KeyError":
                    reason += '. An event may have no "items": event.get("items", []) gives an empty list then.'
                return reason
            if payload != expected:
                return (f"invoked with {json.dumps(event)}, your function returned {json.dumps(payload)}; "
                        f"expected {json.dumps(expected)}. `unique` lists each item once, sorted; `count` counts "
                        "every item, repeats included.")
    return None


q3 = Exercise(
    name="ch01.q3",
    variables=("q3_source", "cloud"),
    checker=_check_q3,
    hint_text=("Invoke the broken function with {} and with {\"items\": [2, 1, 2]} and read errorType in the "
               "payload. Two fixes: event.get('items', []) for a missing key, and sorted(set(items)), a list, "
               "because a set cannot be turned into JSON."),
    solution_code='''q3_source = """
def handler(event, context):
    items = event.get("items", [])
    return {"unique": sorted(set(items)), "count": len(items)}
"""''',
    wrong_code='''q3_source = """
def handler(event, context):
    items = event["items"]
    return {"unique": sorted(set(items)), "count": len(items)}
"""''',
    praise="both failures are fixed: a missing key and a return value that JSON cannot encode.",
)

__all__ = ["q1", "q2", "q3"]
