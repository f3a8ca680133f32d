"""The scaling rate: how fast one function may add execution environments.

Since November 2023 each function (in each account and Region) may add 1,000 environments every
10 seconds, and AWS refills that allowance continuously rather than in steps of 10 s; what a
function does not use is not banked beyond one period's worth (AWS's "Lambda scaling behavior"
page).  That is a token bucket of 1,000 tokens that refills at 100 per second: each new on-demand
environment takes a token, and an invocation that needs a new environment when the bucket is empty
is throttled.  Warm environments and provisioned ones take none.

Time is an argument, never read here: the real cloud passes its clock's time (so fast-forwarding
refills the bucket), a simulator its virtual time.  The rate is an argument too, so a quota
lowered for a lesson applies at once to buckets that exist already.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class ScalingBucket:
    """The allowance of new environments of one function: full at first."""

    tokens: float | None = None  # None: full (a function that never scaled)
    at: float = 0.0  # when ``tokens`` was last brought up to date

    def level(self, now: float, environments: int, period_s: float) -> float:
        """How many new environments the function may add at ``now``."""
        if self.tokens is None:
            return float(environments)
        refilled = self.tokens + max(0.0, now - self.at) * environments / period_s
        return min(float(environments), refilled)

    def take(self, now: float, environments: int, period_s: float) -> bool:
        """Take the allowance of one new environment at ``now``; False (and nothing taken) when there is none."""
        level = self.level(now, environments, period_s)
        if level < 1.0:
            self.tokens, self.at = level, max(now, self.at)
            return False
        self.tokens, self.at = level - 1.0, max(now, self.at)
        return True

    def take_up_to(self, now: float, wanted: int, environments: int, period_s: float) -> int:
        """Take the allowance of up to ``wanted`` new environments at ``now`` at once; how many were allowed
        (a simulator's aggregate mode creates a second's environments together)."""
        level = self.level(now, environments, period_s)
        taken = min(wanted, int(level))
        self.tokens, self.at = level - taken, max(now, self.at)
        return taken
