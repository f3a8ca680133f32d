"""The SQS poller against what AWS does: event shape, deletes, visibility timeouts and redrive on the
cloud's clock, partial batch failures, batching windows, FIFO order, filters, scaling, updates."""

from __future__ import annotations

import hashlib
import json
import threading
import uuid

import psutil
import pytest
from pollkit import Kit, until

import lambdalab
from lambdalab import zip_files

ECHO = """
import json, time
def handler(event, context):
    print(json.dumps({**event, "t": time.time_ns()}))
    return {"n": len(event["Records"])}
"""
FAIL = """
import json, time
def handler(event, context):
    print(json.dumps({**event, "t": time.time_ns()}))
    raise RuntimeError("cannot process this batch")
"""
# Fails the records whose body starts with "bad" on their first receive only, reporting them.
REPORT = """
import json, time
def handler(event, context):
    print(json.dumps({**event, "t": time.time_ns()}))
    return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]
                                  if r["body"].startswith("bad") and r["attributes"]["ApproximateReceiveCount"] == "1"]}
"""
# The keys of an SQS event record, in AWS's order (LocalStack's AWS-validated test_sqs_event_source_mapping
# snapshot; AWS's SAM sample event has the same but md5OfMessageAttributes).
RECORD_KEYS = ["messageId", "receiptHandle", "body", "attributes", "messageAttributes", "md5OfMessageAttributes",
               "md5OfBody", "eventSource", "eventSourceARN", "awsRegion"]


def depth(kit, url: str) -> tuple[int, int]:
    """(visible, in flight) messages of a queue."""
    a = kit.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"])


def test_the_event_is_aws_s(kit):
    url, arn = kit.queue()
    fn = kit.function(ECHO)
    kit.mapping(fn, arn)
    body = json.dumps({"destination": "x", "fail_attempts": 0})
    kit.sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes={  # as LocalStack's recording sent them
        "Title": {"DataType": "String", "StringValue": "The Whistler"},
        "Author": {"DataType": "String", "StringValue": "John Grisham"},
        "WeeksOn": {"DataType": "Number", "StringValue": "6"}})
    kit.sqs.send_message(QueueUrl=url, MessageBody="plain")
    kit.settle()
    records = {r["body"]: r for event in kit.events(fn) for r in event["Records"]}
    first, second = records[body], records["plain"]
    assert list(first) == RECORD_KEYS
    assert list(first["attributes"]) == ["ApproximateReceiveCount", "SentTimestamp", "SenderId",
                                         "ApproximateFirstReceiveTimestamp"]
    assert first["attributes"]["ApproximateReceiveCount"] == "1"
    assert first["body"] == body and first["md5OfBody"] == hashlib.md5(body.encode()).hexdigest()
    assert first["messageAttributes"]["WeeksOn"] == {"stringValue": "6", "stringListValues": [],
                                                     "binaryListValues": [], "dataType": "Number"}
    assert first["md5OfMessageAttributes"] == "d25a6aea97eb8f585bfa92d314504a92"  # AWS's, for these attributes
    assert (first["eventSource"], first["eventSourceARN"], first["awsRegion"]) == ("aws:sqs", arn, kit.cloud.region)
    assert second["messageAttributes"] == {} and second["md5OfMessageAttributes"] is None


def test_a_successful_batch_is_deleted_and_recorded_with_its_source(kit):
    url, arn = kit.queue()
    fn = kit.function(ECHO)
    mapping = kit.mapping(fn, arn)
    kit.sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(3)])
    kit.settle()
    assert depth(kit, url) == (0, 0)
    rows = kit.invocations(fn)
    assert rows["batch_size"].sum() == 3 and set(rows["status"]) == {"success"}
    assert set(rows["event_source_mapping"]) == {mapping} and set(rows["event_source_arn"]) == {arn}
    assert set(rows["invocation_type"]) == {"RequestResponse"}  # pollers invoke synchronously


def test_a_failed_batch_comes_back_after_the_visibility_timeout_and_ends_in_the_dead_letter_queue(kit):
    url, arn, dlq = kit.with_dlq(3, VisibilityTimeout=30)
    fn = kit.function(FAIL)
    kit.mapping(fn, arn)
    kit.sqs.send_message(QueueUrl=url, MessageBody="poison")
    kit.settle()
    assert len(kit.invocations(fn)) == 1 and depth(kit, url) == (0, 1)
    kit.cloud.clock.advance(29)
    assert len(kit.invocations(fn)) == 1, "still invisible"
    kit.cloud.clock.advance(2)
    assert len(kit.invocations(fn)) == 2
    kit.cloud.clock.advance(600)
    rows = kit.invocations(fn)
    counts = [int(e["Records"][0]["attributes"]["ApproximateReceiveCount"]) for e in kit.events(fn)]
    assert counts == [1, 2, 3], "received until maxReceiveCount, then moved"
    gaps = list(rows["start"].diff().dropna().dt.total_seconds())  # the first also holds a cold start's INIT
    assert all(g < 31 for g in gaps) and 30 <= gaps[-1], f"one visibility timeout apart on the cloud's clock: {gaps}"
    assert depth(kit, url) == (0, 0)
    moved = kit.drain(dlq)
    assert [m["Body"] for m in moved] == ["poison"]


def test_reported_item_failures_alone_come_back(kit):
    url, arn = kit.queue(VisibilityTimeout=60)
    fn = kit.function(REPORT)
    kit.sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": str(i), "MessageBody": body} for i, body in enumerate(["ok1", "bad1", "ok2", "bad2", "ok3"])])
    kit.mapping(fn, arn, FunctionResponseTypes=["ReportBatchItemFailures"])
    assert depth(kit, url) == (0, 2), "the three that succeeded are deleted"
    kit.cloud.clock.advance(61)
    second = kit.events(fn)[-1]["Records"]
    assert sorted(r["body"] for r in second) == ["bad1", "bad2"]
    assert {r["attributes"]["ApproximateReceiveCount"] for r in second} == {"2"}
    assert depth(kit, url) == (0, 0)


@pytest.mark.parametrize("answer, whole_batch_back", [
    ({"batchItemFailures": [{"foo": "notvalid"}]}, True),  # AWS-validated: the batch fails
    ({"batchItemFailures": [{"itemIdentifier": "not-in-this-batch"}]}, True),
    ({"batchItemFailures": [{"itemIdentifier": ""}]}, True),
    ({}, False),  # AWS-validated: the batch succeeds
    ({"batchItemFailures": []}, False),
    (None, False),
])
def test_malformed_item_failure_answers_are_read_as_aws_reads_them(kit, answer, whole_batch_back):
    url, arn = kit.queue(VisibilityTimeout=60)
    answer_text = json.dumps(json.dumps(answer))
    fn = kit.function(f"import json\ndef handler(event, context):\n    return json.loads({answer_text})\n")
    kit.sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(3)])
    kit.mapping(fn, arn, FunctionResponseTypes=["ReportBatchItemFailures"])
    assert depth(kit, url) == ((0, 3) if whole_batch_back else (0, 0))


def test_without_report_batch_item_failures_an_answer_is_only_an_answer(kit):
    url, arn = kit.queue(VisibilityTimeout=60)
    fn = kit.function(REPORT)
    kit.sqs.send_message(QueueUrl=url, MessageBody="bad but not reported")
    kit.mapping(fn, arn)
    kit.settle()
    assert depth(kit, url) == (0, 0)


def test_a_batching_window_gathers_up_to_the_batch_size(kit):
    url, arn = kit.queue()
    fn = kit.function(ECHO)
    kit.mapping(fn, arn, BatchSize=20, MaximumBatchingWindowInSeconds=120)
    kit.sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"a{i}"} for i in range(10)])
    kit.sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"b{i}"} for i in range(5)])
    kit.settle()
    assert kit.invocations(fn).empty, "the window is still open"
    kit.cloud.clock.advance(120)
    rows = kit.invocations(fn)
    assert list(rows["batch_size"]) == [15]
    kit.sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"c{i}"} for i in range(10)])
    kit.sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"d{i}"} for i in range(10)])
    kit.settle()
    assert list(kit.invocations(fn)["batch_size"]) == [15, 20], "a full batch does not wait for the window"


def test_batches_without_a_window_are_at_most_the_batch_size(kit):
    url, arn = kit.queue()
    fn = kit.function(ECHO)
    kit.sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(10)])
    kit.sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"n{i}"} for i in range(7)])
    kit.mapping(fn, arn, BatchSize=4)
    until(lambda: kit.invocations(fn)["batch_size"].sum() == 17)
    assert kit.invocations(fn)["batch_size"].max() == 4


def test_fifo_keeps_each_group_in_order_and_holds_a_group_behind_its_failure(kit):
    url, arn = kit.queue(fifo=True, VisibilityTimeout=60)
    fn = kit.function(REPORT)
    entries = [("g1", "m1"), ("g2", "n1"), ("g1", "bad-m2"), ("g2", "n2"), ("g1", "m3")]
    kit.sqs.send_message_batch(QueueUrl=url, Entries=[  # (moto sets SequenceNumber only with an explicit id)
        {"Id": str(i), "MessageBody": body, "MessageGroupId": group, "MessageDeduplicationId": body}
        for i, (group, body) in enumerate(entries)])
    kit.mapping(fn, arn, FunctionResponseTypes=["ReportBatchItemFailures"])
    first = [r["body"] for r in kit.events(fn)[0]["Records"]]
    assert first == ["m1", "n1", "bad-m2", "n2", "m3"]
    assert depth(kit, url) == (0, 2), "m3 stays behind bad-m2 although the function did not report it"
    kit.cloud.clock.advance(61)
    second = kit.events(fn)[-1]["Records"]
    assert [r["body"] for r in second] == ["bad-m2", "m3"]
    assert [r["attributes"]["MessageGroupId"] for r in second] == ["g1", "g1"]
    assert list(second[0]["attributes"]) == ["ApproximateReceiveCount", "SentTimestamp", "SequenceNumber",
                                             "MessageGroupId", "SenderId", "MessageDeduplicationId",
                                             "ApproximateFirstReceiveTimestamp"]
    assert depth(kit, url) == (0, 0)


def test_filtered_out_messages_are_deleted_and_json_bodies_match_as_json(kit):
    url, arn = kit.queue()
    fn = kit.function(ECHO)
    kit.sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"kind": "order", "total": 12}))
    kit.sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"kind": "refund"}))
    kit.sqs.send_message(QueueUrl=url, MessageBody="kind order")
    kit.mapping(fn, arn, FilterCriteria={"Filters": [
        {"Pattern": json.dumps({"body": {"kind": ["order"], "total": [{"numeric": [">", 10]}]}})}]})
    kit.settle()
    bodies = [r["body"] for e in kit.events(fn) for r in e["Records"]]
    assert bodies == [json.dumps({"kind": "order", "total": 12})]
    assert depth(kit, url) == (0, 0), "filtered-out messages are deleted"


def test_a_plain_string_filter_matches_plain_bodies_only(kit):
    url, arn = kit.queue()
    fn = kit.function(ECHO)
    kit.sqs.send_message(QueueUrl=url, MessageBody="plain-string")
    kit.sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"valid-json-key": "plain-string"}))
    kit.mapping(fn, arn, FilterCriteria={"Filters": [{"Pattern": json.dumps({"body": ["plain-string"]})}]})
    kit.settle()
    assert [r["body"] for e in kit.events(fn) for r in e["Records"]] == ["plain-string"]


def test_disable_stops_polling_and_enable_resumes(kit):
    url, arn = kit.queue()
    fn = kit.function(ECHO)
    mapping = kit.mapping(fn, arn)
    assert kit.lam.update_event_source_mapping(UUID=mapping, Enabled=False)["State"] == "Disabling"
    kit.settle()
    until(lambda: kit.lam.get_event_source_mapping(UUID=mapping)["State"] == "Disabled")
    kit.sqs.send_message(QueueUrl=url, MessageBody="waits")
    kit.settle()
    assert kit.invocations(fn).empty and depth(kit, url) == (1, 0)
    assert kit.lam.update_event_source_mapping(UUID=mapping, Enabled=True)["State"] == "Enabling"
    kit.settle()
    assert kit.lam.get_event_source_mapping(UUID=mapping)["State"] == "Enabled"
    assert len(kit.invocations(fn)) == 1 and depth(kit, url) == (0, 0)


def test_an_update_takes_effect_with_the_next_batch(kit):
    url, arn = kit.queue()
    first, second = kit.function(ECHO), kit.function(ECHO)
    mapping = kit.mapping(first, arn)
    kit.sqs.send_message(QueueUrl=url, MessageBody="one")
    kit.settle()
    answer = kit.lam.update_event_source_mapping(UUID=mapping, FunctionName=second, BatchSize=5)
    assert answer["State"] == "Updating" and answer["FunctionArn"].endswith(f":function:{second}")
    kit.settle()
    assert kit.lam.get_event_source_mapping(UUID=mapping)["State"] == "Enabled"
    kit.sqs.send_message(QueueUrl=url, MessageBody="two")
    kit.settle()
    assert len(kit.invocations(first)) == 1 and len(kit.invocations(second)) == 1


def test_delete_while_polling_ends_the_poller_and_leaves_the_messages(kit):
    url, arn = kit.queue()
    fn = kit.function("import time\ndef handler(event, context):\n    time.sleep(0.5)\n")
    mapping = kit.mapping(fn, arn)
    kit.sqs.send_message(QueueUrl=url, MessageBody="in flight")
    until(lambda: depth(kit, url) == (0, 1))
    assert kit.lam.delete_event_source_mapping(UUID=mapping)["State"] == "Deleting"
    until(lambda: not kit.lam.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"])
    with pytest.raises(kit.lam.exceptions.ResourceNotFoundException):
        kit.lam.get_event_source_mapping(UUID=mapping)
    assert not [t for t in threading.enumerate() if mapping[:8] in t.name]
    kit.sqs.send_message(QueueUrl=url, MessageBody="after")
    kit.settle()
    assert len(kit.invocations(fn)) == 1 and depth(kit, url)[0] == 1


def test_a_role_that_loses_its_permission_stops_polling(kit):
    iam = kit.cloud.client("iam")
    role = lambdalab.packaging.execution_role(iam, "sqs-then-nothing",
                                              "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole")
    url, arn = kit.queue()
    fn = kit.function(ECHO, Role=role)
    kit.mapping(fn, arn)
    iam.detach_role_policy(RoleName="sqs-then-nothing",
                           PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole")
    kit.sqs.send_message(QueueUrl=url, MessageBody="unread")
    kit.settle()
    assert kit.invocations(fn).empty


def test_the_poller_scales_up_each_minute_while_a_backlog_lasts():
    quotas = {"esm_sqs_initial_concurrency": 2, "esm_sqs_scale_up_per_minute": 2, "esm_concurrency_machine_max": 6}
    with lambdalab.start(quotas=quotas) as cloud:
        kit = Kit(cloud)
        url, arn = kit.queue()
        fn = kit.function("import time\ndef handler(event, context):\n    time.sleep(0.05)\n")
        for b in range(8):
            kit.sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"{b}-{i}"}
                                                               for i in range(10)])
        mapping = kit.mapping(fn, arn, BatchSize=1)
        cloud.clock.advance(60)
        cloud.clock.advance(60)
        until(lambda: depth(kit, url) == (0, 0), timeout=60)

        def history():
            frame = cloud.pollers.scaling()
            return frame[frame["mapping"] == mapping]

        until(lambda: history()["target"].iloc[-1] == 2)  # the empty receive after the last batch scales down
        scaling = history()
        targets = [t for i, t in enumerate(scaling["target"]) if i == 0 or t != scaling["target"].iloc[i - 1]]
        assert targets == [2, 4, 6, 2], f"2 at first, 2 more per minute, 2 again once the queue is empty: {targets}"
        started = scaling["running"].diff() > 0  # a batch starts only under the limit (after a scale-down the
        assert (scaling["running"] <= scaling["limit"])[started].all()  # running ones may still finish)
        assert scaling["limit"].max() == 6
        assert scaling["running"].max() > 2, "more batches ran at once once it scaled"


def test_maximum_concurrency_caps_the_batches_running(kit):
    url, arn = kit.queue()
    fn = kit.function("import time\ndef handler(event, context):\n    time.sleep(0.05)\n")
    for b in range(3):
        kit.sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"{b}-{i}"} for i in range(10)])
    mapping = kit.mapping(fn, arn, BatchSize=1, ScalingConfig={"MaximumConcurrency": 2})
    until(lambda: depth(kit, url) == (0, 0))
    scaling = kit.cloud.pollers.scaling()
    scaling = scaling[scaling["mapping"] == mapping]
    assert scaling["running"].max() == 2 and set(scaling["limit"]) == {2}


def test_an_idle_poller_uses_no_cpu(kit):
    _, arn = kit.queue()
    mapping = kit.mapping(kit.function(ECHO), arn, MaximumBatchingWindowInSeconds=1)
    ids = {t.native_id for t in threading.enumerate() if mapping[:8] in t.name}
    assert ids

    def cpu() -> float:
        return sum(t.user_time + t.system_time for t in psutil.Process().threads() if t.id in ids)

    before = cpu()
    threading.Event().wait(0.5)  # half a second of an idle queue, by design
    assert cpu() - before < 0.01


def test_a_mapping_in_another_region_reads_that_regions_queue_and_runs_there(cloud, kit):
    eu_lam, eu_sqs = cloud.client("lambda", region_name="eu-west-1"), cloud.client("sqs", region_name="eu-west-1")
    name = f"eu-{uuid.uuid4().hex[:8]}"
    source = ("import json, os\ndef handler(event, context):\n    print(json.dumps({'region': os.environ["
              "'AWS_REGION'], 'arn': context.invoked_function_arn, 'records': event['Records']}))\n")
    eu_lam.create_function(FunctionName=name, Runtime="python3.12", Role=kit.role, Handler="app.handler",
                           Code={"ZipFile": zip_files(source)})
    url = eu_sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:10]}")["QueueUrl"]
    arn = eu_sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert ":eu-west-1:" in arn
    mapping = eu_lam.create_event_source_mapping(FunctionName=name, EventSourceArn=arn, BatchSize=1)
    assert mapping["FunctionArn"].startswith("arn:aws:lambda:eu-west-1:")
    assert kit.lam.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"] == []  # us-east-1 has none
    try:
        eu_sqs.send_message(QueueUrl=url, MessageBody="from Ireland")
        kit.settle()
        def ran():
            frame = cloud.invocations()
            return frame[frame["function_arn"] == mapping["FunctionArn"]]

        until(lambda: len(ran()))
        frame = ran()
        assert frame["invocation_model"].tolist() == ["poll"] and frame["event_source_arn"].tolist() == [arn]
        cloud.logs.flush()
        logs = cloud.client("logs", region_name="eu-west-1")
        [printed] = [json.loads(e["message"]) for e in logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")[
            "events"] if e["message"].startswith("{")]
        assert printed["region"] == "eu-west-1" and printed["arn"] == mapping["FunctionArn"]
        assert [(r["body"], r["awsRegion"], r["eventSourceARN"]) for r in printed["records"]] == \
               [("from Ireland", "eu-west-1", arn)]
    finally:
        eu_lam.delete_event_source_mapping(UUID=mapping["UUID"])
        kit.settle()
        eu_lam.delete_function(FunctionName=name)
