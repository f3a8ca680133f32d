"""Lambda's pollers: event source mappings run as threads that read a queue or stream and invoke.

:class:`Pollers` keeps one poller for each enabled mapping of the services attached to it (one per
account and Region): it hears every change of their ``MappingStore``, starts, reconfigures or stops
the poller, then settles the mapping's state (``Creating`` -> ``Enabled``, ``Disabling`` ->
``Disabled``, ``Deleting`` -> gone once its threads have ended).  It also judges, for the store,
whether a new mapping's source exists and its role may poll it (``access``).  The pollers:
``sqs.SqsPoller`` and ``streams.StreamPoller`` over ``sources.KinesisSource`` /
``sources.DynamoDBSource``; they invoke through the same ``Invoker`` as Invoke does.

Stopping a cloud: :meth:`Pollers.close` tells every poller to stop before the environment pool
stops (so no new batch starts and in-flight invocations end with their environments), and
:meth:`Pollers.join` then waits for their threads, within a deadline.

Locks: ``Pollers._lock`` guards ``_pollers``, ``_checkpoints``, ``_stopping`` and ``_closed``;
``_changes`` takes one mapping change at a time (two requests for one mapping must not both start a
poller); pollers are started and stopped under ``_changes`` only (quick: threads and flags) and
joined under neither.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from ...clock import Clock
from ...iam.authorizer import Authorizer
from ...observe.metrics import Metrics
from ...service.functions import LambdaService
from ...service.mappings import SQS, EventSourceMapping
from ..destinations import Destinations
from ..invoker import Invoker
from .access import SourceAccess
from .base import THREAD_JOIN_S, PollContext, Poller
from .sources import DynamoDBSource, KinesisSource
from .sqs import SqsPoller
from .streams import StreamPoller

log = logging.getLogger(__name__)


class Pollers:
    def __init__(self, authorizer: Authorizer, clock: Clock, destinations: Destinations) -> None:
        self._clock, self._destinations = clock, destinations
        self.access = SourceAccess(authorizer)
        self._lock = threading.Lock()
        self._pollers: dict[str, Poller] = {}  # mapping UUID -> its running poller
        self._checkpoints: dict[str, dict[str, int]] = {}  # a disabled stream mapping's shards, to resume
        self._stopping: list[Poller] = []
        self._closed = False
        self._changes = threading.Lock()

    def attach(self, service: LambdaService, invoker: Invoker, metrics: Metrics) -> None:
        """Run the mappings of ``service`` through the ``invoker`` of its account and Region, counting in its
        ``metrics`` (call once per service, as each account and Region gets one)."""
        ctx = PollContext(service, invoker, self.access, self.access.authorizer, metrics, self._clock,
                          self._destinations)
        service.mappings.check_source = self.access.check
        service.mappings.subscribe(lambda mapping: self._changed(ctx, mapping))

    def _changed(self, ctx: PollContext, mapping: EventSourceMapping) -> None:
        with self._changes:
            self._apply(ctx, mapping)

    def _apply(self, ctx: PollContext, mapping: EventSourceMapping) -> None:
        with self._lock:
            if self._closed:
                return
            running = self._pollers.get(mapping.uuid)
        if mapping.state == "Deleting" or not mapping.enabled:
            self._retire(ctx, mapping, running)
            return
        if running is not None and not _restart_needed(running, mapping):
            if isinstance(running, SqsPoller):
                running.configure(mapping)
            running.nudge()
            ctx.service.mappings.settle(mapping.uuid)
            return
        checkpoints = self._checkpoints.pop(mapping.uuid, {})
        if running is not None:  # a new parallelization factor: new lanes, from where the old ones were
            checkpoints = running.checkpoints() if isinstance(running, StreamPoller) else {}
            running.stop()
        poller = _poller(ctx, mapping)
        with self._lock:
            if self._closed:
                return
            self._pollers[mapping.uuid] = poller
        poller.start(checkpoints) if isinstance(poller, StreamPoller) else poller.start()
        ctx.service.mappings.settle(mapping.uuid)

    def _retire(self, ctx: PollContext, mapping: EventSourceMapping, running: Poller | None) -> None:
        """Stop the mapping's poller; its state settles once the poller's threads have ended."""
        with self._lock:
            self._pollers.pop(mapping.uuid, None)
        if running is None:
            ctx.service.mappings.settle(mapping.uuid)
            return
        if isinstance(running, StreamPoller) and mapping.state != "Deleting":
            self._checkpoints[mapping.uuid] = running.checkpoints()
        running.stop()

        def finish() -> None:
            late = running.join(time.monotonic() + THREAD_JOIN_S)
            if late:
                log.warning("poller %s still running after %.0f s: %s", mapping.uuid, THREAD_JOIN_S, late)
            ctx.service.mappings.settle(mapping.uuid)
            with self._lock:
                if running in self._stopping:
                    self._stopping.remove(running)

        with self._lock:
            self._stopping.append(running)
        threading.Thread(target=finish, name=f"lambdalab-poll-stop-{mapping.uuid[:8]}", daemon=True).start()

    def scaling(self):
        """Each SQS poller's scale over time, as a pandas DataFrame: AWS's target concurrency, the limit
        this machine runs, and the batches running."""
        import pandas as pd

        with self._lock:
            pollers = [p for p in self._pollers.values() if isinstance(p, SqsPoller)]
        rows = [{"mapping": p.uuid, "source": p.source_arn, **row} for p in pollers for row in p.scaling()]
        return pd.DataFrame(rows, columns=["mapping", "source", "time", "target", "limit", "running"])

    def close(self) -> None:
        """Tell every poller to stop (no new batch starts); returns at once."""
        with self._lock:
            self._closed = True
            pollers = list(self._pollers.values()) + self._stopping
            self._pollers.clear()
            self._stopping = pollers
        for poller in pollers:
            poller.stop()

    def join(self, deadline_s: float = THREAD_JOIN_S) -> None:
        """Wait for every poller's threads (after ``close`` and the pool's stop), within a deadline."""
        with self._lock:
            pollers = list(self._stopping)
        end = time.monotonic() + deadline_s
        late = [name for poller in pollers for name in poller.join(end)]
        if late:
            log.warning("poller threads still running after %.1f s: %s", deadline_s, ", ".join(late))

    def running(self) -> list[str]:
        """UUIDs of the mappings whose pollers run now."""
        with self._lock:
            return list(self._pollers)


def _restart_needed(poller: Poller, mapping: EventSourceMapping) -> bool:
    """A stream poller's lanes are fixed at start: a new ParallelizationFactor needs new ones."""
    return isinstance(poller, StreamPoller) and poller.parallelization != mapping.parallelization


def _poller(ctx: PollContext, mapping: EventSourceMapping) -> Any:
    region = mapping.source_arn.split(":")[3]
    if mapping.kind == SQS:
        return SqsPoller(ctx, mapping)
    source = KinesisSource(mapping.source_arn, region) if mapping.kind == "kinesis" else \
        DynamoDBSource(mapping.source_arn, region)
    return StreamPoller(ctx, mapping, source)
