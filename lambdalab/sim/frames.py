"""The simulation's output as the frames the real cloud gives: ``cloud.invocations()``'s columns, and its throttles.

Throttles are not invocations (the cloud counts them in the ``Throttles`` metric and never in
``cloud.invocations()``), so they come in a frame of their own.  What the simulator does not model
(memory used, measured time, pollers) is left empty, never invented.
"""

from __future__ import annotations

import math
from dataclasses import fields

import numpy as np
import pandas as pd

from lambdalab.observe.records import InvocationRecord

from .exact import Trace
from .settings import INVOCATION_TYPES, Settings

COLUMNS = [f.name for f in fields(InvocationRecord)]
THROTTLE_COLUMNS = ["request_id", "time", "reason", "invocation_model", "attempt"]


def request_ids(events: np.ndarray, seed: int) -> np.ndarray:
    """UUID-shaped request ids, one per arrival, the same for every attempt of an async event."""
    prefix = f"{seed & 0xFFFFFFFF:08x}-0000-4000-8000-"
    top = int(events.max()) + 1 if len(events) else 0
    ids = np.array([f"{prefix}{i:012x}" for i in range(top)], dtype=object)
    return ids[events]


def times(seconds, settings: Settings) -> pd.DatetimeIndex:
    """Virtual seconds as UTC timestamps from ``settings.start``."""
    offsets = pd.to_timedelta(np.asarray(seconds, dtype=np.float64), unit="s")
    # rounded to the microsecond, the resolution of the cloud's datetimes
    return (pd.Timestamp(settings.start).tz_convert("UTC") + offsets).round("us")


def records(trace: Trace, settings: Settings) -> pd.DataFrame:
    """One row per invocation, columns and types as ``cloud.invocations()``."""
    n = len(trace.event)
    events = np.asarray(trace.event, dtype=np.int64)
    duration = np.asarray(trace.duration_ms, dtype=np.float64)
    init = np.asarray(trace.init_ms, dtype=np.float64)
    failed = np.asarray(trace.failed, dtype=bool)
    ran = duration + np.nan_to_num(init)
    names = np.array([f"sim-{k}" for k in range(max(trace.environment, default=-1) + 1)], dtype=object)
    frame = pd.DataFrame({
        "request_id": request_ids(events, settings.seed),
        "function": settings.function,
        "version": settings.version,
        "invocation_type": INVOCATION_TYPES[settings.invocation],
        "start": times(trace.start, settings),
        "duration_ms": duration,
        "billed_ms": np.ceil(ran).astype(np.int64),
        "init_ms": init,
        "memory_mb": np.full(n, settings.memory_mb, dtype=np.int64),
        "architecture": settings.architecture,
        "ephemeral_storage_mb": np.full(n, settings.ephemeral_storage_mb, dtype=np.int64),
        "max_memory_used_mb": pd.array([pd.NA] * n, dtype="Int64"),
        "cold": np.asarray(trace.cold, dtype=bool),
        "environment": names[np.asarray(trace.environment, dtype=np.int64)],
        "error_type": np.where(failed, "Exception", None).astype(object),
        "status": np.where(failed, "error", "success"),
        "invocation_model": settings.invocation,
        "attempt": np.asarray(trace.attempt, dtype=np.int64),
        "event_source_mapping": None,
        "event_source_arn": None,
        "batch_size": pd.array([pd.NA] * n, dtype="Int64"),
        "function_arn": settings.function_arn,
        "provisioned": np.asarray(trace.provisioned, dtype=bool),
        "measured_ms": math.nan,
    }, columns=COLUMNS, index=pd.RangeIndex(n))
    return frame.sort_values("start", kind="stable", ignore_index=True)


def throttles(trace: Trace, settings: Settings) -> pd.DataFrame:
    """One row per throttle: when, why (AWS's ``Reason``), and which event and attempt it refused."""
    return pd.DataFrame({
        "request_id": request_ids(np.asarray(trace.throttle_event, dtype=np.int64), settings.seed),
        "time": times(trace.throttle_time, settings),
        "reason": pd.Series(trace.throttle_reason, dtype=object),
        "invocation_model": settings.invocation,
        "attempt": np.asarray(trace.throttle_attempt, dtype=np.int64),
    }, columns=THROTTLE_COLUMNS)
