"""``simulate`` and ``run``: a workload and a function's settings in, the cloud's records out."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import exact, frames
from .settings import Settings
from .workloads import Workload


@dataclass(frozen=True)
class Simulation:
    """Everything one simulation found: the records, the throttles, and the figures a plot or check reads."""

    records: pd.DataFrame  # the columns of cloud.invocations()
    throttles: pd.DataFrame  # request_id, time, reason, invocation_model, attempt
    arrivals: int  # events that arrived
    dropped: int  # async events given up (too old after throttles)
    peak_environments: int  # environments alive at once, provisioned ones included
    peak_concurrency: int  # invocations in flight at once (ConcurrentExecutions)
    settings: Settings

    @property
    def cold_starts(self) -> int:
        return int(self.records["cold"].sum())


def run(workload: Workload, **settings) -> Simulation:
    """Simulate ``workload`` on one function (keyword settings: see :class:`~.settings.Settings`)."""
    config = Settings(**settings)
    rng = np.random.default_rng(config.seed)
    arrivals = workload.arrivals(rng)
    trace = exact.run(arrivals, config, rng)
    return Simulation(frames.records(trace, config), frames.throttles(trace, config), len(arrivals),
                      len(trace.dropped), trace.peak_environments, trace.peak_concurrency, config)


def simulate(workload: Workload, **settings) -> pd.DataFrame:
    """The records of ``workload`` simulated on one function: a DataFrame with the columns of
    ``cloud.invocations()``, so ``lambdalab.billing`` and plots work on it unchanged.  ``run`` also
    gives the throttles, which are not invocations."""
    return run(workload, **settings).records
