"""The asynchronous queue's schedule: retries after function errors, backoff after throttles, the event's age.

AWS's asynchronous invocation page: after a function error (an exception, a timeout, a crash)
Lambda retries an event twice by default (``MaximumRetryAttempts`` 0-2), about one minute after the
first failure and two minutes after the second; after a throttle or a system error it puts the
event back and tries again with a backoff that starts at one second and grows exponentially to at
most five minutes, for as long as the event is younger than ``MaximumEventAgeInSeconds`` (six hours
by default, 60 to 21,600).  A throttle is not an attempt: it does not use up a retry.

These are the numbers and the "what is the next delay" functions only; the queue that applies
them (its threads, its timers, its destinations) is ``invoke``'s.  A simulator calls the same
functions in virtual time.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AsyncRetry:
    """The parameters of one function's asynchronous schedule (AWS's defaults)."""

    max_retries: int = 2  # MaximumRetryAttempts
    retry_delays_s: tuple[float, ...] = (60.0, 120.0)  # before the first retry, the second, ...
    backoff_min_s: float = 1.0  # after the first throttle (or system error) of an event
    backoff_max_s: float = 300.0  # the backoff's ceiling
    max_event_age_s: float = 21600.0  # MaximumEventAgeInSeconds

    def retry_delay(self, failed_attempts: int) -> float | None:
        """The wait before the next attempt of an event whose ``failed_attempts`` attempts (1, 2, ...)
        all failed; None when it has no retry left."""
        retry = failed_attempts - 1  # 0 for the first retry
        if failed_attempts < 1 or retry >= self.max_retries:
            return None
        return self.retry_delays_s[min(retry, len(self.retry_delays_s) - 1)]

    def throttle_backoff(self, throttles: int) -> float:
        """The wait after an event's ``throttles``-th throttle in a row (1, 2, ...): doubling, capped."""
        return min(self.backoff_max_s, self.backoff_min_s * 2.0 ** max(0, throttles - 1))

    def expired(self, received: float, at: float) -> bool:
        """Whether an event received at ``received`` is too old to be tried at ``at``."""
        return at - received > self.max_event_age_s
