"""Lambda's rules of concurrency and scaling, as pure code that the real cloud and a simulator both run.

Everything here is small classes and functions over explicit state: no threads, no processes, no
locks and no clock (time is an argument).  The real cloud calls them under its own locks, with
its clock's time; a simulator calls the very same functions in virtual time, so that what it
predicts for a month of traffic follows the rules the real environments obey.

=====================  ==========================================================================
module                 the rule
=====================  ==========================================================================
``concurrency``        account limit, reserved and provisioned concurrency, spillover, throttle
                       reasons; the configuration checks of Put*Concurrency*
``placement``          warm, cold or provisioned; the scaling rate's throttle
``scaling``            the per-function scaling rate (1,000 environments per 10 s, refilled
                       continuously)
``keepalive``          when an idle environment is reaped (never a provisioned one)
``capacity``           lambdalab's own limit: what this machine holds
``retry``              the asynchronous queue's retries, throttle backoff and event age
=====================  ==========================================================================

How a simulator drives them (the real cloud does the same in ``invoke.lease`` and ``invoke.pool``):

*State it holds.*  One :class:`~.concurrency.Account` per account and Region, with ``limit`` and
``unreserved_min`` set from its quotas, and in it a :class:`~.concurrency.FunctionState` per
function (``account.function(key)``; its scaling bucket comes with it).  The configuration goes in
with ``account.set_reserved``, ``account.set_provisioned`` (what is configured, which counts against
the limits at once) and ``account.set_ready`` (provisioned environments initialised: from then on
they serve).  For each version it keeps its idle on-demand environments with their last-used
times, and its busy ones.

*Per arrival* at virtual time ``now``: ``decide(account, state, version, idle=bool(idle_envs), now,
rate)`` answers a :class:`~.concurrency.Throttle` (count it; an asynchronous event is retried after
``AsyncRetry.throttle_backoff``) or ``(slot, kind)``: ``PROVISIONED`` (a provisioned environment, no
Init Duration), ``WARM`` (take the most recently used idle environment) or ``COLD`` (a new
environment: its INIT comes first).  ``slot.spillover`` says an on-demand invocation would have run
on provisioned concurrency had any been free.  Before a cold start on a small machine,
:class:`~.capacity.MachineCapacity` says whether it fits (the real cloud's concern only).

*Per completion* at ``now``: ``release(account, slot)``; an on-demand environment goes back to the
idle list with ``last_used = now`` and is reaped at ``keepalive.expires_at(last_used, keep_alive_s)``
unless used again before (``keepalive.reapable`` at any moment).  A failed asynchronous attempt is
retried after ``AsyncRetry.retry_delay(attempts)`` unless that is None or the event has
``expired``.

Reading: ``account.running`` (ConcurrentExecutions), ``account.unreserved_running``
(UnreservedConcurrentExecutions), ``state.running`` and ``state.busy[version]`` /
``state.ready[version]`` (ProvisionedConcurrentExecutions and its utilization), ``account.unreserved()``
(GetAccountSettings' UnreservedConcurrentExecutions).
"""

from .capacity import MACHINE_CAPACITY_EXCEEDED, MachineCapacity, budget_mb
from .concurrency import (
    ACCOUNT_LIMIT_EXCEEDED,
    ON_DEMAND,
    PROVISIONED,
    RESERVED_LIMIT_EXCEEDED,
    Account,
    FunctionState,
    Refusal,
    Slot,
    Throttle,
    admit,
    on_demand_room,
    release,
)
from .keepalive import expires_at, reapable, remaining
from .placement import COLD, SCALING_RATE_EXCEEDED, WARM, ScalingRate, decide, place
from .retry import AsyncRetry
from .scaling import ScalingBucket

__all__ = [
    "ACCOUNT_LIMIT_EXCEEDED", "COLD", "MACHINE_CAPACITY_EXCEEDED", "ON_DEMAND", "PROVISIONED",
    "RESERVED_LIMIT_EXCEEDED", "SCALING_RATE_EXCEEDED", "WARM", "Account", "AsyncRetry", "FunctionState",
    "MachineCapacity", "Refusal", "ScalingBucket", "ScalingRate", "Slot", "Throttle", "admit", "budget_mb",
    "decide", "expires_at", "on_demand_room", "place", "reapable", "release", "remaining",
]
