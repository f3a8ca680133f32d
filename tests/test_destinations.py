"""Where asynchronous events end: invocation records at each kind of destination, dead letters, and
what happens when the execution role may not send.  Everything is read back with ordinary clients."""

from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta

import pytest
from botocore.exceptions import ClientError
from deploy import ACCOUNT, ROLE, arn, error_of, function_names, open_queue_to

from lambdalab import zip_files
from lambdalab.iam.roles import BASIC_EXECUTION
from lambdalab.packaging import execution_role

SOURCE = """
def handler(event, context):
    if event.get("fail"):
        raise ValueError(event.get("message", "asked to fail"))
    return {"ok": event.get("i")}
"""
RID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
TIMESTAMP = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z"
SENDS = ("sqs:SendMessage", "sns:Publish", "lambda:InvokeFunction", "events:PutEvents", "s3:PutObject",
         "s3:ListBucket")


@pytest.fixture(scope="module")
def role(cloud) -> str:
    """An execution role that may send to every kind of destination (and write logs)."""
    return execution_role(cloud.client("iam"), "destinations-role", BASIC_EXECUTION,
                          statements=({"Effect": "Allow", "Action": list(SENDS), "Resource": "*"},))


@pytest.fixture
def sqs(cloud):
    return cloud.client("sqs")


def make_queue(sqs, name: str | None = None) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name or f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def drain(sqs, url: str) -> list[dict]:
    """Every message in the queue now (deleted as they are read)."""
    out = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                          MessageAttributeNames=["All"]).get("Messages", []):
        for message in messages:
            out.append(message)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return out


def send(lam, name: str, event: dict, **kwargs) -> str:
    response = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(event), **kwargs)
    return response["ResponseMetadata"]["RequestId"]


def topic_into_queue(cloud, sqs) -> tuple[str, str]:
    """An SNS topic whose messages land in a new queue: (topic ARN, queue URL)."""
    sns = cloud.client("sns")
    topic = sns.create_topic(Name=f"t-{uuid.uuid4().hex[:8]}")["TopicArn"]
    url, queue_arn = make_queue(sqs)
    open_queue_to(sqs, url, "sns.amazonaws.com", topic)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    return topic, url


def test_a_success_record_at_an_sqs_queue_is_aws_s(fn, cloud, role, sqs):
    url, queue_arn = make_queue(sqs)
    name = fn.create(SOURCE, Role=role)
    config = fn.lam.put_function_event_invoke_config(FunctionName=name,
                                                     DestinationConfig={"OnSuccess": {"Destination": queue_arn}})
    assert config["DestinationConfig"] == {"OnSuccess": {"Destination": queue_arn}, "OnFailure": {}}
    request_id = send(fn.lam, name, {"i": 3})
    cloud.clock.advance()
    [message] = drain(sqs, url)
    record = json.loads(message["Body"])
    assert list(record) == ["version", "timestamp", "requestContext", "requestPayload", "responseContext",
                            "responsePayload"]
    assert re.fullmatch(TIMESTAMP, record.pop("timestamp"))
    assert record == {
        "version": "1.0",
        "requestContext": {"requestId": request_id, "functionArn": f"{arn(name)}:$LATEST", "condition": "Success",
                           "approximateInvokeCount": 1},
        "requestPayload": {"i": 3},
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
        "responsePayload": {"ok": 3}}
    row = cloud.async_events().set_index("request_id").loc[request_id]
    assert (row["state"], row["destination"], row["destination_error"]) == ("succeeded", queue_arn, None)


def test_a_failure_record_after_the_retries_tells_the_error(fn, cloud, role, sqs):
    url, queue_arn = make_queue(sqs)
    name = fn.create(SOURCE, Role=role)
    fn.lam.put_function_event_invoke_config(FunctionName=name, DestinationConfig={
        "OnSuccess": {"Destination": queue_arn}, "OnFailure": {"Destination": queue_arn}})
    request_id = send(fn.lam, name, {"fail": True, "message": "bad order"})
    cloud.clock.advance()
    assert drain(sqs, url) == [], "a record before the retries were exhausted"
    cloud.clock.advance(minutes=3, seconds=30)
    [message] = drain(sqs, url)
    record = json.loads(message["Body"])
    assert record["requestContext"] == {"requestId": request_id, "functionArn": f"{arn(name)}:$LATEST",
                                        "condition": "RetriesExhausted", "approximateInvokeCount": 3}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert record["requestPayload"] == {"fail": True, "message": "bad order"}
    response = record["responsePayload"]
    assert (response["errorType"], response["errorMessage"], response["requestId"]) == \
           ("ValueError", "bad order", request_id)
    assert 'app.py", line 4, in handler' in response["stackTrace"][-1]


def test_event_age_exceeded_goes_to_the_failure_destination(fn, cloud, role, sqs):
    url, queue_arn = make_queue(sqs)
    name = fn.create(SOURCE, Role=role)
    fn.lam.put_function_event_invoke_config(FunctionName=name, MaximumEventAgeInSeconds=60,
                                            DestinationConfig={"OnFailure": {"Destination": queue_arn}})
    send(fn.lam, name, {"fail": True})
    cloud.clock.advance()
    [message] = drain(sqs, url)
    context = json.loads(message["Body"])["requestContext"]
    assert (context["condition"], context["approximateInvokeCount"]) == ("EventAgeExceeded", 1)


def test_an_sns_destination_publishes_the_record(fn, cloud, role, sqs):
    topic, url = topic_into_queue(cloud, sqs)
    name = fn.create(SOURCE, Role=role)
    fn.lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0,
                                            DestinationConfig={"OnFailure": {"Destination": topic}})
    request_id = send(fn.lam, name, {"fail": True})
    cloud.clock.advance()
    [message] = drain(sqs, url)
    envelope = json.loads(message["Body"])
    assert envelope["TopicArn"] == topic
    record = json.loads(envelope["Message"])
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["condition"] == "RetriesExhausted"


def test_a_lambda_destination_is_invoked_with_the_record(fn, cloud, role, sqs):
    """The target runs asynchronously with the record as its event; its own destination shows what it got."""
    url, queue_arn = make_queue(sqs)
    target = fn.create("def handler(event, context):\n    return event\n", Role=role)
    fn.lam.put_function_event_invoke_config(FunctionName=target,
                                            DestinationConfig={"OnSuccess": {"Destination": queue_arn}})
    name = fn.create(SOURCE, Role=role)
    fn.lam.put_function_event_invoke_config(FunctionName=name,
                                            DestinationConfig={"OnSuccess": {"Destination": arn(target)}})
    request_id = send(fn.lam, name, {"i": 5})
    cloud.clock.advance()  # the source's event, then the target's, which its delivery queued
    [message] = drain(sqs, url)
    outer = json.loads(message["Body"])
    assert outer["requestContext"]["functionArn"] == f"{arn(target)}:$LATEST"
    inner = outer["requestPayload"]
    assert inner["requestContext"]["requestId"] == request_id and inner["responsePayload"] == {"ok": 5}
    assert outer["responsePayload"] == inner


def test_an_eventbridge_bus_receives_the_record_as_detail(fn, cloud, role, sqs):
    events = cloud.client("events")
    bus = events.create_event_bus(Name=f"bus-{uuid.uuid4().hex[:8]}")["EventBusArn"]
    url, queue_arn = make_queue(sqs)
    rule = f"r-{uuid.uuid4().hex[:8]}"
    rule_arn = events.put_rule(Name=rule, EventBusName=bus, EventPattern=json.dumps({"source": ["lambda"]}))["RuleArn"]
    open_queue_to(sqs, url, "events.amazonaws.com", rule_arn)
    events.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "queue", "Arn": queue_arn}])
    name = fn.create(SOURCE, Role=role)
    fn.lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0, DestinationConfig={
        "OnSuccess": {"Destination": bus}, "OnFailure": {"Destination": bus}})
    ok, failed = send(fn.lam, name, {"i": 1}), send(fn.lam, name, {"fail": True})
    cloud.clock.advance()
    delivered = {json.loads(m["Body"])["detail"]["requestContext"]["requestId"]: json.loads(m["Body"])
                 for m in drain(sqs, url)}
    assert set(delivered) == {ok, failed}
    for request_id, kind in ((ok, "Success"), (failed, "Failure")):
        event = delivered[request_id]
        assert (event["source"], event["detail-type"]) == ("lambda", f"Lambda Function Invocation Result - {kind}")
        assert event["resources"] == [bus, f"{arn(name)}:$LATEST"]
        assert (event["region"], event["version"]) == (cloud.region, "0")  # moto's rule target leaves out "account"
        condition = event["detail"]["requestContext"]["condition"]
        assert condition == {"Success": "Success", "Failure": "RetriesExhausted"}[kind]


def test_an_s3_bucket_keeps_failures_under_lambdas_prefix(fn, cloud, role):
    s3 = cloud.client("s3")
    bucket = f"failures-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    name = fn.create(SOURCE, Role=role)
    bucket_arn = f"arn:aws:s3:::{bucket}"
    with pytest.raises(ClientError) as refused:
        fn.lam.put_function_event_invoke_config(FunctionName=name,
                                                DestinationConfig={"OnSuccess": {"Destination": bucket_arn}})
    assert error_of(refused) == ("InvalidParameterValueException", "The provided destination config DestinationConfig("
                                 f"onSuccess=OnSuccess(destination=arn:aws:s3:::{bucket}), onFailure=null) is invalid.",
                                 400)
    fn.lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0,
                                            DestinationConfig={"OnFailure": {"Destination": bucket_arn}})
    request_id = send(fn.lam, name, {"fail": True})
    cloud.clock.advance()
    [item] = s3.list_objects_v2(Bucket=bucket)["Contents"]
    day, clock = r"\d{4}-\d{2}-\d{2}", r"\d{2}\.\d{2}\.\d{2}"
    assert re.fullmatch(rf"aws/lambda/async/{name}/\d{{4}}/\d{{2}}/\d{{2}}/{day}T{clock}-{RID}", item["Key"])
    record = json.loads(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
    assert record["requestContext"]["requestId"] == request_id


def test_an_alias_has_destinations_of_its_own(fn, cloud, role, sqs):
    alias_url, alias_queue = make_queue(sqs)
    latest_url, latest_queue = make_queue(sqs)
    name = fn.create(SOURCE, Role=role)
    version = fn.lam.publish_version(FunctionName=name)["Version"]
    fn.lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    fn.lam.put_function_event_invoke_config(FunctionName=name, Qualifier="live",
                                            DestinationConfig={"OnSuccess": {"Destination": alias_queue}})
    fn.lam.put_function_event_invoke_config(FunctionName=name,
                                            DestinationConfig={"OnSuccess": {"Destination": latest_queue}})
    send(fn.lam, name, {"i": 1}, Qualifier="live")
    cloud.clock.advance()
    [message] = drain(sqs, alias_url)
    record = json.loads(message["Body"])
    assert record["requestContext"]["functionArn"] == arn(name, "live")
    assert record["responseContext"]["executedVersion"] == version
    assert drain(sqs, latest_url) == []


# -- dead-letter queues ---------------------------------------------------------------------------------
def test_a_dead_letter_queue_gets_the_event_with_aws_s_attributes(fn, cloud, role, sqs):
    url, queue_arn = make_queue(sqs)
    name = fn.create(SOURCE, Role=role, DeadLetterConfig={"TargetArn": queue_arn})
    assert fn.lam.get_function_configuration(FunctionName=name)["DeadLetterConfig"] == {"TargetArn": queue_arn}
    payload = '{"fail": true,  "message": "spaces kept"}'
    request_id = fn.lam.invoke(FunctionName=name, InvocationType="Event",
                               Payload=payload)["ResponseMetadata"]["RequestId"]
    cloud.clock.advance(minutes=4)
    [message] = drain(sqs, url)
    assert message["Body"] == payload  # the event itself, as it was sent
    assert message["MessageAttributes"] == {
        "RequestID": {"DataType": "String", "StringValue": request_id},
        "ErrorCode": {"DataType": "Number", "StringValue": "200"},
        "ErrorMessage": {"DataType": "String", "StringValue": "spaces kept"}}
    row = cloud.async_events().set_index("request_id").loc[request_id]
    assert (row["condition"], row["dead_letter"], row["dead_letter_error"]) == ("RetriesExhausted", queue_arn, None)


def test_a_dead_letter_topic_and_a_destination_both_get_a_failure(fn, cloud, role, sqs):
    topic, topic_url = topic_into_queue(cloud, sqs)
    url, queue_arn = make_queue(sqs)
    name = fn.create(SOURCE, Role=role, DeadLetterConfig={"TargetArn": topic})
    fn.lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0,
                                            DestinationConfig={"OnFailure": {"Destination": queue_arn}})
    request_id = send(fn.lam, name, {"fail": True, "message": "x" * 2000})
    cloud.clock.advance()
    [message] = drain(sqs, topic_url)
    envelope = json.loads(message["Body"])
    assert json.loads(envelope["Message"]) == {"fail": True, "message": "x" * 2000}
    assert envelope["MessageAttributes"] == {"RequestID": {"Type": "String", "Value": request_id},
                                             "ErrorCode": {"Type": "Number", "Value": "200"},
                                             "ErrorMessage": {"Type": "String", "Value": "x" * 1024}}  # the first 1 KB
    assert len(drain(sqs, url)) == 1


def test_removing_a_dead_letter_queue_takes_an_empty_target(fn, role, sqs):
    _, queue_arn = make_queue(sqs)
    name = fn.create(SOURCE, Role=role, DeadLetterConfig={"TargetArn": queue_arn})
    kept = fn.lam.update_function_configuration(FunctionName=name, DeadLetterConfig={})
    assert kept["DeadLetterConfig"] == {"TargetArn": queue_arn}  # as AWS answered (LocalStack's test_dead_letter_queue)
    removed = fn.lam.update_function_configuration(FunctionName=name, DeadLetterConfig={"TargetArn": ""})
    assert "DeadLetterConfig" not in removed


# -- what the execution role may do -----------------------------------------------------------------------
def test_destinations_are_checked_when_configured(fn, sqs):
    _, queue_arn = make_queue(sqs)
    name = fn.create(SOURCE)  # the course role: logs only
    missing = queue_arn + "-missing"
    cases = [
        ({"OnFailure": {"Destination": queue_arn}},
         f"The function's execution role does not have permissions to call SendMessage on {queue_arn}"),
        ({"OnFailure": {"Destination": missing}}, f"The destination ARN {missing} is invalid."),
        ({"OnSuccess": {"Destination": arn(name)}}, "You can't specify the function as a destination for itself."),
        ({"OnSuccess": {"Destination": arn("no-such-function")}},
         f"The destination ARN {arn('no-such-function')} is invalid."),
        ({"OnSuccess": {"Destination": "arn:aws:iam::123456789012:role/x"}, "OnFailure": {}},
         "The provided destination config DestinationConfig(onSuccess=OnSuccess(destination=arn:aws:iam::"
         "123456789012:role/x), onFailure=OnFailure(destination=null)) is invalid."),
    ]
    for config, message in cases:
        with pytest.raises(ClientError) as refused:
            fn.lam.put_function_event_invoke_config(FunctionName=name, DestinationConfig=config)
        assert error_of(refused) == ("InvalidParameterValueException", message, 400)


@pytest.mark.parametrize(("target", "message"), [
    ("arn:aws:sqs:us-east-1:123456789012:dlq", "The provided execution role does not have permissions to call "
                                               "SendMessage on SQS"),
    ("arn:aws:sns:us-east-1:123456789012:dlq", "The provided execution role does not have permissions to call "
                                               "Publish on SNS"),
    ("arn:aws:sqs:us-east-1:123456789012:dlq.fifo", "Invalid dead letter queue ARN: FIFO SQS queue is not supported "
                                                    "for dead letter configuration"),
    ("arn:aws:sqs:eu-west-1:123456789012:dlq", "Invalid dead letter queue ARN: The resource specified by the "
                                               "TargetArn must be in the same region as the Lambda function it's "
                                               "associated with."),
    ("arn:aws:lambda:us-east-1:123456789012:function:f", "Invalid dead letter queue ARN: The service specified by the "
                                                         "TargetArn is not supported for dead letter configuration."),
])
def test_a_dead_letter_queue_is_checked_when_configured(fn, target, message):
    with pytest.raises(ClientError) as refused:
        fn.create(SOURCE, Role=ROLE, DeadLetterConfig={"TargetArn": target})
    assert error_of(refused) == ("InvalidParameterValueException", message, 400)
    name = fn.create(SOURCE)
    with pytest.raises(ClientError) as refused:
        fn.lam.update_function_configuration(FunctionName=name, DeadLetterConfig={"TargetArn": target})
    assert error_of(refused) == ("InvalidParameterValueException", message, 400)


def test_a_role_that_may_no_longer_send_delivers_nothing(fn, cloud, sqs):
    """The record and the dead letter are refused by IAM, as for any caller: the metrics say so."""
    iam = cloud.client("iam")
    role_name = f"fragile-{uuid.uuid4().hex[:8]}"
    role = execution_role(iam, role_name, BASIC_EXECUTION,
                          statements=({"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"},))
    url, queue_arn = make_queue(sqs)
    dlq_url, dlq_arn = make_queue(sqs)
    name = fn.create(SOURCE, Role=role, DeadLetterConfig={"TargetArn": dlq_arn})
    fn.lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0,
                                            DestinationConfig={"OnFailure": {"Destination": queue_arn}})
    iam.delete_role_policy(RoleName=role_name, PolicyName=f"{role_name}-permissions")
    request_id = send(fn.lam, name, {"fail": True})
    cloud.clock.advance()
    assert drain(sqs, url) == [] and drain(sqs, dlq_url) == []
    row = cloud.async_events().set_index("request_id").loc[request_id]
    assert row["state"] == "failed"
    assert "AccessDenied" in row["destination_error"] and "AccessDenied" in row["dead_letter_error"]
    refusals = cloud.decisions()
    refusals = refusals[refusals["principal"].str.contains(f"assumed-role/{role_name}/{name}", regex=False)
                        & ~refusals["allowed"]]
    assert set(zip(refusals["action"], refusals["resource"], strict=True)) == {("sqs:SendMessage", queue_arn),
                                                                               ("sqs:SendMessage", dlq_arn)}
    cloud.metrics.flush()
    now = cloud.clock.now()
    for metric in ("DestinationDeliveryFailures", "DeadLetterErrors", "AsyncEventsDropped"):
        points = cloud.client("cloudwatch").get_metric_statistics(
            Namespace="AWS/Lambda", MetricName=metric, Statistics=["Sum"], Period=3600,
            StartTime=now - timedelta(minutes=10), EndTime=now + timedelta(minutes=10),
            Dimensions=[{"Name": "FunctionName", "Value": name}, {"Name": "Resource", "Value": name}])
        assert sum(p["Sum"] for p in points["Datapoints"]) == 1, metric


def test_a_fifo_queue_is_accepted_but_never_receives(fn, cloud, role, sqs):
    """AWS takes a FIFO queue as a destination and then fails every delivery to it."""
    url = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    name = fn.create(SOURCE, Role=role)
    fn.lam.put_function_event_invoke_config(FunctionName=name,
                                            DestinationConfig={"OnSuccess": {"Destination": queue_arn}})
    request_id = send(fn.lam, name, {"i": 1})
    cloud.clock.advance()
    assert drain(sqs, url) == []
    row = cloud.async_events().set_index("request_id").loc[request_id]
    assert (row["state"], row["destination"]) == ("succeeded", queue_arn)
    assert "MessageGroupId" in row["destination_error"]


def test_another_regions_event_is_retried_and_recorded_in_that_region(cloud, role, sqs):
    eu_lam, eu_sqs = cloud.client("lambda", region_name="eu-west-1"), cloud.client("sqs", region_name="eu-west-1")
    url, queue_arn = make_queue(eu_sqs)
    assert ":eu-west-1:" in queue_arn
    home_url, _ = make_queue(sqs)
    name = f"eu-{uuid.uuid4().hex[:8]}"
    eu_lam.create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="app.handler",
                           Code={"ZipFile": zip_files(SOURCE)})
    eu_lam.put_function_event_invoke_config(FunctionName=name, DestinationConfig={
        "OnFailure": {"Destination": queue_arn}})
    try:
        request_id = send(eu_lam, name, {"fail": True})
        cloud.clock.advance(minutes=3, seconds=30)
        [message] = drain(eu_sqs, url)
        record = json.loads(message["Body"])
        assert record["requestContext"]["functionArn"] == f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:{name}:$LATEST"
        assert (record["requestContext"]["requestId"], record["requestContext"]["approximateInvokeCount"]) == \
               (request_id, 3)
        events = cloud.async_events().set_index("request_id")
        assert events.loc[request_id, "condition"] == "RetriesExhausted"
        assert drain(sqs, home_url) == []
        assert name not in function_names(cloud.client("lambda"))
    finally:
        eu_lam.delete_function(FunctionName=name)


def test_a_function_with_zero_reserved_concurrency_sends_its_events_to_failure_at_once(fn, cloud, role, sqs):
    """No attempt, no retry, no backoff: the record goes to the on-failure destination straight away."""
    url, queue_arn = make_queue(sqs)
    name = fn.create(SOURCE, Role=role)
    fn.lam.put_function_event_invoke_config(FunctionName=name, DestinationConfig={
        "OnFailure": {"Destination": queue_arn}})
    fn.lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    try:
        request_id = send(fn.lam, name, {"i": 1})
        cloud.clock.advance()  # no time passes: the queue decides at once
        [message] = drain(sqs, url)
        record = json.loads(message["Body"])
        assert record["requestContext"] == {"requestId": request_id, "functionArn": f"{arn(name)}:$LATEST",
                                            "condition": "ZeroReservedConcurrency", "approximateInvokeCount": 0}
        assert record["requestPayload"] == {"i": 1}
        row = cloud.async_events().set_index("request_id").loc[request_id]
        assert (row["condition"], row["attempts"]) == ("ZeroReservedConcurrency", 0)
        assert fn.records(name).empty  # the function never ran
    finally:
        fn.lam.delete_function_concurrency(FunctionName=name)
