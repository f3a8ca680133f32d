"""The exact mode's records summarised per minute, in the aggregate mode's columns, so the two compare."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lambdalab.rules import SCALING_RATE_EXCEEDED

from .aggregate import SUMMARY_COLUMNS
from .settings import Settings


def in_flight(begin: np.ndarray, end: np.ndarray, minutes: int) -> np.ndarray:
    """The most intervals [begin, end) overlapping at once within each minute (times in s)."""
    moments = np.concatenate([begin, end])
    steps = np.concatenate([np.ones(len(begin), np.int64), -np.ones(len(end), np.int64)])
    order = np.lexsort((steps, moments))  # an end before a start at the same instant
    moments, level = moments[order], np.cumsum(steps[order])
    minute = np.minimum((moments // 60).astype(np.int64), minutes - 1)
    most = np.zeros(minutes, np.int64)
    np.maximum.at(most, minute, level)
    entering = np.zeros(minutes, np.int64)  # the level carried into a minute with no event of its own
    last = np.full(minutes, -1, np.int64)
    np.maximum.at(last, minute, np.arange(len(moments)))
    carried = 0
    for m in range(minutes):
        entering[m] = carried
        if last[m] >= 0:
            carried = level[last[m]]
    return np.maximum(most, entering)


def summarise(records: pd.DataFrame, throttles: pd.DataFrame, settings: Settings, minutes: int,
              reason: str) -> pd.DataFrame:
    """Per minute and per kind (on-demand, provisioned): counts, sums and peaks of the exact records."""
    origin = pd.Timestamp(settings.start).tz_convert("UTC")
    start = (records["start"] - origin).dt.total_seconds().to_numpy()
    init = records["init_ms"].fillna(0.0).to_numpy() / 1000.0
    end = start + records["duration_ms"].to_numpy() / 1000.0
    arrive = start - init
    minute = np.minimum((arrive // 60).astype(np.int64), minutes - 1)
    thrown = np.minimum(((throttles["time"] - origin).dt.total_seconds().to_numpy() // 60).astype(np.int64),
                        minutes - 1)
    scaling = (throttles["reason"] == SCALING_RATE_EXCEEDED).to_numpy()
    frames = []
    for kind in ([False, True] if settings.provisioned else [False]):
        mine = records["provisioned"].to_numpy() == kind
        where = minute[mine]

        def total(values, where=where):
            return np.bincount(where, weights=values, minlength=minutes)

        if kind:
            envs = np.full(minutes, settings.provisioned)
        else:  # an environment lives from its cold start until keep-alive after its last invocation
            per_env = records[mine].assign(arrive=arrive[mine], end=end[mine]).groupby("environment")
            born, last = per_env["arrive"].min().to_numpy(), per_env["end"].max().to_numpy()
            envs = in_flight(born, np.minimum(last + settings.keep_alive_s, end.max(initial=0.0)), minutes)
        frames.append(pd.DataFrame({
            "start": origin + pd.to_timedelta(np.arange(minutes) * 60.0, unit="s"),
            "function": settings.function, "version": settings.version,
            "invocation_type": records["invocation_type"].iloc[0] if len(records) else "RequestResponse",
            "memory_mb": settings.memory_mb, "architecture": settings.architecture,
            "ephemeral_storage_mb": settings.ephemeral_storage_mb, "provisioned": kind,
            "invocations": np.bincount(where, minlength=minutes),
            "cold_starts": total(records["cold"].to_numpy()[mine]).astype(np.int64),
            "errors": total((records["status"] != "success").to_numpy()[mine]).astype(np.int64),
            "throttles": 0 if kind else np.bincount(thrown[~scaling], minlength=minutes),
            "throttle_reason": reason,
            "scaling_throttles": 0 if kind else np.bincount(thrown[scaling], minlength=minutes),
            "duration_ms": total(records["duration_ms"].to_numpy()[mine]),
            "init_ms": total(records["init_ms"].fillna(0.0).to_numpy()[mine]),
            "billed_ms": total(records["billed_ms"].to_numpy()[mine]).astype(np.int64),
            "peak_concurrency": in_flight(arrive[mine], end[mine], minutes),
            "environments": envs, "function_arn": settings.function_arn,
        }, columns=SUMMARY_COLUMNS))
    return pd.concat(frames, ignore_index=True).sort_values(["start", "provisioned"], ignore_index=True)
