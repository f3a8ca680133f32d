"""Workloads: a per-second rate profile, and Poisson arrival times drawn from it.

A rate profile (requests per second for each second of the horizon) is what constant,
diurnal and burst traffic have in common; arrivals are drawn second by second so that a
month of traffic never has to exist as one array of timestamps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Workload:
    """Requests per second for each second from 0 to len(rates)."""

    rates: np.ndarray

    @property
    def duration(self) -> int:
        return len(self.rates)

    def expected(self) -> float:
        """The expected number of invocations over the whole horizon."""
        return float(self.rates.sum())

    def counts(self, rng: np.random.Generator) -> np.ndarray:
        """Poisson-drawn number of arrivals in each second."""
        return rng.poisson(self.rates)

    def arrivals(self, rng: np.random.Generator) -> np.ndarray:
        """Sorted arrival times in seconds: Poisson counts per second, uniform within the second."""
        counts = self.counts(rng)
        seconds = np.repeat(np.arange(len(counts), dtype=np.float64), counts)
        return seconds + _within(rng, counts)


def _within(rng: np.random.Generator, counts: np.ndarray) -> np.ndarray:
    """Offsets within each second, sorted within the second so that arrivals stay in order."""
    offsets = rng.random(int(counts.sum()))
    starts = np.repeat(np.arange(len(counts)), counts)
    order = np.lexsort((offsets, starts))
    return offsets[order]


def constant(rate: float, duration: float) -> Workload:
    """rate requests per second for duration seconds."""
    return Workload(np.full(int(duration), float(rate)))


def diurnal(mean: float, duration: float, peak_to_trough: float = 4.0, period: float = 86_400.0,
            peak_at: float = 14 * 3600.0) -> Workload:
    """A sinusoidal day: mean requests per second, peak/trough ratio peak_to_trough, highest at peak_at."""
    t = np.arange(int(duration), dtype=np.float64)
    amplitude = (peak_to_trough - 1) / (peak_to_trough + 1)
    return Workload(mean * (1 + amplitude * np.cos(2 * np.pi * (t - peak_at) / period)))


def burst(base: float, duration: float, at: float, peak: float, length: float) -> Workload:
    """base requests per second, raised to peak for length seconds from at."""
    rates = np.full(int(duration), float(base))
    rates[int(at):int(at + length)] = float(peak)
    return Workload(rates)


def trace(path_or_frame, function: str | None = None) -> Workload:
    """A workload from per-minute invocation counts in the Azure Functions 2019 format.

    One row per function (HashOwner, HashApp, HashFunction, Trigger, then minutes 1..1440);
    function picks one HashFunction, otherwise every row is summed. Each minute's count is spread
    evenly over its 60 seconds, and arrivals are then drawn as Poisson as for any other workload.
    """
    header, rows = _trace_rows(path_or_frame)
    minutes = [i for i, name in enumerate(header) if str(name).isdigit()]
    if function is not None:
        key = header.index("HashFunction")
        rows = [r for r in rows if r[key] == function]
        if not rows:
            raise KeyError(f"no function {function!r} in the trace")
    counts = np.array([[float(r[i]) for i in minutes] for r in rows]).sum(axis=0)
    return Workload(np.repeat(counts / 60.0, 60))


def _trace_rows(path_or_frame):
    if hasattr(path_or_frame, "columns"):
        return [str(c) for c in path_or_frame.columns], path_or_frame.astype(str).values.tolist()
    import csv

    with open(path_or_frame, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        return header, list(reader)


@dataclass(frozen=True)
class Replay(Workload):
    """Arrivals at given times: a scenario checked by hand, or the times a real run used."""

    times: np.ndarray | None = None

    def arrivals(self, rng: np.random.Generator) -> np.ndarray:
        return self.times


def at(times) -> Replay:
    """A workload whose invocations arrive at exactly ``times`` (seconds from the start)."""
    ordered = np.sort(np.asarray(times, dtype=np.float64))
    if len(ordered) and ordered[0] < 0:
        raise ValueError("arrival times cannot be negative")
    seconds = int(np.floor(ordered[-1])) + 1 if len(ordered) else 0
    return Replay(np.bincount(ordered.astype(np.int64), minlength=seconds).astype(np.float64), ordered)
