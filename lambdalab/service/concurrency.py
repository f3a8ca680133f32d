"""Reserved and provisioned concurrency: the configuration, and the account's concurrency the invoke path decides with.

The control plane's operations (PutFunctionConcurrency, Get..., Delete...; Put/Get/Delete/List
ProvisionedConcurrencyConfig(s)) check and answer as AWS does, in AWS's order, with AWS's
messages (LocalStack's AWS-validated ``TestLambdaReservedConcurrency``,
``TestLambdaProvisionedConcurrency`` and ``TestLambdaConcurrency`` snapshots).  The rules
themselves, for the configuration and for every invocation, are :mod:`lambdalab.rules`'s; this
store holds their state (one :class:`~lambdalab.rules.Account` per account and Region, functions
keyed by their unqualified ARN) next to the configuration it follows from.

Provisioned concurrency goes IN_PROGRESS -> READY (or FAILED with a reason) on the cloud's clock:
a Put answers IN_PROGRESS at once; the environments are made and initialised then (by
``invoke.provisioner``, which reports here), and the configuration turns READY once
``quotas.provisioned_allocation_s`` of cloud time have passed (AWS takes about two minutes) *and*
every environment's INIT succeeded; only then do invocations run on them.  An INIT that fails
makes it FAILED at that time (``FUNCTION_ERROR_INIT_FAILURE``, as AWS answers; AWS tries INIT about
six times over some minutes, lambdalab once).  Fast-forwarding the clock past the allocation time makes a Get wait for
INITs still running in real time (at most the INIT timeout), so what it answers then is final.
An alias's provisioned concurrency goes to the version(s) it points to when it is put (shared by
weight between the two versions of a weighted alias); moving the alias later does not move it.

:meth:`Concurrency.allocations` lists every configuration from its Put to its end (Delete, a new
Put, FAILED), as the bill counts provisioned concurrency.

``_lock`` guards the configuration, its history and the account's state; it is held for dictionary work only.
Listeners (the provisioner) are told outside it which function's provisioned concurrency changed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, NamedTuple

from .. import rules
from ..arns import FUNCTION_ARN
from .errors import (
    InvalidParameterValueException,
    ProvisionedConcurrencyConfigNotFoundException,
    ResourceConflictException,
    ResourceNotFoundException,
    TooManyRequestsException,
    function_not_found,
)
from .models import Function
from .versions import VERSION_NUMBER

if TYPE_CHECKING:
    from .functions import LambdaService

IN_PROGRESS, READY, FAILED = "IN_PROGRESS", "READY", "FAILED"
INIT_FAILURE = "FUNCTION_ERROR_INIT_FAILURE"
QUALIFIED = ("This operation is permitted on Lambda functions only. Aliases and versions do not support this "
             "operation. Please specify either a function name or an unqualified function ARN.")
WAIT_MARGIN_S = 5.0  # beyond the INIT timeout, how long a Get waits for INITs the clock overtook


@dataclass(eq=False)
class ProvisionedConfig:
    """One PutProvisionedConcurrencyConfig, from IN_PROGRESS to READY or FAILED (fields under the store's lock)."""

    name: str
    qualifier: str  # the version or alias it was put on
    requested: int
    versions: dict[str, int]  # version -> environments: where the provisioned environments are
    last_modified: str
    ready_at: float  # cloud time from which it may be READY
    enabled_at: float  # cloud time of the Put: AWS bills provisioned concurrency from then...
    memory_mb: dict[str, int]  # ... for each version's environments, of its MemorySize
    ended_at: float | None = None  # ... until it is deleted, replaced or FAILED
    status: str = IN_PROGRESS
    reason: str | None = None
    due: bool = False  # the allocation time has passed
    initialised: bool = False  # every environment's INIT is over...
    failure: str | None = None  # ... and this is why one of them could not be made ready
    decided: threading.Event = field(default_factory=threading.Event)  # READY or FAILED

    def shape(self) -> dict[str, Any]:
        """GetProvisionedConcurrencyConfig's answer: nothing allocated until it is READY, as AWS answers."""
        allocated = self.requested if self.status == READY else 0
        out: dict[str, Any] = {"RequestedProvisionedConcurrentExecutions": self.requested,
                               "AvailableProvisionedConcurrentExecutions": allocated,
                               "AllocatedProvisionedConcurrentExecutions": allocated,
                               "Status": self.status, "LastModified": self.last_modified}
        if self.reason:
            out["StatusReason"] = self.reason
        return out


class Running(NamedTuple):
    """What is in flight once an invocation is admitted (it included), for the metrics."""

    function: int
    account: int
    unreserved: int
    provisioned: int  # provisioned environments of the version busy
    provisioned_ready: int  # ... and ready


class Concurrency:
    """The reserved and provisioned concurrency of one :class:`LambdaService`'s functions."""

    def __init__(self, service: LambdaService, timestamp: Callable[[], str]) -> None:
        self._service, self._timestamp = service, timestamp
        q = service.quotas
        self.account = rules.Account(q.concurrent_executions, q.unreserved_min)
        self._rate = rules.ScalingRate(q.scaling_environments, q.scaling_period_s)
        self._reserved: dict[str, int] = {}  # by function name
        self._configs: dict[tuple[str, str], ProvisionedConfig] = {}  # by (function name, qualifier)
        self._history: list[ProvisionedConfig] = []  # every configuration put, for the bill
        self._listeners: list[Callable[[str], None]] = []
        self._lock = threading.Lock()
        service.subscribe(self._function_changed)
        q.subscribe(self._quota_changed)

    def subscribe(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(function_name)`` after the function's provisioned concurrency changed."""
        self._listeners.append(listener)

    # -- reserved concurrency --------------------------------------------------------------------
    def put_reserved(self, function_name: str, reserved: int) -> dict:
        name = self._function(function_name, not_found_qualifier="$LATEST")
        with self._lock:
            refusal = self.account.check_reserved(self._service.arn(name), reserved)
            if refusal:
                raise _refused(refusal)
            self._reserved[name] = reserved
            self.account.set_reserved(self._service.arn(name), reserved)
        return {"ReservedConcurrentExecutions": reserved}

    def get_reserved(self, function_name: str) -> dict:
        name = self._function(function_name)
        with self._lock:
            reserved = self._reserved.get(name)
        return {} if reserved is None else {"ReservedConcurrentExecutions": reserved}

    def delete_reserved(self, function_name: str) -> None:
        name = self._function(function_name, not_found_qualifier="$LATEST")
        with self._lock:
            if self._reserved.pop(name, None) is not None:
                self.account.set_reserved(self._service.arn(name), None)

    def reserved(self, name: str) -> int | None:
        """The function's reserved concurrency (GetFunction's ``Concurrency``), None if it has none."""
        with self._lock:
            return self._reserved.get(name)

    def unreserved(self) -> int:
        """GetAccountSettings' UnreservedConcurrentExecutions."""
        with self._lock:
            return self.account.unreserved()

    # -- provisioned concurrency -----------------------------------------------------------------
    def put_provisioned(self, params: dict[str, Any]) -> dict:
        name, qualifier, amount = self._service.function_name(params["FunctionName"]), params["Qualifier"], \
            params["ProvisionedConcurrentExecutions"]
        if qualifier == "$LATEST":
            raise InvalidParameterValueException("Provisioned Concurrency Configs cannot be applied to unpublished "
                                                 "function versions.")
        versions = self._target(name, qualifier, amount)
        memory = {v: f.memory_size for v in versions if (f := self._service.version(name, v)) is not None}
        key, now = self._service.arn(name), self._service.clock.time()
        with self._lock:
            refusal = self.account.check_provisioned(key, qualifier, amount)
            if refusal:
                raise _refused(refusal)
            self._check_overlap(name, qualifier, versions)
            old = self._configs.get((name, qualifier))
            if old is not None:
                self._unready(old)
            config = ProvisionedConfig(name, qualifier, amount, versions, self._timestamp(),
                                       now + self._service.quotas.provisioned_allocation_s, now, memory)
            self._configs[(name, qualifier)] = config
            self._history.append(config)
            self.account.set_provisioned(key, qualifier, amount)
        self._service.clock.call_later(self._service.quotas.provisioned_allocation_s, lambda: self._due(config))
        self._changed(name)
        return config.shape()

    def get_provisioned(self, function_name: str, qualifier: str) -> dict:
        name = self._published(function_name, qualifier)
        with self._lock:
            config = self._configs.get((name, qualifier))
        if config is None:
            raise ProvisionedConcurrencyConfigNotFoundException(_NO_CONFIG)
        self._settle(config)
        with self._lock:
            return config.shape()

    def delete_provisioned(self, function_name: str, qualifier: str) -> None:
        """Delete a version's or alias's provisioned concurrency; deleting none succeeds, as on AWS."""
        name = self._published(function_name, qualifier)
        with self._lock:
            gone = self._drop(name, qualifier)
        if gone:
            self._changed(name)

    def list_provisioned(self, function_name: str, marker: str | None, max_items: int | None) -> dict:
        name = self._function(function_name)
        with self._lock:
            configs = sorted((c for (n, _), c in self._configs.items() if n == name), key=lambda c: c.qualifier)
        for config in configs:
            self._settle(config)
        with self._lock:
            items = [{"FunctionArn": self._service.arn(name, c.qualifier), **c.shape()} for c in configs]
        start = next((i for i, c in enumerate(configs) if c.qualifier >= marker), len(configs)) if marker else 0
        end = start + (max_items or 50)
        result: dict[str, Any] = {"ProvisionedConcurrencyConfigs": items[start:end]}
        if end < len(items):
            result["NextMarker"] = configs[end].qualifier
        return result

    def allocations(self) -> list[dict[str, Any]]:
        """Every provisioned concurrency configured so far, one row per version it provisioned: what the bill's
        provisioned-concurrency line counts (environments x MemorySize x the time from ``start`` to ``end``,
        None while it is still configured), with its status."""
        def at(moment: float | None) -> datetime | None:
            return None if moment is None else datetime.fromtimestamp(moment, tz=timezone.utc)

        with self._lock:
            return [{"function": c.name, "function_arn": self._service.arn(c.name), "qualifier": c.qualifier,
                     "version": version, "environments": n,
                     "memory_mb": c.memory_mb.get(version), "start": at(c.enabled_at), "end": at(c.ended_at),
                     "status": c.status} for c in self._history for version, n in c.versions.items() if n]

    def wanted(self, name: str) -> dict[str, int]:
        """The provisioned environments the function's configurations want now, by version."""
        with self._lock:
            return {v: n for (fn, _), c in self._configs.items() if fn == name and c.status != FAILED
                    for v, n in c.versions.items()}

    def pending(self, name: str) -> list[ProvisionedConfig]:
        """The function's configurations whose environments have not all finished INIT yet."""
        with self._lock:
            return [c for (fn, _), c in self._configs.items()
                    if fn == name and c.status == IN_PROGRESS and not c.initialised]

    def initialised(self, config: ProvisionedConfig, failure: str | None) -> None:
        """The provisioner's report: every environment of ``config`` finished INIT (``failure``: one could not)."""
        with self._lock:
            config.initialised, config.failure = True, failure
            status = self._decide(config)
        if status == FAILED:
            self._changed(config.name)  # its environments go

    # -- the invoke path -------------------------------------------------------------------------
    def admit(self, function: Function) -> tuple[rules.Slot, Running]:
        """A slot of concurrency for one invocation of ``function`` (a version), or AWS's throttle."""
        version = function.version
        with self._lock:
            state = self.account.function(function.arn)
            slot = rules.admit(self.account, state, version)
            if isinstance(slot, rules.Throttle):
                raise TooManyRequestsException(slot.message, Reason=slot.reason)
            return slot, Running(state.running, self.account.running, self.account.unreserved_running,
                                 state.busy.get(version, 0), state.ready.get(version, 0))

    def running(self, name: str | None = None) -> int:
        """Invocations in flight, for the function ``name`` or the whole account."""
        with self._lock:
            if name is None:
                return self.account.running
            state = self.account.functions.get(self._service.arn(name))
            return state.running if state is not None else 0

    def release(self, slot: rules.Slot) -> None:
        with self._lock:
            rules.release(self.account, slot)

    def scale(self, slot: rules.Slot) -> None:
        """Allow one new environment for ``slot``'s function, or raise the scaling rate's throttle."""
        now = self._service.clock.time()
        with self._lock:
            where = rules.place(slot.function, False, now, self._rate)
        if isinstance(where, rules.Throttle):
            raise TooManyRequestsException(where.message, Reason=where.reason)

    # -- helpers ---------------------------------------------------------------------------------
    def _function(self, function_name: str, not_found_qualifier: str | None = None) -> str:
        """The function an unqualified name or ARN names; AWS refuses a qualified one."""
        match = FUNCTION_ARN.match(function_name)
        if match and match["qualifier"]:
            raise InvalidParameterValueException(QUALIFIED)
        name = self._service.function_name(function_name)
        if self._service.version(name, "$LATEST") is None:
            raise function_not_found(self._service.arn(name, not_found_qualifier))
        return name

    def _published(self, function_name: str, qualifier: str) -> str:
        """The function whose published version or alias ``qualifier`` is (Get and Delete refuse $LATEST so)."""
        if qualifier == "$LATEST":
            raise InvalidParameterValueException(_NOT_PUBLISHED)
        name = self._service.function_name(function_name)
        self._target(name, qualifier)
        return name

    def _target(self, name: str, qualifier: str, amount: int = 0) -> dict[str, int]:
        """The versions a version or alias designates, with the environments each gets of ``amount``."""
        arn = self._service.arn(name, qualifier)
        if VERSION_NUMBER.match(qualifier):
            if self._service.version(name, qualifier) is None:
                raise function_not_found(arn)
            return {qualifier: amount}
        alias = self._service.aliases.find(name, qualifier) if self._service.version(name, "$LATEST") else None
        if alias is None:
            raise ResourceNotFoundException(f"Cannot find alias arn: {arn}")
        shares = {version: round(amount * weight) for version, weight in alias.weights.items()}
        return {alias.function_version: amount - sum(shares.values()), **{v: n for v, n in shares.items() if n}}

    def _check_overlap(self, name: str, qualifier: str, versions: dict[str, int]) -> None:
        """A version's provisioned concurrency comes from one configuration: its own or one alias's."""
        for (fn, other), config in self._configs.items():
            if fn != name or other == qualifier or not set(config.versions) & set(versions):
                continue
            if VERSION_NUMBER.match(qualifier):
                raise ResourceConflictException("Version is pointed by a Provisioned Concurrency alias")
            raise ResourceConflictException("Alias can't be used for Provisioned Concurrency configuration on an "
                                            "already Provisioned version")

    def _due(self, config: ProvisionedConfig) -> None:
        """The allocation time has passed (on the clock's thread)."""
        with self._lock:
            config.due = True
            status = self._decide(config)
        if status == FAILED:
            self._changed(config.name)

    def _decide(self, config: ProvisionedConfig) -> str | None:
        """READY (its environments serve from now on) or FAILED, once both the allocation time and every INIT
        are over; None while either is not, or if the configuration was replaced or deleted (lock held)."""
        current = self._configs.get((config.name, config.qualifier)) is config and config.status == IN_PROGRESS
        if not (current and config.due and config.initialised):
            return None
        if config.failure:
            config.status, config.reason = FAILED, config.failure
            config.ended_at = self._service.clock.time()
        else:
            config.status = READY
            for version, n in config.versions.items():
                self.account.set_ready(self._service.arn(config.name), version, n)
        config.decided.set()
        return config.status

    def _settle(self, config: ProvisionedConfig) -> None:
        """Past its allocation time, a configuration's status is final: wait for INITs the clock overtook."""
        if config.status == IN_PROGRESS and self._service.clock.time() >= config.ready_at:
            config.decided.wait(self._service.quotas.init_timeout_s + WAIT_MARGIN_S)

    def _unready(self, config: ProvisionedConfig) -> None:
        """Its environments serve no more, and it is billed no more (lock held)."""
        if config.ended_at is None:
            config.ended_at = self._service.clock.time()
        for version in config.versions:
            self.account.set_ready(self._service.arn(config.name), version, 0)
        config.decided.set()

    def _drop(self, name: str, qualifier: str) -> bool:
        config = self._configs.pop((name, qualifier), None)
        if config is None:
            return False
        self._unready(config)
        self.account.set_provisioned(self._service.arn(name), qualifier, None)
        return True

    def _changed(self, name: str) -> None:
        for listener in self._listeners:
            listener(name)

    def _function_changed(self, name: str, qualifier: str | None, function: Function | None) -> None:
        """A deleted function takes its concurrency with it; a deleted version or alias, its provisioned one."""
        if function is not None:
            return
        with self._lock:
            gone = [self._drop(n, q) for n, q in list(self._configs) if n == name and qualifier in (None, q)]
            if qualifier is None:
                self._reserved.pop(name, None)
                self.account.forget(self._service.arn(name))
        if any(gone):
            self._changed(name)

    def _quota_changed(self, key: str) -> None:
        q = self._service.quotas
        with self._lock:
            self.account.limit, self.account.unreserved_min = q.concurrent_executions, q.unreserved_min
            self._rate = rules.ScalingRate(q.scaling_environments, q.scaling_period_s)


_NOT_PUBLISHED = "The function resource provided must be an alias or a published version."
_NO_CONFIG = "No Provisioned Concurrency Config found for this function"


def _refused(refusal: rules.Refusal) -> InvalidParameterValueException:
    """AWS's answer to a refused configuration; some of them carry no ``Type`` (as recorded)."""
    return InvalidParameterValueException(refusal.message, **({} if refusal.typed else {"Type": None}))
