"""Batching off the invoke path: a deque append where invocations run, delivery on one named thread.

Logs and metrics both leave an invocation this way, so a slow or broken store (moto's CloudWatch
Logs or CloudWatch) never adds latency to, nor breaks, an invocation.  Items are grouped by a key
(a log stream, a metric namespace) so each delivery is one call per group, as AWS batches them.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict, deque
from collections.abc import Callable, Hashable
from typing import Any

log = logging.getLogger(__name__)

Deliver = Callable[[Any, list], None]


class Batcher:
    """Queues ``(key, item)`` pairs and hands them to ``deliver(key, items)`` in batches on its own thread."""

    def __init__(self, deliver: Deliver, name: str, interval: float = 0.05) -> None:
        self._deliver = deliver
        self._interval = interval
        self._queue: deque[tuple[Hashable, Any]] = deque()
        self._wake = threading.Event()
        self._urgent = threading.Event()  # flush() or stop(): ship without waiting for the batch
        self._idle = threading.Event()
        self._idle.set()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, key: Hashable, item: Any) -> None:
        self._idle.clear()
        self._queue.append((key, item))
        self._wake.set()

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until everything queued so far has been delivered."""
        self._urgent.set()
        self._wake.set()
        self._idle.wait(timeout)

    def stop(self) -> None:
        self._stopped = True
        self._urgent.set()
        self._wake.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            self._urgent.wait(self._interval)  # let a burst of items gather into one batch
            self._urgent.clear()
            batches: dict[Hashable, list] = defaultdict(list)
            while self._queue:
                key, item = self._queue.popleft()
                batches[key].append(item)
            for key, items in batches.items():
                try:
                    self._deliver(key, items)
                except Exception:  # a broken store must never break invocations
                    log.exception("%s could not deliver %d items to %s", self._thread.name, len(items), key)
            if not self._queue:
                self._idle.set()
            if self._stopped and not self._queue:
                return
