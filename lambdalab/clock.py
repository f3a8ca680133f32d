"""The cloud's sense of time: real time plus an offset a notebook can fast-forward.

Everything that *waits* in lambdalab (idle environments' keep-alive, the asynchronous queue's
retry delays and backoff, visibility timeouts, batching windows, schedules) is a timer on this
clock, so ``cloud.clock.advance(hours=1)`` makes an hour pass for all of them at once.  What a
handler does still takes real time: durations are measured with ``time.perf_counter`` and only
their timestamps come from here.

Fast-forwarding plays time in order rather than jumping: ``advance`` moves to the next timer that
falls due, fires it, waits until the work it started is done, and only then moves on.  Work that
time must wait for (an asynchronous event being run, its record being delivered, an event source
poller's batch) says so with :meth:`Clock.hold` and :meth:`Clock.release`.  So a retry scheduled 2
minutes after a failure that itself happened inside ``advance(minutes=5)`` still runs within those
5 minutes, at its own time, and a message that fails, comes back after its visibility timeout and
fails again plays out within one ``advance`` at the times AWS would have played it.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import logging
import math
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone

log = logging.getLogger(__name__)


def _nothing() -> None:
    pass


class Timer:
    """A scheduled callback; ``cancel()`` is safe to call at any time, even after it ran."""

    __slots__ = ("callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True
        self.callback = _nothing  # drop what the callback holds (an environment) before the timer is due


class Clock:
    """Wall-clock time with a movable offset and one named thread that fires timers."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._advances: list[tuple[float, float]] = []  # (machine time of each advance, the offset from then on)
        self._timers: list[tuple[float, int, Timer]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()  # guards everything below, and _offset's changes
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._busy = False  # a callback is running on the clock thread
        self._holds = 0  # work under way that time must wait for (hold/release)

    def time(self) -> float:
        """Seconds since the epoch, as the cloud sees them."""
        return time.time() + self._offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), tz=timezone.utc)

    @property
    def offset(self) -> float:
        """How far the cloud's clock is ahead of the machine's, in seconds."""
        return self._offset

    def offset_at(self, moment: float) -> float:
        """How far the cloud's clock was ahead of the machine's at machine time ``moment``: what a
        timestamp an SDK wrote on the machine's clock (a presigned URL's) stands for in cloud time."""
        with self._cond:
            passed = bisect.bisect_right(self._advances, (moment, math.inf))
            return self._advances[passed - 1][1] if passed else 0.0

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        """Run ``callback`` on the clock thread once ``delay`` seconds of cloud time have passed."""
        timer = Timer(self.time() + delay, callback)
        with self._cond:
            if self._stopped:
                return timer
            earliest = not self._timers or timer.when < self._timers[0][0]
            heapq.heappush(self._timers, (timer.when, next(self._seq), timer))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="lambdalab-clock", daemon=True)
                self._thread.start()
            if earliest:  # otherwise the thread already wakes in time
                self._cond.notify_all()  # the clock thread, among advance() waiters
        return timer

    def advance(self, seconds: float = 0.0, *, minutes: float = 0.0, hours: float = 0.0) -> None:
        """Fast-forward the cloud's time, playing each timer that falls due in order (see the module's
        docstring); returns once they and the work they started are done.

        Work held when it is called (an asynchronous event running now) finishes first, at the time
        it started in: time never jumps under a running handler.
        """
        total = seconds + 60 * minutes + 3600 * hours
        if total < 0:
            raise ValueError("the clock only moves forward")
        with self._cond:
            goal = self._offset + total  # where the offset ends: exactly ``total`` ahead of where it was
            if self._thread is threading.current_thread():  # a timer advancing the clock: no waiting here
                self._ahead(goal)
                return
            while True:
                self._cond.wait_for(self._settled)
                if self._stopped:
                    return
                due = self._timers[0][0] - time.time() if self._timers else math.inf  # the offset that makes it due
                self._ahead(min(due, goal))
                if due > goal:
                    break
            self._cond.wait_for(self._settled)

    def hold(self) -> None:
        """Work is under way that ``advance`` must let finish before time moves on (pair with release)."""
        with self._cond:
            self._holds += 1

    def release(self) -> None:
        """Held work is done."""
        with self._cond:
            self._holds -= 1
            if not self._holds:
                self._cond.notify_all()

    def _ahead(self, offset: float) -> None:
        """Move the offset forward to ``offset``, never back (called with _cond held)."""
        if offset > self._offset:
            self._offset = offset
            self._advances.append((time.time(), self._offset))
            self._cond.notify_all()

    def _settled(self) -> bool:
        """Nothing due, no timer running, no work held (called with _cond held)."""
        return self._stopped or (not self._busy and not self._holds and not self._due())

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of cloud time (returns early if the clock is advanced past it)."""
        done = threading.Event()
        self.call_later(seconds, done.set)
        done.wait()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._timers.clear()
            self._cond.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _due(self) -> bool:
        return bool(self._timers) and self._timers[0][0] <= self.time()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._busy = False
                self._cond.notify_all()  # advance() may be waiting for the due timers to be done
                while not self._stopped and not self._due():
                    self._cond.wait(self._timers[0][0] - self.time() if self._timers else None)
                if self._stopped:
                    return
                timer = heapq.heappop(self._timers)[2]
                self._busy = True
            if not timer.cancelled:
                try:
                    timer.callback()
                except Exception:  # a failing timer must not stop the clock for the others
                    log.exception("timer callback failed")

    def __repr__(self) -> str:
        ahead = f", {self._offset:+.0f} s ahead" if self._offset else ""
        return f"<Clock {self.now():%Y-%m-%d %H:%M:%S} UTC{ahead}>"

