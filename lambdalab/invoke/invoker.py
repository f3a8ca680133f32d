"""The invoke path: ``with lease: with environment: env.invoke(...)``, synchronous or queued.

The lease admits the invocation (or throttles it: account, reserved), the pool places it on a
provisioned, warm or new environment (or throttles it: the scaling rate, this machine's room).

Every invocation (or throttle) is counted in the ``AWS/Lambda`` metrics on its way out.
Synchronous invocations run on the caller's thread.  Asynchronous ones (``Event``) go into an
internal queue first and run on the same path from named worker threads; retries,
destinations and dead-letter queues build on this queue in a later chapter.  The queue is
thread-safe on its own; ``_lock`` only guards starting the workers (lazily, up to
``ASYNC_WORKERS``), and a worker survives whatever one event raises.
"""

from __future__ import annotations

import logging
import queue
import threading

from ..observe.metrics import Metrics, resource_dimension
from ..sandbox.invocation import Invocation
from ..service.errors import LambdaError, TooManyRequestsException
from ..service.functions import LambdaService
from ..service.models import Function
from .lease import Leases
from .pool import EnvironmentPool, PoolClosed

log = logging.getLogger(__name__)
ASYNC_WORKERS = 8
THROTTLE_BACKOFF_S = 1.0  # first delay before a throttled event is tried again (AWS: 1 s, up to 5 min)


class Invoker:
    def __init__(self, service: LambdaService, pool: EnvironmentPool, leases: Leases, metrics: Metrics) -> None:
        self.service, self.pool, self.leases, self.metrics = service, pool, leases, metrics
        self._queue: queue.Queue[tuple[str, Invocation] | None] = queue.Queue()
        self._workers: list[threading.Thread] = []
        self._lock = threading.Lock()

    def invoke(self, function: Function, inv: Invocation) -> Invocation:
        """Run ``inv`` now and return it completed; raises TooManyRequestsException when throttled."""
        at, resource = self.service.clock.now(), resource_dimension(inv.invoked_arn)
        try:
            with self.leases.lease(function) as lease, self.pool.environment(function, lease) as env:
                self.metrics.started(function.name, resource, at, lease.running, lease.provisioned,
                                     lease.slot.spillover)
                env.invoke(inv)
        except TooManyRequestsException:
            self.metrics.throttled(function.name, resource, at)
            raise
        qualifier = resource.partition(":")[2]  # the Resource dimension is "name" or "name:qualifier"
        through_alias = qualifier not in ("", function.version, "$LATEST")
        self.metrics.finished(function.name, resource, at, inv.duration_ms, inv.error_type is not None,
                              function.version if through_alias else None)
        return inv

    def submit(self, function: Function, inv: Invocation) -> None:
        """Queue an asynchronous invocation; it runs what its ARN designates when its turn comes
        (the configuration of $LATEST at that time; for an alias, the version its weights draw then)."""
        with self._lock:
            if len(self._workers) < ASYNC_WORKERS:
                worker = threading.Thread(target=self._work, name=f"lambdalab-async-{len(self._workers)}",
                                          daemon=True)
                self._workers.append(worker)
                worker.start()
        self._queue.put((function.name, inv))

    def pending(self) -> int:
        return self._queue.qsize()

    def stop(self) -> None:
        for _ in self._workers:
            self._queue.put(None)
        for worker in self._workers:
            worker.join(timeout=10)

    def _work(self) -> None:
        """One async worker: it outlives any failure of one event, and ends only at ``stop()``'s sentinel."""
        while (item := self._queue.get()) is not None:
            name, inv = item
            try:
                self.invoke(self.service.route(self.service.lookup(inv.invoked_arn, invoke=True)), inv)
            except TooManyRequestsException:
                self.service.clock.call_later(THROTTLE_BACKOFF_S, lambda item=item: self._queue.put(item))
            except LambdaError as e:  # the function was deleted while its event waited
                log.info("dropped event %s for %s: %s", inv.request_id, name, e.message)
            except PoolClosed:  # the cloud is stopping: the sentinel follows
                log.info("dropped event %s for %s: the cloud is stopping", inv.request_id, name)
            except Exception:
                log.exception("event %s for %s failed in lambdalab", inv.request_id, name)
