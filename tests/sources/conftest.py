"""Fixtures of the event sources' tests: clients, and an execution role that may send the records."""

from __future__ import annotations

import pytest

from lambdalab.iam.roles import BASIC_EXECUTION
from lambdalab.packaging import execution_role


@pytest.fixture(scope="module")
def role(cloud) -> str:
    return execution_role(cloud.client("iam"), "sources-role", BASIC_EXECUTION,
                          statements=({"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"},))


@pytest.fixture
def s3(cloud):
    return cloud.client("s3")


@pytest.fixture
def sqs(cloud):
    return cloud.client("sqs")


@pytest.fixture
def sns(cloud):
    return cloud.client("sns")


@pytest.fixture(autouse=True)
def no_schedule_outlives_its_test(cloud):
    """Scheduled rules and schedules end with the test that made them: the cloud is the session's, and
    the next test that moves the clock by days would fire them all."""
    yield
    events, scheduler = cloud.client("events"), cloud.client("scheduler")
    for rule in events.list_rules()["Rules"]:
        if rule.get("ScheduleExpression"):
            targets = [t["Id"] for t in events.list_targets_by_rule(Rule=rule["Name"])["Targets"]]
            if targets:
                events.remove_targets(Rule=rule["Name"], Ids=targets)
            events.delete_rule(Name=rule["Name"])
    for schedule in scheduler.list_schedules()["Schedules"]:
        scheduler.delete_schedule(Name=schedule["Name"], GroupName=schedule.get("GroupName", "default"))
