"""What every poller shares: the mapping it serves, its threads, how they sleep and wake, how it invokes.

A poller's threads sleep on one condition until something may have changed: data arrived
(``nudge``, from moto through ``arrivals``), or a moment came that a timer on the cloud's clock was
set for (``wake_at``: a visibility timeout's end, a batching window's, a retry's).  Either wakes a
:class:`Slot` (a thread's, or the poller's for any thread) and takes a clock hold for it, which the
thread that empties the slot releases once it has nothing left to do; so ``cloud.clock.advance``
moves on only once what arrived, or what the timer released, has been handled, at that moment of
cloud time (``advance(0)`` waits for the pollers to catch up).  Nothing polls on a timeout: an idle
poller costs no CPU.

Invocations go through the same path as ``Invoke``: ``Invoker.invoke`` (lease, environment, invoke),
synchronously, with the mapping's UUID, source and batch size on the invocation's record.

Lock: ``Poller._cond`` guards the poller's own state (``_stopping``, the slots, ``_timers`` and what
subclasses keep beside them); nothing slow runs under it (invocations and moto calls run outside).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...clock import Clock, Timer
from ...iam.authorizer import Authorizer
from ...observe.metrics import Metrics, resource_dimension
from ...sandbox.invocation import Invocation
from ...service.errors import LambdaError, TooManyRequestsException
from ...service.functions import LambdaService
from ...service.mappings import EventSourceMapping
from ..destinations import Destinations
from ..invoker import Invoker
from ..pool import PoolClosed
from ..recursion import header, stopped
from .access import SourceAccess

log = logging.getLogger(__name__)
THREAD_JOIN_S = 5.0  # how long stop() waits for a poller's threads, together


@dataclass
class PollContext:
    """What pollers reach: the service whose mappings they run, the invoke path, IAM, the clock, and
    the delivery path to on-failure destinations."""

    service: LambdaService
    invoker: Invoker
    access: SourceAccess
    authorizer: Authorizer
    metrics: Metrics
    clock: Clock
    destinations: Destinations


@dataclass
class Outcome:
    """How one invocation of a batch went, as the poller needs it."""

    status: str  # "ok", "error" (a function error), "throttled" or "failed" (no function, no permission, ...)
    request_id: str
    response: bytes = b""
    executed_version: str = "$LATEST"
    function_error: str | None = None


class Hold:
    """One ``Clock.hold``, released once however often ``release`` is called (threads pass holds around)."""

    __slots__ = ("_clock",)

    def __init__(self, clock: Clock) -> None:
        clock.hold()
        self._clock: Clock | None = clock

    def release(self) -> None:
        clock, self._clock = self._clock, None
        if clock is not None:
            clock.release()


@dataclass(eq=False)
class Slot:
    """One waiter's reasons to wake (guarded by the poller's ``_cond``): a poke, and the holds of the
    timers that poked it."""

    poke: bool = False
    holds: list[Hold] = field(default_factory=list)

    def take(self) -> list[Hold]:
        """Empty the slot; the caller releases the holds once it has done what they were for."""
        holds, self.holds, self.poke = self.holds, [], False
        return holds

    def take_one(self) -> list[Hold]:
        """One hold (one arrival or timer) for one cycle of work; the slot stays poked while more wait."""
        holds, self.holds = self.holds[:1], self.holds[1:]
        self.poke = bool(self.holds)
        return holds


class Poller:
    """The threads that read one mapping's source and invoke its function."""

    kind = "poller"

    def __init__(self, ctx: PollContext, mapping: EventSourceMapping) -> None:
        self.ctx, self.uuid, self.source_arn = ctx, mapping.uuid, mapping.source_arn
        self._cond = threading.Condition()
        self._stopping = False
        self._threads: list[threading.Thread] = []
        self._slot = Slot()  # the poller's own: timers any thread may handle
        self._timers: set[Timer] = set()

    @property
    def mapping(self) -> EventSourceMapping | None:
        """The mapping as it is now (an update takes effect with the next batch)."""
        return self.ctx.service.mappings.find(self.uuid)

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        """Ask every thread to end after its current batch; returns at once (``join`` waits)."""
        with self._cond:
            self._stopping = True
            for timer in self._timers:
                timer.cancel()
            self._timers.clear()
            holds = self._slot.take()
            self._cond.notify_all()
        self._release(holds)  # threads release their own slots' holds as they end

    def join(self, deadline: float) -> list[str]:
        """Wait for the threads until ``deadline`` (time.monotonic); the names of those still running."""
        for thread in list(self._threads):
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))
        return [t.name for t in self._threads if t.is_alive()]

    def _spawn(self, target: Callable[..., None], name: str, *args: Any) -> None:
        thread = threading.Thread(target=self._guarded, args=(target, *args), daemon=True,
                                  name=f"lambdalab-{self.kind}-{self.uuid[:8]}-{name}")
        self._threads.append(thread)
        thread.start()

    def _guarded(self, target: Callable[..., None], *args: Any) -> None:
        try:
            target(*args)
        except Exception:  # a poller's thread must not die silently; the mapping stays as it is
            log.exception("poller %s for %s failed", self.uuid, self.source_arn)

    # -- waking ------------------------------------------------------------------------------------
    def nudge(self) -> None:
        """Something arrived (moto's write path calls this): wake the threads that wait for data, each with
        a clock hold, so that ``clock.advance`` (even by 0 s) first lets them handle it, at this moment."""
        with self._cond:
            if self._stopping:
                return
            for slot in self._arrived():
                slot.poke = True
                slot.holds.append(Hold(self.ctx.clock))
            self._cond.notify_all()

    def _arrived(self) -> list[Slot]:
        """Note that data may be there (with ``_cond`` held) and return the slots of the threads to wake."""
        return [self._slot]

    def wake_at(self, when: float, slot: Slot | None = None) -> Timer:
        """Poke ``slot`` (the poller's by default) at cloud time ``when``, holding the clock until the
        thread that empties the slot has handled it."""
        slot = slot or self._slot

        def fire() -> None:
            hold = Hold(self.ctx.clock)
            with self._cond:
                self._timers.discard(timer)
                if self._stopping:
                    hold.release()
                    return
                slot.holds.append(hold)
                slot.poke = True
                self._arrived()
                self._cond.notify_all()

        timer = self.ctx.clock.call_later(when - self.ctx.clock.time(), fire)
        with self._cond:
            if self._stopping:
                timer.cancel()
            else:
                self._timers.add(timer)
        return timer

    @staticmethod
    def _release(holds: list[Hold]) -> None:
        for hold in holds:
            hold.release()

    # -- invoking ----------------------------------------------------------------------------------
    def invoke(self, mapping: EventSourceMapping, records: list[dict]) -> Outcome:
        """Invoke the mapping's function with ``{"Records": records}``, synchronously, as Lambda's pollers do.

        Records that carry ``invokeIdentityArn`` (Kinesis's) get the function's execution role there."""
        request_id = str(uuid.uuid4())
        service = self.ctx.service
        try:
            located = service.lookup(mapping.function_arn, invoke=True)
            function = service.route(located)
            if self.ctx.access.denied(mapping, function.role) is not None:
                log.info("poller %s: the role of %s may no longer read %s", self.uuid, function.name, self.source_arn)
                return Outcome("failed", request_id)
            records = [{**r, "invokeIdentityArn": function.role} if "invokeIdentityArn" in r else r for r in records]
            trace = header(located.function.arn, records[0].get("attributes", {}).get("AWSTraceHeader"))
            if stopped(service, located.function, trace):  # an SQS loop: its batch goes back to the queue
                self.ctx.invoker.metrics.function_metric("RecursiveInvocationsDropped", 1, "Count", function.name,
                                                         resource_dimension(located.arn), service.clock.now())
                return Outcome("failed", request_id)
            inv = Invocation(request_id=request_id, payload=json.dumps({"Records": records}).encode(),
                             invoked_arn=located.arn, trace_id=trace, invocation_model="poll",
                             event_source_mapping=mapping.uuid, event_source_arn=mapping.source_arn,
                             batch_size=len(records))
            self.ctx.invoker.invoke(function, inv)
        except TooManyRequestsException:
            return Outcome("throttled", request_id)
        except (LambdaError, PoolClosed) as e:  # the function is gone, or the cloud is stopping
            log.info("poller %s could not invoke %s: %s", self.uuid, mapping.function_arn, e)
            return Outcome("failed", request_id)
        return Outcome("error" if inv.function_error else "ok", request_id, inv.response, function.version,
                       inv.function_error)
