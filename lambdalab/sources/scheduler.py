"""EventBridge Scheduler's schedules that invoke functions: ``at(...)``, ``rate(...)`` and ``cron(...)``
in a time zone, fired on the cloud's clock by :mod:`.schedules`.

Unlike a rule, a schedule acts as the role its target names: the role must trust
``scheduler.amazonaws.com``, and its policies must allow ``lambda:InvokeFunction`` (the function's
own policy is not needed), so the function is invoked asynchronously through the Lambda API as a
session of that role.  The target's ``Input`` is the event, with Scheduler's context attributes
(``<aws.scheduler.schedule-arn>``, ``<aws.scheduler.scheduled-time>``,
``<aws.scheduler.execution-id>``, ``<aws.scheduler.attempt-number>``) filled in; without one the
function gets ``{}``.  SQS targets receive it in their queue.  A one-time schedule whose
``ActionAfterCompletion`` is DELETE is deleted once it has fired.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from typing import Any

from .. import sources
from ..iam.principals import Directory, find_role
from ..iam.roles import trusts
from .schedules import Entry, noticing

log = logging.getLogger(__name__)
SCHEDULER = "scheduler.amazonaws.com"


def install() -> None:
    from moto.scheduler.models import EventBridgeSchedulerBackend

    noticing(EventBridgeSchedulerBackend, ("create_schedule", "update_schedule", "delete_schedule",
                                           "delete_schedule_group"))


def entries(accounts: Iterable[str]) -> Iterator[Entry]:
    """The enabled schedules of these accounts, in every Region."""
    from moto.scheduler.models import scheduler_backends

    for account in accounts:
        for region, backend in list(scheduler_backends[account].items()):
            for group in list(backend.schedule_groups.values()):
                for schedule in list(group.schedules.values()):
                    if schedule.state != "ENABLED":
                        continue
                    window = schedule.flexible_time_window or {}
                    yield Entry(schedule.arn, schedule.schedule_expression, schedule.schedule_expression_timezone,
                                _firing(backend, group.name, schedule, region),
                                start=_seconds(schedule.start_date), end=_seconds(schedule.end_date),
                                window_s=60.0 * window.get("MaximumWindowInMinutes", 0)
                                if window.get("Mode") == "FLEXIBLE" else 0.0)


def _firing(backend: Any, group: str, schedule: Any, region: str):
    def fire(when: float) -> None:
        deliver(schedule, region, when)
        if schedule.schedule_expression.startswith("at(") and schedule.action_after_completion == "DELETE":
            backend.delete_schedule(group, schedule.name)

    return fire


def deliver(schedule: Any, region: str, when: float) -> bool:
    """Send the target its input as the target's role; False when the role or the target refuses."""
    target = schedule.target
    arn, role_arn = target["Arn"], target.get("RoleArn", "")
    text = _with_context(target.get("Input"), schedule.arn, when)
    role = find_role(role_arn)
    if role is None or not trusts(role, SCHEDULER):
        log.info("schedule %s: role %s cannot be assumed by %s", schedule.arn, role_arn, SCHEDULER)
        return False
    service = arn.split(":")[2]
    if service == "lambda":
        caller = Directory().for_arn(role_arn)
        return caller is not None and sources.invoke(caller, arn, region, None if text is None else json.loads(text))
    if service == "sqs":
        from moto.sqs.models import sqs_backends

        sqs_backends[arn.split(":")[4]][arn.split(":")[3]].send_message(arn.rsplit(":", 1)[1], text or "{}")
        return True
    log.info("schedule %s: lambdalab delivers to Lambda and SQS targets, not to %s", schedule.arn, arn)
    return False


def _with_context(text: str | None, schedule_arn: str, when: float) -> str | None:
    if text is None:
        return None
    scheduled = datetime.fromtimestamp(when, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    for name, value in (("schedule-arn", schedule_arn), ("scheduled-time", scheduled),
                        ("execution-id", str(uuid.uuid4())), ("attempt-number", "1")):
        text = text.replace(f"<aws.scheduler.{name}>", value)
    return text


def _seconds(moment: Any) -> float | None:
    """moto keeps StartDate and EndDate as it received them: a number of seconds, or a datetime."""
    if moment is None:
        return None
    return moment.timestamp() if isinstance(moment, datetime) else float(moment)
