"""The stream poller (Kinesis, DynamoDB Streams) against what AWS does: event shapes, order per shard,
a failing record blocking its shard until it succeeds, expires or is given up, bisecting, partial
failures, parallelization, starting positions, windows, filters, on-failure destinations, IteratorAge."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from deploy import open_queue_to
from pollkit import until

import lambdalab

# Prints the event (and when, to order prints of several environments); raises for data starting with "bad".
HANDLER = """
import base64, json, time
def handler(event, context):
    print(json.dumps({**event, "t": time.time_ns()}))
    for r in event["Records"]:
        if "kinesis" in r and base64.b64decode(r["kinesis"]["data"]).startswith(b"bad"):
            raise ValueError("bad record " + r["eventID"])
"""
# Reports its "bad" records as failed items, the first time it sees them.
REPORTS = """
import base64, json, time
seen = set()
def handler(event, context):
    print(json.dumps({**event, "t": time.time_ns()}))
    failed = [r["kinesis"]["sequenceNumber"] for r in event["Records"]
              if base64.b64decode(r["kinesis"]["data"]).startswith(b"bad") and r["eventID"] not in seen]
    seen.update(r["eventID"] for r in event["Records"])
    return {"batchItemFailures": [{"itemIdentifier": s} for s in failed]}
"""
# Key orders of AWS's records (LocalStack's AWS-validated Kinesis and DynamoDB snapshots, AWS's SAM samples).
KINESIS_KEYS = ["kinesis", "eventSource", "eventVersion", "eventID", "eventName", "invokeIdentityArn", "awsRegion",
                "eventSourceARN"]
KINESIS_DATA_KEYS = ["kinesisSchemaVersion", "partitionKey", "sequenceNumber", "data", "approximateArrivalTimestamp"]
DYNAMODB_KEYS = ["eventID", "eventName", "eventVersion", "eventSource", "awsRegion", "dynamodb", "eventSourceARN"]


def put(kit, arn: str, *items: str, key: str = "k") -> None:
    for item in items:
        kit.kinesis.put_record(StreamARN=arn, Data=item.encode(), PartitionKey=key)


def datas(kit, fn: str) -> list[list[str]]:
    """Each invocation's records' data, decoded."""
    return [[base64.b64decode(r["kinesis"]["data"]).decode() for r in e["Records"]] for e in kit.events(fn)]


def failures(kit, url: str) -> list[dict]:
    return [json.loads(m["Body"]) for m in kit.drain(url)]


def test_the_kinesis_event_is_aws_s(kit):
    arn = kit.stream()
    fn = kit.function(HANDLER)
    kit.mapping(fn, arn, StartingPosition="LATEST")
    put(kit, arn, "hello", key="test_0")
    kit.settle()
    record = kit.events(fn)[0]["Records"][0]
    assert list(record) == KINESIS_KEYS and list(record["kinesis"]) == KINESIS_DATA_KEYS
    data = record["kinesis"]
    assert base64.b64decode(data["data"]) == b"hello" and data["partitionKey"] == "test_0"
    assert record["eventID"] == f"shardId-000000000000:{data['sequenceNumber']}"
    assert record["invokeIdentityArn"] == kit.role and record["eventSourceARN"] == arn
    assert (record["eventName"], record["eventSource"], record["eventVersion"]) == \
        ("aws:kinesis:record", "aws:kinesis", "1.0")
    assert abs(data["approximateArrivalTimestamp"] - kit.cloud.clock.time()) < 5


def test_the_dynamodb_event_is_aws_s(kit):
    table, arn = kit.table(view="NEW_AND_OLD_IMAGES")
    fn = kit.function(HANDLER)
    kit.mapping(fn, arn, StartingPosition="TRIM_HORIZON")
    kit.dynamodb.put_item(TableName=table, Item={"id": {"S": "101"}, "Message": {"S": "New item!"}})
    kit.dynamodb.put_item(TableName=table, Item={"id": {"S": "101"}, "Message": {"S": "This item has changed"}})
    kit.dynamodb.delete_item(TableName=table, Key={"id": {"S": "101"}})
    kit.settle()
    records = [r for e in kit.events(fn) for r in e["Records"]]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    insert, modify, remove = records
    assert list(insert) == DYNAMODB_KEYS and insert["eventVersion"] == "1.1" and insert["eventSourceARN"] == arn
    assert list(modify["dynamodb"]) == ["ApproximateCreationDateTime", "Keys", "NewImage", "OldImage",
                                        "SequenceNumber", "SizeBytes", "StreamViewType"]
    assert modify["dynamodb"]["Keys"] == {"id": {"S": "101"}}
    assert modify["dynamodb"]["OldImage"]["Message"] == {"S": "New item!"}
    assert modify["dynamodb"]["NewImage"]["Message"] == {"S": "This item has changed"}
    assert "NewImage" not in remove["dynamodb"] and remove["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert isinstance(insert["dynamodb"]["ApproximateCreationDateTime"], int)
    assert int(insert["dynamodb"]["SequenceNumber"]) < int(modify["dynamodb"]["SequenceNumber"])


def test_each_shard_in_order_and_each_batch_from_one_shard(kit):
    arn = kit.stream(shards=2)
    fn = kit.function(HANDLER)
    kit.mapping(fn, arn, StartingPosition="TRIM_HORIZON", BatchSize=3)
    for i in range(24):
        put(kit, arn, f"r{i}", key=f"key-{i % 5}")
    until(lambda: sum(len(e["Records"]) for e in kit.events(fn)) == 24)
    seen: dict[str, list[int]] = {}
    for event in kit.events(fn):
        shards = {r["eventID"].split(":")[0] for r in event["Records"]}
        assert len(shards) == 1 and len(event["Records"]) <= 3
        seen.setdefault(shards.pop(), []).extend(int(r["kinesis"]["sequenceNumber"]) for r in event["Records"])
    assert len(seen) == 2 and all(seqs == sorted(seqs) for seqs in seen.values())


def test_a_failing_record_blocks_its_shard_until_its_retries_are_exhausted(kit):
    arn = kit.stream()
    dest_url, dest_arn = kit.queue()
    fn = kit.function(HANDLER)
    mapping = kit.mapping(fn, arn, StartingPosition="LATEST", BatchSize=1, MaximumRetryAttempts=2,
                          DestinationConfig={"OnFailure": {"Destination": dest_arn}})
    put(kit, arn, "a", "bad", "c")
    kit.settle()
    assert ["c"] not in datas(kit, fn), "c waits behind the failing record"  # (its first retry may have run)
    assert kit.lam.get_event_source_mapping(UUID=mapping)["LastProcessingResult"] == "PROBLEM: Function call failed"
    kit.cloud.clock.advance(60)
    assert datas(kit, fn) == [["a"], ["bad"], ["bad"], ["bad"], ["c"]]
    rows = kit.invocations(fn)
    waits = [(rows["start"][i + 1] - rows["start"][i]).total_seconds() - rows["duration_ms"][i] / 1000
             for i in (1, 2)]
    assert waits == pytest.approx([1, 2], abs=0.5), "retries back off on the cloud's clock"
    (record,) = failures(kit, dest_url)
    assert list(record) == ["requestContext", "responseContext", "version", "timestamp", "KinesisBatchInfo"]
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestContext"]["functionArn"].endswith(f":function:{fn}")
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    info = record["KinesisBatchInfo"]
    assert info["shardId"] == "shardId-000000000000" and info["batchSize"] == 1 and info["streamArn"] == arn
    assert info["startSequenceNumber"] == info["endSequenceNumber"]
    assert info["approximateArrivalOfFirstRecord"].endswith("Z") and "." in info["approximateArrivalOfFirstRecord"]
    assert kit.lam.get_event_source_mapping(UUID=mapping)["LastProcessingResult"] == "OK"


def test_by_default_a_failing_record_blocks_its_shard_for_good(kit):
    arn = kit.stream()
    fn = kit.function(HANDLER)
    kit.mapping(fn, arn, StartingPosition="LATEST")
    put(kit, arn, "bad", "after")
    kit.cloud.clock.advance(3600)
    batches = datas(kit, fn)
    assert all(batch[0] == "bad" for batch in batches) and len(batches) > 20, "retried all hour, blocked"
    rows = kit.invocations(fn)
    waits = [(b - a).total_seconds() - duration / 1000  # from one attempt's end to the next one's start
             for a, b, duration in zip(rows["start"], rows["start"][1:], rows["duration_ms"], strict=False)]
    assert max(waits) < 60.5, "backoff up to a minute"


def test_bisect_isolates_the_failing_record(kit):
    arn = kit.stream()
    dest_url, dest_arn = kit.queue()
    fn = kit.function(HANDLER)
    kit.lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
                                        BatchSize=10, BisectBatchOnFunctionError=True, MaximumRetryAttempts=0,
                                        DestinationConfig={"OnFailure": {"Destination": dest_arn}}, Enabled=False)
    put(kit, arn, *[f"r{i}" for i in range(5)], "bad", "r6", "r7")
    mapping = kit.lam.list_event_source_mappings(FunctionName=fn)["EventSourceMappings"][0]["UUID"]
    kit.lam.update_event_source_mapping(UUID=mapping, Enabled=True)
    kit.settle()
    batches = datas(kit, fn)
    assert batches[0] == ["r0", "r1", "r2", "r3", "r4", "bad", "r6", "r7"]
    processed = [d for b, error in zip(batches, kit.invocations(fn)["status"], strict=True) if error == "success"
                 for d in b]
    assert processed == ["r0", "r1", "r2", "r3", "r4", "r6", "r7"], "every good record once, in order"
    assert [len(b) for b in batches][:4] == [8, 4, 4, 2], "halves, then halves of the failing half"
    (record,) = failures(kit, dest_url)
    info = record["KinesisBatchInfo"]
    assert info["batchSize"] == 1 and record["requestContext"]["approximateInvokeCount"] == 1


def test_records_older_than_the_maximum_age_are_given_up(kit):
    arn = kit.stream()
    dest_url, dest_arn = kit.queue()
    fn = kit.function(HANDLER)
    kit.mapping(fn, arn, StartingPosition="LATEST", MaximumRecordAgeInSeconds=60,
                DestinationConfig={"OnFailure": {"Destination": dest_arn}})
    put(kit, arn, "bad")
    kit.cloud.clock.advance(40)
    put(kit, arn, "c")  # younger: it waits behind "bad" until "bad" is too old
    kit.cloud.clock.advance(30)
    batches = datas(kit, fn)
    assert batches[-1] == ["c"] and all(b[0] == "bad" for b in batches[:-1])
    (record,) = failures(kit, dest_url)
    assert record["requestContext"]["condition"] == "RecordAgeExceeded" and "responseContext" not in record
    assert record["requestContext"]["approximateInvokeCount"] == len(batches) - 1


def test_reported_item_failures_checkpoint_at_the_lowest_one(kit):
    arn = kit.stream()
    fn = kit.function(REPORTS)
    kit.lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
                                        FunctionResponseTypes=["ReportBatchItemFailures"], Enabled=False)
    put(kit, arn, "a", "bad1", "b", "bad2", "c")
    mapping = kit.lam.list_event_source_mappings(FunctionName=fn)["EventSourceMappings"][0]["UUID"]
    kit.lam.update_event_source_mapping(UUID=mapping, Enabled=True)
    kit.settle()
    kit.cloud.clock.advance(5)
    assert datas(kit, fn) == [["a", "bad1", "b", "bad2", "c"], ["bad1", "b", "bad2", "c"]]


def test_parallelization_keeps_order_per_partition_key_while_others_go_on(kit):
    arn = kit.stream()
    fn = kit.function(HANDLER)
    kit.lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
                                        ParallelizationFactor=10, BatchSize=1, MaximumRetryAttempts=1, Enabled=False)
    put(kit, arn, "bad-x1", "x2", key="x")
    put(kit, arn, "y1", "y2", key="y")
    mapping = kit.lam.list_event_source_mappings(FunctionName=fn)["EventSourceMappings"][0]["UUID"]
    kit.lam.update_event_source_mapping(UUID=mapping, Enabled=True)
    kit.settle()
    order = [b[0] for b in datas(kit, fn)]
    assert "x2" not in order or order.index("y2") < order.index("x2"), "y's records did not wait behind x's failure"
    kit.cloud.clock.advance(5)
    order = [b[0] for b in datas(kit, fn)]
    xs = [d for d in order if d.endswith(("x1", "x2"))]
    assert xs == ["bad-x1", "bad-x1", "x2"] and order.index("y1") < order.index("y2")


def test_starting_positions(kit):
    arn = kit.stream()
    put(kit, arn, "old")
    kit.cloud.clock.advance(10)
    between = kit.cloud.clock.now() - timedelta(seconds=5)
    put(kit, arn, "newer")
    horizon, latest, at = kit.function(HANDLER), kit.function(HANDLER), kit.function(HANDLER)
    kit.mapping(horizon, arn, StartingPosition="TRIM_HORIZON")
    kit.mapping(latest, arn, StartingPosition="LATEST")
    kit.mapping(at, arn, StartingPosition="AT_TIMESTAMP", StartingPositionTimestamp=between)
    put(kit, arn, "newest")
    kit.settle()
    assert [d for b in datas(kit, horizon) for d in b] == ["old", "newer", "newest"]
    assert [d for b in datas(kit, latest) for d in b] == ["newest"]
    assert [d for b in datas(kit, at) for d in b] == ["newer", "newest"]


def test_a_batching_window_gathers_records(kit):
    arn = kit.stream()
    fn = kit.function(HANDLER)
    kit.mapping(fn, arn, StartingPosition="LATEST", MaximumBatchingWindowInSeconds=300)
    put(kit, arn, "a", "b")
    kit.settle()
    put(kit, arn, "c")
    kit.settle()
    assert datas(kit, fn) == []
    kit.cloud.clock.advance(300)
    assert datas(kit, fn) == [["a", "b", "c"]]


def test_filters_match_json_data_and_skip_the_rest(kit):
    arn = kit.stream()
    fn = kit.function(HANDLER)
    kit.mapping(fn, arn, StartingPosition="LATEST", FilterCriteria={"Filters": [
        {"Pattern": json.dumps({"kinesis": {"data": {"kind": ["order"]}}})}]})
    put(kit, arn, json.dumps({"kind": "order", "id": 1}), json.dumps({"kind": "other"}), "not json",
        json.dumps({"kind": "order", "id": 2}))
    kit.settle()
    assert [json.loads(d)["id"] for b in datas(kit, fn) for d in b] == [1, 2]


def test_dynamodb_filters_on_the_record(kit):
    table, arn = kit.table()
    fn = kit.function(HANDLER)
    kit.mapping(fn, arn, StartingPosition="LATEST", FilterCriteria={"Filters": [
        {"Pattern": json.dumps({"eventName": ["INSERT"], "dynamodb": {"NewImage": {"n": {"N": [{"prefix": "1"}]}}}})}]})
    kit.dynamodb.put_item(TableName=table, Item={"id": {"S": "a"}, "n": {"N": "12"}})
    kit.dynamodb.put_item(TableName=table, Item={"id": {"S": "a"}, "n": {"N": "13"}})
    kit.dynamodb.put_item(TableName=table, Item={"id": {"S": "b"}, "n": {"N": "2"}})
    kit.settle()
    records = [r for e in kit.events(fn) for r in e["Records"]]
    assert [(r["eventName"], r["dynamodb"]["Keys"]["id"]["S"]) for r in records] == [("INSERT", "a")]


def test_a_dynamodb_batch_given_up_goes_to_sns_and_s3_as_metadata(kit):
    table, arn = kit.table()
    topic = kit.cloud.client("sns").create_topic(Name="esm-failures")["TopicArn"]
    sub_url, sub_arn = kit.queue()
    open_queue_to(kit.sqs, sub_url, "sns.amazonaws.com", topic)
    kit.cloud.client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=sub_arn)
    failing = "def handler(event, context):\n    raise ValueError('no')\n"
    fn = kit.function(failing)
    kit.mapping(fn, arn, StartingPosition="LATEST", MaximumRetryAttempts=0,
                DestinationConfig={"OnFailure": {"Destination": topic}})
    kit.dynamodb.put_item(TableName=table, Item={"id": {"S": "x"}})
    kit.settle()
    (notification,) = failures(kit, sub_url)
    record = json.loads(notification["Message"])
    info = record["DDBStreamBatchInfo"]
    assert info["streamArn"] == arn and info["batchSize"] == 1
    assert info["approximateArrivalOfFirstRecord"].endswith("Z") and "." not in info["approximateArrivalOfFirstRecord"]

    s3 = kit.cloud.client("s3")
    s3.create_bucket(Bucket="esm-failures-bucket")
    other = kit.function(failing)
    mapping = kit.mapping(other, arn, StartingPosition="LATEST", MaximumRetryAttempts=0,
                          DestinationConfig={"OnFailure": {"Destination": "arn:aws:s3:::esm-failures-bucket"}})
    kit.dynamodb.put_item(TableName=table, Item={"id": {"S": "y"}})
    kit.settle()
    (obj,) = s3.list_objects_v2(Bucket="esm-failures-bucket")["Contents"]
    body = json.loads(s3.get_object(Bucket="esm-failures-bucket", Key=obj["Key"])["Body"].read())
    assert obj["Key"].startswith(f"aws/lambda/{mapping}/{info['shardId']}/")
    assert body["payload"]["Records"][0]["dynamodb"]["Keys"] == {"id": {"S": "y"}}
    assert list(body) == sorted(body), "the S3 object's keys are sorted, as AWS writes them"


def test_a_role_that_may_not_send_gets_no_delivery_and_a_metric(kit):
    iam = kit.cloud.client("iam")
    role = lambdalab.packaging.execution_role(iam, "kinesis-only",
                                              "arn:aws:iam::aws:policy/service-role/AWSLambdaKinesisExecutionRole")
    arn = kit.stream()
    dest_url, dest_arn = kit.queue()
    fn = kit.function(HANDLER, Role=role)
    kit.mapping(fn, arn, StartingPosition="LATEST", MaximumRetryAttempts=0,
                DestinationConfig={"OnFailure": {"Destination": dest_arn}})
    put(kit, arn, "bad")
    kit.settle()
    assert failures(kit, dest_url) == []
    kit.cloud.metrics.flush()
    points = kit.cloud.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/Lambda", MetricName="DestinationDeliveryFailures", Statistics=["Sum"], Period=60,
        Dimensions=[{"Name": "FunctionName", "Value": fn}, {"Name": "Resource", "Value": fn}],
        StartTime=kit.cloud.clock.now() - timedelta(hours=2), EndTime=kit.cloud.clock.now() + timedelta(hours=1))
    assert sum(p["Sum"] for p in points["Datapoints"]) == 1
    decisions = kit.cloud.decisions()
    assert ((decisions["action"] == "sqs:SendMessage") & ~decisions["allowed"]).any()


def test_iterator_age_is_published_per_invocation(kit):
    arn = kit.stream()
    fn = kit.function(HANDLER)
    kit.mapping(fn, arn, StartingPosition="LATEST", MaximumBatchingWindowInSeconds=120)
    put(kit, arn, "waits for the window")
    kit.cloud.clock.advance(120)
    kit.cloud.metrics.flush()
    points = kit.cloud.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/Lambda", MetricName="IteratorAge", Statistics=["Maximum"], Period=60,
        Dimensions=[{"Name": "FunctionName", "Value": fn}, {"Name": "Resource", "Value": fn}],
        StartTime=kit.cloud.clock.now() - timedelta(hours=2), EndTime=kit.cloud.clock.now() + timedelta(hours=1))
    (point,) = points["Datapoints"]
    assert point["Unit"] == "Milliseconds" and 120_000 <= point["Maximum"] < 121_000


def test_disabled_then_enabled_resumes_where_it_stopped(kit):
    arn = kit.stream()
    fn = kit.function(HANDLER)
    mapping = kit.mapping(fn, arn, StartingPosition="LATEST")
    put(kit, arn, "one")
    kit.settle()
    kit.lam.update_event_source_mapping(UUID=mapping, Enabled=False)
    until(lambda: kit.lam.get_event_source_mapping(UUID=mapping)["State"] == "Disabled")
    put(kit, arn, "two")
    kit.settle()
    assert datas(kit, fn) == [["one"]]
    kit.lam.update_event_source_mapping(UUID=mapping, Enabled=True)
    kit.settle()
    assert datas(kit, fn) == [["one"], ["two"]]


@pytest.mark.parametrize("factor", [1, 3])
def test_a_new_parallelization_factor_goes_on_from_the_checkpoint(kit, factor):
    arn = kit.stream()
    fn = kit.function(HANDLER)
    mapping = kit.mapping(fn, arn, StartingPosition="LATEST")
    put(kit, arn, "one")
    kit.settle()
    kit.lam.update_event_source_mapping(UUID=mapping, ParallelizationFactor=factor + 1)
    kit.settle()
    put(kit, arn, "two")
    kit.settle()
    assert datas(kit, fn) == [["one"], ["two"]]
