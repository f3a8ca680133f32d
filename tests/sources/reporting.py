"""A function that reports what it received: each successful invocation's record, whose
``requestPayload`` is the event a source sent, lands in an SQS queue (its OnSuccess destination),
where a test reads it as a learner would."""

from __future__ import annotations

import json
import time
import uuid

SOURCE = "def handler(event, context):\n    return 'seen'\n"


def reporting_function(fn, lam, sqs, role: str) -> tuple[str, str, str]:
    """A function whose successful invocations are recorded in a queue: (name, ARN, queue URL)."""
    name = fn.create(SOURCE, Role=role)
    # 14 days' retention, SQS's longest: tests advance the clock by days, and the default 4 days would drop records
    url = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}",
                           Attributes={"MessageRetentionPeriod": "1209600"})["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    lam.put_function_event_invoke_config(FunctionName=name,
                                         DestinationConfig={"OnSuccess": {"Destination": queue_arn}})
    return name, lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"], url


def records(sqs, url: str, count: int, timeout: float = 30.0) -> list[dict]:
    """The ``count`` invocation records the queue receives (waiting for the asynchronous invocations)."""
    found: list[dict] = []
    deadline = time.monotonic() + timeout
    while len(found) < count and time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        time.sleep(0.05)
    assert len(found) == count, f"{len(found)} of {count} records in {timeout:.0f} s"
    return found
