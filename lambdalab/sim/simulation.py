"""``simulate`` and ``run``: a workload and a function's settings in, the cloud's records (or a summary) out."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from lambdalab.rules import on_demand_room

from . import aggregate, exact, frames, summary
from .settings import Settings
from .workloads import Workload

MODES = ("exact", "aggregate")


@dataclass(frozen=True)
class Simulation:
    """What one simulation found.  The exact mode has every record and throttle; both modes have the
    per-minute ``summary`` and the totals a plot or a check reads."""

    mode: str
    records: pd.DataFrame | None  # the columns of cloud.invocations() (exact mode)
    throttles: pd.DataFrame | None  # request_id, time, reason, invocation_model, attempt (exact mode)
    arrivals: int  # events that arrived
    dropped: int  # async events given up (too old after throttles)
    peak_environments: int  # environments alive at once, provisioned ones included
    peak_concurrency: int  # invocations in flight at once (ConcurrentExecutions)
    throttle_counts: dict  # Reason -> throttles
    settings: Settings
    horizon_s: int
    aggregate_summary: pd.DataFrame | None = None

    @cached_property
    def summary(self) -> pd.DataFrame:
        """Per minute and per kind (on-demand, provisioned): invocations, cold starts, throttles, sums of
        durations, billed ms (``lambdalab.billing`` bills it like records), peaks of concurrency and environments."""
        if self.aggregate_summary is not None:
            return self.aggregate_summary
        minutes = max(1, -(-max(self.horizon_s, 1) // 60))
        account, state = exact.configure(self.settings)
        return summary.summarise(self.records, self.throttles, self.settings, minutes,
                                 on_demand_room(account, state)[1].reason)

    @property
    def cold_starts(self) -> int:
        return int(self.summary["cold_starts"].sum() if self.records is None else self.records["cold"].sum())

    @property
    def invocations(self) -> int:
        return int(self.summary["invocations"].sum() if self.records is None else len(self.records))


def run(workload: Workload, mode: str = "exact", **settings) -> Simulation:
    """Simulate ``workload`` on one function (keyword settings: see :class:`~.settings.Settings`):
    ``mode="exact"`` event by event, ``mode="aggregate"`` in counts per second for long horizons."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    config = Settings(**settings)
    rng = np.random.default_rng(config.seed)
    if mode == "aggregate":
        table, totals = aggregate.run(workload, config, rng)
        return Simulation(mode, None, None, totals["arrivals"], 0, totals["peak_environments"],
                          totals["peak_concurrency"], totals["throttles"], config, workload.duration, table)
    arrivals = workload.arrivals(rng)
    trace = exact.run(arrivals, config, rng)
    throttles = frames.throttles(trace, config)
    counts = {reason: int(n) for reason, n in throttles["reason"].value_counts().items()}
    return Simulation(mode, frames.records(trace, config), throttles, len(arrivals), len(trace.dropped),
                      trace.peak_environments, trace.peak_concurrency, counts, config, workload.duration)


def simulate(workload: Workload, mode: str = "exact", **settings) -> pd.DataFrame:
    """The records of ``workload`` simulated on one function: a DataFrame with the columns of
    ``cloud.invocations()`` (``mode="aggregate"``: the per-minute summary), so ``lambdalab.billing``
    and plots work on it unchanged.  ``run`` also gives the throttles, which are not invocations."""
    result = run(workload, mode, **settings)
    return result.summary if mode == "aggregate" else result.records
