"""EventBridge Scheduler → Lambda: schedules fire on the cloud's clock, in their time zone, as the
target's role.  What a function received is read from its OnSuccess destination's record."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from reporting import records, reporting_function

SCHEDULER_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "scheduler.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


@pytest.fixture
def scheduler(cloud):
    return cloud.client("scheduler")


def scheduler_role(cloud, trusted: bool = True, may_invoke: bool = True) -> str:
    iam = cloud.client("iam")
    name = f"sched-{uuid.uuid4().hex[:8]}"
    trust = SCHEDULER_TRUST if trusted else {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    if may_invoke:
        iam.put_role_policy(RoleName=name, PolicyName="invoke", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": "*"}]}))
    return arn


def schedule(scheduler, expression: str, function_arn: str, role_arn: str, **extra) -> str:
    name = f"s-{uuid.uuid4().hex[:8]}"
    scheduler.create_schedule(Name=name, ScheduleExpression=expression,
                              FlexibleTimeWindow=extra.pop("FlexibleTimeWindow", {"Mode": "OFF"}),
                              Target={"Arn": function_arn, "RoleArn": role_arn, **extra.pop("Target", {})}, **extra)
    return name


def test_a_one_time_schedule_fires_in_its_time_zone_then_deletes_itself(cloud, fn, lam, sqs, role, scheduler):
    name, function_arn, url = reporting_function(fn, lam, sqs, role)
    paris = ZoneInfo("Europe/Paris")
    tomorrow_8 = (cloud.clock.now().astimezone(paris) + timedelta(days=1)).replace(hour=8, minute=0, second=0,
                                                                                   microsecond=0)
    schedule_name = schedule(
        scheduler, f"at({tomorrow_8:%Y-%m-%dT%H:%M:%S})", function_arn, scheduler_role(cloud),
        ScheduleExpressionTimezone="Europe/Paris", ActionAfterCompletion="DELETE",
        Target={"Input": json.dumps({"job": "report", "at": "<aws.scheduler.scheduled-time>",
                                     "schedule": "<aws.scheduler.schedule-arn>"})})
    arn = scheduler.get_schedule(Name=schedule_name)["Arn"]
    cloud.clock.advance(hours=48)
    [record] = records(sqs, url, 1)
    event = record["requestPayload"]
    assert event["job"] == "report" and event["schedule"] == arn
    assert datetime.strptime(event["at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc) == tomorrow_8
    with pytest.raises(scheduler.exceptions.ResourceNotFoundException):
        scheduler.get_schedule(Name=schedule_name)
    assert len(fn.records(name)) == 1


def test_a_weekday_cron_fires_at_nine_new_york_time(cloud, fn, lam, sqs, role, scheduler):
    _, function_arn, url = reporting_function(fn, lam, sqs, role)
    schedule(scheduler, "cron(0 9 ? * MON-FRI *)", function_arn, scheduler_role(cloud),
             ScheduleExpressionTimezone="America/New_York",
             Target={"Input": json.dumps({"at": "<aws.scheduler.scheduled-time>"})})
    cloud.clock.advance(hours=24 * 7)
    fired = [datetime.strptime(r["requestPayload"]["at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
             for r in records(sqs, url, 5)]
    local = sorted(t.astimezone(ZoneInfo("America/New_York")) for t in fired)
    assert [t.hour for t in local] == [9] * 5 and all(t.minute == 0 for t in local)
    assert sorted(t.strftime("%a") for t in local) == sorted(["Mon", "Tue", "Wed", "Thu", "Fri"])


def test_a_flexible_window_moves_each_firing_within_it(cloud, fn, lam, sqs, role, scheduler):
    _, function_arn, url = reporting_function(fn, lam, sqs, role)
    schedule(scheduler, "rate(1 hour)", function_arn, scheduler_role(cloud),
             FlexibleTimeWindow={"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15},
             Target={"Input": json.dumps({"at": "<aws.scheduler.scheduled-time>"})})
    start = cloud.clock.time()
    cloud.clock.advance(hours=5, minutes=20)
    fired = sorted(datetime.strptime(r["requestPayload"]["at"], "%Y-%m-%dT%H:%M:%SZ").timestamp()
                   for r in records(sqs, url, 5))
    for n, when in enumerate(fired, 1):
        assert start + 3600 * n - 1 <= when <= start + 3600 * n + 15 * 60


def test_a_role_that_scheduler_cannot_assume_or_that_may_not_invoke_invokes_nothing(cloud, fn, lam, scheduler):
    name = fn.create("def handler(event, context):\n    return 1\n")
    function_arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    schedule(scheduler, "rate(5 minutes)", function_arn, scheduler_role(cloud, trusted=False))
    schedule(scheduler, "rate(5 minutes)", function_arn, scheduler_role(cloud, may_invoke=False))
    cloud.clock.advance(minutes=6)
    assert fn.records(name).empty
    denied = [j for j in cloud.authorizer.judgements() if j.action == "lambda:InvokeFunction"
              and j.resource.startswith(function_arn) and ":assumed-role/sched-" in j.principal]
    assert denied and not any(j.allowed for j in denied)
