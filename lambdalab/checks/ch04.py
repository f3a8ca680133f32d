"""Chapter 04 (invocation models): retries and a destination for an asynchronous event, an SQS worker
that reports its failed messages, and when the attempts of an aging event start.

q1 configures a failing function with the learner's settings in the learner's cloud, plays the
queue's minutes on the cloud's clock and reads what reached the learner's queue; q2 invokes the
learner's worker with SQS batches; q3 is a prediction.
"""

from __future__ import annotations

import hashlib
import json

from ..iam.roles import BASIC_EXECUTION
from ..packaging import execution_role
from . import Chapter, Exercise, error_of
from .judges import Case, Deploys, Expect

# -- q1: one retry, then a record at the on-failure destination ----------------------------------
DECLINED = "def handler(event, context):\n    raise RuntimeError(f\"payment of {event['amount']} declined\")\n"
SENDER_ROLE = "ch04-check-sender"  # may write logs and send to SQS, as the failure record needs
Q1_SETUP = """from lambdalab.course import queue

failures_url, failures_arn = queue(cloud.client("sqs"), "payments-failed")
"""


def _records_for(sqs, queue_arn: str, function: str) -> list[dict]:
    """The invocation records of ``function`` in the queue, deleted once read; the learner's other
    messages are made visible again at once."""
    url = sqs.get_queue_url(QueueName=queue_arn.rsplit(":", 1)[-1])["QueueUrl"]
    found, others = [], []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            try:
                record = json.loads(message["Body"])
                mine = f":function:{function}:" in record["requestContext"]["functionArn"]
            except (ValueError, KeyError, TypeError):
                mine = False
            if mine:
                found.append(record)
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            else:
                others.append(message["ReceiptHandle"])
    for handle in others:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
    return found


def _one_retry_then_a_record(ctx, event_config, failures_arn) -> str | None:
    if not isinstance(event_config, dict):
        return ("`event_config` should be a dict of put_function_event_invoke_config's keyword arguments, like "
                '{"MaximumRetryAttempts": ..., "DestinationConfig": ...}.')
    if "FunctionName" in event_config:
        return "leave FunctionName out of `event_config`: the check configures a function of its own with it."
    role = execution_role(ctx.cloud.client("iam"), SENDER_ROLE, BASIC_EXECUTION,
                          statements=({"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"},))
    name = ctx.deploy("ch04-q1-payments", DECLINED, role=role)
    lam = ctx.fn.lam
    try:
        lam.put_function_event_invoke_config(FunctionName=name, **event_config)
    except Exception as e:  # AWS's refusal (a wrong key, a value out of range, a destination that is not there)
        return "put_function_event_invoke_config(FunctionName=..., **event_config) was refused: {}: {}".format(
            *error_of(e))
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"amount": 42}))
    ctx.cloud.clock.advance(minutes=5)
    attempts = len(ctx.fn.records(name))
    records = _records_for(ctx.cloud.client("sqs"), failures_arn, name)
    if attempts != 2:
        retries = event_config.get("MaximumRetryAttempts")
        three = " Left out, MaximumRetryAttempts is 2: three attempts." if retries is None else \
            f" MaximumRetryAttempts={retries} allows {retries} retries after the first attempt."
        why = {1: " MaximumRetryAttempts=0 allows no retry at all.", 3: three}.get(attempts, "")
        return (f"the event was tried {attempts} time{'s' * (attempts != 1)}, not twice.{why} MaximumRetryAttempts "
                "counts the retries after the first attempt.")
    if not records:
        return ("the event was tried twice, but no invocation record reached payments-failed. A failure goes to "
                'DestinationConfig={"OnFailure": {"Destination": failures_arn}}; OnSuccess only receives the events '
                "that succeeded.")
    return None


q1 = Exercise(
    name="ch04.q1",
    answer="event_config",
    facts=("failures_arn",),
    setup=Q1_SETUP,
    judge=_one_retry_then_a_record,
    hints=("Two keys: one for the number of retries, one for where a failure goes.",
           "MaximumRetryAttempts counts retries, not attempts. The destination is "
           '{"OnFailure": {"Destination": failures_arn}}, under the key DestinationConfig.'),
    solution="""event_config = {
    "MaximumRetryAttempts": 1,
    "DestinationConfig": {"OnFailure": {"Destination": failures_arn}},
}""",
    mistake='event_config = {"DestinationConfig": {"OnFailure": {"Destination": failures_arn}}}',
    praise="the payment was tried twice, a minute apart, and its record (RetriesExhausted, approximateInvokeCount 2) "
           "reached payments-failed; the check read it and removed it.",
)

# -- q2: an SQS worker that reports only its failed messages --------------------------------------
SOURCE_ARN = "arn:aws:sqs:us-east-1:123456789012:orders"


def sqs_batch(*bodies: str) -> dict:
    """An SQS event as Lambda's poller sends it, one record per body, message ids ``msg-1``, ``msg-2``, ..."""
    return {"Records": [
        {"messageId": f"msg-{i}", "receiptHandle": f"handle-{i}", "body": body,
         "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1733400000000",
                        "SenderId": "123456789012", "ApproximateFirstReceiveTimestamp": "1733400000001"},
         "messageAttributes": {}, "md5OfMessageAttributes": None, "md5OfBody": hashlib.md5(body.encode()).hexdigest(),
         "eventSource": "aws:sqs", "eventSourceARN": SOURCE_ARN, "awsRegion": "us-east-1"}
        for i, body in enumerate(bodies, start=1)]}


MIXED = sqs_batch(json.dumps({"id": 1, "quantity": 2}), json.dumps({"id": 2, "quantity": 0}),
                  json.dumps({"id": 3, "quantity": 1}), "not JSON at all")
ALL_GOOD = sqs_batch(json.dumps({"id": 4, "quantity": 5}), json.dumps({"id": 5, "quantity": 1}))
_RAISED = ("Raising fails the whole batch: every message of it comes back, the orders already shipped too. Catch the "
           'error of each record and add {"itemIdentifier": record["messageId"]} to the failures instead.')
WORKER_SOLUTION = '''
import json

def handler(event, context):
    failures = []
    for record in event["Records"]:
        try:
            order = json.loads(record["body"])
            if not (isinstance(order, dict) and isinstance(order.get("quantity"), int) and order["quantity"] > 0):
                raise ValueError(f"nothing to ship in {record['body']}")
            print(f"order {order['id']} shipped")
        except Exception as error:
            print(f"{record['messageId']} failed: {error}")
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
'''
WORKER_RAISES = '''
import json

def handler(event, context):
    for record in event["Records"]:
        order = json.loads(record["body"])
        if not (isinstance(order, dict) and isinstance(order.get("quantity"), int) and order["quantity"] > 0):
            raise ValueError(f"nothing to ship in {record['body']}")
        print(f"order {order['id']} shipped")
'''

q2 = Exercise(
    name="ch04.q2",
    answer="worker_source",
    judge=Deploys(prefix="ch04-q2-worker", cases=(
        Case(MIXED, expect={"batchItemFailures": [{"itemIdentifier": "msg-2"}, {"itemIdentifier": "msg-4"}]},
             explain={"batchItemFailures": "List the messageId of each record that failed, and only those: the "
                                           "2nd (quantity 0) and the 4th (not JSON)."},
             on_error={"ValueError": _RAISED, "JSONDecodeError": _RAISED, "KeyError": _RAISED}),
        Case(ALL_GOOD, expect={"batchItemFailures": []},
             explain={"batchItemFailures": "When every record succeeded, the list is empty."}),
    )),
    hints=("Handle each record in a try block of its own; in its except block, remember which message failed; at "
           'the end, return them all in the shape Lambda reads: {"batchItemFailures": [{"itemIdentifier": ...}, '
           "...]}.",
           'Start with failures = []; wrap the body of the loop in try/except Exception; in the except block, '
           'failures.append({"itemIdentifier": record["messageId"]}); after the loop, return '
           '{"batchItemFailures": failures}.'),
    solution='worker_source = """' + WORKER_SOLUTION + '"""',
    mistake='worker_source = """' + WORKER_RAISES + '"""',
    praise="with ReportBatchItemFailures on its mapping, Lambda deletes the orders that shipped, and only the two "
           "failed messages come back after the visibility timeout, until the queue's redrive policy moves them to "
           "its dead-letter queue.",
)

# -- q3: the attempts of an event with a short maximum age ----------------------------------------
q3 = Exercise(
    name="ch04.q3",
    answer="attempt_minutes",
    judge=Expect((0, 1), kind=(list, tuple), normalize=tuple, mistakes={
        (0, 1, 3): "The second retry would start about 2 minutes after the second attempt, at minute 3: 180 seconds "
                   "after the event arrived, more than its maximum age of 150 seconds. Lambda does not start a retry "
                   "that late.",
        (0, 1, 2): "The second retry waits about 2 minutes after the second attempt failed, not after the first. "
                   "And compare when it would start with the event's maximum age.",
        (0,): "The first retry comes about 1 minute after the first failure: 60 seconds, within the 150 the event "
              "may live.",
        (0, 1, 2, 3): "Lambda makes at most 2 retries: 3 attempts in all. And check each one against the event's "
                      "maximum age."}),
    hints=("The retries of a function error come about 1 minute after the first failure, then about 2 minutes after "
           "the second.",
           "Lambda does not start a retry that would come after the event's maximum age (here 150 seconds) has "
           "passed."),
    solution="attempt_minutes = [0, 1]",
    mistake="attempt_minutes = [0, 1, 3]",
    praise="the first retry, at 60 seconds, is within the event's 150; the second would come at about 180 and is "
           "not made: the event goes to the failure path with the condition EventAgeExceeded.",
)

exercises = Chapter(q1, q2, q3)
