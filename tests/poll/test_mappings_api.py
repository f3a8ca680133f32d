"""CreateEventSourceMapping, Get, Update, Delete and List: AWS's shapes, states, checks and words.

The expected answers are AWS's, as LocalStack's AWS-validated snapshots recorded them
(test_lambda_api.py::TestLambdaEventSourceMappings, event_source_mapping/test_lambda_integration_*)
or as AWS's answers are quoted in public issues (named beside each)."""

from __future__ import annotations

import json
import re
import threading

import pytest
from botocore.exceptions import ClientError
from deploy import error_of
from pollkit import Kit

import lambdalab

ECHO = "def handler(event, context):\n    return None\n"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SQS_KEYS = {"UUID", "BatchSize", "EventSourceArn", "EventSourceMappingArn", "FunctionArn", "FunctionResponseTypes",
            "LastModified", "MaximumBatchingWindowInSeconds", "State", "StateTransitionReason"}
STREAM_KEYS = SQS_KEYS | {"BisectBatchOnFunctionError", "DestinationConfig", "LastProcessingResult",
                          "MaximumRecordAgeInSeconds", "MaximumRetryAttempts", "ParallelizationFactor",
                          "StartingPosition", "TumblingWindowInSeconds"}


def body(response: dict) -> dict:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def refused(call, **params) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as e:
        call(**params)
    return error_of(e)


def test_an_sqs_mapping_has_aws_s_shape_and_settles_enabled(kit):
    _, arn = kit.queue()
    fn = kit.function(ECHO)
    answer = kit.lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn)
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert set(body(answer)) == SQS_KEYS
    assert UUID.fullmatch(answer["UUID"])
    assert answer["EventSourceMappingArn"] == f"arn:aws:lambda:us-east-1:{kit.cloud.account}:event-source-mapping:" \
                                              f"{answer['UUID']}"
    assert (answer["State"], answer["StateTransitionReason"]) == ("Creating", "USER_INITIATED")
    assert (answer["BatchSize"], answer["MaximumBatchingWindowInSeconds"]) == (10, 0)
    assert answer["FunctionResponseTypes"] == []
    assert answer["FunctionArn"] == f"arn:aws:lambda:us-east-1:{kit.cloud.account}:function:{fn}"
    kit.settle()
    got = kit.lam.get_event_source_mapping(UUID=answer["UUID"])
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200 and got["State"] == "Enabled"
    deleted = kit.lam.delete_event_source_mapping(UUID=answer["UUID"])
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 202 and deleted["State"] == "Deleting"


@pytest.mark.parametrize("kind", ["kinesis", "dynamodb"])
def test_a_stream_mapping_has_aws_s_shape_and_defaults(kit, kind):
    arn = kit.stream() if kind == "kinesis" else kit.table()[1]
    fn = kit.function(ECHO)
    answer = body(kit.lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn,
                                                      StartingPosition="TRIM_HORIZON"))
    assert set(answer) == STREAM_KEYS
    assert {k: answer[k] for k in STREAM_KEYS - SQS_KEYS} == {
        "BisectBatchOnFunctionError": False, "DestinationConfig": {"OnFailure": {}},
        "LastProcessingResult": "No records processed", "MaximumRecordAgeInSeconds": -1, "MaximumRetryAttempts": -1,
        "ParallelizationFactor": 1, "StartingPosition": "TRIM_HORIZON", "TumblingWindowInSeconds": 0}
    assert (answer["BatchSize"], answer["State"], answer["StateTransitionReason"]) == (100, "Creating", "User action")
    kit.lam.delete_event_source_mapping(UUID=answer["UUID"])


def test_the_function_arn_is_as_named(kit):
    """LocalStack's AWS-validated test_function_name_variations."""
    _, arn = kit.queue()
    fn = kit.function(ECHO)
    version = kit.lam.publish_version(FunctionName=fn)["Version"]
    kit.lam.create_alias(FunctionName=fn, Name="live", FunctionVersion=version)
    base = f"arn:aws:lambda:us-east-1:{kit.cloud.account}:function:{fn}"
    for name, expected in [(fn, base), (f"{fn}:$LATEST", f"{base}:$LATEST"), (f"{fn}:{version}", f"{base}:1"),
                           (f"{fn}:live", f"{base}:live"), (base, base), (f"{base}:live", f"{base}:live")]:
        answer = kit.lam.create_event_source_mapping(FunctionName=name, EventSourceArn=arn)
        assert answer["FunctionArn"] == expected
        kit.lam.delete_event_source_mapping(UUID=answer["UUID"])
        kit.settle()


def test_states_through_disable_enable_update_delete(kit):
    """LocalStack's AWS-validated test_fifo_message_group_parallelism, test_sqs_event_source_mapping_update and
    test_disabled_dynamodb_event_source_mapping: Disabled, Enabling, Updating, Disabling, Deleting."""
    _, arn = kit.queue()
    fn = kit.function(ECHO)
    created = kit.lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn, Enabled=False, BatchSize=1)
    mapping = created["UUID"]
    assert created["State"] == "Disabled"
    assert kit.lam.update_event_source_mapping(UUID=mapping, Enabled=True)["State"] == "Enabling"
    kit.settle()
    assert kit.lam.get_event_source_mapping(UUID=mapping)["State"] == "Enabled"
    updated = kit.lam.update_event_source_mapping(UUID=mapping, BatchSize=5)
    assert (updated["State"], updated["BatchSize"]) == ("Updating", 5)
    kit.settle()
    assert kit.lam.get_event_source_mapping(UUID=mapping)["State"] == "Enabled"
    assert kit.lam.update_event_source_mapping(UUID=mapping, Enabled=False)["State"] == "Disabling"
    assert kit.lam.delete_event_source_mapping(UUID=mapping)["State"] == "Deleting"


@pytest.mark.parametrize("operation", ["get_event_source_mapping", "delete_event_source_mapping",
                                       "update_event_source_mapping"])
def test_an_unknown_uuid_is_not_found(kit, operation):
    params = {"UUID": "7e8e5e4c-0a1e-4e36-9ef0-6e2b2c58ffff"} | ({"Enabled": False} if "update" in operation else {})
    assert refused(getattr(kit.lam, operation), **params) == (
        "ResourceNotFoundException", "The resource you requested does not exist.", 404)


def test_create_refusals_in_aws_s_order_and_words(kit):
    _, arn = kit.queue()
    fifo_url, fifo_arn = kit.queue(fifo=True)
    stream = kit.stream()
    _, table_stream = kit.table()
    fn = kit.function(ECHO)
    create = kit.lam.create_event_source_mapping
    queue_elsewhere = "arn:aws:sqs:us-east-1:111111111111:somequeue"
    bad = "InvalidParameterValueException"
    cases = [
        ({"FunctionName": "doesnotexist"}, "Unrecognized event source."),
        ({"FunctionName": "doesnotexist", "EventSourceArn": queue_elsewhere}, "Function does not exist"),
        ({"FunctionName": "doesnotexist", "EventSourceArn": queue_elsewhere,
          "DestinationConfig": {"OnSuccess": {"Destination": f"{queue_elsewhere}2"}}},
         "Unsupported DestinationConfig parameter for given event source mapping type."),
        ({"FunctionName": fn, "EventSourceArn": stream},
         "1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: Member must "
         "not be null."),
        ({"FunctionName": fn, "EventSourceArn": table_stream, "StartingPosition": "AT_TIMESTAMP",
          "StartingPositionTimestamp": 1741010802}, f"Unsupported starting position for arn type: {table_stream}"),
        ({"FunctionName": fn, "EventSourceArn": arn, "BatchSize": 20},
         "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"),
        ({"FunctionName": fn, "EventSourceArn": fifo_arn, "BatchSize": 5, "MaximumBatchingWindowInSeconds": 1},
         "Batching window is not supported for FIFO queues"),
        ({"FunctionName": fn, "EventSourceArn": arn, "StartingPosition": "LATEST"},
         "StartingPosition is not valid for SQS event sources."),
        ({"FunctionName": fn, "EventSourceArn": arn, "MaximumRetryAttempts": 1},
         "Unsupported 'maximumRetryAttempts' parameter for given event source mapping type."),
        ({"FunctionName": fn, "EventSourceArn": stream, "StartingPosition": "LATEST", "MaximumRecordAgeInSeconds": 30},
         "MaximumRecordAgeInSeconds must be either -1 (forever) or between 60 and 604800 (inclusive)"),
        ({"FunctionName": fn, "EventSourceArn": f"{arn}-missing"},
         "Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. SQS Error "
         "Message: The specified queue does not exist."),
        ({"FunctionName": fn, "EventSourceArn": f"{stream}-missing", "StartingPosition": "LATEST"},
         f"Stream not found: {stream}-missing"),
        ({"FunctionName": fn, "EventSourceArn": f"{table_stream}0", "StartingPosition": "LATEST"},
         f"Stream not found: {table_stream}0"),
    ]
    for params, message in cases:
        assert refused(create, **params) == (bad, message, 400), params
    assert fifo_url


def test_the_model_s_own_constraints_come_first(kit):
    stream = kit.stream()
    code, message, status = refused(kit.lam.create_event_source_mapping, FunctionName=kit.function(ECHO),
                                    EventSourceArn=stream, StartingPosition="invalid")
    assert (code, status) == ("ValidationException", 400)
    assert message.startswith("1 validation error detected: Value 'invalid' at 'startingPosition' failed to satisfy "
                              "constraint: Member must satisfy enum value set: [")


@pytest.mark.parametrize("pattern", [None, "simple string", {"eventSource": "aws:sqs"}, {"eventSource": []}, ""])
def test_invalid_filter_patterns_are_refused(kit, pattern):
    """LocalStack's AWS-validated test_sqs_invalid_event_filter."""
    _, arn = kit.queue()
    text = pattern if isinstance(pattern, str) else json.dumps(pattern)
    assert refused(kit.lam.create_event_source_mapping, FunctionName=kit.function(ECHO), EventSourceArn=arn,
                   FilterCriteria={"Filters": [{"Pattern": text}]}) == (
        "InvalidParameterValueException", "Invalid filter pattern definition.", 400)


def test_empty_filters_are_no_filter_criteria(kit):
    stream = kit.stream()
    answer = kit.lam.create_event_source_mapping(FunctionName=kit.function(ECHO), EventSourceArn=stream,
                                                 StartingPosition="LATEST", FilterCriteria={"Filters": []})
    assert "FilterCriteria" not in answer
    pattern = json.dumps({"data": {"kind": ["x"]}})
    updated = kit.lam.update_event_source_mapping(UUID=answer["UUID"],
                                                  FilterCriteria={"Filters": [{"Pattern": pattern}]})
    assert updated["FilterCriteria"] == {"Filters": [{"Pattern": pattern}]}
    kit.lam.delete_event_source_mapping(UUID=answer["UUID"])


def test_a_second_mapping_of_the_same_source_and_function_conflicts(kit):
    _, arn = kit.queue()
    stream = kit.stream()
    fn = kit.function(ECHO)
    first = kit.lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn)["UUID"]
    assert refused(kit.lam.create_event_source_mapping, FunctionName=fn, EventSourceArn=arn) == (
        "ResourceConflictException",
        f'An event source mapping with SQS arn (" {arn} ") and function (" {fn} ") already exists. Please update or '
        f"delete the existing mapping with UUID {first}", 409)
    second = kit.lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=stream, StartingPosition="LATEST")
    assert refused(kit.lam.create_event_source_mapping, FunctionName=fn, EventSourceArn=stream,
                   StartingPosition="LATEST") == (
        "ResourceConflictException",
        f'The event source arn (" {stream} ") and function (" {fn} ") provided mapping already exists. Please update '
        f"or delete the existing mapping with UUID {second['UUID']}", 409)


def test_an_update_is_checked_like_a_create(kit):
    """LocalStack's AWS-validated test_event_source_mapping_default_batch_size (invalid-update)."""
    _, arn = kit.queue()
    mapping = kit.lam.create_event_source_mapping(FunctionName=kit.function(ECHO), EventSourceArn=arn)["UUID"]
    assert refused(kit.lam.update_event_source_mapping, UUID=mapping, BatchSize=20) == (
        "InvalidParameterValueException",
        "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10", 400)
    assert refused(kit.lam.update_event_source_mapping, UUID=mapping, FunctionName="doesnotexist") == (
        "InvalidParameterValueException", "Function does not exist", 400)
    assert refused(kit.lam.update_event_source_mapping, UUID=mapping,
                   DestinationConfig={"OnFailure": {"Destination": arn}}) == (
        "InvalidParameterValueException",
        "Unsupported DestinationConfig parameter for given event source mapping type.", 400)
    answer = kit.lam.update_event_source_mapping(UUID=mapping, BatchSize=20, MaximumBatchingWindowInSeconds=1)
    assert (answer["BatchSize"], answer["MaximumBatchingWindowInSeconds"]) == (20, 1)


@pytest.mark.parametrize("kind", ["sqs", "kinesis", "dynamodb"])
def test_a_role_that_may_not_read_the_source_is_refused_at_creation(kit, kind):
    fn = kit.function(ECHO, Role=f"arn:aws:iam::{kit.cloud.account}:role/lambda-role")  # logs only
    if kind == "sqs":
        arn = kit.queue()[1]
        expected = "The function execution role does not have permissions to call ReceiveMessage on SQS"
        extra = {}
    else:
        arn = kit.stream() if kind == "kinesis" else kit.table()[1]
        expected = (f"Cannot access stream {arn}. Please ensure the role can perform the GetRecords, GetShardIterator, "
                    "DescribeStream, ListShards, and ListStreams Actions on your stream in IAM.")
        extra = {"StartingPosition": "LATEST"}
    assert refused(kit.lam.create_event_source_mapping, FunctionName=fn, EventSourceArn=arn, **extra) == (
        "InvalidParameterValueException", expected, 400)
    decisions = kit.cloud.decisions()
    denied = decisions[(decisions["resource"] == arn) & ~decisions["allowed"]]
    assert len(denied) == 1 and denied["principal"].iloc[0].startswith(
        f"arn:aws:sts::{kit.cloud.account}:assumed-role/lambda-role/awslambda_")


def test_a_queue_policy_can_grant_what_the_role_lacks(kit):
    url, arn = kit.queue()
    role = f"arn:aws:iam::{kit.cloud.account}:role/lambda-role"
    kit.sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": role}, "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage",
                                                                 "sqs:GetQueueAttributes"], "Resource": arn}]})})
    mapping = kit.lam.create_event_source_mapping(FunctionName=kit.function(ECHO, Role=role), EventSourceArn=arn)
    kit.lam.delete_event_source_mapping(UUID=mapping["UUID"])


def test_list_filters_by_function_and_source_and_pages(kit):
    _, first_queue = kit.queue()
    _, second_queue = kit.queue()
    fn, other = kit.function(ECHO), kit.function(ECHO)
    ids = [kit.lam.create_event_source_mapping(FunctionName=f, EventSourceArn=q)["UUID"]
           for f, q in [(fn, first_queue), (fn, second_queue), (other, first_queue)]]
    by_function = kit.lam.list_event_source_mappings(FunctionName=fn)["EventSourceMappings"]
    assert [m["UUID"] for m in by_function] == ids[:2]
    by_source = kit.lam.list_event_source_mappings(EventSourceArn=first_queue)["EventSourceMappings"]
    assert [m["UUID"] for m in by_source] == [ids[0], ids[2]]
    assert kit.lam.list_event_source_mappings(FunctionName="doesnotexist")["EventSourceMappings"] == []
    page = kit.lam.list_event_source_mappings(FunctionName=fn, MaxItems=1)
    assert [m["UUID"] for m in page["EventSourceMappings"]] == ids[:1] and page["NextMarker"]
    rest = kit.lam.list_event_source_mappings(FunctionName=fn, Marker=page["NextMarker"])
    assert [m["UUID"] for m in rest["EventSourceMappings"]] == ids[1:2] and "NextMarker" not in rest
    for mapping in ids:
        kit.lam.delete_event_source_mapping(UUID=mapping)


def test_deleting_the_function_leaves_the_mapping(kit):
    """LocalStack's AWS-validated test_event_source_mapping_lifecycle_delete_function: still Enabled."""
    _, arn = kit.queue()
    fn = kit.function(ECHO)
    mapping = kit.mapping(fn, arn)
    kit.lam.delete_function(FunctionName=fn)
    assert kit.lam.get_event_source_mapping(UUID=mapping)["State"] == "Enabled"
    kit.lam.delete_event_source_mapping(UUID=mapping)


def test_iam_judges_mapping_operations_with_the_function_arn_condition(kit):
    iam = kit.cloud.client("iam")
    user = "esm-operator"
    iam.create_user(UserName=user)
    allowed_fn, other_fn = kit.function(ECHO), kit.function(ECHO)
    allowed_arn = f"arn:aws:lambda:us-east-1:{kit.cloud.account}:function:{allowed_fn}"
    iam.put_user_policy(UserName=user, PolicyName="esm", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["lambda:CreateEventSourceMapping", "lambda:GetEventSourceMapping"],
             "Resource": "*", "Condition": {"StringEquals": {"lambda:FunctionArn": allowed_arn}}}]}))
    operator = kit.cloud.client("lambda", credentials=iam.create_access_key(UserName=user)["AccessKey"])
    _, arn = kit.queue()
    mapping = operator.create_event_source_mapping(FunctionName=allowed_fn, EventSourceArn=arn)["UUID"]
    assert operator.get_event_source_mapping(UUID=mapping)["UUID"] == mapping
    code, message, status = refused(operator.create_event_source_mapping, FunctionName=other_fn, EventSourceArn=arn)
    assert (code, status) == ("AccessDeniedException", 403) and "lambda:CreateEventSourceMapping" in message
    code, message, _ = refused(operator.delete_event_source_mapping, UUID=mapping)
    assert code == "AccessDeniedException" and f"event-source-mapping:{mapping}" in message
    kit.lam.delete_event_source_mapping(UUID=mapping)


def test_stopping_the_cloud_leaves_no_poller_running():
    with lambdalab.start() as cloud:
        kit = Kit(cloud)
        url, arn = kit.queue()
        stream = kit.stream()
        fn = kit.function("import time\ndef handler(event, context):\n    time.sleep(30)\n", Timeout=60)
        ids = [kit.lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn)["UUID"],
               kit.lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=stream,
                                                   StartingPosition="LATEST")["UUID"]]
        kit.sqs.send_message(QueueUrl=url, MessageBody="in flight when the cloud stops")
        kit.kinesis.put_record(StreamARN=stream, Data=b"x", PartitionKey="k")

        def threads() -> list[str]:
            return [t.name for t in threading.enumerate() if any(i[:8] in t.name for i in ids)]

        assert len(threads()) >= 2
    assert threads() == [] and cloud.pollers.running() == []
