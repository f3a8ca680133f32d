"""Keep-alive: when an idle execution environment is reaped.

AWS keeps an idle on-demand environment "for some time" and states no duration; about ten minutes
is what people observe, and that is lambdalab's default (``quotas.keep_alive_s``).  Provisioned
environments are never reaped for idleness: they stay initialised for as long as their
configuration exists.  An environment's idle time starts when its last invocation ended.
"""

from __future__ import annotations


def expires_at(last_used: float, keep_alive_s: float) -> float:
    """When an environment idle since ``last_used`` is reaped (unless it is used again first)."""
    return last_used + keep_alive_s


def remaining(last_used: float, now: float, keep_alive_s: float) -> float:
    """How long an environment idle since ``last_used`` still has at ``now`` (0: reap it)."""
    return max(0.0, expires_at(last_used, keep_alive_s) - now)


def reapable(last_used: float, now: float, keep_alive_s: float, provisioned: bool = False) -> bool:
    """Whether an idle environment is reaped at ``now``: never a provisioned one."""
    return not provisioned and remaining(last_used, now, keep_alive_s) == 0.0
