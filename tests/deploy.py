"""Test helpers: build deployment packages from source and deploy/invoke them with boto3."""

from __future__ import annotations

import json
import time
import uuid

import lambdalab
from lambdalab import zip_files as zip_source

ACCOUNT, REGION = "123456789012", "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/lambda-role"


def arn(name: str, qualifier: str | None = None) -> str:
    """The function's ARN in the tests' cloud, qualified when a version or alias is given."""
    base = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    return f"{base}:{qualifier}" if qualifier else base


def function_names(lam) -> set[str]:
    """The names of every function the client's account has in its Region, every page of ListFunctions
    (the session's account holds more than one page)."""
    return {f["FunctionName"] for page in lam.get_paginator("list_functions").paginate() for f in page["Functions"]}


def open_queue_to(sqs, url: str, service: str, source_arn: str) -> str:
    """Give the queue at ``url`` the policy that lets ``service`` (``sns.amazonaws.com``) send to it for
    ``source_arn``, which a queue needs before SNS, S3 or EventBridge delivers to it; its ARN."""
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": service}, "Action": "sqs:SendMessage", "Resource": queue_arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": source_arn}}}]})})
    return queue_arn


def judged(cloud, principal: str, resource: str) -> list[tuple[str, bool]]:
    """(action, allowed) of every decision the cloud's authorizer logged for ``principal`` on ``resource``."""
    return [(j.action, j.allowed) for j in cloud.authorizer.judgements()
            if j.principal == principal and j.resource == resource]


def error_of(excinfo) -> tuple[str, str, int]:
    """(code, message, HTTP status) of a ClientError caught by ``pytest.raises``."""
    err = excinfo.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


class Deployer:
    """Creates uniquely named functions in a cloud and invokes them with boto3."""

    def __init__(self, cloud: lambdalab.LocalCloud) -> None:
        self.cloud = cloud
        self.lam = cloud.client("lambda")

    def create(self, source: dict[str, str] | str, handler: str = "app.handler", **config) -> str:
        name = config.pop("FunctionName", f"fn-{uuid.uuid4().hex[:10]}")
        self.lam.create_function(FunctionName=name, Runtime=config.pop("Runtime", "python3.12"),
                                 Role=config.pop("Role", ROLE),
                                 Handler=handler, Code={"ZipFile": zip_source(source)}, **config)
        return name

    def invoke(self, name: str, event=None, **kwargs) -> dict:
        """Invoke synchronously; returns the response with ``Payload`` read and JSON-decoded when possible."""
        response = self.lam.invoke(FunctionName=name, Payload=json.dumps({} if event is None else event), **kwargs)
        raw = response["Payload"].read()
        try:
            response["Payload"] = json.loads(raw)
        except ValueError:
            response["Payload"] = raw
        return response

    def code_root(self, name: str) -> str:
        """Where the function's package is unpacked (its LAMBDA_TASK_ROOT)."""
        return str(self.cloud.service.resolve(name).code.root)

    def records(self, name: str):
        frame = self.cloud.invocations()
        return frame[frame["function"] == name].reset_index(drop=True)

    def records_when(self, name: str, count: int, timeout: float = 60.0):
        """The function's records once there are ``count``: for asynchronous invocations, which finish on
        a thread of their own with no event to wait for (the deadline is only reached when one is lost)."""
        deadline = time.monotonic() + timeout
        while len(records := self.records(name)) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(records) >= count, f"{len(records)} of {count} invocations of {name} recorded in {timeout:.0f} s"
        return records


class Deploying(Deployer):
    """A deployer that deletes what it created when ``clean()`` is called (a fixture's teardown), so that the
    concurrency a test configured (provisioned environments, reservations) ends with the test."""

    def __init__(self, cloud: lambdalab.LocalCloud) -> None:
        super().__init__(cloud)
        self.names: list[str] = []

    def create(self, source: dict[str, str] | str, handler: str = "app.handler", **config) -> str:
        self.names.append(super().create(source, handler, **config))
        return self.names[-1]

    def clean(self) -> None:
        for name in self.names:
            try:
                self.lam.delete_function(FunctionName=name)
            except self.lam.exceptions.ResourceNotFoundException:
                pass
