"""EventBridge rules that invoke functions: events put on a bus, and schedules on the cloud's clock.

moto keeps buses, rules and targets; it matches events with its own pattern matcher and delivers to
a few kinds of target (not Lambda).  :func:`install` takes over, for as long as the process runs:

- a rule's event pattern is judged by :mod:`lambdalab.patterns`, the one implementation of AWS's
  pattern language (event source mappings' ``FilterCriteria`` use it too), on the event as AWS
  writes it (``time`` in ISO 8601);
- each target gets its input as EventBridge makes it (the event, ``Input``, ``InputPath`` or an
  ``InputTransformer``); a Lambda target is invoked asynchronously as ``events.amazonaws.com`` with
  the rule as ``aws:SourceArn``, judged by the function's resource-based policy; SQS and SNS
  targets receive it in their queue or topic; other targets stay moto's;
- the rule's metrics in ``AWS/Events`` (``TriggeredRules``, ``Invocations``, ``FailedInvocations``
  when a target cannot be reached, as when a function's policy does not let EventBridge in).

:class:`Schedules` fires scheduled rules (``rate(...)``, and ``cron(...)`` in AWS's six fields with
``?``, ``L``, ``W`` and ``#``, in UTC) on the cloud's clock, each firing with its own ``time``, so that
``cloud.clock.advance(hours=24)`` fires an hourly rule 24 times.  Cron arithmetic is croniter's.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import re
import threading
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from typing import Any

from .. import sources
from ..clock import Clock, Timer
from ..newest import Newest
from ..patterns import compile_pattern

log = logging.getLogger(__name__)
EVENTS = "events.amazonaws.com"
NAMESPACE = "AWS/Events"
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
_schedules: Newest[Schedules] = Newest()


def install() -> None:
    from moto.events.models import EventPattern, EventsBackend, Rule

    if getattr(Rule.send_to_targets, "lambdalab", False):
        return
    Rule.send_to_targets = _sending(Rule.send_to_targets)
    EventPattern.matches_event = _matches_event
    for name in ("put_rule", "delete_rule", "enable_rule", "disable_rule"):  # a schedule may have changed
        setattr(EventsBackend, name, _noticed(getattr(EventsBackend, name)))


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
        return sources.invoke(EVENTS, arn, region, rule.arn, rule.account_id, value)
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


# -- schedules -----------------------------------------------------------------------------------
def _noticed(moto_method):
    @functools.wraps(moto_method)
    def changing(backend: Any, *args: Any, **kwargs: Any) -> Any:
        result = moto_method(backend, *args, **kwargs)
        schedules = _schedules.get()
        if schedules is not None:
            schedules.changed()
        return result

    return changing


def first_after(expression: str, after: float) -> float | None:
    """When a schedule expression fires next after ``after`` (seconds since the epoch), or None."""
    rate = _RATE.match(expression)
    if rate:
        return after + int(rate[1]) * _UNITS[rate[2].rstrip("s")]
    if expression.startswith("cron(") and expression.endswith(")"):
        return next(cron_times(expression[5:-1], after), None)
    return None


def cron_times(fields: str, after: float) -> Iterator[float]:
    """The moments an AWS cron expression (minutes hours day-of-month month day-of-week year) names,
    after ``after``, in UTC."""
    from croniter import croniter

    minutes, hours, dom, month, dow, year = fields.split()
    spec = " ".join((minutes, hours, dom.replace("?", "*"), month, _dow(dow.replace("?", "*"))))
    years = _years(year)
    moments = croniter(spec, datetime.fromtimestamp(after, timezone.utc))
    for _ in range(100_000):  # a year field that never comes again ends the schedule
        moment = moments.get_next(datetime)
        if moment.year > max(years, default=9999):
            return
        if not years or moment.year in years:
            yield moment.timestamp()


def _dow(field: str) -> str:
    """AWS numbers days of the week 1 (SUN) to 7 (SAT); croniter 0 to 6, and writes "last Friday" L5."""
    def day(text: str) -> str:
        return str(int(text) - 1) if text.isdigit() else text

    items = []
    for item in field.split(","):
        if "#" in item:
            d, n = item.split("#")
            items.append(f"{day(d)}#{n}")
        elif item.endswith("L") and item != "L":
            items.append(f"L{day(item[:-1])}")
        else:
            head, _, step = item.partition("/")
            head = "-".join(day(part) for part in head.split("-"))
            items.append(f"{head}/{step}" if step else head)
    return ",".join(items)


def _years(field: str) -> set[int]:
    """The years of AWS's sixth field (``*`` is every year: the empty set)."""
    years: set[int] = set()
    for item in field.split(","):
        if item in ("*", "?"):
            return set()
        low, _, high = item.partition("-")
        years.update(range(int(low), int(high or low) + 1))
    return years


class Schedules:
    """A cloud's scheduled rules, fired on its clock: each enabled rule with a ScheduleExpression in
    its accounts, in every Region.  ``_next`` (rule ARN -> its expression and next time) and
    ``_timer`` are guarded by ``_lock``; firing runs on the clock's thread, outside the lock."""

    def __init__(self, clock: Clock, accounts: Iterable[str]) -> None:
        self.clock, self.accounts = clock, tuple(accounts)
        self._next: dict[str, tuple[str, float]] = {}
        self._timer: Timer | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        _schedules.add(self, install)
        self.changed()

    def stop(self) -> None:
        _schedules.remove(self)
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._next.clear()

    def changed(self) -> None:
        """Rules were put, enabled, disabled or deleted: schedule what is scheduled now."""
        now = self.clock.time()
        rules = dict(self._rules())
        with self._lock:
            for arn in set(self._next) - set(rules):
                del self._next[arn]
            for arn, rule in rules.items():
                known = self._next.get(arn)
                if known is None or known[0] != rule.scheduled_expression:
                    when = first_after(rule.scheduled_expression, now)
                    if when is None:
                        log.warning("rule %s: schedule %r is not one lambdalab can play", arn,
                                    rule.scheduled_expression)
                        continue
                    self._next[arn] = (rule.scheduled_expression, when)
            self._arm()

    def _rules(self) -> Iterator[tuple[str, Any]]:
        from moto.events.models import events_backends

        for account in self.accounts:
            for backend in list(events_backends[account].values()):
                for bus in list(backend.event_buses.values()):
                    for rule in list(bus.rules.values()):
                        if rule.scheduled_expression and rule.state == "ENABLED":
                            yield rule.arn, rule

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._next:
            due = min(when for _, when in self._next.values())
            self._timer = self.clock.call_later(max(0.0, due - self.clock.time()), self._fire)

    def _fire(self) -> None:
        """On the clock's thread: every rule that is due fires once, at its own time, then the next timer."""
        now = self.clock.time()
        rules = dict(self._rules())
        firing = []
        with self._lock:
            for arn, (expression, when) in list(self._next.items()):
                if when <= now + 1e-6 and arn in rules:
                    firing.append((rules[arn], when))
                    following = first_after(expression, when)
                    if following is None:
                        del self._next[arn]
                    else:
                        self._next[arn] = (expression, following)
        for rule, when in sorted(firing, key=lambda pair: pair[1]):
            rule.send_to_targets(scheduled_event(rule, when))
        with self._lock:
            self._arm()


def scheduled_event(rule: Any, when: float) -> dict[str, Any]:
    """The event a scheduled rule sends (moto's form: ``time`` a number, made ISO on delivery)."""
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
            "account": rule.account_id, "time": when, "region": rule.region_name, "resources": [rule.arn],
            "detail": {}, "ingestion-time": when}
