"""Schedules that fire by themselves, on the cloud's clock: EventBridge's scheduled rules and
EventBridge Scheduler's schedules.

:class:`Schedules` keeps the next firing time of every enabled schedule of a cloud's accounts, in
every Region, and one clock timer at the earliest; when it fires, each schedule that is due fires
once, at its own time, so ``cloud.clock.advance(hours=24)`` fires an hourly schedule 24 times in
order.  moto keeps the rules and schedules: its operations that change them tell the newest running
cloud's :class:`Schedules` (:func:`noticing`).  A Scheduler schedule's ``FlexibleTimeWindow`` moves
each firing by a random time within the window; ``StartDate`` and ``EndDate`` bound it; a one-time
``at(...)`` schedule fires once, then is deleted if ``ActionAfterCompletion`` says DELETE.
"""

from __future__ import annotations

import functools
import logging
import random
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ..clock import Clock, Timer
from ..newest import Newest
from .cron import first_after

log = logging.getLogger(__name__)
_schedules: Newest[Schedules] = Newest()


@dataclass(frozen=True)
class Entry:
    """One enabled schedule: what it says, and what firing it at a moment does."""

    arn: str
    expression: str
    zone: str
    fire: Callable[[float], None]
    start: float | None = None  # no firing before (Scheduler's StartDate)
    end: float | None = None  # nor after (EndDate)
    window_s: float = 0.0  # FlexibleTimeWindow: each firing lands up to this much later


def noticing(backend_class: type, methods: Iterable[str]) -> None:
    """After each of these moto methods, the newest running cloud's schedules look again."""
    for name in methods:
        original = getattr(backend_class, name)
        if getattr(original, "lambdalab", False):
            continue
        setattr(backend_class, name, _noticed(original))


def _noticed(moto_method):
    @functools.wraps(moto_method)
    def changing(backend: Any, *args: Any, **kwargs: Any) -> Any:
        result = moto_method(backend, *args, **kwargs)
        schedules = _schedules.get()
        if schedules is not None:
            schedules.changed()
        return result

    changing.lambdalab = True
    return changing


class Schedules:
    """A cloud's schedules.  ``_next`` (ARN -> (expression, nominal time, firing time)) and ``_timer``
    are guarded by ``_lock``, taken before the clock's; firing runs on the clock's thread, outside it."""

    def __init__(self, clock: Clock, accounts: Iterable[str], entries: Callable[[Iterable[str]], Iterator[Entry]],
                 install: Callable[[], None]) -> None:
        self.clock, self.accounts, self._entries, self._install = clock, tuple(accounts), entries, install
        self._next: dict[str, tuple[str, float, float]] = {}
        self._timer: Timer | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        _schedules.add(self, self._install)
        self.changed()

    def stop(self) -> None:
        _schedules.remove(self)
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._next.clear()

    def changed(self) -> None:
        """Schedules were made, changed, enabled, disabled or deleted: plan what is enabled now."""
        now = self.clock.time()
        entries = {entry.arn: entry for entry in self._entries(self.accounts)}
        with self._lock:
            for arn in set(self._next) - set(entries):
                del self._next[arn]
            for arn, entry in entries.items():
                known = self._next.get(arn)
                if known is None or known[0] != entry.expression:
                    planned = self._plan(entry, max(now, entry.start or now))
                    if planned is None:
                        continue
                    self._next[arn] = planned
            self._arm()

    def _plan(self, entry: Entry, after: float) -> tuple[str, float, float] | None:
        nominal = first_after(entry.expression, after, entry.zone)
        if nominal is None or (entry.end is not None and nominal > entry.end):
            return None
        return entry.expression, nominal, nominal + random.uniform(0, entry.window_s)

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._next:
            due = min(firing for _, _, firing in self._next.values())
            self._timer = self.clock.call_later(max(0.0, due - self.clock.time()), self._fire)

    def _fire(self) -> None:
        """On the clock's thread: every schedule that is due fires once, at its own time; then the next timer."""
        now = self.clock.time()
        entries = {entry.arn: entry for entry in self._entries(self.accounts)}
        firing = []
        with self._lock:
            for arn, (_, nominal, when) in list(self._next.items()):
                if when > now + 1e-6 or arn not in entries:
                    continue
                firing.append((when, entries[arn]))
                planned = self._plan(entries[arn], nominal)
                if planned is None:
                    del self._next[arn]
                else:
                    self._next[arn] = planned
        for when, entry in sorted(firing, key=lambda pair: pair[0]):
            try:
                entry.fire(when)
            except Exception:  # a target that is gone: the schedule goes on
                log.exception("schedule %s could not fire", entry.arn)
        with self._lock:
            self._arm()
