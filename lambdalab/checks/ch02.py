"""Chapter 02 (the execution environment): cold starts, a burst, and two warm-start practices.

q1 and q2 read the invocation records their cell made; q3 and q4 take handler source code, which
the check deploys in the learner's cloud and invokes, so the verdict is a measurement.
"""

from __future__ import annotations

import ast
import numbers
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..packaging import execution_role
from . import Chapter, Exercise
from .judges import Case, Deploys, Expect, source_problem

# -- q1: which invocations were cold? ---------------------------------------------------------------
Q1_TRAFFIC = '''\
fn.deploy("q1-shop", "def handler(event, context):\\n    return 'ok'\\n")
ids = [fn.call("q1-shop").request_id for _ in range(3)]
fn.configure("q1-shop", Environment={"Variables": {"DISCOUNT": "10"}})
ids += [fn.call("q1-shop").request_id for _ in range(2)]
q1_records = cloud.invocations().set_index("request_id").loc[ids].reset_index()
fn.delete("q1-shop")  # the records stay
'''


def _ids(value: Any) -> set | None:
    """A collection of request ids (a list, a Series, ...) as a set of strings; None if it is not one."""
    if isinstance(value, str):
        return {value}
    try:
        return {str(v) for v in value}
    except TypeError:
        return None


def _cold_ids(ctx, records) -> set:
    return set(records.loc[records["cold"].astype(bool), "request_id"])


def _which_cold(chosen, truth, records) -> str:
    if chosen is None:
        return "`cold` should be a list of request ids, strings from the `request_id` column."
    strangers = sorted(chosen - set(records["request_id"]))
    if strangers:
        return (f"{len(strangers)} of your values are not request ids of q1_records (for example {strangers[0]!r}). "
                "Give the `request_id` of each cold invocation.")
    if extra := sorted(chosen - truth):
        row = records[records["request_id"] == extra[0]].iloc[0]
        return (f"request {row['request_id'][:8]}… was warm: its environment {row['environment'][:8]} had already "
                "served a request, so INIT did not run (its `init_ms` is empty, and its REPORT line has no Init "
                "Duration).")
    return (f"you found {len(chosen)} of the {len(truth)} cold starts. The first request needs a new environment, "
            "but so does the first one after the configuration change: updating a function retires its environments.")


q1 = Exercise(
    name="ch02.q1",
    answer="cold",
    facts=("q1_records",),
    setup=Q1_TRAFFIC,
    judge=Expect(_cold_ids, normalize=_ids, otherwise=_which_cold),
    hints=("Each row of q1_records is one invocation. A cold start had to wait for INIT: look at the `cold` column, "
           "or at the rows whose `init_ms` is not empty.",
           "q1_records.loc[mask, 'request_id'].tolist() turns a mask (a column of True/False) into a list of ids."),
    solution='cold = q1_records.loc[q1_records["cold"], "request_id"].tolist()',
    mistake="cold = [ids[0]]  # only the very first request",
    praise="two cold starts: the first request, and the first one after the configuration change. Every other "
           "request found a warm environment.",
)

# -- q2: how many environments did a burst need? -----------------------------------------------------
Q2_BURST = '''\
fn.deploy("q2-burst", "import time\\n\\ndef handler(event, context):\\n    time.sleep(0.2)\\n    return 'done'\\n")
with ThreadPoolExecutor(max_workers=4) as pool:  # 8 requests, at most 4 at a time
    ids = list(pool.map(lambda _: fn.call("q2-burst", tail=False).request_id, range(8)))
burst_records = cloud.invocations().set_index("request_id").loc[ids].reset_index()
fn.delete("q2-burst")  # the records stay
'''

q2 = Exercise(
    name="ch02.q2",
    answer="n_environments",
    facts=("burst_records",),
    setup=Q2_BURST,
    judge=Expect(
        lambda ctx, records: records["environment"].nunique(), kind=numbers.Integral,
        mistakes=lambda ctx, records: {len(records): f"{len(records)} is the number of invocations. Several of them "
                                                     "ran one after another in the same environment."},
        otherwise=lambda got, truth, records: (
            f"burst_records does not show {got} distinct environments. Each environment serves one request at a "
            "time, and an idle one is reused before a new one is made: count the distinct values of the "
            "`environment` column.")),
    hints=("An environment handles one request at a time. Which column of burst_records says where each request ran?",
           "Count its distinct values: Series.nunique()."),
    solution='n_environments = burst_records["environment"].nunique()',
    mistake="n_environments = len(burst_records)",
    praise="never more than 4 requests were in flight, so no more than 4 environments were needed: later requests "
           "reused them, warm. Concurrency, not the number of requests, decides how many environments Lambda needs.",
    given={"ThreadPoolExecutor": ThreadPoolExecutor},
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


def _client_made_once(ctx, source) -> str | None:
    """The source makes its client at module level, and not in handler()."""
    if problem := source_problem(source, ctx.answer):
        return problem
    tree = ast.parse(source)
    handler = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "handler")
    if inside := [n for n in ast.walk(handler) if _makes_client(n)]:
        return (f"handler() still creates a client (line {inside[0].lineno}: {ast.unparse(inside[0])}), so every "
                "warm invocation pays for it again. Create it once at module level, outside handler(), and use "
                "that one inside.")
    if not any(_makes_client(n) for stmt in tree.body if stmt is not handler for n in ast.walk(stmt)):
        return ('there is no client at module level: write `s3 = boto3.client("s3")` after `import boto3`, outside '
                "handler(), so that it is created once per environment, during INIT.")
    return None


def _bucket_lister(ctx, source) -> dict:
    """The handler lists buckets: its role must allow it."""
    role = execution_role(ctx.cloud.client("iam"), "ch02-bucket-lister",
                          "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
    return {"role": role, "MemorySize": 1769, "Timeout": 30}


def _buckets(run) -> dict:
    return {"buckets": len(run.ctx.cloud.client("s3").list_buckets()["Buckets"])}


q3 = Exercise(
    name="ch02.q3",
    answer="fast_source",
    judge=(_client_made_once,
           Deploys(cases=(Case({}, expect=_buckets), Case({}, expect=_buckets)), config=_bucket_lister,
                   prefix="check-ch02-q3")),
    hints=('Move the line `s3 = boto3.client("s3")` out of handler(), to just below `import boto3`.',
           "Code at module level runs once per environment, during INIT; the handler then uses the same client "
           "(and its open connections) on every warm invocation."),
    solution='''fast_source = """
import boto3

s3 = boto3.client("s3")  # once per environment, during INIT

def handler(event, context):
    return {"buckets": len(s3.list_buckets()["Buckets"])}
"""''',
    mistake='''fast_source = """
import boto3

s3 = boto3.client("s3")

def handler(event, context):
    s3 = boto3.client("s3")
    return {"buckets": len(s3.list_buckets()["Buckets"])}
"""''',
    praise="the client is now built once, during INIT, and every warm invocation reuses it (and the connections it "
           "keeps open). The check deployed your code and it still answers as the original does.",
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
_LATE = {"log": "handler() returned while the thread was still running, and the environment was frozen until the "
                "next request: wait for the thread (join()) before returning."}

q4 = Exercise(
    name="ch02.q4",
    answer="receipt_source",
    judge=Deploys(cases=tuple(Case({"order": n}, log=f"receipt sent for order {n}", on_error=_LATE) for n in (1, 2)),
                  prefix="check-ch02-q4"),
    hints=("Keep a reference to the thread (worker = threading.Thread(...)) and start it.",
           "Call worker.join() before the return statement. (Calling send_receipt() directly works too.)"),
    solution='''receipt_source = """
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
"""''',
    mistake="receipt_source = RECEIPT_IN_BACKGROUND  # unchanged: the thread outlives the invocation",
    praise="each receipt now goes out inside its own invocation. The invocation lasts (and is billed) about 50 ms "
           "longer: the honest price of the work.",
    given={"RECEIPT_IN_BACKGROUND": RECEIPT_IN_BACKGROUND},
)

exercises = Chapter(q1, q2, q3, q4)

__all__ = ["PER_INVOKE_CLIENT", "RECEIPT_IN_BACKGROUND", "exercises", "q1", "q2", "q3", "q4"]
