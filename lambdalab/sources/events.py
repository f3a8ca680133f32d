"""EventBridge rules that invoke functions: events put on a bus, and schedules on the cloud's clock.

moto keeps buses, rules and targets; it matches events with its own pattern matcher and delivers to
a few kinds of target (not Lambda).  :func:`install` takes over, for as long as the process runs:

- a rule's event pattern is judged by :mod:`lambdalab.patterns`, the one implementation of AWS's
  pattern language (event source mappings' ``FilterCriteria`` use it too), on the event as AWS
  writes it (``time`` in ISO 8601);
- each target gets its input as EventBridge makes it (the event, ``Input``, ``InputPath`` or an
  ``InputTransformer``); a Lambda target is invoked asynchronously as ``events.amazonaws.com`` with
  the rule as ``aws:SourceArn``, judged by the function's resource-based policy; SQS and SNS
  targets receive it in their queue or topic when its policy lets EventBridge send for the rule
  (``sources.may_deliver``), as in AWS, where a target added through the API has no such statement
  until one is written; other targets stay moto's;
- the rule's metrics in ``AWS/Events`` (``TriggeredRules``, ``Invocations``, ``FailedInvocations``
  when a target cannot be reached, as when a function's, queue's or topic's policy does not let
  EventBridge in).

Scheduled rules are fired by :mod:`.schedules` with :func:`scheduled_event`, each with its own ``time``.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from typing import Any

from .. import sources
from ..patterns import compile_pattern
from .schedules import Entry, noticing

log = logging.getLogger(__name__)
EVENTS = "events.amazonaws.com"
NAMESPACE = "AWS/Events"


def install() -> None:
    from moto.events.models import EventPattern, EventsBackend, Rule

    if getattr(Rule.send_to_targets, "lambdalab", False):
        return
    Rule.send_to_targets = _sending(Rule.send_to_targets)
    EventPattern.matches_event = _matches_event
    noticing(EventsBackend, ("put_rule", "delete_rule", "enable_rule", "disable_rule"))  # a schedule may change


# -- events on a bus ---------------------------------------------------------------------------
def aws_event(event: dict[str, Any]) -> dict[str, Any]:
    """moto's event message as AWS writes it: ``time`` in ISO 8601 (moto keeps a number), and none of
    moto's own keys."""
    out = {k: v for k, v in event.items() if k != "ingestion-time"}
    if isinstance(out.get("time"), (int, float)):
        out["time"] = datetime.fromtimestamp(out["time"], timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return out


@functools.lru_cache(maxsize=512)
def _compiled(raw: str):
    return compile_pattern(raw)


def _matches_event(pattern: Any, event: dict[str, Any]) -> bool:
    """``EventPattern.matches_event``, by lambdalab's pattern language."""
    if not pattern._raw_pattern:
        return True
    return _compiled(pattern._raw_pattern).matches(aws_event(event))


def _sending(moto_send):
    @functools.wraps(moto_send)
    def send_to_targets(rule: Any, original_event: dict[str, Any], transform_input: bool = True) -> None:
        if not rule.event_pattern.matches_event(original_event):
            return
        event = aws_event(original_event)
        _metric(rule, "TriggeredRules")
        for target in rule.targets:
            service = target["Arn"].split(":")[2]
            if service not in ("lambda", "sqs", "sns"):  # log groups, archives, other buses: moto's
                moto_send(_with_targets(rule, [target]), original_event, transform_input)
                continue
            try:
                delivered = _deliver(rule, target, service, target_input(target, event, rule))
            except Exception as e:  # an input that cannot be made, a queue or topic that is gone
                log.info("rule %s could not deliver to %s: %r", rule.arn, target["Arn"], e)
                delivered = False
            _metric(rule, "Invocations" if delivered else "FailedInvocations")

    send_to_targets.lambdalab = True
    return send_to_targets


def _with_targets(rule: Any, targets: list[dict[str, Any]]) -> Any:
    clone = copy.copy(rule)
    clone.targets = targets
    return clone


def _deliver(rule: Any, target: dict[str, Any], service: str, value: Any) -> bool:
    arn = target["Arn"]
    region = arn.split(":")[3]
    if service == "lambda":
        return sources.invoke(sources.for_resource(EVENTS, rule.arn, rule.account_id), arn, region, value)
    if not sources.may_deliver(EVENTS, rule.arn, rule.account_id, arn):
        return False
    text = value if isinstance(value, str) else json.dumps(value)
    account = arn.split(":")[4]
    if service == "sqs":
        from moto.sqs.models import sqs_backends

        group = target.get("SqsParameters", {}).get("MessageGroupId")
        sqs_backends[account][region].send_message(arn.rsplit(":", 1)[1], text, group_id=group)
    else:
        from moto.sns.models import sns_backends

        sns_backends[account][region].publish(text, arn=arn)
    return True


def target_input(target: dict[str, Any], event: dict[str, Any], rule: Any) -> Any:
    """What a target receives: ``Input`` (a JSON text), the part ``InputPath`` selects, the text an
    ``InputTransformer`` makes, or the whole event."""
    if "Input" in target:
        return json.loads(target["Input"])
    if "InputPath" in target:
        return _select(target["InputPath"], event)
    transformer = target.get("InputTransformer")
    if transformer:
        values = {name: _select(path, event) for name, path in transformer.get("InputPathsMap", {}).items()}
        values |= {"aws.events.rule-arn": rule.arn, "aws.events.rule-name": rule.name,
                   "aws.events.event.json": event, "aws.events.event": event}
        text = fill(transformer["InputTemplate"], values)
        try:
            return json.loads(text)
        except ValueError:
            return text  # a template that is plain text stays text
    return event


def _select(path: str, event: dict[str, Any]) -> Any:
    from jsonpath_ng.ext import parse

    found = parse(path).find(event)
    return found[0].value if found else None


def fill(template: str, values: dict[str, Any]) -> str:
    """An InputTemplate with its ``<name>`` placeholders replaced, as EventBridge does: inside a quoted
    JSON string a value goes in as its text; outside, as JSON (a string gets its quotes)."""
    out: list[str] = []
    quoted = escaped = False
    i = 0
    while i < len(template):
        c = template[i]
        end = template.find(">", i) if c == "<" else -1
        name = template[i + 1:end] if end > 0 else None
        if name is not None and name in values:
            value = values[name]
            if quoted:
                out.append(value if isinstance(value, str) else json.dumps(value))
            else:
                out.append(json.dumps(value))
            i = end + 1
            continue
        if c == '"' and not escaped:
            quoted = not quoted
        escaped = c == "\\" and not escaped
        out.append(c)
        i += 1
    return "".join(out)


def _metric(rule: Any, name: str) -> None:
    from moto.cloudwatch.models import cloudwatch_backends
    from moto.core.utils import utcnow

    now = utcnow()  # naive UTC on the cloud's clock (mototime), as moto keeps metric times
    cloudwatch_backends[rule.account_id][rule.region_name].put_metric_data(NAMESPACE, [{
        "MetricName": name, "Value": 1.0, "Unit": "Count", "Timestamp": now,
        "Dimensions": [{"Name": "RuleName", "Value": rule.name}]}])


def entries(accounts: Iterable[str]) -> Iterator[Entry]:
    """The enabled scheduled rules of these accounts, in every Region (in UTC, as rules are)."""
    from moto.events.models import events_backends

    for account in accounts:
        for backend in list(events_backends[account].values()):
            for bus in list(backend.event_buses.values()):
                for rule in list(bus.rules.values()):
                    if rule.scheduled_expression and rule.state == "ENABLED":
                        yield Entry(rule.arn, rule.scheduled_expression, "UTC",
                                    functools.partial(_fire_rule, rule))


def _fire_rule(rule: Any, when: float) -> None:
    rule.send_to_targets(scheduled_event(rule, when))


def scheduled_event(rule: Any, when: float) -> dict[str, Any]:
    """The event a scheduled rule sends (moto's form: ``time`` a number, made ISO on delivery)."""
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
            "account": rule.account_id, "time": when, "region": rule.region_name, "resources": [rule.arn],
            "detail": {}, "ingestion-time": when}
