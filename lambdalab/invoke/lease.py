"""Concurrency leases: whether an invocation may run at all, decided before any sandbox is touched.

Counting in-flight invocations is kept apart from pooling environments (LocalStack's split), so
a throttle costs nothing and later limits (reserved, provisioned, burst) slot in here.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from ..service.errors import TooManyRequestsException
from ..service.models import Function
from ..service.quotas import Quotas


class Leases:
    def __init__(self, quotas: Quotas) -> None:
        self._quotas = quotas
        self._lock = threading.Lock()
        self._running: Counter[str] = Counter()

    @contextmanager
    def lease(self, function: Function) -> Iterator[tuple[int, int]]:
        """Hold one unit of concurrency; yields what is in flight with it (function, account)."""
        with self._lock:
            account = sum(self._running.values())
            if account >= self._quotas.concurrent_executions:
                raise TooManyRequestsException("Rate Exceeded.", Reason="ConcurrentInvocationLimitExceeded")
            self._running[function.name] += 1
            running = self._running[function.name], account + 1
        try:
            yield running
        finally:
            with self._lock:
                self._running[function.name] -= 1

    def running(self, function_name: str | None = None) -> int:
        """Invocations in flight, for one function or the whole account."""
        with self._lock:
            return self._running[function_name] if function_name else sum(self._running.values())
