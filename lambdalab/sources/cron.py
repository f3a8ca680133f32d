"""When a schedule fires: EventBridge's ``rate(...)``, ``cron(...)`` and ``at(...)`` expressions.

``cron`` has AWS's six fields (minutes, hours, day-of-month, month, day-of-week, year) with ``?``,
``L``, ``W`` and ``#``, days of the week numbered 1 (SUN) to 7 (SAT); croniter does the arithmetic
after the fields are translated to its dialect.  Rules are in UTC; EventBridge Scheduler's schedules
in their ``ScheduleExpressionTimezone`` (daylight saving included, as croniter and zoneinfo see it).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_AT = re.compile(r"^at\((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\)$")
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}


def first_after(expression: str, after: float, zone: str = "UTC") -> float | None:
    """When ``expression`` fires next after ``after`` (seconds since the epoch), or None if never."""
    rate = _RATE.match(expression)
    if rate:
        return after + int(rate[1]) * _UNITS[rate[2].rstrip("s")]
    at = _AT.match(expression)
    if at:
        moment = datetime.fromisoformat(at[1]).replace(tzinfo=ZoneInfo(zone)).timestamp()
        return moment if moment > after else None
    if expression.startswith("cron(") and expression.endswith(")"):
        return next(cron_times(expression[5:-1], after, zone), None)
    return None


def cron_times(fields: str, after: float, zone: str = "UTC") -> Iterator[float]:
    """The moments an AWS cron expression names after ``after``, in ``zone``."""
    from croniter import croniter

    minutes, hours, dom, month, dow, year = fields.split()
    spec = " ".join((minutes, hours, dom.replace("?", "*"), month, _dow(dow.replace("?", "*"))))
    years = _years(year)
    tz = timezone.utc if zone == "UTC" else ZoneInfo(zone)
    moments = croniter(spec, datetime.fromtimestamp(after, tz))
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
