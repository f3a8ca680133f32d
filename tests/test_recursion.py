"""Recursive loop detection: a chain of invocations that one event started is stopped after 16 of one
function, as Lambda does, unless the function's recursion configuration allows it."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from deploy import ACCOUNT

from lambdalab.iam.roles import BASIC_EXECUTION
from lambdalab.invoke.recursion import header
from lambdalab.packaging import execution_role

# Writes the object it was told about again, under a key one step further: an S3 loop.
LOOPING = """
import boto3
s3 = boto3.client("s3")
def handler(event, context):
    record = event["Records"][0]["s3"]
    step = int(record["object"]["key"].split("-")[1]) + 1
    if step <= int(__import__("os").environ.get("STOP_AT", "1000")):
        s3.put_object(Bucket=record["bucket"]["name"], Key=f"step-{step}", Body=b"again")
    return step
"""


def s3_loop(cloud, fn, lam, **environment) -> tuple[str, str]:
    s3 = cloud.client("s3")
    role = execution_role(cloud.client("iam"), "looping-role", BASIC_EXECUTION,
                          statements=({"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"},))
    name = fn.create(LOOPING, Role=role, Environment={"Variables": environment})
    bucket = f"loop-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    lam.add_permission(FunctionName=name, StatementId="s3", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceArn=f"arn:aws:s3:::{bucket}", SourceAccount=ACCOUNT)
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "LambdaFunctionConfigurations": [{"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
    return name, bucket


def settle(fn, name: str, expected: int, timeout: float = 60.0):
    """The function's records once ``expected`` ran and nothing more came for a second."""
    records = fn.records_when(name, expected, timeout)
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        time.sleep(0.1)
        records = fn.records(name)
    return records


def test_an_s3_loop_is_stopped_after_16_invocations(cloud, fn, lam):
    name, bucket = s3_loop(cloud, fn, lam)
    cloud.client("s3").put_object(Bucket=bucket, Key="step-0", Body=b"start")
    records = settle(fn, name, 16)
    assert len(records) == 16
    assert records["request_id"].nunique() == 16
    keys = {o["Key"] for o in cloud.client("s3").list_objects_v2(Bucket=bucket)["Contents"]}
    assert "step-16" in keys  # the 16th invocation wrote it; the invocation it caused was dropped
    events = cloud.async_events()
    [dropped_event] = events[(events["function"] == name) & (events["state"] == "dropped")]["reason"]
    assert dropped_event.startswith("RecursiveInvocationException")
    cloud.metrics.flush()
    dropped = cloud.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/Lambda", MetricName="RecursiveInvocationsDropped", Statistics=["Sum"], Period=3600,
        Dimensions=[{"Name": "FunctionName", "Value": name}, {"Name": "Resource", "Value": name}],
        StartTime=records["start"].min().to_pydatetime(), EndTime=cloud.clock.now())["Datapoints"]
    assert sum(p["Sum"] for p in dropped) == 1


def test_a_function_configured_to_allow_loops_is_not_stopped(cloud, fn, lam):
    name, bucket = s3_loop(cloud, fn, lam, STOP_AT="19")
    assert lam.get_function_recursion_config(FunctionName=name)["RecursiveLoop"] == "Terminate"
    assert lam.put_function_recursion_config(FunctionName=name, RecursiveLoop="Allow")["RecursiveLoop"] == "Allow"
    cloud.client("s3").put_object(Bucket=bucket, Key="step-0", Body=b"start")
    assert len(settle(fn, name, 20)) == 20  # it stops itself, at step 19


def test_a_synchronous_invoke_deep_in_a_chain_is_refused(cloud, fn, lam):
    name = fn.create("def handler(event, context):\n    return 'ran'\n")
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    trace = None
    for _ in range(16):  # the header of a chain that has invoked the function 16 times already
        trace = header(arn, trace)
    deep = cloud.client("lambda")  # a client whose requests carry that header, as botocore in a function sends it
    deep.meta.events.register("before-sign.lambda.Invoke",
                              lambda request, **kw: request.headers.__setitem__("X-Amzn-Trace-Id", trace))
    with pytest.raises(deep.exceptions.RecursiveInvocationException) as refused:
        deep.invoke(FunctionName=name, Payload=json.dumps({}))
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert fn.records(name).empty
    assert lam.invoke(FunctionName=name)["Payload"].read() == b'"ran"'  # a new chain runs


def test_the_recursion_configuration_of_a_missing_function_is_a_404(lam):
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function_recursion_config(FunctionName="no-such-function")


SQS_ECHO = """
import boto3, os
sqs = boto3.client("sqs")
def handler(event, context):
    for record in event["Records"]:
        sqs.send_message(QueueUrl=os.environ["QUEUE"], MessageBody=record["body"] + ".")
"""


def test_an_sqs_loop_is_stopped_after_16_invocations(cloud, fn, lam):
    sqs = cloud.client("sqs")
    role = execution_role(cloud.client("iam"), "sqs-looping-role",
                          "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole",
                          statements=({"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"},))
    url = sqs.create_queue(QueueName=f"loop-{uuid.uuid4().hex[:8]}", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    name = fn.create(SQS_ECHO, Role=role, Environment={"Variables": {"QUEUE": url}})
    uuid_ = lam.create_event_source_mapping(FunctionName=name, EventSourceArn=arn, BatchSize=1)["UUID"]
    try:
        sqs.send_message(QueueUrl=url, MessageBody="loop")
        records = settle(fn, name, 16)
        assert len(records) == 16
        cloud.clock.advance(35)  # the dropped message comes back after its visibility timeout, and is dropped again
        assert len(settle(fn, name, 16)) == 16
    finally:
        lam.delete_event_source_mapping(UUID=uuid_)
