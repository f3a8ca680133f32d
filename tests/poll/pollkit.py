"""Helpers for the pollers' tests: a kit that builds sources, functions and mappings in a cloud.

``settle()`` is ``cloud.clock.advance(0)``: it returns once every poller has handled what arrived
(moto's write path hands each a clock hold), so a test waits for the event, not for a while.
(A module of its own, not ``conftest``: several test folders have a conftest.)
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from deploy import Deployer

import lambdalab
from lambdalab.packaging import execution_role

POLICIES = "arn:aws:iam::aws:policy/service-role/"
SQS_ROLE_POLICY = POLICIES + "AWSLambdaSQSQueueExecutionRole"
STREAM_POLICIES = (POLICIES + "AWSLambdaKinesisExecutionRole", POLICIES + "AWSLambdaDynamoDBExecutionRole")
SENDS = {"Effect": "Allow", "Action": ["sqs:SendMessage", "sns:Publish", "s3:PutObject"], "Resource": "*"}


@dataclass
class Kit:
    """Builds what a poller test needs in its cloud, each name unique."""

    cloud: lambdalab.LocalCloud

    def __post_init__(self) -> None:
        self.lam, self.sqs = self.cloud.client("lambda"), self.cloud.client("sqs")
        self.kinesis, self.dynamodb = self.cloud.client("kinesis"), self.cloud.client("dynamodb")
        self.fn = Deployer(self.cloud)
        iam = self.cloud.client("iam")
        self.role = execution_role(iam, "poller-role", SQS_ROLE_POLICY, *STREAM_POLICIES, statements=(SENDS,))

    def settle(self) -> None:
        """Wait until the pollers have handled everything that arrived or fell due."""
        self.cloud.clock.advance(0)

    def function(self, source: str, **config) -> str:
        return self.fn.create(source, Role=config.pop("Role", self.role), **config)

    def queue(self, fifo: bool = False, **attributes) -> tuple[str, str]:
        """(url, arn) of a new queue."""
        name = f"q-{uuid.uuid4().hex[:10]}" + (".fifo" if fifo else "")
        if fifo:
            attributes["FifoQueue"] = "true"
        url = self.sqs.create_queue(QueueName=name, Attributes={k: str(v) for k, v in attributes.items()})["QueueUrl"]
        return url, self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    def with_dlq(self, max_receive_count: int, **attributes) -> tuple[str, str, str]:
        """(url, arn, dead-letter queue url) of a queue whose redrive policy sends poison messages to a DLQ."""
        dlq_url, dlq_arn = self.queue()
        policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count})
        url, arn = self.queue(RedrivePolicy=policy, **attributes)
        return url, arn, dlq_url

    def stream(self, shards: int = 1) -> str:
        name = f"s-{uuid.uuid4().hex[:10]}"
        self.kinesis.create_stream(StreamName=name, ShardCount=shards)
        return self.kinesis.describe_stream(StreamName=name)["StreamDescription"]["StreamARN"]

    def table(self, view: str = "NEW_AND_OLD_IMAGES") -> tuple[str, str]:
        """(table name, stream arn) of a new table with a stream."""
        name = f"t-{uuid.uuid4().hex[:10]}"
        table = self.dynamodb.create_table(
            TableName=name, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": view})
        return name, table["TableDescription"]["LatestStreamArn"]

    def mapping(self, function: str, source_arn: str, **config) -> str:
        uuid_ = self.lam.create_event_source_mapping(FunctionName=function, EventSourceArn=source_arn, **config)["UUID"]
        self.settle()
        return uuid_

    def drain(self, url: str) -> list[dict]:
        """Every message a queue holds now (received with a long visibility timeout, so each once)."""
        found: list[dict] = []
        while batch := self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=3600,
                                                AttributeNames=["All"]).get("Messages", []):
            found += batch
        return found

    def invocations(self, function: str):
        return self.fn.records(function)

    def events(self, function: str) -> list[dict]:
        """The events the function printed (handlers here print the event, with the time as ``t`` when
        several environments may print), in order."""
        self.cloud.logs.flush()
        client = self.cloud.client("logs")
        try:
            logs = client.filter_log_events(logGroupName=f"/aws/lambda/{function}")["events"]
        except client.exceptions.ResourceNotFoundException:  # never invoked: no log group yet
            return []
        events = [json.loads(e["message"]) for e in logs if e["message"].startswith('{"Records"')]
        return sorted(events, key=lambda e: e.get("t", 0))  # several environments' prints, in the order made


def until(predicate: Callable[[], object], timeout: float = 20.0) -> object:
    """Poll a condition no event announces (a backlog draining in real time); its value, or fail."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, "the condition did not hold in time"
        time.sleep(0.01)
    return value
