"""Concurrency: may an invocation run now, on provisioned or on standard concurrency, or why is it throttled.

AWS's rules, from its concurrency pages and what LocalStack's AWS-validated tests recorded:

* An account has a concurrency limit per Region (1,000 by default).  Reserved concurrency
  (PutFunctionConcurrency) sets a function's share aside: the function may run at most that many
  invocations at once, and no other function may use them.  Functions without reserved
  concurrency share what is left, the unreserved concurrency, which may never be configured
  below its minimum (100, or the account's limit if that is lower: a new account limited to 10
  cannot reserve anything).
* Provisioned concurrency (PutProvisionedConcurrencyConfig, on a version or an alias) counts
  against the function's reserved concurrency if it has some, else against the unreserved
  concurrency, from the moment it is configured.  An invocation of a version with provisioned
  environments ready runs on one of them when one is free; beyond them it spills over to
  standard (on-demand) concurrency.  A function whose reserved concurrency is all provisioned
  cannot run ``$LATEST`` at all.
* A throttle's ``Reason``: ``ReservedFunctionConcurrentInvocationLimitExceeded`` when the
  function's reserved concurrency is used up, ``ConcurrentInvocationLimitExceeded`` when the
  account's unreserved concurrency is.  Both say "Rate Exceeded.".

:class:`Account` is the state these rules read and change, with no lock and no clock of its own:
whoever owns it serializes the calls.  :func:`admit` takes a :class:`Slot` (or answers a
:class:`Throttle`) and :func:`release` gives it back; both are a few dictionary operations, so a
decision costs about a microsecond.  Functions are keyed by whatever the owner likes (the real
cloud: the unqualified function ARN); provisioned concurrency is configured per qualifier (a
version or an alias) and made ready per version, where its environments are.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import NamedTuple

from .scaling import ScalingBucket

PROVISIONED = "provisioned"  # on an environment initialised ahead
ON_DEMAND = "on-demand"  # on standard concurrency: a warm environment or a new one
ACCOUNT_LIMIT_EXCEEDED = "ConcurrentInvocationLimitExceeded"
RESERVED_LIMIT_EXCEEDED = "ReservedFunctionConcurrentInvocationLimitExceeded"
THROTTLE_MESSAGE = "Rate Exceeded."
UNRESERVED_MINIMUM = 100


@dataclass(frozen=True, slots=True)
class Throttle:
    """An invocation refused: its ``Reason`` and the message the caller gets."""

    reason: str
    message: str = THROTTLE_MESSAGE


ACCOUNT_THROTTLE = Throttle(ACCOUNT_LIMIT_EXCEEDED)
RESERVED_THROTTLE = Throttle(RESERVED_LIMIT_EXCEEDED)


@dataclass(slots=True, eq=False)
class FunctionState:
    """What the rules know of one function (all its versions)."""

    reserved: int | None = None  # reserved concurrency; None: it shares the unreserved pool
    provisioned: dict[str, int] = field(default_factory=dict)  # qualifier -> provisioned concurrency configured
    ready: dict[str, int] = field(default_factory=dict)  # version -> provisioned environments ready to serve
    busy: dict[str, int] = field(default_factory=dict)  # version -> provisioned environments serving now
    on_demand: int = 0  # invocations in flight on standard concurrency, all versions
    provisioned_total: int = 0  # sum of ``provisioned``
    provisioned_busy: int = 0  # sum of ``busy``
    bucket: ScalingBucket = field(default_factory=ScalingBucket)

    @property
    def running(self) -> int:
        """Invocations of the function in flight, provisioned and on-demand."""
        return self.on_demand + self.provisioned_busy

    @property
    def claim(self) -> int:
        """What the function takes from the account's unreserved concurrency."""
        return self.reserved if self.reserved is not None else self.provisioned_total


@dataclass(slots=True, eq=False)
class Slot:
    """One admitted invocation, until :func:`release`."""

    function: FunctionState
    version: str
    kind: str  # PROVISIONED or ON_DEMAND
    shared: bool  # it counts in the unreserved pool (the function had no reserved concurrency)
    spillover: bool = False  # on-demand although the version has provisioned environments (all busy)


class Refusal(NamedTuple):
    """A configuration AWS refuses: its message, and whether AWS's answer carries ``Type: User``."""

    message: str
    typed: bool = False


class Account:
    """The concurrency of one account in one Region: its limits, its functions, what runs now."""

    def __init__(self, limit: int = 1000, unreserved_min: int = UNRESERVED_MINIMUM) -> None:
        self.limit, self.unreserved_min = limit, unreserved_min
        self.functions: dict[Hashable, FunctionState] = {}
        self.claimed = 0  # sum of every function's claim
        self.shared = 0  # on-demand invocations in flight of functions without reserved concurrency
        self.running = 0  # invocations in flight, all functions
        self.unreserved_running = 0  # ... of functions without reserved concurrency (provisioned ones too)

    def function(self, key: Hashable) -> FunctionState:
        """The state of function ``key``, new (nothing configured) the first time."""
        state = self.functions.get(key)
        if state is None:
            state = self.functions[key] = FunctionState()
        return state

    @property
    def minimum(self) -> int:
        """The least unreserved concurrency the account keeps: 100, or its limit if that is lower."""
        return min(self.unreserved_min, self.limit)

    def unreserved(self) -> int:
        """UnreservedConcurrentExecutions, as GetAccountSettings reports it."""
        return self.limit - self.claimed

    # -- configuration ---------------------------------------------------------------------------
    def set_reserved(self, key: Hashable, reserved: int | None) -> None:
        state = self.function(key)
        self.claimed -= state.claim
        state.reserved = reserved
        self.claimed += state.claim

    def set_provisioned(self, key: Hashable, qualifier: str, amount: int | None) -> None:
        """Configure (``amount``) or remove (None) the provisioned concurrency of one version or alias."""
        state = self.function(key)
        self.claimed -= state.claim
        if amount is None:
            state.provisioned.pop(qualifier, None)
        else:
            state.provisioned[qualifier] = amount
        state.provisioned_total = sum(state.provisioned.values())
        self.claimed += state.claim

    def set_ready(self, key: Hashable, version: str, ready: int) -> None:
        """How many provisioned environments of ``version`` are ready to serve (0: none, they go on-demand)."""
        state = self.function(key)
        if ready:
            state.ready[version] = ready
        else:
            state.ready.pop(version, None)

    def forget(self, key: Hashable) -> None:
        """The function is gone: its claims with it (invocations still in flight release their slots)."""
        state = self.functions.pop(key, None)
        if state is not None:
            self.claimed -= state.claim

    def check_reserved(self, key: Hashable, reserved: int) -> Refusal | None:
        """Why PutFunctionConcurrency of ``reserved`` would be refused, or None."""
        state = self.function(key)
        if reserved > state.claim and self.unreserved() + state.claim - reserved < self.minimum:
            return Refusal("Specified ReservedConcurrentExecutions for function decreases account's "
                           f"UnreservedConcurrentExecution below its minimum value of [{self.minimum}].")
        if state.provisioned_total > reserved:
            return Refusal(f" ReservedConcurrentExecutions  {reserved} should not be lower than function's total "
                           f"provisioned concurrency [{state.provisioned_total}].")
        return None

    def check_provisioned(self, key: Hashable, qualifier: str, amount: int) -> Refusal | None:
        """Why PutProvisionedConcurrencyConfig of ``amount`` on ``qualifier`` would be refused, or None."""
        state = self.function(key)
        current = state.provisioned.get(qualifier, 0)
        if state.reserved is not None:
            if state.provisioned_total - current + amount > state.reserved:
                return Refusal("Requested Provisioned Concurrency should not be greater than the "
                               "reservedConcurrentExecution for function", typed=True)
            return None
        if amount > self.unreserved() + current:
            return Refusal("Specified ConcurrentExecutions for function is greater than account's unreserved "
                           f"concurrency [{self.unreserved()}].")
        if amount > current and self.unreserved() - (amount - current) < self.minimum:
            return Refusal("Specified ConcurrentExecutions for function decreases account's "
                           f"UnreservedConcurrentExecution below its minimum value of [{self.minimum}].")
        return None


# -- the invoke path --------------------------------------------------------------------------------
def on_demand_room(account: Account, state: FunctionState) -> tuple[int, Throttle]:
    """How many on-demand invocations the function may have in flight now, and the throttle beyond them:
    its reserved concurrency less what is provisioned, else the account's unreserved pool less what the
    other functions without reserved concurrency run.  :func:`admit` asks it per invocation; a simulator's
    aggregate mode asks it once, for the ceiling of its load model."""
    if state.reserved is not None:
        return state.reserved - state.provisioned_total, RESERVED_THROTTLE
    return account.limit - account.claimed - (account.shared - state.on_demand), ACCOUNT_THROTTLE


def admit(account: Account, state: FunctionState, version: str) -> Slot | Throttle:
    """Admit one invocation of ``version``: a provisioned environment if one is ready and free, else
    standard concurrency if the function's reserved share (or the account's unreserved pool) has room."""
    shared = state.reserved is None
    ready = state.ready.get(version, 0)
    if ready:
        busy = state.busy.get(version, 0)
        if busy < ready:
            state.busy[version] = busy + 1
            state.provisioned_busy += 1
            account.running += 1
            account.unreserved_running += shared
            return Slot(state, version, PROVISIONED, shared)
    room, throttle = on_demand_room(account, state)
    if state.on_demand >= room:
        return throttle
    state.on_demand += 1
    account.running += 1
    if shared:
        account.shared += 1
        account.unreserved_running += 1
    return Slot(state, version, ON_DEMAND, shared, spillover=bool(ready))


def release(account: Account, slot: Slot) -> None:
    """The invocation ended: its slot is free again."""
    state = slot.function
    account.running -= 1
    account.unreserved_running -= slot.shared
    if slot.kind == PROVISIONED:
        state.busy[slot.version] -= 1
        state.provisioned_busy -= 1
    else:
        state.on_demand -= 1
        account.shared -= slot.shared
