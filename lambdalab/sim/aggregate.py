"""The aggregate mode: a month of traffic second by second, counts instead of invocations.

Two hundred and sixty million invocations cannot each be an event in 60 s of Python, so per second
of virtual time the aggregate mode draws how many arrive (Poisson, as the exact mode) and applies
the same rules to counts.  Its load, the mean invocations in flight, follows the rate through the
durations' distribution, so a burst builds up second by second as it does event by event.

* The account's and the function's limits are :func:`lambdalab.rules.on_demand_room`'s, and the
  throttle's reason with them.  With Poisson arrivals the invocations in flight follow an Erlang
  loss system, whose share refused at ``c`` slots under a load ``A`` (rate x mean duration) is Erlang's
  B formula whatever the durations' distribution; the share spilling over ``p`` provisioned
  environments is the same formula at ``p``.
* Environments: the most invocations in flight during a second is drawn from its distribution (the
  chance of being in flight at ``k`` at the second's start, plus the rate of arrivals finding
  ``k - 1``).  Idle environments are reused most recently used first, so the environments alive
  are the most used at once within the keep-alive (:func:`lambdalab.rules.expires_at`); a second
  needing more makes them, as many as the function's :class:`~lambdalab.rules.ScalingBucket`
  allows, and the invocations in the share of environments missing are throttled for the scaling rate.
* Durations and Init Durations are summed per minute: exactly for Init Durations (they are drawn,
  one per cold start), by their mean and spread for the many durations.

What it does not model: asynchronous retries (use the exact mode).  ``tests/sim`` checks it
against the exact mode on a horizon both can run.
"""

from __future__ import annotations

import math
from array import array
from collections import deque

import numpy as np
import pandas as pd

from lambdalab.rules import SCALING_RATE_EXCEEDED, expires_at, on_demand_room

from .exact import configure
from .frames import times
from .settings import INVOCATION_TYPES, Settings, draws
from .workloads import Workload

MOMENT_DRAWS = 200_000  # durations drawn to learn their mean and spread
CHUNK_S = 86_400  # seconds taken at a time: a day (a whole number of minutes)
SUMMARY_COLUMNS = ["start", "function", "version", "invocation_type", "memory_mb", "architecture",
                   "ephemeral_storage_mb", "provisioned", "invocations", "cold_starts", "errors", "throttles",
                   "throttle_reason", "scaling_throttles", "duration_ms", "init_ms", "billed_ms", "peak_concurrency",
                   "environments", "function_arn"]


def erlang_b(servers: int, loads: np.ndarray) -> np.ndarray:
    """The share of arrivals refused by ``servers`` slots under each offered load (the stable recursion)."""
    refused = np.ones_like(loads, dtype=np.float64)
    for k in range(1, servers + 1):
        refused = loads * refused / (k + loads * refused)
    return refused


def _peak_cdf(load: float, rate: float) -> np.ndarray:
    """P(most in flight during one second <= k), k = 0, 1, ...: in flight at the start is Poisson(load);
    level k is reached during the second at the rate of arrivals that find k - 1 in flight."""
    top = int(load + 12 * math.sqrt(load) + 20)
    k = np.arange(top + 1, dtype=np.float64)
    pmf = np.exp(k * math.log(load) - load - np.array([math.lgamma(x + 1) for x in k])) if load > 0 else (k == 0) * 1.0
    at_least = 1.0 - np.concatenate([[0.0], np.cumsum(pmf)[:-1]])  # P(N >= k)
    reach = np.minimum(1.0, at_least + rate * np.concatenate([[0.0], pmf[:-1]]))  # P(M >= k)
    return np.concatenate([1.0 - reach[1:], [1.0]])


def loads(rates: np.ndarray, durations_s: np.ndarray) -> np.ndarray:
    """The mean invocations in flight each second: every earlier second's arrivals, weighted by the share of
    the following second that their durations still cover (so a burst builds its load as it goes)."""
    reach = np.arange(int(np.ceil(durations_s.max(initial=0.0))) + 1)
    weights = np.clip(durations_s[None, :] - reach[:, None], 0.0, 1.0).mean(axis=1)
    return np.convolve(rates, weights)[:len(rates)]


def _key(values: np.ndarray) -> np.ndarray:
    return np.where(values > 0, np.round(np.log(np.maximum(values, 1e-12)) * 1000), -1e9)


def peaks(rates: np.ndarray, load: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The most invocations in flight in each second (rates and loads quantised to 0.1 % to share tables)."""
    keys = (_key(rates).astype(np.int64) << 32) + (_key(load).astype(np.int64) + (1 << 31))  # one int per pair
    unique, inverse = np.unique(keys, return_inverse=True)
    inverse = inverse.ravel()
    order = np.argsort(inverse, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(inverse, minlength=len(unique)))])
    chances = rng.random(len(rates))
    out = np.zeros(len(rates), dtype=np.int64)
    for j in range(len(unique)):
        seconds = order[bounds[j]:bounds[j + 1]]
        rate, mean = float(rates[seconds[0]]), float(load[seconds[0]])
        if rate > 0 or mean > 0:
            out[seconds] = np.searchsorted(_peak_cdf(mean, rate), chances[seconds])
    return out


class Environments:
    """Per second: the environments alive, those made (cold starts) and those refused by the scaling rate,
    a chunk of seconds at a time (the window carries over).

    ``wanted`` is the most on-demand invocations in flight each second.  An environment made or used at
    second ``s`` is still alive at ``t`` while ``t < expires_at(s, keep_alive_s)``."""

    def __init__(self, keep_alive_s: float, bucket, scaling) -> None:
        self.keep_alive_s, self.bucket, self.scaling = keep_alive_s, bucket, scaling
        self.window: deque = deque()  # (second, environments used) with decreasing use: a running maximum
        self.t = 0

    def step(self, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        window, keep_alive_s, bucket, scaling = self.window, self.keep_alive_s, self.bucket, self.scaling
        alive, made, refused = array("q"), array("q"), array("q")
        for want in wanted.tolist():
            t = self.t
            while window and expires_at(window[0][0], keep_alive_s) <= t:
                window.popleft()
            have = window[0][1] if window else 0
            served, new = want, 0
            if want > have:
                new = bucket.take_up_to(float(t), want - have, scaling.environments, scaling.period_s)
                served = have + new
            made.append(new)
            refused.append(want - served)
            while window and window[-1][1] <= served:
                window.pop()
            window.append((t, served))
            alive.append(window[0][1])
            self.t = t + 1
        return (np.frombuffer(alive, dtype=np.int64), np.frombuffer(made, dtype=np.int64),
                np.frombuffer(refused, dtype=np.int64))


def _binomial(rng, counts: np.ndarray, share: np.ndarray) -> np.ndarray:
    return rng.binomial(counts, np.clip(share, 0.0, 1.0))


def _per_minute(values: np.ndarray, minutes: int, how: str = "sum") -> np.ndarray:
    padded = np.zeros(minutes * 60, dtype=values.dtype)
    padded[:len(values)] = values
    shaped = padded.reshape(minutes, 60)
    return shaped.max(axis=1) if how == "max" else shaped.sum(axis=1)


def run(workload: Workload, settings: Settings, rng: np.random.Generator) -> tuple[pd.DataFrame, dict]:
    """The per-minute summary of ``workload`` and the totals (peaks, throttles by reason).

    The seconds are taken a day at a time (what a second needs of earlier ones, the load's tail and the
    environments alive, carries over), so a month needs a day's arrays, not thirty: a notebook on a
    2 GB Binder can play it."""
    if settings.invocation != "sync":
        raise ValueError("the aggregate mode models synchronous callers; asynchronous retries need mode='exact'")
    account, state = configure(settings)
    room, throttle = on_demand_room(account, state)
    provisioned = settings.provisioned
    rates = np.asarray(workload.rates, dtype=np.float64)
    arrived_all = workload.counts(rng)
    sample = np.fromiter(draws(settings.duration_ms, rng), dtype=np.float64, count=MOMENT_DRAWS)
    billed_mean, billed_sd = float(np.ceil(sample).mean()), float(np.ceil(sample).std())
    duration_mean, duration_sd = float(sample.mean()), float(sample.std())
    durations_s = sample[:MOMENT_DRAWS // 20] / 1000.0
    tail = int(np.ceil(durations_s.max(initial=0.0)))  # earlier seconds whose arrivals are still in flight
    fleet = Environments(settings.keep_alive_s, state.bucket, settings.scaling)
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("on_demand", "on_provisioned", "cold", "throttled",
                                                          "refused", "peak_on_demand", "alive", "peak_provisioned")}
    peak_alive = peak_served = 0
    for start in range(0, len(rates), CHUNK_S):
        end = min(start + CHUNK_S, len(rates))
        before = max(0, start - tail)
        load = loads(rates[before:end], durations_s)[start - before:]
        chunk_rates, arrived = rates[start:end], arrived_all[start:end]
        spill = arrived if not provisioned else _binomial(rng, arrived, erlang_b(provisioned, load))
        blocked = erlang_b(provisioned + room, load)
        spill_share = erlang_b(provisioned, load) if provisioned else np.ones_like(load)
        throttled = _binomial(rng, spill, np.divide(blocked, spill_share, out=np.zeros_like(load),
                                                    where=spill_share > 0))
        most = peaks(chunk_rates, load, rng)
        wanted = np.clip(most - provisioned, 0, room)
        alive, made, refused = fleet.step(wanted)
        short = np.divide(refused.astype(np.float64), wanted, out=np.zeros(len(wanted)), where=wanted > 0)
        refused = _binomial(rng, spill - throttled, short)  # those arriving to find no environment and none allowed
        on_demand = spill - throttled - refused
        served_peak = np.minimum(most, provisioned + alive)
        minutes = -(-(end - start) // 60)
        parts["on_demand"].append(_per_minute(on_demand, minutes))
        parts["on_provisioned"].append(_per_minute(arrived - spill, minutes))
        parts["cold"].append(_per_minute(np.minimum(made, on_demand), minutes))
        parts["throttled"].append(_per_minute(throttled, minutes))
        parts["refused"].append(_per_minute(refused, minutes))
        parts["peak_on_demand"].append(_per_minute(np.maximum(served_peak - provisioned, 0), minutes, "max"))
        parts["alive"].append(_per_minute(alive, minutes, "max"))
        parts["peak_provisioned"].append(_per_minute(np.minimum(most, provisioned), minutes, "max"))
        peak_alive = max(peak_alive, int(alive.max(initial=0)))
        peak_served = max(peak_served, int(served_peak.max(initial=0)))
    per_minute = {k: np.concatenate(v) if v else np.zeros(0, dtype=np.int64) for k, v in parts.items()}
    minutes = len(per_minute["on_demand"])
    cold = per_minute["cold"]
    inits = np.fromiter(draws(settings.init_ms, rng), dtype=np.float64, count=int(cold.sum()))
    init_ms = np.bincount(np.repeat(np.arange(minutes), cold), weights=inits, minlength=minutes)
    init_billed = np.bincount(np.repeat(np.arange(minutes), cold), weights=np.ceil(inits), minlength=minutes)
    kinds = [(False, per_minute["on_demand"], cold, init_ms, init_billed, per_minute["peak_on_demand"],
              per_minute["alive"])]
    if provisioned:
        zero = np.zeros(minutes)
        kinds.append((True, per_minute["on_provisioned"], np.zeros(minutes, dtype=np.int64), zero, zero,
                      per_minute["peak_provisioned"], np.full(minutes, provisioned)))
    frames = []
    for is_provisioned, n, cold_m, init_m, init_b, peak_m, envs_m in kinds:
        noise = rng.standard_normal(minutes) * np.sqrt(n)
        frame = pd.DataFrame({
            "start": times(np.arange(minutes) * 60.0, settings),
            "function": settings.function, "version": settings.version,
            "invocation_type": INVOCATION_TYPES[settings.invocation], "memory_mb": settings.memory_mb,
            "architecture": settings.architecture, "ephemeral_storage_mb": settings.ephemeral_storage_mb,
            "provisioned": is_provisioned, "invocations": n, "cold_starts": cold_m,
            "errors": _binomial(rng, n, np.full(minutes, settings.error_rate)),
            "throttles": 0 if is_provisioned else per_minute["throttled"],
            "throttle_reason": throttle.reason,
            "scaling_throttles": 0 if is_provisioned else per_minute["refused"],
            "duration_ms": np.maximum(n * duration_mean + noise * duration_sd, 0.0),
            "init_ms": init_m,
            "billed_ms": np.maximum(np.rint(n * billed_mean + noise * billed_sd + init_b), 0).astype(np.int64),
            "peak_concurrency": peak_m, "environments": envs_m, "function_arn": settings.function_arn,
        }, columns=SUMMARY_COLUMNS)
        frames.append(frame)
    summary = pd.concat(frames, ignore_index=True).sort_values(["start", "provisioned"], ignore_index=True)
    totals = {"arrivals": int(arrived_all.sum()), "peak_environments": int(provisioned + peak_alive),
              "peak_concurrency": peak_served,
              "throttles": {throttle.reason: int(per_minute["throttled"].sum()),
                            SCALING_RATE_EXCEEDED: int(per_minute["refused"].sum())}}
    return summary, totals
