"""Invocation records: one row per invocation, the raw material for billing, plots and concurrency views."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, fields
from datetime import datetime


@dataclass(frozen=True)
class InvocationRecord:
    request_id: str
    function: str
    version: str
    invocation_type: str  # RequestResponse or Event
    start: datetime  # when the environment received the event (cloud clock, UTC)
    duration_ms: float
    billed_ms: int
    init_ms: float | None  # Init Duration of a cold start; None when warm (or a suppressed init)
    memory_mb: int
    architecture: str  # x86_64 or arm64, as configured (both run on this machine's CPU); priced as configured
    ephemeral_storage_mb: int  # the /tmp size configured; billing charges what is above 512 MB
    max_memory_used_mb: int
    cold: bool  # the environment ran INIT for this invocation
    environment: str
    error_type: str | None  # None on success; e.g. Sandbox.Timedout, Runtime.OutOfMemory, ValueError
    status: str  # success, error, timeout


class Records:
    """Thread-safe, append-only store of :class:`InvocationRecord`."""

    def __init__(self) -> None:
        self._rows: list[InvocationRecord] = []
        self._lock = threading.Lock()

    def add(self, record: InvocationRecord) -> None:
        with self._lock:
            self._rows.append(record)

    def __len__(self) -> int:
        return len(self._rows)

    def rows(self) -> list[InvocationRecord]:
        with self._lock:
            return list(self._rows)

    def frame(self):
        """All records as a pandas DataFrame (columns in field order, even when empty)."""
        import pandas as pd

        columns = [f.name for f in fields(InvocationRecord)]
        frame = pd.DataFrame([asdict(r) for r in self.rows()], columns=columns)
        frame["start"] = pd.to_datetime(frame["start"], utc=True)
        return frame

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()
