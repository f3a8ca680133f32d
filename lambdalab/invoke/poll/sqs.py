"""The SQS poller: receive a batch, invoke, delete what succeeded; SQS itself does the rest.

As Lambda's SQS pollers (developer guide, "Using Lambda with Amazon SQS"):

* Messages are received with the queue's visibility timeout (window + function timeout + 30 s when
  those pass it) through moto's own ``receive_message``, which counts receives, keeps FIFO message
  groups in flight one batch at a time, and moves a message to the queue's dead-letter queue once
  its receive count reaches the redrive policy's ``maxReceiveCount``: the poison-message path is
  SQS's, not the poller's.
* A batch is up to ``BatchSize`` messages, received 10 at a time (ReceiveMessage's maximum) and
  cut at 6 MB; with ``MaximumBatchingWindowInSeconds`` the poller keeps receiving until the window
  (on the cloud's clock) ends or the batch is full.  FIFO queues take no window.
* Messages no filter matches are deleted, never invoked.  A successful invocation deletes the batch;
  a failed one deletes nothing, and the messages come back once their visibility timeout ends, with
  ``ApproximateReceiveCount`` grown.  With ``ReportBatchItemFailures`` only the items the function
  names stay (``contract.failed_items``); in a FIFO queue a failed item also keeps every later
  message of its group, so that the group's order holds.
* Scaling: 5 concurrent batches at first, 300 more each minute while full batches keep coming back
  (a backlog), up to 1,000 or ``ScalingConfig.MaximumConcurrency``; back to 5 once the queue is
  found empty.  This machine runs at most ``esm_concurrency_machine_max`` of them at once (each is
  an execution environment): :meth:`SqsPoller.scaling` lists AWS's target beside what runs.

Workers are threads, started as the queue needs them; each takes ``_receive`` to receive (moto's
receive is not atomic), so one batch is gathered at a time while the others invoke.
"""

from __future__ import annotations

import base64
import json
import threading
from collections import defaultdict
from typing import Any

from ...arns import parse_arn
from ...clock import Timer
from ...patterns import compile_pattern
from ...service.mappings import SQS, EventSourceMapping
from . import arrivals
from .access import queue as find_queue
from .base import Hold, Outcome, PollContext, Poller, Slot
from .contract import failed_items

RECEIVE_MAX = 10  # ReceiveMessage's MaxNumberOfMessages
VISIBLE_AGAIN_GRACE_S = 0.1  # how long after a visibility timeout's end the poller looks again (cloud time)


class SqsPoller(Poller):
    kind = "sqs"

    def __init__(self, ctx: PollContext, mapping: EventSourceMapping) -> None:
        super().__init__(ctx, mapping)
        self._maybe = False  # messages may be waiting: a worker should look
        self._gathering: Slot | None = None  # the slot of the worker gathering within a batching window
        self._workers = 0  # threads started and not ended
        self._idle = 0  # of them, waiting for work
        self._running = 0  # batches being gathered or invoked
        self._target = ctx.service.quotas.esm_sqs_initial_concurrency
        self._backlog = False  # a receive came back full since the last scaling step
        self._scaling: Timer | None = None
        self._visible: Timer | None = None  # the wake when the next invisible message comes back
        self._receive = threading.Lock()
        self._history: list[dict[str, Any]] = []
        self._cap = self._limit(mapping)

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        arrivals.listen(SQS, self.source_arn, self.nudge)
        self._note()
        self.nudge()  # a first look at what the queue holds

    def stop(self) -> None:
        arrivals.forget(self.source_arn, self.nudge)
        super().stop()

    def configure(self, mapping: EventSourceMapping) -> None:
        """The mapping changed: its concurrency limit applies from now on."""
        with self._cond:
            self._cap = self._limit(mapping)
            self._maybe = True
            self._cond.notify_all()
        self._grow()

    def scaling(self) -> list[dict[str, Any]]:
        """Every change of the poller's scale: AWS's target, what this machine runs at most, batches running."""
        with self._cond:
            return list(self._history)

    # -- waking and scaling ------------------------------------------------------------------------
    def _arrived(self) -> list[Slot]:
        self._maybe = True
        if self._gathering is not None:  # the worker gathering within a window takes it
            self._gathering.poke = True
            return [self._gathering]
        return [self._slot]

    def nudge(self) -> None:
        super().nudge()
        self._grow()

    def _limit(self, mapping: EventSourceMapping) -> int:
        q = self.ctx.service.quotas
        return max(1, min(self._target, mapping.max_concurrency or q.esm_sqs_max_concurrency,
                          q.esm_concurrency_machine_max))

    def _grow(self) -> None:
        """Start a worker when work may be waiting, none is idle, and the limit allows one more."""
        with self._cond:
            wanted = not self._stopping and self._maybe and self._idle == 0 and self._workers < self._cap
            if wanted:
                self._workers += 1
        if wanted:
            self._spawn(self._work, str(self._workers))

    def _note(self) -> None:
        """Add the scale now to the history (with ``_cond`` held, or before any thread runs)."""
        self._history.append({"time": self.ctx.clock.now(), "target": self._target, "limit": self._cap,
                              "running": self._running})

    def _saw_backlog(self) -> None:
        """A receive came back full: more is waiting, so scale up each minute while that lasts."""
        with self._cond:
            self._backlog = self._maybe = True
            if self._scaling is None and not self._stopping:
                self._scaling = self.ctx.clock.call_later(60, self._scale_up)
            self._cond.notify()
        self._grow()

    def _scale_up(self) -> None:
        """A minute of backlog passed (on the clock's thread): 300 more concurrent batches, up to the maximum."""
        q = self.ctx.service.quotas
        mapping = self.mapping
        with self._cond:
            self._scaling = None
            if self._stopping or mapping is None:
                return
            top = mapping.max_concurrency or q.esm_sqs_max_concurrency
            self._target = min(top, self._target + q.esm_sqs_scale_up_per_minute)
            self._cap = self._limit(mapping)
            self._note()
            if self._backlog:
                self._backlog = False
                self._scaling = self.ctx.clock.call_later(60, self._scale_up)
            self._cond.notify_all()
        self._grow()

    def _drained(self) -> None:
        """A receive found the queue empty: back to the initial scale."""
        mapping = self.mapping
        with self._cond:
            if self._scaling is not None:
                self._scaling.cancel()
                self._scaling = None
            self._backlog = False
            initial = self.ctx.service.quotas.esm_sqs_initial_concurrency
            if self._target != initial and mapping is not None:
                self._target = initial
                self._cap = self._limit(mapping)
                self._note()

    def _watch_visibility(self, queue: Any) -> None:
        """Wake when the next message now invisible (in flight or delayed) becomes visible again."""
        now_ms = self.ctx.clock.time() * 1000
        due = [t for m in list(queue._messages) for t in (m.visible_at, m.delayed_until) if t > now_ms]
        if not due:
            return
        # moto's "visible" is strictly after visible_at; the messages of one receive get visible_at a few
        # ms apart, and come back together in SQS: wake a little after the first
        when = min(due) / 1000 + VISIBLE_AGAIN_GRACE_S
        with self._cond:  # a wake still to come, and not later than this one, will do
            pending = self._visible
            earlier = pending is not None and not pending.cancelled and now_ms / 1000 < pending.when <= when
        if earlier:
            return
        timer = self.wake_at(when)
        with self._cond:  # two workers may race here: the loser's timer only wakes the poller once more
            replaced, self._visible = self._visible, timer
        if replaced is not None:
            replaced.cancel()

    # -- a worker ----------------------------------------------------------------------------------
    def _work(self) -> None:
        """A worker: one batch per cycle.  The clock hold of the arrival or timer that woke it is released
        once its batch is handled and the next wake is set: each arrival gets a cycle within the moment it
        arrived, while a backlog found on the way (full receives) drains as the clock moves on, as in AWS
        (so ``advance`` can show the poller scaling up)."""
        while True:
            with self._cond:
                self._idle += 1
                self._cond.wait_for(lambda: self._stopping or (self._maybe and self._running < self._cap))
                self._idle -= 1
                if self._stopping:
                    self._workers -= 1
                    return
                holds = self._slot.take_one()  # one arrival or timer per cycle: each cycle receives for one
                self._maybe = self._slot.poke
                self._running += 1
                self._note()
            try:
                mapping = self.mapping
                if mapping is not None and mapping.enabled:
                    self._cycle(mapping, holds)
            finally:
                with self._cond:
                    self._running -= 1
                    self._note()
                    self._cond.notify_all()
                self._release(holds)

    def _cycle(self, mapping: EventSourceMapping, holds: list[Hold]) -> None:
        """Gather one batch and handle it.  ``holds`` are the clock holds this cycle answers for; it adds
        those it takes while gathering, and releases (and drops) those a batching window no longer needs."""
        queue = find_queue(self.source_arn)
        if queue is None:  # the queue was deleted: nothing to poll until it exists again
            return
        messages = self._gather(mapping, queue, holds)
        if messages is None:  # another worker's window is open: it takes what came
            return
        if not messages:
            self._drained()
            self._watch_visibility(queue)
            return
        self._handle(mapping, queue, messages)

    def _gather(self, mapping: EventSourceMapping, queue: Any, holds: list[Hold]) -> list[Any] | None:
        """Up to BatchSize messages (and 6 MB): at once, or until the batching window ends; None when
        another worker's window is open (it is poked to receive what came instead).

        One receive at a time (``_receive``), never held while waiting.  While the window is open what
        arrived has been received and is only waiting for the window's timer: the holds of those
        arrivals are released then, so that ``clock.advance`` can reach the window's end (whose timer's
        hold stays with the batch)."""
        limit_bytes = self.ctx.service.quotas.esm_batch_payload_max_bytes
        visibility = self._visibility(mapping, queue)
        batch: list[Any] = []
        size, deadline, timer, slot = 0, None, None, Slot()
        while not self._stopping:
            with self._receive:
                with self._cond:
                    slot.poke = False
                    if self._gathering is not None and self._gathering is not slot:
                        # what woke this worker is the gathering worker's to receive, and to answer for: its
                        # holds go with it, so the clock waits until that batch is handled
                        self._gathering.holds += holds
                        holds.clear()
                        self._gathering.poke = True
                        self._cond.notify_all()
                        return None
                for message in self._receive_some(queue, min(RECEIVE_MAX, mapping.batch_size - len(batch)),
                                                  visibility):
                    batch.append(message)
                    size += len(message.body.encode())
                full = len(batch) >= mapping.batch_size or size >= limit_bytes
                if not (full or not batch or not mapping.window_s) and deadline is None:
                    deadline = self.ctx.clock.time() + mapping.window_s  # the window opens: what arrives
                    with self._cond:  # meanwhile is this worker's to receive
                        self._gathering = slot
                        if self._slot.holds:  # arrivals since this receive began: this worker receives them
                            slot.holds += self._slot.take()
                            slot.poke = True
            if full:
                self._saw_backlog()
            if full or not batch or not mapping.window_s:
                break
            if timer is None:
                timer = self.wake_at(deadline, slot)
            if self.ctx.clock.time() >= deadline:
                break
            self._release(holds)  # received: the window's timer decides when this batch goes
            holds.clear()
            with self._cond:
                self._cond.wait_for(lambda: self._stopping or slot.poke)
                holds += slot.holds
                slot.holds = []
        if timer is not None:
            timer.cancel()
        with self._cond:
            if self._gathering is slot:
                self._gathering = None
            holds += slot.take()
        return batch

    def _visibility(self, mapping: EventSourceMapping, queue: Any) -> int:
        """The queue's visibility timeout, or window + function timeout + 30 s when those pass it."""
        try:
            timeout = self.ctx.service.resolve(mapping.function_arn).timeout
        except Exception:  # the function is gone: its invocation will fail anyway
            timeout = 0
        needed = mapping.window_s + timeout
        return queue.visibility_timeout if needed <= queue.visibility_timeout else \
            needed + self.ctx.service.quotas.esm_sqs_extra_visibility_s

    def _receive_some(self, queue: Any, count: int, visibility: int) -> list[Any]:
        if count <= 0:
            return []
        if queue.fifo_queue:
            # moto notices that an in-flight message has become visible again only when its receive loop
            # reaches it, so a group's later message (still "in flight") blocks its earlier one and the
            # group comes back out of order.  SQS has them all back in flight-free order: say so first.
            for message in [m for m in queue.pending_messages if m.visible]:
                queue.pending_messages.discard(message)
        return _backend(self.source_arn).receive_message(queue.name, count, 0, visibility, ["All"])

    def _handle(self, mapping: EventSourceMapping, queue: Any, messages: list[Any]) -> None:
        """Filter, invoke, delete what succeeded; what failed comes back after its visibility timeout."""
        backend, region = _backend(self.source_arn), parse_arn(self.source_arn).region
        records = [sqs_record(m, self.source_arn, region) for m in messages]
        patterns = [compile_pattern(p) for p in mapping.filters]
        kept = [(m, r) for m, r in zip(messages, records, strict=True)
                if not patterns or any(p.matches(_filterable(r)) for p in patterns)]
        kept_ids = {m.id for m, _ in kept}
        for message in messages:  # filtered out: deleted, as AWS does
            if message.id not in kept_ids:
                _delete(backend, queue, message)
        if not kept:
            return
        outcome = self.invoke(mapping, [r for _, r in kept])
        failed = self._failed(mapping, outcome, [m for m, _ in kept])
        for message, _ in kept:
            if message.id not in failed:
                _delete(backend, queue, message)
        if failed:
            self._watch_visibility(queue)

    def _failed(self, mapping: EventSourceMapping, outcome: Outcome, messages: list[Any]) -> set[str]:
        """The ids of the messages that stay in the queue after this invocation."""
        ids = [m.id for m in messages]
        if outcome.status != "ok":
            return set(ids)
        failed = failed_items(outcome.response, ids) if mapping.reports_item_failures else set()
        if failed is None:
            return set(ids)
        if mapping.fifo and failed:  # a group's later messages wait behind its failed one
            blocked: dict[str, bool] = defaultdict(bool)
            for message in messages:
                blocked[message.group_id] |= message.id in failed
                if blocked[message.group_id]:
                    failed.add(message.id)
        return failed


def _backend(arn: str) -> Any:
    from moto.sqs.models import sqs_backends

    parsed = parse_arn(arn)
    return sqs_backends[parsed.account][parsed.region]


def _delete(backend: Any, queue: Any, message: Any) -> None:
    from moto.sqs.exceptions import ReceiptHandleIsInvalid

    try:
        backend.delete_message(queue.name, message.receipt_handle)
    except (ReceiptHandleIsInvalid, KeyError):  # deleted meanwhile (PurgeQueue, the queue itself)
        pass


def sqs_record(message: Any, source_arn: str, region: str) -> dict[str, Any]:
    """One message as Lambda's SQS event shows it (keys in AWS's order)."""
    attributes = {"ApproximateReceiveCount": str(message.approximate_receive_count)}
    trace = (message.system_attributes or {}).get("AWSTraceHeader")
    if trace:
        attributes["AWSTraceHeader"] = trace.get("StringValue")
    attributes["SentTimestamp"] = str(message.sent_timestamp)
    if message.sequence_number is not None:
        attributes["SequenceNumber"] = message.sequence_number
    if message.group_id is not None:
        attributes["MessageGroupId"] = message.group_id
    attributes["SenderId"] = message.sender_id
    if message.deduplication_id is not None:
        attributes["MessageDeduplicationId"] = message.deduplication_id
    attributes["ApproximateFirstReceiveTimestamp"] = str(message.approximate_first_receive_timestamp)
    return {
        "messageId": message.id, "receiptHandle": message.receipt_handle, "body": message.body,
        "attributes": attributes,
        "messageAttributes": {name: _attribute(value) for name, value in message.message_attributes.items()},
        "md5OfMessageAttributes": message.attribute_md5 if message.message_attributes else None,
        "md5OfBody": message.body_md5, "eventSource": "aws:sqs", "eventSourceARN": source_arn, "awsRegion": region,
    }


def _attribute(value: dict[str, Any]) -> dict[str, Any]:
    """A message attribute as the event shows it: camelCased, with the (always empty) list values."""
    shown: dict[str, Any] = {}
    if value.get("StringValue") is not None:
        shown["stringValue"] = value["StringValue"]
    if value.get("BinaryValue") is not None:
        binary = value["BinaryValue"]
        shown["binaryValue"] = base64.b64encode(binary).decode() if isinstance(binary, bytes) else binary
    shown.update(stringListValues=[], binaryListValues=[], dataType=value.get("DataType"))
    return shown


def _filterable(record: dict[str, Any]) -> dict[str, Any]:
    """The record as filters see it: a body that is JSON is matched as JSON, any other as its text."""
    try:
        return {**record, "body": json.loads(record["body"])}
    except ValueError:
        return record

