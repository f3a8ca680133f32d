"""The provisioner: provisioned environments made and ended as one service's configurations ask.

When a function's provisioned concurrency changes (``service.concurrency`` tells it), a named
thread brings the pool's provisioned environments of each of its versions to what the
configurations want (:meth:`EnvironmentPool.provision`), then waits for the INIT of each
configuration's environments (in real time, at most the INIT timeout) and reports to the store,
which turns the configuration READY once its allocation time has passed on the cloud's clock too,
or FAILED.  A failed configuration wants no environments: the next reconciliation stops them.

A reconciliation holds the cloud's clock (``Clock.hold``) until it has reported, so
``cloud.clock.advance(...)`` past the allocation time returns once the INITs are done and the
configuration is READY (or FAILED), as a learner waiting for READY in AWS would see it, rather than
racing the INITs in real time.

``_lock`` serializes reconciliations (a Put and a Delete in quick succession are applied in
order); the waits for INIT run outside it.  ``_threads`` (under ``_guard``) are the threads at
work, joined by ``stop()``.
"""

from __future__ import annotations

import logging
import threading
import time

from ..service.concurrency import INIT_FAILURE, WAIT_MARGIN_S
from ..service.functions import LambdaService
from .pool import EnvironmentPool, PoolClosed

log = logging.getLogger(__name__)
STOP_DEADLINE_S = 5.0


class Provisioner:
    def __init__(self, service: LambdaService, pool: EnvironmentPool) -> None:
        self._service, self._pool = service, pool
        self._lock = threading.Lock()
        self._guard = threading.Lock()
        self._threads: set[threading.Thread] = set()
        service.concurrency.subscribe(self._changed)

    def _changed(self, name: str) -> None:
        thread = threading.Thread(target=self._reconcile, args=(name,), name=f"lambdalab-provision-{name}",
                                  daemon=True)
        with self._guard:
            self._threads.add(thread)
        self._service.clock.hold()  # released when the reconciliation has reported
        thread.start()

    def _reconcile(self, name: str) -> None:
        concurrency = self._service.concurrency
        try:
            refusals: dict[str, str] = {}
            with self._lock:
                wanted = concurrency.wanted(name)
                for version in sorted(set(wanted) | self._pool.provisioned_versions(self._service.arn(name))):
                    function = self._service.version(name, version)
                    if function is None:  # deleted: the pool retired its environments
                        continue
                    _, refusal = self._pool.provision(function, wanted.get(version, 0))
                    if refusal:
                        refusals[version] = refusal
            timeout = self._service.quotas.init_timeout_s + WAIT_MARGIN_S
            for config in concurrency.pending(name):
                failure = next((refusals[v] for v in config.versions if v in refusals), None)
                envs = {v: self._pool.provisioned(f) for v in config.versions
                        if (f := self._service.version(name, v)) is not None}
                if failure is None and any(len(envs.get(v, ())) != n for v, n in config.versions.items()):
                    continue  # a later change is making its environments: that reconciliation reports
                if failure is None and not all(e.wait_initialized(timeout) for es in envs.values() for e in es):
                    failure = INIT_FAILURE
                concurrency.initialised(config, failure)
        except PoolClosed:
            pass  # the cloud is stopping
        except Exception:
            log.exception("provisioned concurrency of %s could not be applied", name)
        finally:
            with self._guard:
                self._threads.discard(threading.current_thread())
            self._service.clock.release()

    def stop(self, deadline_s: float = STOP_DEADLINE_S) -> None:
        """Wait for the reconciliations under way (the pool is stopped first: their INITs end with it)."""
        end = time.monotonic() + deadline_s
        with self._guard:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, end - time.monotonic()))
