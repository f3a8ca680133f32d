"""Where an admitted invocation runs: a provisioned environment, a warm one, or a new one the scaling rate allows.

An invocation first gets a slot of concurrency (:func:`~.concurrency.admit`), then an environment:
a provisioned slot comes with its provisioned environment; an on-demand one takes an idle
environment of its version if there is one (warm), else a new one (cold, INIT first), which the
function's scaling rate must allow.  Beyond the rate the invocation is throttled with
``FunctionInvocationRateLimitExceeded``: the API model's throttle reason for a function's own rate
limit.  AWS documents the 429 of the scaling rate without naming its reason, and no recording of
one was found, so the reason is lambdalab's reading of the model.

The real cloud takes the two steps in this order in two places: the lease admits, the pool
places (with the pool's idle environments in hand).  :func:`decide` takes both at once for a
simulator that keeps its idle environments itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from .concurrency import PROVISIONED, Account, FunctionState, Slot, Throttle, admit, release

WARM = "warm"  # an idle on-demand environment of the version
COLD = "cold"  # a new on-demand environment: INIT, then the invocation
SCALING_RATE_EXCEEDED = "FunctionInvocationRateLimitExceeded"
SCALING_THROTTLE = Throttle(SCALING_RATE_EXCEEDED)


@dataclass(frozen=True, slots=True)
class ScalingRate:
    """New environments a function may add per period (AWS: 1,000 every 10 seconds)."""

    environments: int = 1000
    period_s: float = 10.0


def place(state: FunctionState, idle: bool, now: float, rate: ScalingRate) -> str | Throttle:
    """An on-demand slot's environment: WARM if ``idle`` (the version has one), else COLD if the scaling rate
    allows a new one at ``now``, else a throttle."""
    if idle:
        return WARM
    if state.bucket.take(now, rate.environments, rate.period_s):
        return COLD
    return SCALING_THROTTLE


def decide(account: Account, state: FunctionState, version: str, idle: bool, now: float,
           rate: ScalingRate) -> tuple[Slot, str] | Throttle:
    """Both steps for one invocation: its slot and PROVISIONED, WARM or COLD, or why it is throttled
    (the slot, if one was taken, is given back).  Call :func:`~.concurrency.release` with the slot when it ends."""
    slot = admit(account, state, version)
    if isinstance(slot, Throttle):
        return slot
    if slot.kind == PROVISIONED:
        return slot, PROVISIONED
    where = place(state, idle, now, rate)
    if isinstance(where, Throttle):
        release(account, slot)
        return where
    return slot, where
