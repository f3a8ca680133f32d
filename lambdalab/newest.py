"""The newest of the running clouds' parts, for moto's hooks.

moto keeps one state per process, shared by every cloud the process runs, and lambdalab replaces a
few of its functions (its clock, S3's calls to Lambda): those replacements serve the newest running
cloud (tests start clouds one after the other; a notebook runs one).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Newest(Generic[T]):
    """The running clouds' ``T``s, newest last; the tuple is replaced whole under ``_lock``, so a reader
    needs no lock."""

    def __init__(self) -> None:
        self._items: tuple[T, ...] = ()
        self._lock = threading.Lock()

    def add(self, item: T, install: Callable[[], None]) -> None:
        """``item`` is the newest; ``install`` puts the hook in place (it must be idempotent)."""
        with self._lock:
            install()
            self._items = (*self._items, item)

    def remove(self, item: T) -> None:
        with self._lock:
            self._items = tuple(i for i in self._items if i is not item)

    def get(self) -> T | None:
        items = self._items  # one read: another thread may replace the tuple meanwhile
        return items[-1] if items else None
