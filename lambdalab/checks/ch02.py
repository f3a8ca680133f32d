"""Chapter 02 (the execution environment): cold starts, bursts, and two warm-start practices.

q1 and q2 read invocation records; q3 and q4 take handler source code, which the checker
deploys on the learner's own local cloud and invokes, so the verdict is a measurement.
"""

from __future__ import annotations

import ast
import base64
import json
import numbers
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..packaging import deploy as _deploy
from ..packaging import execution_role
from . import Exercise

# -- helpers ---------------------------------------------------------------------------------------


def deploy(name: str, source: str | dict[str, str], **config: Any) -> None:
    """The notebook's ``deploy(name, source, **config)``, using the ``lam`` client of the calling code.

    The tests run each exercise's solution with this in place of the notebook's own helper.
    """
    _deploy(sys._getframe(1).f_globals["lam"], name, source, **config)


def _ids(value, records) -> list[str] | None:
    """Request ids from a list, a Series/Index of ids, a boolean mask over ``records``, or a DataFrame."""
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        return None if "request_id" not in value else [str(v) for v in value["request_id"]]
    if isinstance(value, pd.Series) and value.dtype == bool:
        return [str(v) for v in records.loc[value[value].index, "request_id"]]
    if isinstance(value, str):
        return [value]
    try:
        return [str(v) for v in value]
    except TypeError:
        return None


def _records_problem(name: str, records, columns: tuple[str, ...]) -> str | None:
    import pandas as pd

    if not isinstance(records, pd.DataFrame):
        return f"`{name}` should be a DataFrame of invocation records (from cloud.invocations()); re-run the cell."
    missing = [c for c in columns if c not in records]
    if missing:
        return f"`{name}` has no column {', '.join(missing)}: build it from cloud.invocations() as the cell does."
    if records.empty:
        return f"`{name}` is empty: run the cell from its first line, so the invocations happen."
    return None


# -- q1: which invocations were cold? ---------------------------------------------------------------


def _check_cold(q1_records, cold) -> str | None:
    if problem := _records_problem("q1_records", q1_records, ("request_id", "cold", "environment")):
        return problem
    given = _ids(cold, q1_records)
    if given is None:
        return (f"`cold` should be a list of request ids (strings from the `request_id` column); "
                f"you gave a {type(cold).__name__}.")
    known = set(q1_records["request_id"])
    strangers = [i for i in given if i not in known]
    if strangers:
        return (f"{len(strangers)} of your values are not request ids of q1_records (for example {strangers[0]!r}). "
                "Give the `request_id` of each cold invocation.")
    truth = set(q1_records.loc[q1_records["cold"].astype(bool), "request_id"])
    if not truth:
        return "q1_records has no cold invocation, which cannot be right: re-run the cell above from its first line."
    chosen = set(given)
    if chosen == truth:
        return None
    extra = chosen - truth
    if extra:
        row = q1_records[q1_records["request_id"] == sorted(extra)[0]].iloc[0]
        return (f"request {row['request_id'][:8]}… was warm: its environment {row['environment'][:8]} had "
                "already served a request, so INIT did not run (its init_ms is empty and its REPORT line has "
                "no Init Duration).")
    return (f"you found {len(chosen)} of the {len(truth)} cold starts. The first request needs a new environment, "
            "but so does the first one after the configuration change: updating a function retires its "
            "environments. The `cold` column (or a non-empty `init_ms`) marks every cold start.")


_Q1_TRAFFIC = '''\
deploy("q1-shop", "def handler(event, context):\\n    return 'ok'\\n")
ids = [lam.invoke(FunctionName="q1-shop")["ResponseMetadata"]["RequestId"] for _ in range(3)]
lam.update_function_configuration(FunctionName="q1-shop", Environment={"Variables": {"DISCOUNT": "10"}})
lam.get_waiter("function_updated_v2").wait(FunctionName="q1-shop")
ids += [lam.invoke(FunctionName="q1-shop")["ResponseMetadata"]["RequestId"] for _ in range(2)]
q1_records = cloud.invocations().set_index("request_id").loc[ids].reset_index()
'''

q1 = Exercise(
    name="ch02.q1",
    variables=("q1_records", "cold"),
    checker=_check_cold,
    hint_text=("Each row of q1_records is one invocation. A cold start is an invocation that had to wait for "
               "INIT: look at the `cold` column, or at the rows whose `init_ms` is not empty. "
               "q1_records.loc[mask, 'request_id'].tolist() turns a mask into a list of ids."),
    solution_code=_Q1_TRAFFIC + 'cold = q1_records.loc[q1_records["cold"], "request_id"].tolist()\n',
    wrong_code=_Q1_TRAFFIC + "cold = [ids[0]]  # only the very first request\n",
    praise=("two cold starts: the first request, and the first one after the configuration change. "
            "Every other request found a warm environment."),
    setup={"deploy": deploy},
)

# -- q2: how many environments did a burst need? -----------------------------------------------------


def _check_burst(burst_records, n_environments) -> str | None:
    if problem := _records_problem("burst_records", burst_records, ("request_id", "environment")):
        return problem
    if isinstance(n_environments, bool) or not isinstance(n_environments, numbers.Integral):
        return f"`n_environments` should be a whole number; you gave {n_environments!r}."
    truth = burst_records["environment"].nunique()
    if n_environments == truth:
        return None
    if n_environments == len(burst_records):
        return (f"{n_environments} is the number of invocations. Several of them ran one after another in the "
                "same environment: count the distinct values of the `environment` column instead.")
    return (f"burst_records shows {truth} distinct environments, not {n_environments}. Each environment serves "
            "one request at a time, and an idle one is reused before a new one is made. "
            "burst_records['environment'].nunique() counts them.")


_Q2_BURST = '''\
deploy("q2-burst", "import time\\n\\ndef handler(event, context):\\n    time.sleep(0.2)\\n    return 'done'\\n")
with ThreadPoolExecutor(max_workers=4) as pool:  # 8 requests, at most 4 at a time
    responses = list(pool.map(lambda i: lam.invoke(FunctionName="q2-burst"), range(8)))
ids = [r["ResponseMetadata"]["RequestId"] for r in responses]
burst_records = cloud.invocations().set_index("request_id").loc[ids].reset_index()
'''

q2 = Exercise(
    name="ch02.q2",
    variables=("burst_records", "n_environments"),
    checker=_check_burst,
    hint_text=("An environment handles one request at a time. Which column of burst_records says where each "
               "request ran? Count its distinct values (Series.nunique())."),
    solution_code=_Q2_BURST + 'n_environments = burst_records["environment"].nunique()\n',
    wrong_code=_Q2_BURST + "n_environments = len(burst_records)\n",
    praise=("never more than 4 requests were in flight, so no more than 4 environments were needed: later "
            "requests reused them, warm. Concurrency, not the number of requests, decides how many "
            "environments Lambda needs."),
    setup={"deploy": deploy, "ThreadPoolExecutor": ThreadPoolExecutor},
)

# -- q3: create the client once, in global scope --------------------------------------------------------

PER_INVOKE_CLIENT = '''\
import boto3

def handler(event, context):
    s3 = boto3.client("s3")  # a new client on every invocation
    return {"buckets": len(s3.list_buckets()["Buckets"])}
'''

_CLIENT_MAKERS = {"client", "resource", "Session"}


def _makes_client(node: ast.AST) -> bool:
    """A call such as boto3.client(...), boto3.resource(...), boto3.Session(...) or session.client(...)."""
    return isinstance(node, ast.Call) and (
        (isinstance(node.func, ast.Attribute) and node.func.attr in _CLIENT_MAKERS)
        or (isinstance(node.func, ast.Name) and node.func.id in _CLIENT_MAKERS))


def _invoke_in_turn(lam, names: tuple[str, ...], times: int) -> dict[str, tuple[list, list[str]]]:
    """Invoke each function ``times`` times, taking turns (so that a busy machine slows all alike).

    Returns, per function, its decoded payloads and request ids.
    """
    out: dict[str, tuple[list, list[str]]] = {name: ([], []) for name in names}
    for _ in range(times):
        for name in names:
            response = lam.invoke(FunctionName=name)
            payload = json.loads(response["Payload"].read() or b"null")
            if response.get("FunctionError"):
                raise _HandlerFailed(payload)
            out[name][0].append(payload)
            out[name][1].append(response["ResponseMetadata"]["RequestId"])
    return out


class _HandlerFailed(Exception):
    def __init__(self, payload) -> None:
        error = payload if isinstance(payload, dict) else {}
        super().__init__(f"{error.get('errorType', 'an error')}: {error.get('errorMessage', payload)}")


def _warm_median(cloud, ids: list[str]) -> float:
    records = cloud.invocations().set_index("request_id").loc[ids]
    return statistics.median(records.loc[~records["cold"].astype(bool), "duration_ms"])


def _check_global_client(cloud, fast_source) -> str | None:
    if not isinstance(fast_source, str):
        return f"`fast_source` should be the text of app.py, a string; you gave a {type(fast_source).__name__}."
    try:
        tree = ast.parse(fast_source)
    except SyntaxError as e:
        return f"fast_source is not valid Python: {e.msg} (line {e.lineno})."
    handlers = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "handler"]
    if not handlers:
        return "fast_source needs a module-level function `def handler(event, context):`, as before."
    inside = [n for n in ast.walk(handlers[0]) if _makes_client(n)]
    if inside:
        return (f"handler() still creates a client (line {inside[0].lineno}: {ast.unparse(inside[0])}), so every "
                "warm invocation pays for it again. Create it once at module level, outside handler(), and use "
                "that one inside.")
    outside = [n for stmt in tree.body if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef))
               for n in ast.walk(stmt) if _makes_client(n)]
    if not outside:
        return ("there is no client at module level: write `s3 = boto3.client(\"s3\")` after `import boto3`, "
                "outside handler(), so that it is created once per environment, during INIT.")
    lam = cloud.client("lambda")
    lister = execution_role(cloud.client("iam"), "ch02-bucket-lister", "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
    config = {"MemorySize": 1769, "Timeout": 30, "role": lister}  # the handlers list buckets: their role may
    names = ("q3-per-invoke-client", "q3-global-client")
    _deploy(lam, names[0], PER_INVOKE_CLIENT, **config)
    _deploy(lam, names[1], fast_source, **config)
    try:
        runs = _invoke_in_turn(lam, names, 6)
    except _HandlerFailed as e:
        return f"your handler failed when the checker invoked it: {e}"
    payloads = runs[names[1]][0]
    if not all(isinstance(p, dict) and isinstance(p.get("buckets"), int) for p in payloads):
        return ('handler should still return {"buckets": <a number>}, as the original does; '
                f"it returned {payloads[0]!r}.")
    slow, fast = (_warm_median(cloud, runs[name][1]) for name in names)
    print(f"Checked on your cloud: median warm Duration {slow:.1f} ms with a client per invocation, "
          f"{fast:.1f} ms with yours.")
    return None


q3 = Exercise(
    name="ch02.q3",
    variables=("cloud", "fast_source"),
    checker=_check_global_client,
    hint_text=("Move the line `s3 = boto3.client(\"s3\")` out of handler(), to just below `import boto3`. "
               "Code at module level runs once per environment, during INIT; the handler then uses the same "
               "client (and its open connections) on every warm invocation."),
    solution_code='''\
fast_source = """
import boto3

s3 = boto3.client("s3")  # once per environment, during INIT

def handler(event, context):
    return {"buckets": len(s3.list_buckets()["Buckets"])}
"""
''',
    wrong_code='''\
fast_source = """
import boto3

s3 = boto3.client("s3")

def handler(event, context):
    s3 = boto3.client("s3")
    return {"buckets": len(s3.list_buckets()["Buckets"])}
"""
''',
    praise=("the client is now built once, during INIT, and every warm invocation reuses it (and the "
            "connections it keeps open)."),
)

# -- q4: finish background work before returning ----------------------------------------------------

RECEIPT_IN_BACKGROUND = '''\
import threading
import time

def send_receipt(order):
    time.sleep(0.05)  # stands for a call to an e-mail service
    print(f"receipt sent for order {order}")

def handler(event, context):
    threading.Thread(target=send_receipt, args=(event["order"],)).start()
    return {"order": event["order"], "status": "accepted"}
'''


def _check_receipts(cloud, receipt_source) -> str | None:
    if not isinstance(receipt_source, str):
        return f"`receipt_source` should be the text of app.py, a string; you gave a {type(receipt_source).__name__}."
    try:
        compile(receipt_source, "app.py", "exec")
    except SyntaxError as e:
        return f"receipt_source is not valid Python: {e.msg} (line {e.lineno})."
    lam = cloud.client("lambda")
    _deploy(lam, "q4-receipts", receipt_source)
    tails = []
    for order in (1, 2):
        response = lam.invoke(FunctionName="q4-receipts", Payload=json.dumps({"order": order}), LogType="Tail")
        payload = json.loads(response["Payload"].read() or b"null")
        if response.get("FunctionError"):
            return f"your handler failed when the checker invoked it: {_HandlerFailed(payload)}"
        tails.append(base64.b64decode(response["LogResult"]).decode())
        time.sleep(0.1)
    own = [f"receipt sent for order {n}" in tail for n, tail in zip((1, 2), tails, strict=True)]
    if all(own):
        return None
    if not own[0] and "receipt sent for order 1" in tails[1]:
        return ("order 1's receipt went out during order 2's invocation, late: handler() returned while the "
                "thread was still running, and the environment was frozen until the next request. "
                "Wait for the thread (join()) before returning.")
    return ("the receipt for each order should appear in the log of its own invocation (checked with "
            "LogType='Tail'), and it does not. Make sure send_receipt() has finished before handler() returns.")


q4 = Exercise(
    name="ch02.q4",
    variables=("cloud", "receipt_source"),
    checker=_check_receipts,
    hint_text=("Keep a reference to the thread (worker = threading.Thread(...)), start it, do the rest of the "
               "work, then call worker.join() before the return statement. (Calling send_receipt() directly "
               "works too.)"),
    solution_code='''\
receipt_source = """
import threading
import time

def send_receipt(order):
    time.sleep(0.05)  # stands for a call to an e-mail service
    print(f"receipt sent for order {order}")

def handler(event, context):
    worker = threading.Thread(target=send_receipt, args=(event["order"],))
    worker.start()
    worker.join()  # finish the background work before returning
    return {"order": event["order"], "status": "accepted"}
"""
''',
    wrong_code="receipt_source = RECEIPT_IN_BACKGROUND  # unchanged: the thread outlives the invocation\n",
    praise=("each receipt now goes out inside its own invocation. The invocation now lasts (and is billed) "
            "about 50 ms longer: the honest price of the work."),
    setup={"RECEIPT_IN_BACKGROUND": RECEIPT_IN_BACKGROUND},
)

__all__ = ["PER_INVOKE_CLIENT", "RECEIPT_IN_BACKGROUND", "deploy", "q1", "q2", "q3", "q4"]
