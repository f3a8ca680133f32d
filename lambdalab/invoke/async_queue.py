"""The asynchronous queue: what happens to an ``Invoke`` with ``InvocationType=Event`` after its 202.

Lambda puts the event in a queue of the function and answers at once; then, as AWS documents it
(the asynchronous invocation and error handling pages) and as LocalStack's AWS-validated
destination tests recorded it:

* An attempt runs on the same path as a synchronous invoke (:meth:`Invoker.invoke`: a lease, then
  an environment), with the event's request id on every attempt.
* A function error (an exception, a timeout, running out of memory, a runtime that exits) is
  retried up to MaximumRetryAttempts times (default 2): ``async_first_retry_s`` (60 s) after the
  first failure, ``async_second_retry_s`` (120 s) after the second.
* A throttle (the lease's TooManyRequestsException, whichever limit refused) or a failure of
  lambdalab itself is not an attempt: the event goes back with a backoff that starts at
  ``async_backoff_min_s`` (1 s) and doubles up to ``async_backoff_max_s`` (5 minutes).
* Before any wait the event's age is checked: a wait that would end past MaximumEventAgeInSeconds
  (default 6 h) is not made, and the event fails at once with ``EventAgeExceeded`` (with an age of
  60 s AWS does not even schedule the first retry).  An event that waited in line past its age (every
  worker busy, which is a throttle in all but name) fails the same way before it runs.
* ``Success`` sends the invocation record to the OnSuccess destination; ``RetriesExhausted`` and
  ``EventAgeExceeded`` send it to the OnFailure destination and the event to the dead-letter queue
  of ``$LATEST`` (versions use $LATEST's, AWS's documentation says).  An event whose function was
  deleted meanwhile is dropped.  :meth:`AsyncQueue.frame` accounts for every event, with each step
  of its ``history``.

Settings are read at every decision from the EventInvokeConfig of what the event invoked (the
function, a version or an alias), through the service the event came to.  Metrics, per event:
``AsyncEventsReceived``, ``AsyncEventAge`` (per attempt, from receipt to the attempt's start),
``AsyncEventsDropped`` (every event that failed or was dropped, delivered somewhere or not),
``DestinationDeliveryFailures`` and ``DeadLetterErrors``.

An event that a recursive loop brought past its function's 16th invocation in the chain is dropped
without an attempt (``invoke.recursion``; AWS would send it to the dead-letter queue or the on-failure
destination, with a condition its documentation does not name).

A function whose reserved concurrency is 0 is not retried: its events go straight to the failure
path with the condition ``ZeroReservedConcurrency`` and no attempt (AWS's "Capturing records of
Lambda asynchronous invocations" page: such events are sent at once to the dead-letter queue or the
on-failure destination, without retries).

Threads and time.  The events of each function wait in a line of their own; named workers
(``lambdalab-async-N``, started as needed up to ``async_concurrency``) take the lines in turn, one
event at a time, and survive whatever one event raises.  Waits are timers on the cloud's clock.  An
event in line or running holds the clock (``Clock.hold``), so ``cloud.clock.advance(minutes=3)``
lets it finish, destination delivered, before time moves on, then plays each retry at its time:
three minutes of retries take as long as the three attempts do.  An idle queue has no timer, and
its workers sleep on a condition.

``_lock`` (a Condition) guards the lines, the events (their fields are written under it, by the
one thread that holds each: the API's thread at submit, a worker, the clock's thread), the workers
and ``_closed``.  Attempts and deliveries run outside it; it is taken before the clock's lock.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from ..observe.metrics import Metrics, resource_dimension
from ..sandbox.invocation import Invocation
from ..service.errors import LambdaError, TooManyRequestsException
from ..service.quotas import Quotas
from . import recursion
from .destinations import Destinations, Outcome, invocation_record
from .invoker import Invoker
from .pool import PoolClosed

if TYPE_CHECKING:
    from ..clock import Clock
    from ..service.event_invoke import Settings
    from ..service.functions import LambdaService
    from ..service.models import Function, Located

log = logging.getLogger(__name__)
NEW, QUEUED, RUNNING, WAITING = "new", "queued", "running", "waiting"
SUCCEEDED, FAILED, DROPPED, UNFINISHED = "succeeded", "failed", "dropped", "unfinished"
FINAL = (SUCCEEDED, FAILED, DROPPED, UNFINISHED)
_HELD = (QUEUED, RUNNING)  # what the clock waits for
JOIN_DEADLINE_S = 5.0  # how long stopping waits for the workers (their environments are being stopped)


@dataclass(eq=False)
class AsyncEvent:
    """One Invoke(Event), from its 202 to its end (fields written under the queue's lock)."""

    request_id: str
    function: str
    invoked_arn: str
    payload: bytes
    trace_id: str | None
    received: float  # cloud time
    service: LambdaService = field(repr=False)
    state: str = NEW
    attempts: int = 0  # attempts that ran the function
    throttles: int = 0  # tries refused by a throttle (or failed inside lambdalab): not attempts
    backoffs: int = 0  # ... since the last attempt that ran: the backoff's exponent
    outcome: Outcome | None = field(default=None, repr=False)  # how the last try ended
    condition: str | None = None  # Success, RetriesExhausted, EventAgeExceeded
    destination: str | None = None
    destination_error: str | None = None
    dead_letter: str | None = None
    dead_letter_error: str | None = None
    reason: str | None = None  # why it was dropped or left unfinished
    finished: float | None = None
    history: list[tuple[float, str]] = field(default_factory=list, repr=False)

    def row(self) -> dict:
        def at(moment: float | None) -> datetime | None:
            return None if moment is None else datetime.fromtimestamp(moment, tz=timezone.utc)

        return {"request_id": self.request_id, "function": self.function, "invoked_arn": self.invoked_arn,
                "received": at(self.received), "state": self.state, "condition": self.condition,
                "attempts": self.attempts, "throttles": self.throttles, "destination": self.destination,
                "destination_error": self.destination_error, "dead_letter": self.dead_letter,
                "dead_letter_error": self.dead_letter_error, "reason": self.reason, "finished": at(self.finished),
                "history": [(at(moment), what) for moment, what in self.history]}


COLUMNS = ("request_id", "function", "invoked_arn", "received", "state", "condition", "attempts", "throttles",
           "destination", "destination_error", "dead_letter", "dead_letter_error", "reason", "finished", "history")


class AsyncQueue:
    def __init__(self, invoker: Invoker, destinations: Destinations, metrics: Metrics, clock: Clock,
                 quotas: Quotas) -> None:
        self._invoker, self._destinations, self._metrics = invoker, destinations, metrics
        self._clock, self._quotas = clock, quotas
        self._lock = threading.Condition()
        self._lines: OrderedDict[str, deque[AsyncEvent]] = OrderedDict()  # function name -> its events in line
        self._events: dict[str, AsyncEvent] = {}  # every event so far, by request id, in the order received
        self._workers: list[threading.Thread] = []
        self._numbers = itertools.count()
        self._idle = 0  # workers waiting for an event
        self._closed = False
        self.unfinished = 0  # events left unfinished when the cloud stopped

    # -- the API's side --------------------------------------------------------------------------
    def submit(self, service: LambdaService, located: Located, inv: Invocation) -> None:
        """Take an event (checked and answered 202 by the caller); it runs what ``located`` designates then."""
        event = AsyncEvent(inv.request_id, located.function.name, inv.invoked_arn, inv.payload, inv.trace_id,
                           self._clock.time(), service)
        with self._lock:
            self._events[event.request_id] = event
            self._note(event, "received")
            worker = self._line_up(event)
        if worker is not None:
            worker.start()
        self._metric("AsyncEventsReceived", event)

    def frame(self):
        """Every event so far, one row each: where it is, or how it ended and where its record went."""
        import pandas as pd

        with self._lock:
            rows = [event.row() for event in self._events.values()]
        frame = pd.DataFrame(rows, columns=list(COLUMNS))
        for column in ("received", "finished"):
            frame[column] = pd.to_datetime(frame[column], utc=True)
        return frame

    def pending(self) -> int:
        """Events not finished yet: in line, running or waiting for a retry."""
        with self._lock:
            return sum(event.state not in FINAL for event in self._events.values())

    # -- stopping --------------------------------------------------------------------------------
    def close(self) -> None:
        """No attempt starts from now on, and none that ends counts (the cloud is stopping)."""
        with self._lock:
            self._closed = True
            self._lock.notify_all()

    def join(self) -> int:
        """After ``close()`` and the environments' stop: wait for the workers, then mark every event that
        did not finish; returns how many, and says so in the log."""
        end = time.monotonic() + JOIN_DEADLINE_S
        with self._lock:
            workers = list(self._workers)
        for worker in workers:
            worker.join(max(0.0, end - time.monotonic()))
        with self._lock:
            left = [event for event in self._events.values() if event.state not in FINAL]
            states = {state: sum(e.state == state for e in left) for state in (QUEUED, RUNNING, WAITING)}
            for event in left:
                self._finish(event, UNFINISHED, reason=f"the cloud stopped while it was {event.state}")
            self._lines.clear()
            self.unfinished = len(left)
        if left:
            log.warning("the cloud stopped with %d asynchronous events unfinished (%s)", len(left),
                        ", ".join(f"{n} {state}" for state, n in states.items() if n))
        return len(left)

    # -- the workers -----------------------------------------------------------------------------
    def _line_up(self, event: AsyncEvent) -> threading.Thread | None:
        """Put ``event`` in its function's line (lock held); a new worker to start, if one is needed."""
        if self._closed:
            self._finish(event, UNFINISHED, reason="the cloud was stopping")
            return None
        self._set(event, QUEUED)
        self._lines.setdefault(event.function, deque()).append(event)
        if self._idle:
            self._lock.notify()
            return None
        if len(self._workers) >= max(1, self._quotas.async_concurrency):  # 0 would leave the event in line forever
            return None
        worker = threading.Thread(target=self._work, name=f"lambdalab-async-{next(self._numbers)}", daemon=True)
        self._workers.append(worker)
        return worker

    def _take(self) -> AsyncEvent | None:
        """The next event, the functions' lines taken in turn; None once the queue is closed."""
        with self._lock:
            while not self._closed:
                if self._lines:
                    name, line = next(iter(self._lines.items()))
                    event = line.popleft()
                    if line:
                        self._lines.move_to_end(name)
                    else:
                        del self._lines[name]
                    self._set(event, RUNNING)
                    return event
                self._idle += 1
                self._lock.wait()
                self._idle -= 1
            return None

    def _work(self) -> None:
        """One worker: it outlives any failure of one event (that event is dropped, and says why)."""
        while (event := self._take()) is not None:
            try:
                self._run(event)
            except Exception:
                log.exception("asynchronous event %s failed in lambdalab", event.request_id)
                with self._lock:
                    self._finish(event, DROPPED, reason="lambdalab failed while handling it (see the log)")

    def _run(self, event: AsyncEvent) -> None:
        """One try at an event: an attempt, then its end, a retry or a backoff."""
        service = event.service
        try:
            located = service.lookup(event.invoked_arn, invoke=True)
        except LambdaError as e:  # deleted since it was queued
            self._metric("AsyncEventsDropped", event)
            with self._lock:
                self._finish(event, DROPPED, reason=e.message)
            return
        if recursion.stopped(service, located.function, event.trace_id):  # a loop Lambda stops: it does not run
            self._metric("RecursiveInvocationsDropped", event)
            self._metric("AsyncEventsDropped", event)
            with self._lock:
                self._finish(event, DROPPED, reason=f"RecursiveInvocationException: {recursion.MESSAGE}")
            return
        settings = service.event_invoke.settings(located)
        if self._clock.time() - event.received > settings.max_age_s:  # waited in line past its age
            self._end(event, located, None, settings, "EventAgeExceeded", event.outcome or _THROTTLED)
            return
        function = service.route(located)  # an alias draws its version now
        attempt = Invocation(event.request_id, event.payload, event.invoked_arn, invocation_type="Event",
                             trace_id=event.trace_id, invocation_model="async", attempt=event.attempts + 1)
        self._metric("AsyncEventAge", event, (self._clock.time() - event.received) * 1000, "Milliseconds")
        try:
            self._invoker.invoke(function, attempt)
        except TooManyRequestsException as e:
            throttled = Outcome(429, None, None, None, e.message)
            if service.concurrency.reserved(located.function.name) == 0:  # it may never run: no retries
                self._end(event, located, None, settings, "ZeroReservedConcurrency", event.outcome or throttled)
                return
            self._back_off(event, located, settings, throttled,
                           f"throttled ({e.extra.get('Reason', 'TooManyRequestsException')})")
            return
        except PoolClosed:  # the cloud is stopping: join() accounts for it
            return
        except Exception as e:  # lambdalab failed, not the function: a system error, put back
            log.exception("asynchronous event %s: the attempt failed in lambdalab", event.request_id)
            self._back_off(event, located, settings, Outcome(500, None, None, None, str(e)), "a lambdalab error")
            return
        outcome = Outcome(200, function.version, attempt.response, attempt.function_error, _error_message(attempt))
        with self._lock:
            if self._closed:  # its environment may have been stopped under it: join() accounts for it
                return
            event.attempts, event.backoffs, event.outcome = event.attempts + 1, 0, outcome
            self._note(event, f"attempt {event.attempts} ran version {function.version}: "
                              + (f"{attempt.error_type}" if attempt.error_type else "success"))
        if attempt.error_type is None:
            self._end(event, located, function, settings, "Success", outcome)
            return
        retried = event.attempts - 1
        if retried >= settings.retries:
            self._end(event, located, function, settings, "RetriesExhausted", outcome)
            return
        delay = self._quotas.async_first_retry_s if retried == 0 else self._quotas.async_second_retry_s
        self._wait(event, located, function, settings, delay, outcome, f"retry {retried + 1} in {delay:g} s")

    def _back_off(self, event: AsyncEvent, located: Located, settings: Settings, outcome: Outcome, why: str) -> None:
        q = self._quotas
        with self._lock:
            delay = min(q.async_backoff_max_s, q.async_backoff_min_s * 2 ** event.backoffs)
            event.backoffs += 1
            event.throttles += 1
            event.outcome = event.outcome if event.attempts else outcome  # a record tells of the last run, if any
        self._wait(event, located, None, settings, delay, event.outcome, f"{why}: back in {delay:g} s")

    def _wait(self, event: AsyncEvent, located: Located, function: Function | None, settings: Settings,
              delay: float, outcome: Outcome, note: str) -> None:
        """Try again after ``delay``, unless the event would be older than its maximum age by then."""
        if self._clock.time() + delay - event.received > settings.max_age_s:
            self._end(event, located, function, settings, "EventAgeExceeded", outcome)
            return
        with self._lock:
            self._note(event, note)
            self._clock.call_later(delay, lambda: self._again(event))  # before the clock is released: advance()
            self._set(event, WAITING)  # must not pass the moment this wait ends

    def _again(self, event: AsyncEvent) -> None:
        """A wait is over (on the clock's thread): back in line."""
        with self._lock:
            worker = self._line_up(event) if event.state == WAITING else None
        if worker is not None:
            worker.start()

    def _end(self, event: AsyncEvent, located: Located, function: Function | None, settings: Settings,
             condition: str, outcome: Outcome) -> None:
        """Send the record (and, on failure, the dead letter), then mark the event done."""
        at = self._clock.now()
        service, success = event.service, condition == "Success"
        function_arn = located.arn if located.qualifier else f"{located.arn}:$LATEST"
        record = invocation_record(event.request_id, function_arn, condition, event.attempts, event.payload, outcome,
                                   at)
        sender = function or located.function  # the version whose execution role sends
        destination = settings.on_success if success else settings.on_failure
        destination_error = dead_letter_error = None
        if destination and (destination_error := self._destinations.send_record(sender, destination, record, success,
                                                                                  at, event.trace_id)):
            self._metric("DestinationDeliveryFailures", event)
        latest = service.version(located.function.name, "$LATEST")
        dead_letter = latest.dead_letter_arn if latest is not None and not success else None
        if dead_letter:
            limit = self._quotas.dead_letter_message_max_bytes
            message = outcome.error_message.encode()[:limit].decode("utf-8", "ignore")
            if dead_letter_error := self._destinations.send_dead_letter(sender, dead_letter, event.payload,
                                                                        event.request_id, outcome.status, message,
                                                                        event.trace_id):
                self._metric("DeadLetterErrors", event)
        if not success:
            self._metric("AsyncEventsDropped", event)
        with self._lock:
            self._note(event, condition)
            if destination:
                self._note(event, f"record not delivered to {destination}: {destination_error}" if destination_error
                           else f"record sent to {destination}")
            if dead_letter:
                self._note(event, f"event not delivered to dead-letter {dead_letter}: {dead_letter_error}"
                           if dead_letter_error else f"event sent to dead-letter {dead_letter}")
            self._finish(event, SUCCEEDED if success else FAILED, condition=condition, destination=destination,
                         destination_error=destination_error, dead_letter=dead_letter,
                         dead_letter_error=dead_letter_error)

    # -- bookkeeping (lock held) -----------------------------------------------------------------
    def _set(self, event: AsyncEvent, state: str) -> None:
        """Change an event's state; the clock is held while it is in line or running."""
        if (event.state in _HELD) != (state in _HELD):
            (self._clock.hold if state in _HELD else self._clock.release)()
        event.state = state

    def _finish(self, event: AsyncEvent, state: str, **fields: object) -> None:
        """The event's end (once: a later call for an event already finished changes nothing)."""
        if event.state in FINAL:
            return
        for name, value in fields.items():
            setattr(event, name, value)
        event.finished = self._clock.time()
        if state in (DROPPED, UNFINISHED):
            self._note(event, f"{state}: {event.reason}")
        self._set(event, state)

    def _note(self, event: AsyncEvent, what: str) -> None:
        event.history.append((self._clock.time(), what))

    def _metric(self, name: str, event: AsyncEvent, value: float = 1, unit: str = "Count") -> None:
        self._metrics.asynchronous(name, event.function, resource_dimension(event.invoked_arn), self._clock.now(),
                                   value, unit)


# An event the queue could not run before its age ran out, for want of concurrency.
_THROTTLED = Outcome(429, None, None, None, "Rate Exceeded.")


def _error_message(attempt: Invocation) -> str:
    """What a dead letter's ErrorMessage says: the function's errorMessage, or its whole answer."""
    try:
        answer = json.loads(attempt.response)
    except ValueError:
        return attempt.response.decode("utf-8", "replace")
    return str(answer.get("errorMessage", "")) if isinstance(answer, dict) else json.dumps(answer)
