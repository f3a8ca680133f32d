"""EventBridge → Lambda: rules on a bus deliver matching events, and scheduled rules fire on the
cloud's clock, as EventBridge does.  What a function received is read from its OnSuccess
destination's record (``requestPayload``)."""

from __future__ import annotations

import itertools
import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from deploy import ACCOUNT, judged, open_queue_to
from reporting import SOURCE, records, reporting_function

from lambdalab.sources.cron import cron_times
from lambdalab.sources.events import fill

EVENT_KEYS = {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}


@pytest.fixture
def events(cloud):
    return cloud.client("events")


def rule(lam, events, name: str, function_arn: str, allow: bool = True, target: dict | None = None,
         **definition) -> str:
    rule_name = f"r-{uuid.uuid4().hex[:8]}"
    rule_arn = events.put_rule(Name=rule_name, **definition)["RuleArn"]
    if allow:
        lam.add_permission(FunctionName=name, StatementId=rule_name, Action="lambda:InvokeFunction",
                           Principal="events.amazonaws.com", SourceArn=rule_arn, SourceAccount=ACCOUNT)
    events.put_targets(Rule=rule_name, Targets=[{"Id": "1", "Arn": function_arn, **(target or {})}])
    return rule_name


def put(events, detail: dict, source: str = "shop.orders", detail_type: str = "Order Placed") -> None:
    answer = events.put_events(Entries=[{"Source": source, "DetailType": detail_type, "Detail": json.dumps(detail)}])
    assert answer["FailedEntryCount"] == 0


def payloads(sqs, url: str, count: int) -> list:
    return [r["requestPayload"] for r in records(sqs, url, count)]


def test_a_rule_delivers_the_events_its_pattern_matches(cloud, fn, lam, events, sqs, role):
    name, function_arn, url = reporting_function(fn, lam, sqs, role)
    rule(lam, events, name, function_arn, EventPattern=json.dumps(
        {"source": ["shop.orders"], "detail": {"total": [{"numeric": [">=", 100]}], "country": [{"prefix": "F"}]}}))
    put(events, {"total": 150, "country": "France", "n": 1})
    put(events, {"total": 50, "country": "France", "n": 2})  # too small
    put(events, {"total": 500, "country": "Spain", "n": 3})  # elsewhere
    [event] = payloads(sqs, url, 1)
    assert set(event) == EVENT_KEYS
    assert (event["source"], event["detail-type"], event["detail"]["n"], event["account"], event["region"]) == \
        ("shop.orders", "Order Placed", 1, ACCOUNT, cloud.region)
    assert datetime.strptime(event["time"], "%Y-%m-%dT%H:%M:%SZ")
    assert len(fn.records(name)) == 1


def test_targets_get_input_inputpath_or_a_transformed_input(cloud, fn, lam, events, sqs, role):
    pattern = json.dumps({"source": ["shop.orders"]})
    made = {}
    for kind, target in (("input", {"Input": json.dumps({"fixed": True})}),
                         ("path", {"InputPath": "$.detail"}),
                         ("text", {"InputTransformer": {"InputPathsMap": {"who": "$.detail.customer"},
                                                        "InputTemplate": '"Order from <who>"'}}),
                         ("json", {"InputTransformer": {"InputPathsMap": {"who": "$.detail.customer",
                                                                          "total": "$.detail.total"},
                                                        "InputTemplate": '{"customer": <who>, "line": "<who> paid '
                                                                         '<total>", "total": <total>}'}})):
        name, function_arn, url = reporting_function(fn, lam, sqs, role)
        rule(lam, events, name, function_arn, target=target, EventPattern=pattern)
        made[kind] = url
    put(events, {"customer": "Ada", "total": 42})
    got = {kind: payloads(sqs, url, 1)[0] for kind, url in made.items()}
    assert got == {"input": {"fixed": True}, "path": {"customer": "Ada", "total": 42}, "text": "Order from Ada",
                   "json": {"customer": "Ada", "line": "Ada paid 42", "total": 42}}


def test_a_target_that_does_not_let_eventbridge_in_counts_a_failed_invocation(cloud, fn, lam, events):
    name = fn.create(SOURCE)
    function_arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    rule_name = rule(lam, events, name, function_arn, allow=False, EventPattern=json.dumps({"source": ["x.y"]}))
    put(events, {"a": 1}, source="x.y")
    assert fn.records(name).empty
    assert failed_invocations(cloud, rule_name) == 1


def failed_invocations(cloud, rule_name: str) -> float:
    """The rule's FailedInvocations in the hour around the cloud's now, as CloudWatch sums them."""
    start = cloud.clock.now() - timedelta(hours=1)
    stats = cloud.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/Events", MetricName="FailedInvocations", Dimensions=[{"Name": "RuleName", "Value": rule_name}],
        StartTime=start, EndTime=start + timedelta(hours=2), Period=3600, Statistics=["Sum"])
    return sum(p["Sum"] for p in stats["Datapoints"])


def test_a_queue_receives_a_rules_events_only_once_its_policy_lets_eventbridge_in(cloud, events, sqs):
    # a target added through the API, as here, gets no statement in the queue's policy (the console writes one)
    url = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule_name = f"r-{uuid.uuid4().hex[:8]}"
    rule_arn = events.put_rule(Name=rule_name, EventPattern=json.dumps({"source": ["x.queue"]}))["RuleArn"]
    events.put_targets(Rule=rule_name, Targets=[{"Id": "queue", "Arn": queue_arn}])
    put(events, {"n": 1}, source="x.queue")
    assert "Messages" not in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    assert failed_invocations(cloud, rule_name) == 1
    assert judged(cloud, "events.amazonaws.com", queue_arn) == [("sqs:SendMessage", False)]
    open_queue_to(sqs, url, "events.amazonaws.com", rule_arn)
    put(events, {"n": 2}, source="x.queue")
    [message] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert json.loads(message["Body"])["detail"] == {"n": 2}
    assert failed_invocations(cloud, rule_name) == 1


def test_an_hourly_schedule_fires_24_times_in_a_day_of_cloud_time(cloud, fn, lam, events, sqs, role):
    name, function_arn, url = reporting_function(fn, lam, sqs, role)
    rule_name = rule(lam, events, name, function_arn, ScheduleExpression="cron(0 * * * ? *)")
    cloud.clock.advance(hours=24)
    fired = payloads(sqs, url, 24)
    assert {e["detail-type"] for e in fired} == {"Scheduled Event"} and {e["source"] for e in fired} == {"aws.events"}
    assert all(e["resources"] == [f"arn:aws:events:{cloud.region}:{ACCOUNT}:rule/{rule_name}"] for e in fired)
    times = sorted(datetime.strptime(e["time"], "%Y-%m-%dT%H:%M:%SZ") for e in fired)
    assert all(t.minute == 0 and t.second == 0 for t in times)
    assert [b - a for a, b in itertools.pairwise(times)] == [timedelta(hours=1)] * 23
    events.disable_rule(Name=rule_name)
    cloud.clock.advance(hours=3)  # a disabled rule fires no more
    assert len(fn.records(name)) == 24


def test_a_rate_schedule_fires_every_period_after_it_is_created(cloud, fn, lam, events, sqs, role):
    name, function_arn, url = reporting_function(fn, lam, sqs, role)
    rule(lam, events, name, function_arn, ScheduleExpression="rate(10 minutes)")
    cloud.clock.advance(minutes=35)
    assert len(payloads(sqs, url, 3)) == 3


def utc(*args) -> float:
    return datetime(*args, tzinfo=timezone.utc).timestamp()


def when(fields: str, after: float, n: int = 3) -> list[str]:
    moments = cron_times(fields, after)
    return [datetime.fromtimestamp(next(moments), timezone.utc).strftime("%a %Y-%m-%d %H:%M") for _ in range(n)]


def test_aws_cron_fields_as_aws_documents_them():
    start = utc(2026, 12, 5)  # a Saturday
    # weekdays at noon: AWS numbers days 1 (SUN) to 7 (SAT), so 2-6 is MON-FRI
    assert when("0 12 ? * 2-6 *", start) == ["Mon 2026-12-07 12:00", "Tue 2026-12-08 12:00", "Wed 2026-12-09 12:00"]
    assert when("0 12 ? * MON-FRI *", start, 1) == ["Mon 2026-12-07 12:00"]
    assert when("15 10 ? * 6#3 *", start, 2) == ["Fri 2026-12-18 10:15", "Fri 2027-01-15 10:15"]  # third Friday
    assert when("0 18 ? * 6L *", start, 2) == ["Fri 2026-12-25 18:00", "Fri 2027-01-29 18:00"]  # last Friday
    assert when("0 8 L * ? *", start, 2) == ["Thu 2026-12-31 08:00", "Sun 2027-01-31 08:00"]  # last day
    assert when("0 9 16W * ? *", utc(2027, 1, 1), 1) == ["Fri 2027-01-15 09:00"]  # 16 Jan 2027 is a Saturday


def test_a_cron_year_that_has_passed_ends_the_schedule():
    assert list(cron_times("0 0 1 1 ? 2025", utc(2026, 1, 1))) == []
    assert when("0 0 1 1 ? 2028-2029", utc(2026, 12, 5), 2) == ["Sat 2028-01-01 00:00", "Mon 2029-01-01 00:00"]


def test_input_templates_quote_strings_outside_quotes_only():
    values = {"name": "Ada", "n": 3, "obj": {"a": 1}}
    assert fill('{"who": <name>, "line": "<name> x<n>", "o": <obj>, "k": "<missing>"}', values) == \
        '{"who": "Ada", "line": "Ada x3", "o": {"a": 1}, "k": "<missing>"}'
