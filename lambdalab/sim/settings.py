"""What a simulation is told about its function and account, and how it draws durations and init times.

A duration (or an init time) is given as a number of ms (every invocation takes exactly that), as
measured values (a column of ``cloud.invocations()``: each invocation draws one of them, the
empirical distribution of the real cloud), or as a callable ``(rng, n) -> n values``, such as
:func:`lognormal`.  Draws come in chunks, so the event loop takes a plain float per invocation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np

from lambdalab.rules import AsyncRetry, ScalingRate

CHUNK = 65_536
INVOCATION_TYPES = {"sync": "RequestResponse", "async": "Event"}


def lognormal(median_ms: float, sigma: float) -> Callable[[np.random.Generator, int], np.ndarray]:
    """Durations whose logarithm is normal: the long right tail real handlers show."""
    return lambda rng, n: rng.lognormal(np.log(median_ms), sigma, n)


def measured(records) -> dict:
    """Settings drawn from records of the real cloud (``cloud.invocations()``, one function's): its memory
    and architecture, the durations it measured and the Init Durations of its cold starts, to replay
    as empirical distributions.  ``sim.run(workload, **sim.measured(records))``."""
    if not len(records):
        raise ValueError("no records to measure")
    inits = records["init_ms"].dropna()
    settings = {"memory_mb": int(records["memory_mb"].iloc[-1]), "architecture": str(records["architecture"].iloc[-1]),
                "duration_ms": records["duration_ms"].to_numpy(dtype=np.float64)}
    if len(inits):
        settings["init_ms"] = inits.to_numpy(dtype=np.float64)
    return settings


def _sampler(spec) -> Callable[[np.random.Generator, int], np.ndarray]:
    if callable(spec):
        return spec
    if np.ndim(spec) == 0:
        value = float(spec)
        return lambda rng, n: np.full(n, value)
    values = np.asarray(spec, dtype=np.float64)
    values = values[~np.isnan(values)]
    if not len(values):
        raise ValueError("no measured values to draw from")
    return lambda rng, n: rng.choice(values, n)


def draws(spec, rng: np.random.Generator) -> Iterator[float]:
    """An endless stream of values (ms) drawn from ``spec``, as Python floats."""
    sample = _sampler(spec)
    while True:
        chunk = np.maximum(np.asarray(sample(rng, CHUNK), dtype=np.float64), 0.0)
        yield from chunk.tolist()


@dataclass(frozen=True)
class Settings:
    """One function in one account, AWS's defaults unless told otherwise."""

    memory_mb: int = 128
    duration_ms: object = 100.0  # ms, measured values, or a callable (rng, n)
    init_ms: object = 250.0  # the Init Duration of a cold start, in the same forms
    architecture: str = "x86_64"
    ephemeral_storage_mb: int = 512
    account_limit: int = 1000  # quotas.concurrent_executions
    unreserved_min: int = 100
    reserved: int | None = None  # PutFunctionConcurrency
    provisioned: int = 0  # PutProvisionedConcurrencyConfig on version 1, ready from the start
    keep_alive_s: float = 600.0  # quotas.keep_alive_s
    scaling: ScalingRate = field(default_factory=ScalingRate)
    invocation: str = "sync"  # sync (a throttle is the caller's 429) or async (the queue retries)
    error_rate: float = 0.0  # share of attempts that fail (an async event is then retried)
    retry: AsyncRetry = field(default_factory=AsyncRetry)
    function: str = "sim"
    account: str = "000000000000"
    region: str = "us-east-1"
    start: datetime = datetime(2026, 1, 1, tzinfo=timezone.utc)  # virtual time 0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.invocation not in INVOCATION_TYPES:
            raise ValueError(f"invocation must be one of {sorted(INVOCATION_TYPES)}, not {self.invocation!r}")
        if self.provisioned < 0 or (self.reserved is not None and self.reserved < 0):
            raise ValueError("reserved and provisioned concurrency cannot be negative")

    @property
    def version(self) -> str:
        """Provisioned concurrency is configured on a version, never on $LATEST."""
        return "1" if self.provisioned else "$LATEST"

    @property
    def function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{self.function}"
