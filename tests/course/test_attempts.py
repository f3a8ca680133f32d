"""The attempts timeline, in the kernel (no browser): its rows, markers, waits and endings come from the
records and the asynchronous events of a real run, on the cloud's clock."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from deploy import Deployer

from lambdalab.course import queue
from lambdalab.iam.roles import BASIC_EXECUTION
from lambdalab.packaging import execution_role
from lambdalab.widgets.attempts import attempts_timeline, points

FAILS = """
import json

def handler(event, context):
    orders = [json.loads(r["body"]) for r in event["Records"]] if "Records" in event else [event]
    if any(order.get("fail") for order in orders):
        raise ValueError("asked to fail")
    return "ok"
"""
POLICIES = "arn:aws:iam::aws:policy/service-role/"


@pytest.fixture(scope="module")
def run(cloud):
    """One function invoked three ways: two synchronous calls, an asynchronous event that fails three times
    and ends at an on-failure destination, and an SQS mapping whose first batch of 2 succeeds and whose failing
    message comes back once after its visibility timeout."""
    role = execution_role(cloud.client("iam"), "attempts-widget-role", BASIC_EXECUTION,
                          POLICIES + "AWSLambdaSQSQueueExecutionRole",
                          statements=({"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"},))
    fn = Deployer(cloud)
    name = fn.create(FAILS, Role=role)
    lam, sqs = cloud.client("lambda"), cloud.client("sqs")
    fn.invoke(name, {"fail": True})
    fn.invoke(name, {})
    _, failed_arn = queue(sqs, f"{name}-failed")
    lam.put_function_event_invoke_config(FunctionName=name,
                                         DestinationConfig={"OnFailure": {"Destination": failed_arn}})
    event_id = lam.invoke(FunctionName=name, InvocationType="Event",
                          Payload=json.dumps({"fail": True}))["ResponseMetadata"]["RequestId"]
    cloud.clock.advance(minutes=4)
    url, arn = queue(sqs, f"{name}-source", VisibilityTimeout=30)
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "1", "MessageBody": "{}"}, {"Id": "2", "MessageBody": "{}"}])
    mapping = lam.create_event_source_mapping(FunctionName=name, EventSourceArn=arn)["UUID"]
    cloud.clock.advance(0)
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"fail": True}))
    cloud.clock.advance(40)  # received, failed, visible again after 30 s, received and failed again
    lam.delete_event_source_mapping(UUID=mapping)
    cloud.clock.advance(0)
    return name, event_id, mapping, failed_arn


def figure(cloud, name):
    return attempts_timeline(cloud.invocations(), cloud.async_events(), function=name)


def test_one_row_per_caller_in_the_order_they_first_called(cloud, run):
    name, event_id, mapping, _ = run
    fig = figure(cloud, name)
    assert list(fig.layout.yaxis.categoryarray) == ["sync callers", f"async event {event_id[:8]}",
                                                    f"poller {mapping[:8]}"]
    assert "8 invocations" in fig.layout.title.text  # 2 synchronous, 3 attempts of the event, 3 batches


def test_each_invocation_is_a_marker_on_its_callers_row_labelled_with_its_attempt_or_batch(cloud, run):
    name, event_id, mapping, _ = run
    fig = figure(cloud, name)
    event_row, poller_row = f"async event {event_id[:8]}", f"poller {mapping[:8]}"
    assert sorted(points(fig, "failed")) == sorted([("sync callers", ""), (event_row, "1"), (event_row, "2"),
                                                    (event_row, "3"), (poller_row, "n=1"), (poller_row, "n=1")])
    assert points(fig, "succeeded") == [("sync callers", ""), (poller_row, "n=2")]
    records = cloud.invocations()
    records = records[records["function"] == name].sort_values("start")
    drawn = sorted(pd.Timestamp(x) for trace in fig.data if trace.name in ("failed", "succeeded") for x in trace.x)
    assert drawn == list(records["start"].dt.tz_convert(None)), "a marker is at its invocation's start"
    assert all(isinstance(x, str) for trace in fig.data for x in trace.x), "dates go to plotly.js as strings"


def test_labels_go_below_and_above_by_turns_along_a_row_and_the_legend_shows(cloud, run):
    """Retries a second apart on an axis of minutes: their labels alternate, so that "n=8" never runs into
    the next one; the legend shows even when every invocation failed (one trace)."""
    name, event_id, _, _ = run
    fig = figure(cloud, name)
    event_row = f"async event {event_id[:8]}"
    along = sorted((pd.Timestamp(x), position) for trace in fig.data if trace.name in ("failed", "succeeded")
                   for x, row, position in zip(trace.x, trace.y, trace.textposition, strict=True) if row == event_row)
    assert [position for _, position in along] == ["bottom center", "top center", "bottom center"]
    assert fig.layout.showlegend is True


def test_an_events_waits_are_measured_from_one_attempts_end_to_the_next_ones_start(cloud, run):
    name, event_id, _, _ = run
    fig = figure(cloud, name)
    event_row = f"async event {event_id[:8]}"
    assert points(fig, "waits") == [(event_row, "+60 s"), (event_row, "+120 s")], "only an event's attempts"


def test_an_event_shows_its_202_and_where_it_ended(cloud, run):
    name, event_id, _, failed_arn = run
    fig = figure(cloud, name)
    event_row = f"async event {event_id[:8]}"
    assert points(fig, "accepted") == [(event_row, "202 Accepted")]
    assert points(fig, "ended") == [(event_row, "RetriesExhausted: record → destination")]
    event = cloud.async_events().set_index("request_id").loc[event_id]
    assert event["destination"] == failed_arn and pd.isna(event["destination_error"])
    (ended,) = [t for t in fig.data if t.name == "ended"]
    assert pd.Timestamp(ended.x[0]) == event["finished"].tz_convert(None)


def test_without_events_only_the_invocations_are_drawn(cloud, run):
    name, *_ = run
    fig = attempts_timeline(cloud.invocations(), function=name)
    assert {t.name for t in fig.data} == {"succeeded", "failed"}


def test_several_functions_name_their_rows(cloud, run, fn):
    name, event_id, *_ = run
    other = fn.create("def handler(event, context):\n    return 1\n")
    fn.invoke(other)
    records = cloud.invocations()
    fig = attempts_timeline(records[records["function"].isin([name, other])])
    rows = list(fig.layout.yaxis.categoryarray)
    assert f"{name} · async event {event_id[:8]}" in rows and f"{other} · sync callers" in rows


def test_no_invocations_says_so(cloud):
    fig = attempts_timeline(cloud.invocations(), cloud.async_events(), function="never-invoked")
    assert not fig.data and fig.layout.annotations[0].text == "no invocations yet"
