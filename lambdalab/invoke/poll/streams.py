"""The stream poller (Kinesis, DynamoDB Streams): each shard in order, one batch at a time, blocked by failures.

As Lambda's (developer guide, "How Lambda processes records from Kinesis / DynamoDB Streams"):

* Each shard is read in sequence order from its starting position (TRIM_HORIZON, LATEST, or
  AT_TIMESTAMP for Kinesis).  With ``ParallelizationFactor`` N a shard's records go to N lanes by
  partition key (the item's key for DynamoDB), so order holds per key while N batches run; with 1,
  the lane is the shard.  A lane runs one batch at a time.
* A batch is up to ``BatchSize`` records (cut at 6 MB), gathered for up to
  ``MaximumBatchingWindowInSeconds``.  Records no filter matches are skipped.
* A failed batch is retried, whole, until it succeeds: the lane (the shard) is blocked meanwhile.
  ``BisectBatchOnFunctionError`` splits it in two first (halves are tried in order; a split is not a
  retry); ``MaximumRetryAttempts`` gives it up after that many retries, ``MaximumRecordAgeInSeconds``
  gives its records up once they are that old, and the stream's retention drops them silently.  A
  batch given up goes to the on-failure destination as metadata (``onfailure``) and the lane moves
  on.  With ``ReportBatchItemFailures`` the function may name its failed records: the lane
  checkpoints at the lowest sequence number named and retries from there (a retry).  Throttles and
  lambdalab-side failures are retried without counting.  Retries wait
  ``esm_stream_retry_initial_s`` doubling to ``esm_stream_retry_max_s``, on the cloud's clock.
* Every invocation reports ``IteratorAge``: how old the batch's last record was.

Each lane is a thread that sleeps on its own :class:`~.base.Slot`: woken by arrivals (moto's write
path, through ``arrivals``) and by its own timers (window, retry).  Only the lane's thread takes
records out of its ``pending`` queue; a shard's reader (any of its lanes, under the shard's lock)
appends to them.
"""

from __future__ import annotations

import threading
import zlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ...observe.metrics import resource_dimension
from ...patterns import compile_pattern
from ...service.mappings import EventSourceMapping
from . import arrivals
from .base import Hold, Outcome, PollContext, Poller, Slot
from .contract import failed_items
from .onfailure import deliver, failure_record, iso
from .sources import StreamRecord

READ_LIMIT = 10000  # GetRecords' Limit
FAILED = "PROBLEM: Function call failed"


@dataclass(eq=False)
class _Shard:
    id: str
    position: int  # the last sequence number read from the source (guarded by ``lock``)
    lanes: list[_Lane] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(eq=False)
class _Lane:
    shard: _Shard
    index: int
    slot: Slot = field(default_factory=lambda: Slot(poke=True))
    pending: deque[StreamRecord] = field(default_factory=deque)  # read, not yet done (guarded by ``_cond``)
    # The rest belongs to the lane's thread alone:
    plan: list[int] = field(default_factory=list)  # sizes of the next batches, after a bisect or a checkpoint
    attempts: int = 0  # failed invocations of the batch at the head (retries are attempts after the first)
    invocations: int = 0  # invocations of the batch at the head
    backoff: float = 0.0
    not_before: float = 0.0  # cloud time before which the head batch is not retried
    window_end: float | None = None
    last: Outcome | None = None  # the head batch's last invocation


class StreamPoller(Poller):
    kind = "stream"

    def __init__(self, ctx: PollContext, mapping: EventSourceMapping, source: Any) -> None:
        super().__init__(ctx, mapping)
        self.source = source
        self.parallelization = mapping.parallelization  # lanes per shard, fixed for this poller's life
        self._shards: dict[str, _Shard] = {}  # guarded by _cond

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self, checkpoints: dict[str, int] | None = None) -> None:
        """Start reading every shard: after ``checkpoints`` (a restart), else at the starting position."""
        arrivals.listen(self.source.kind, self.source_arn, self.nudge)
        self._discover(checkpoints or {})

    def stop(self) -> None:
        arrivals.forget(self.source_arn, self.nudge)
        super().stop()

    def checkpoints(self) -> dict[str, int]:
        """Per shard, the sequence number up to which everything is done (where a restart reads after)."""
        with self._cond:
            return {s.id: min([lane.pending[0].seq - 1 for lane in s.lanes if lane.pending] or [s.position])
                    for s in self._shards.values()}

    def _discover(self, checkpoints: dict[str, int]) -> None:
        """Lanes for every shard not read yet (new shards appear when a stream is resharded)."""
        mapping = self.mapping
        if mapping is None:
            return
        for shard_id in self.source.shards():
            with self._cond:
                if self._stopping or shard_id in self._shards:
                    continue
                position = checkpoints.get(shard_id)
                if position is None:
                    position = self.source.start(shard_id, mapping.starting_position, mapping.starting_timestamp)
                shard = self._shards[shard_id] = _Shard(shard_id, position)
                shard.lanes = [_Lane(shard, i) for i in range(self.parallelization)]
                for lane in shard.lanes:  # a first look at what the shard holds, which advance() waits for
                    lane.slot.holds.append(Hold(self.ctx.clock))
            for lane in shard.lanes:
                self._spawn(self._run, f"{shard_id[-4:]}-{lane.index}", lane)

    # -- waking ------------------------------------------------------------------------------------
    def nudge(self) -> None:
        super().nudge()
        self._discover({})

    def _arrived(self) -> list[Slot]:
        return [lane.slot for shard in self._shards.values() for lane in shard.lanes]

    # -- a lane ------------------------------------------------------------------------------------
    def _run(self, lane: _Lane) -> None:
        """The lane's thread: handle batches while there are, then sleep until poked.  The clock holds
        that woke it are released only once it has nothing left to do now, so the work a timer started
        (a retry, then the batches it unblocks) all happens at that timer's moment."""
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._stopping or lane.slot.poke)
                holds = lane.slot.take()
            try:
                while not self._stopping and self._step(lane):
                    pass
            finally:
                self._release(holds)
            if self._stopping:
                return

    def _pull(self, shard: _Shard) -> None:
        """Read what the shard got since the last read into its lanes (by partition key)."""
        with shard.lock:
            while records := self.source.read(shard.id, shard.position, READ_LIMIT):
                shard.position = records[-1].seq
                with self._cond:
                    for record in records:
                        lane = shard.lanes[zlib.crc32(record.key.encode()) % len(shard.lanes)]
                        lane.pending.append(record)
                        lane.slot.poke = True
                    self._cond.notify_all()
                if len(records) < READ_LIMIT:
                    break

    def _step(self, lane: _Lane) -> bool:
        """Handle the lane's next batch if it is due; True when the lane should go on at once."""
        mapping = self.mapping
        if mapping is None or not mapping.enabled:
            return False
        self._pull(lane.shard)
        now = self.ctx.clock.time()
        if now < lane.not_before:  # a retry's timer will wake the lane
            return False
        with self._cond:
            pending = list(lane.pending)
        pending = self._expire(mapping, lane, pending, now)
        if not pending:
            return False
        batch, size = [], 0
        for record in pending[:lane.plan[0] if lane.plan else mapping.batch_size]:
            if batch and size + record.size > self.ctx.service.quotas.esm_batch_payload_max_bytes:
                break
            batch.append(record)
            size += record.size
        if mapping.window_s and not lane.plan and not lane.attempts and len(batch) < mapping.batch_size:
            if lane.window_end is None:
                lane.window_end = now + mapping.window_s
                self.wake_at(lane.window_end, lane.slot)
            if now < lane.window_end:
                return False
        lane.window_end = None
        return self._run_batch(mapping, lane, batch)

    def _expire(self, mapping: EventSourceMapping, lane: _Lane, pending: list[StreamRecord],
                now: float) -> list[StreamRecord]:
        """Drop the records at the head past the stream's retention (silently) or MaximumRecordAgeInSeconds
        (to the on-failure destination, condition RecordAgeExceeded); the rest, in order."""
        retention = self.source.retention_s()
        gone = 0
        while gone < len(pending) and now - pending[gone].arrival > retention:
            gone += 1
        if gone:
            self._done(lane, pending[:gone])
            pending = pending[gone:]
        aged = 0
        while mapping.max_age_s != -1 and aged < len(pending) and now - pending[aged].arrival > mapping.max_age_s:
            aged += 1
        if aged:
            self._give_up(mapping, lane, pending[:aged], "RecordAgeExceeded", None)
            pending = pending[aged:]
        if gone or aged:
            lane.plan.clear()  # the head batch is a new one now
        return pending

    def _run_batch(self, mapping: EventSourceMapping, lane: _Lane, batch: list[StreamRecord]) -> bool:
        patterns = [compile_pattern(p) for p in mapping.filters]
        kept = [r for r in batch if not patterns or any(p.matches(r.filterable) for p in patterns)]
        if not kept:
            self._done(lane, batch)
            return True
        outcome = self.invoke(mapping, [r.event for r in kept])
        lane.invocations += 1
        lane.last = outcome
        self._iterator_age(mapping, kept[-1])
        if outcome.status in ("throttled", "failed"):  # not the function's failure: retried, not counted
            self.ctx.service.mappings.processed(self.uuid, FAILED)
            self._retry_later(lane)
            return False
        failed: set[str] | None = None if outcome.status == "error" else \
            failed_items(outcome.response, [str(r.seq) for r in kept]) if mapping.reports_item_failures else set()
        if failed == set():
            self.ctx.service.mappings.processed(self.uuid, "OK")
            self._done(lane, batch)
            return True
        self.ctx.service.mappings.processed(self.uuid, FAILED)
        if failed:  # checkpoint at the lowest sequence number the function named, and retry from there
            lowest = min(int(item) for item in failed)
            succeeded = sum(1 for r in batch if r.seq < lowest)
            self._pop(lane, succeeded)
            lane.plan[:1] = [len(batch) - succeeded]
            return self._retry_or_give_up(mapping, lane, batch[succeeded:], outcome)
        if mapping.bisect and len(batch) > 1:  # split in two, try the halves in order; not a retry
            half = (len(batch) + 1) // 2
            lane.plan[:1] = [half, len(batch) - half]
            lane.attempts = lane.invocations = 0
            return True
        return self._retry_or_give_up(mapping, lane, batch, outcome)

    def _retry_or_give_up(self, mapping: EventSourceMapping, lane: _Lane, batch: list[StreamRecord],
                          outcome: Outcome) -> bool:
        lane.attempts += 1
        if mapping.retries != -1 and lane.attempts > mapping.retries:
            self._give_up(mapping, lane, batch, "RetryAttemptsExhausted", outcome)
            return True
        self._retry_later(lane)
        return False

    def _retry_later(self, lane: _Lane) -> None:
        q = self.ctx.service.quotas
        lane.backoff = min(q.esm_stream_retry_max_s, lane.backoff * 2 if lane.backoff else q.esm_stream_retry_initial_s)
        lane.not_before = self.ctx.clock.time() + lane.backoff
        self.wake_at(lane.not_before, lane.slot)

    def _give_up(self, mapping: EventSourceMapping, lane: _Lane, batch: list[StreamRecord], condition: str,
                 outcome: Outcome | None) -> None:
        """The batch is done with, unprocessed: its metadata goes to the on-failure destination."""
        if mapping.on_failure:
            info = self.source.batch_info(lane.shard.id, batch, iso)
            record = failure_record(self.ctx, mapping, condition, max(1, lane.invocations), outcome or lane.last,
                                    info)
            deliver(self.ctx, mapping, record, lane.shard.id, [r.event for r in batch])
        self._done(lane, batch)

    def _done(self, lane: _Lane, batch: list[StreamRecord]) -> None:
        """The batch at the head is finished (processed, skipped or given up): the next one starts afresh."""
        self._pop(lane, len(batch))
        if lane.plan:
            lane.plan.pop(0)
        lane.attempts = lane.invocations = 0
        lane.backoff = lane.not_before = 0.0
        lane.last = None

    def _pop(self, lane: _Lane, count: int) -> None:
        with self._cond:
            for _ in range(count):
                lane.pending.popleft()

    def _iterator_age(self, mapping: EventSourceMapping, last: StreamRecord) -> None:
        function = mapping.function_arn.split(":")[6]
        age_ms = max(0.0, (self.ctx.clock.time() - last.arrival) * 1000)
        self.ctx.metrics.function_metric("IteratorAge", age_ms, "Milliseconds", function,
                                         resource_dimension(mapping.function_arn), self.ctx.clock.now())
