"""The asynchronous queue: retries on the cloud's clock, backoff after throttles, the event's age, and
every event accounted for.  Hours of AWS's behaviour are played with ``cloud.clock.advance``."""

from __future__ import annotations

import json
import logging
import threading
from datetime import timedelta

import pandas as pd
import pytest
from deploy import Deployer
from gate import TEST_ISOLATION, listener

import lambdalab
from lambdalab.packaging import execution_role

SOURCE = """
def handler(event, context):
    if event.get("fail"):
        raise ValueError(event.get("message", "asked to fail"))
    return {"ok": event.get("i")}
"""
HOLDER = """
import socket

def handler(event, context):
    if "hold" in event:  # keep the invocation (and its concurrency) until the test sends a byte
        socket.create_connection(("127.0.0.1", event["hold"])).recv(1)
    return "released"
"""


def send(lam, name: str, event: dict | None = None, **kwargs) -> str:
    """Invoke(Event); the request id of the event."""
    response = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(event or {}), **kwargs)
    assert response["StatusCode"] == 202
    return response["ResponseMetadata"]["RequestId"]


def attempts(cloud, request_id: str):
    """The event's attempts in cloud.invocations(), in order."""
    frame = cloud.invocations()
    return frame[frame["request_id"] == request_id].sort_values("start").reset_index(drop=True)


def event_row(cloud, request_id: str):
    return cloud.async_events().set_index("request_id").loc[request_id]


def waits(row) -> list[float]:
    """The delays the queue chose for an event, from its history ("... back in 4 s", "retry 1 in 60 s")."""
    return [float(what.rsplit(" in ", 1)[1].removesuffix(" s")) for _, what in row["history"] if " in " in what]


def test_a_function_error_is_retried_twice_one_then_two_minutes_later(fn, cloud):
    name = fn.create(SOURCE)
    request_id = send(fn.lam, name, {"fail": True})
    cloud.clock.advance()  # no time passes: the first attempt runs (advance waits for it)
    assert list(attempts(cloud, request_id)["attempt"]) == [1]
    row = event_row(cloud, request_id)
    assert row["state"] == "waiting"
    scheduled = next(at for at, what in row["history"] if what == "retry 1 in 60 s")  # real time passes too
    cloud.clock.advance(seconds=(scheduled + timedelta(seconds=60) - cloud.clock.now()).total_seconds() - 5)
    assert len(attempts(cloud, request_id)) == 1, "retried before a minute had passed"
    cloud.clock.advance(seconds=6)
    assert len(attempts(cloud, request_id)) == 2
    cloud.clock.advance(minutes=2)
    runs = attempts(cloud, request_id)
    assert list(runs["attempt"]) == [1, 2, 3]
    assert set(runs["request_id"]) == {request_id} and set(runs["invocation_model"]) == {"async"}
    assert set(runs["invocation_type"]) == {"Event"} and set(runs["error_type"]) == {"ValueError"}
    ends = runs["start"] + pd.to_timedelta(runs["duration_ms"], unit="ms")
    first_wait, second_wait = (runs["start"][1:].reset_index(drop=True) - ends[:-1]).tolist()  # failure to retry
    assert timedelta(seconds=60) <= first_wait < timedelta(seconds=65)
    assert timedelta(seconds=120) <= second_wait < timedelta(seconds=125)
    row = event_row(cloud, request_id)
    assert (row["state"], row["condition"], row["attempts"], row["throttles"]) == ("failed", "RetriesExhausted", 3, 0)
    assert waits(row) == [60, 120]


def test_one_advance_plays_every_retry_at_its_time(fn, cloud):
    name = fn.create(SOURCE)
    request_id = send(fn.lam, name, {"fail": True})
    cloud.clock.advance(minutes=4)  # the retries are scheduled as the attempts fail, inside this advance
    assert list(attempts(cloud, request_id)["attempt"]) == [1, 2, 3]
    assert event_row(cloud, request_id)["condition"] == "RetriesExhausted"


@pytest.mark.parametrize("retries", [0, 1])
def test_maximum_retry_attempts(fn, cloud, retries):
    name = fn.create(SOURCE)
    fn.lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=retries)
    request_id = send(fn.lam, name, {"fail": True})
    cloud.clock.advance(minutes=10)
    assert list(attempts(cloud, request_id)["attempt"]) == list(range(1, retries + 2))
    row = event_row(cloud, request_id)
    assert (row["condition"], row["attempts"]) == ("RetriesExhausted", retries + 1)


def test_a_retry_that_would_end_past_the_event_age_is_not_made(fn, cloud):
    """As AWS does (LocalStack's AWS-validated test_maxeventage): with 60 s of age the first retry, due
    60 s after the failure, is never scheduled; with 90 s the first is made and the second is not."""
    name = fn.create(SOURCE)
    fn.lam.put_function_event_invoke_config(FunctionName=name, MaximumEventAgeInSeconds=60)
    first = send(fn.lam, name, {"fail": True})
    cloud.clock.advance()  # no time passes
    row = event_row(cloud, first)
    assert (row["state"], row["condition"], row["attempts"]) == ("failed", "EventAgeExceeded", 1)
    fn.lam.update_function_event_invoke_config(FunctionName=name, MaximumEventAgeInSeconds=90)
    second = send(fn.lam, name, {"fail": True})
    cloud.clock.advance(minutes=5)
    row = event_row(cloud, second)
    assert (row["condition"], row["attempts"]) == ("EventAgeExceeded", 2)
    assert len(attempts(cloud, second)) == 2


def test_the_settings_of_what_was_invoked_apply(fn, cloud):
    """$LATEST, a version and an alias each have their own EventInvokeConfig (or AWS's defaults)."""
    name = fn.create(SOURCE)
    version = fn.lam.publish_version(FunctionName=name)["Version"]
    fn.lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    fn.lam.put_function_event_invoke_config(FunctionName=name, Qualifier=version, MaximumRetryAttempts=1)
    fn.lam.put_function_event_invoke_config(FunctionName=name, Qualifier="live", MaximumRetryAttempts=0)
    latest = send(fn.lam, name, {"fail": True})
    by_version = send(fn.lam, name, {"fail": True}, Qualifier=version)
    by_alias = send(fn.lam, f"{name}:live", {"fail": True})
    cloud.clock.advance(minutes=5)
    assert [len(attempts(cloud, r)) for r in (latest, by_version, by_alias)] == [3, 2, 1]
    assert set(attempts(cloud, by_alias)["version"]) == {version}


def test_an_event_for_a_deleted_function_is_dropped_with_its_reason(fn, cloud):
    name = fn.create(SOURCE)
    request_id = send(fn.lam, name, {"fail": True})
    cloud.clock.advance()
    fn.lam.delete_function(FunctionName=name)
    cloud.clock.advance(minutes=2)
    row = event_row(cloud, request_id)
    assert (row["state"], row["attempts"]) == ("dropped", 1)
    assert row["reason"] == f"Function not found: arn:aws:lambda:us-east-1:123456789012:function:{name}:$LATEST"


def test_async_metrics(fn, cloud):
    name = fn.create(SOURCE)
    fn.lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    send(fn.lam, name, {"i": 1})
    send(fn.lam, name, {"fail": True})
    cloud.clock.advance()
    cloud.metrics.flush()
    now = cloud.clock.now()

    def total(metric: str, statistic: str = "Sum") -> float:
        points = cloud.client("cloudwatch").get_metric_statistics(
            Namespace="AWS/Lambda", MetricName=metric, Statistics=[statistic], Period=3600,
            StartTime=now - timedelta(minutes=10), EndTime=now + timedelta(minutes=10),
            Dimensions=[{"Name": "FunctionName", "Value": name}, {"Name": "Resource", "Value": name}])["Datapoints"]
        return sum(p[statistic] for p in points)

    assert (total("AsyncEventsReceived"), total("AsyncEventsDropped"), total("AsyncEventAge", "SampleCount")) == \
           (2, 1, 2)
    assert total("Invocations") == 2


def test_records_say_how_each_invocation_was_made(fn, cloud):
    name = fn.create(SOURCE)
    sync_id = fn.invoke(name)["ResponseMetadata"]["RequestId"]
    async_id = send(fn.lam, name)
    cloud.clock.advance()
    frame = cloud.invocations().set_index("request_id")
    assert {"invocation_model", "attempt"} <= set(frame.columns)
    assert (frame.loc[sync_id, "invocation_model"], frame.loc[sync_id, "attempt"]) == ("sync", 1)
    assert (frame.loc[async_id, "invocation_model"], frame.loc[async_id, "attempt"]) == ("async", 1)


# -- throttles: the account's concurrency ---------------------------------------------------------------
def test_a_throttled_event_backs_off_and_runs_once_concurrency_is_free():
    """The account may run one invocation; a synchronous one holds it while an event comes."""
    with lambdalab.start(quotas={"concurrent_executions": 1}, isolation=TEST_ISOLATION) as cloud:
        fn = Deployer(cloud)
        holder, other = fn.create(HOLDER), fn.create(SOURCE)
        server = listener()  # on a port the handler may connect to
        caller = threading.Thread(target=fn.invoke, args=(holder, {"hold": server.getsockname()[1]}),
                                  name="test-holder")
        caller.start()
        connection = server.accept()[0]  # the holder runs: the account's one unit is taken
        try:
            request_id = send(fn.lam, other, {"i": 7})
            cloud.clock.advance(seconds=10)
            row = event_row(cloud, request_id)
            assert (row["state"], row["attempts"], row["throttles"]) == ("waiting", 0, 4)
            assert waits(row) == [1, 2, 4, 8]
            assert all("throttled (ConcurrentInvocationLimitExceeded)" in what for _, what in row["history"][1:])
        finally:
            connection.sendall(b"x")
            caller.join(10)
            server.close()
        cloud.clock.advance(seconds=10)
        row = event_row(cloud, request_id)
        assert (row["state"], row["condition"], row["attempts"], row["throttles"]) == ("succeeded", "Success", 1, 4)


def test_backoff_doubles_up_to_five_minutes_and_expires_with_the_event_age():
    with lambdalab.start(quotas={"concurrent_executions": 0}) as cloud:
        fn = Deployer(cloud)
        patient, hasty = fn.create(SOURCE), fn.create(SOURCE)
        fn.lam.put_function_event_invoke_config(FunctionName=hasty, MaximumEventAgeInSeconds=60)
        waiting, expiring = send(fn.lam, patient), send(fn.lam, hasty)
        cloud.clock.advance(minutes=30)
        row = event_row(cloud, waiting)
        assert row["state"] == "waiting"  # 511 s of doubling, then 300 s at a time: the 14th wait began at 1,711 s
        assert waits(row) == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300, 300, 300]
        row = event_row(cloud, expiring)  # throttled 6 times: after the 6th, 31 s old, 32 more would pass its 60 s
        assert (row["state"], row["condition"], row["attempts"], row["throttles"]) == \
               ("failed", "EventAgeExceeded", 0, 6)
        assert waits(row) == [1, 2, 4, 8, 16]
        cloud.quotas.set(concurrent_executions=10)
        cloud.clock.advance(minutes=5)
        row = event_row(cloud, waiting)
        assert (row["state"], row["attempts"], row["throttles"]) == ("succeeded", 1, 14)


def test_stop_says_how_many_events_were_still_queued(caplog):
    cloud = lambdalab.start(quotas={"concurrent_executions": 0})
    fn = Deployer(cloud)
    name = fn.create(SOURCE)
    ids = [send(fn.lam, name, {"i": i}) for i in range(3)]
    cloud.clock.advance()
    with caplog.at_level(logging.WARNING, logger="lambdalab.invoke.async_queue"):
        cloud.stop()
    assert cloud.unfinished_events == 3
    assert "the cloud stopped with 3 asynchronous events unfinished (3 waiting)" in caplog.text
    rows = cloud.async_events().set_index("request_id").loc[ids]
    assert set(rows["state"]) == {"unfinished"}
    assert set(rows["reason"]) == {"the cloud stopped while it was waiting"}


def test_a_worker_survives_a_failure_of_lambdalab(monkeypatch: pytest.MonkeyPatch):
    """A failure inside lambdalab (not the function's) is a system error: the event is put back."""
    with lambdalab.start(quotas={"async_concurrency": 1}) as cloud:  # one worker: if it died, nothing would run
        fn = Deployer(cloud)
        name = fn.create(SOURCE)
        real, failed = cloud.invoker.invoke, []

        def invoke(function, inv):
            if not failed:
                failed.append(inv.request_id)
                raise KeyError("a bug in lambdalab")
            return real(function, inv)

        monkeypatch.setattr(cloud.invoker, "invoke", invoke)
        first, second = send(fn.lam, name, {"i": 1}), send(fn.lam, name, {"i": 2})
        cloud.clock.advance(seconds=5)
        assert failed == [first]
        rows = cloud.async_events().set_index("request_id")
        assert list(rows.loc[[first, second], "state"]) == ["succeeded", "succeeded"]
        assert rows.loc[first, "throttles"] == 1 and "a lambdalab error: back in 1 s" in rows.loc[first, "history"][1]


# -- nothing is lost ------------------------------------------------------------------------------------
def test_a_thousand_events_with_failures_mixed_in_are_all_accounted_for(fn, cloud):
    """Every event ends as AWS would end it: run, retried, its record at the destination, or dropped."""
    sqs = cloud.client("sqs")
    queue = sqs.create_queue(QueueName="accounting-failures")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    role = execution_role(cloud.client("iam"), "accounting-role", statements=(
        {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": queue_arn},))
    mixed, doomed = fn.create(SOURCE, Role=role), fn.create(SOURCE)
    fn.lam.put_function_event_invoke_config(FunctionName=mixed, MaximumRetryAttempts=1,
                                            DestinationConfig={"OnFailure": {"Destination": queue_arn}})
    sent = {}
    for i in range(1000):
        target = doomed if i % 10 == 9 else mixed
        sent[send(fn.lam, target, {"i": i, "fail": i % 7 == 0})] = (target, i % 7 == 0)
    cloud.clock.advance()  # every first attempt has run; the failures wait a minute for their retry
    fn.lam.delete_function(FunctionName=doomed)  # its failed events are dropped when their retry comes
    cloud.clock.advance(minutes=2)

    events = cloud.async_events().set_index("request_id").loc[list(sent)]
    runs = cloud.invocations()
    runs = runs[runs["request_id"].isin(sent)].groupby("request_id")["attempt"].max()
    expected = {rid: ("dropped" if target == doomed else "failed", 1 if target == doomed else 2) if failing
                else ("succeeded", 1) for rid, (target, failing) in sent.items()}
    assert {rid: (events.loc[rid, "state"], events.loc[rid, "attempts"]) for rid in sent} == expected
    assert {rid: runs.get(rid) for rid in sent} == {rid: attempts for rid, (_, attempts) in expected.items()}
    failed = {rid for rid, (state, _) in expected.items() if state == "failed"}
    assert set(events.loc[list(failed), "condition"]) == {"RetriesExhausted"}
    assert set(events.loc[list(failed), "destination"]) == {queue_arn}
    delivered = []
    while messages := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            delivered.append(json.loads(message["Body"])["requestContext"]["requestId"])
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    assert sorted(delivered) == sorted(failed)
    assert cloud.queue.pending() == 0
