"""Batching off the invoke path: a deque append where invocations run, delivery on one named thread.

Logs and metrics both leave an invocation this way, so a slow or broken store (moto's CloudWatch
Logs or CloudWatch) never adds latency to, nor breaks, an invocation.  Items are grouped by a key
(a log stream, a metric namespace) so each delivery is one call per group, as AWS batches them.
A :class:`Shipper` is one batcher seen from one account and Region: every place shares its thread.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections import defaultdict, deque
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

log = logging.getLogger(__name__)

Deliver = Callable[[Any, list], None]
_Shipper = TypeVar("_Shipper", bound="Shipper")


class _Flush:
    """A marker in the queue: everything before it is delivered when its event is set."""

    def __init__(self) -> None:
        self.done = threading.Event()


class Batcher:
    """Queues ``(key, item)`` pairs and hands them to ``deliver(key, items)`` in batches on its own thread.

    The queue (a deque: ``append`` and ``popleft`` are atomic) is the only shared state, so
    ``put`` takes no lock.  ``flush()`` puts a marker behind what was queued before it and waits
    for the thread to reach it, so it returns once those items were handed to ``deliver``
    (delivered, or logged as failed), whatever other threads put meanwhile.
    """

    def __init__(self, deliver: Deliver, name: str, interval: float = 0.05) -> None:
        self._deliver = deliver
        self._interval = interval
        self._queue: deque[tuple[Hashable, Any] | _Flush] = deque()
        self._wake = threading.Event()
        self._urgent = threading.Event()  # flush() or stop(): ship without waiting for the batch
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, key: Hashable, item: Any) -> None:
        self._queue.append((key, item))
        if not self._wake.is_set():  # set, it is cleared before the queue is read: the item is not missed
            self._wake.set()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued before this call has been delivered; False if ``timeout`` passed first."""
        if not self._thread.is_alive():
            return not self._queue
        marker = _Flush()
        self._queue.append(marker)
        self._urgent.set()
        self._wake.set()
        return marker.done.wait(timeout)

    def stop(self) -> None:
        """Deliver what is queued, then end the thread."""
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
            while self._queue:  # up to each flush marker: deliver, then release its waiter
                batches: dict[Hashable, list] = defaultdict(list)
                marker = None
                while self._queue and marker is None:
                    entry = self._queue.popleft()
                    if isinstance(entry, _Flush):
                        marker = entry
                    else:
                        batches[entry[0]].append(entry[1])
                self._ship(batches)
                if marker is not None:
                    marker.done.set()
            if self._stopped:
                return

    def _ship(self, batches: dict[Hashable, list]) -> None:
        for key, items in batches.items():
            try:
                self._deliver(key, items)
            except Exception:  # a broken store must never break invocations
                log.exception("%s could not deliver %d items to %s", self._thread.name, len(items), key)


class Shipper:
    """A :class:`Batcher` whose keys start with an account and a Region; ``deliver(account, region, *key, items)``.

    :meth:`at` gives the view of another account and Region, sharing the batcher (one thread for all), so
    ``flush()`` on any view waits for everything shipped through every view.
    """

    def __init__(self, deliver: Callable[..., None], name: str, interval: float = 0.05) -> None:
        self._batcher = Batcher(lambda key, items: deliver(*key, items), name=name, interval=interval)
        self._place = ("", "")  # (account, region): set by at()

    def at(self: _Shipper, account: str, region: str) -> _Shipper:
        """The same shipper, delivering to ``account`` in ``region``."""
        view = copy.copy(self)
        view._place = (account, region)
        return view

    def _ship(self, key: tuple, item: Any) -> None:
        self._batcher.put((*self._place, *key), item)

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until everything shipped so far (through any view) has been delivered."""
        self._batcher.flush(timeout)

    def stop(self) -> None:
        self._batcher.stop()
