"""Invocation records: one row per invocation, the raw material for billing, plots and concurrency views.

A function's name is unique only within its account and Region, so each record also carries the
function's ARN: the view that an account's environments in one Region record through
(:meth:`Records.at`) fills it in.
"""

from __future__ import annotations

import copy
import dataclasses
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
    invocation_model: str = "sync"  # sync; async (an attempt of the asynchronous queue: request_id is its event's);
    # poll (an event source mapping's poller invoked it)
    attempt: int = 1  # 1 for the first attempt at an event, 2 and 3 for its retries
    event_source_mapping: str | None = None  # UUID of the mapping whose poller invoked (None: another caller)
    event_source_arn: str | None = None  # the queue or stream that poller read
    batch_size: int | None = None  # records in the poller's batch
    function_arn: str = ""  # arn:aws:lambda:<region>:<account>:function:<name>
    provisioned: bool = False  # it ran on provisioned concurrency (an environment initialised ahead)
    # How long it really ran: duration_ms, except after a timeout, which AWS reports (and bills) as lasting
    # its timeout exactly while the kill lands a little later. None where nothing was measured (simulated).
    measured_ms: float | None = None


class Records:
    """Thread-safe, append-only store of :class:`InvocationRecord`; ``_lock`` guards ``_rows``."""

    def __init__(self) -> None:
        self._rows: list[InvocationRecord] = []
        self._lock = threading.Lock()
        self._arn_prefix = ""  # "arn:aws:lambda:<region>:<account>:function:" in a view made by at()

    def at(self, account: str, region: str) -> Records:
        """The same store, for the functions of ``account`` in ``region``: their records get their ARN."""
        view = copy.copy(self)
        view._arn_prefix = f"arn:aws:lambda:{region}:{account}:function:"
        return view

    def add(self, record: InvocationRecord) -> None:
        if self._arn_prefix and not record.function_arn:
            record = dataclasses.replace(record, function_arn=self._arn_prefix + record.function)
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
        return frame.astype({"batch_size": "Int64"})  # a count, or <NA> for an invocation no poller made

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()
