"""The cloud's sense of time: real time plus an offset a notebook can fast-forward.

Everything that *waits* in lambdalab (idle environments' keep-alive, retry delays, visibility
timeouts, batching windows, schedules and backoff) is a timer on this clock, so
``cloud.clock.advance(3600)`` makes an hour pass for all of them at once.  What a handler does
still takes real time: durations are measured with ``time.perf_counter`` and only their
timestamps come from here.

``advance`` steps from one due timer to the next rather than jumping: time stops at each timer's
moment until the timer has run and the work it started (held with :meth:`Clock.hold` until
:meth:`Clock.release`, e.g. an event source poller's batch) is done, so a chain of waits (a message
that fails, comes back after its visibility timeout, fails again, ...) plays out within one
``advance`` at the times AWS would have played it, and what it records carries those times.
"""

from __future__ import annotations

import heapq
import itertools
import logging
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
        self._timers: list[tuple[float, int, Timer]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()  # guards everything below, and _offset's changes
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._busy = False  # a callback is running on the clock thread
        self._holds = 0  # work started by timers that advance() waits for (Clock.hold)

    def time(self) -> float:
        """Seconds since the epoch, as the cloud sees them."""
        return time.time() + self._offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), tz=timezone.utc)

    @property
    def offset(self) -> float:
        """How far the cloud's clock is ahead of the machine's, in seconds."""
        return self._offset

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

    def hold(self) -> None:
        """Work is under way that ``advance`` must let finish before time moves on (pair with release):
        a timer's callback holds for the work it hands to another thread, which releases when done."""
        with self._cond:
            self._holds += 1

    def release(self) -> None:
        """Held work is done."""
        with self._cond:
            self._holds -= 1
            self._cond.notify_all()

    def advance(self, seconds: float = 0.0, *, minutes: float = 0.0, hours: float = 0.0) -> None:
        """Fast-forward the cloud's time, timer by timer; returns once every timer that fell due has
        run and the work they held is done (from the clock's own thread: jumps, without waiting)."""
        seconds += 60 * minutes + 3600 * hours
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._cond:
            end = self._offset + seconds
            if self._thread is threading.current_thread():
                self._offset = end
                self._cond.notify_all()
                return
            while self._settle() and self._timers and self._timers[0][0] - time.time() <= end:
                self._offset = max(self._offset, self._timers[0][0] - time.time())  # now is that timer's time
                self._cond.notify_all()
            self._offset = max(self._offset, end)
            self._cond.notify_all()
            self._settle()

    def _settle(self) -> bool:
        """Wait (holding the condition) until nothing due is left to run or held; False once stopped."""
        self._cond.wait_for(lambda: self._stopped or (not self._busy and not self._due() and not self._holds))
        return not self._stopped

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

