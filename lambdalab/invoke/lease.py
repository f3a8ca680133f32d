"""Concurrency leases: whether an invocation may run at all, decided before any sandbox is touched.

Counting in-flight invocations is kept apart from pooling environments (LocalStack's split), so a
throttle costs a microsecond and no process.  The decision is :mod:`lambdalab.rules`' (account
limit, reserved and provisioned concurrency), made over the state the function's service keeps
(``service.concurrency``) under that store's lock; a lease holds its slot until the invocation
ends.  The second half of the rules, whether a *new* environment may be made (the scaling rate),
is asked by the pool through :meth:`Lease.may_add` once it knows no idle environment is there.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from .. import rules
from ..service.concurrency import Concurrency, Running
from ..service.models import Function


@dataclass(frozen=True, slots=True)
class Lease:
    """One admitted invocation: its slot of concurrency and what ran with it when it was admitted."""

    slot: rules.Slot
    running: Running
    concurrency: Concurrency

    @property
    def provisioned(self) -> bool:
        """It runs on provisioned concurrency: a provisioned environment of its version waits for it."""
        return self.slot.kind == rules.PROVISIONED

    def may_add(self) -> None:
        """A new environment for this invocation: allowed by the function's scaling rate, or its throttle raised."""
        self.concurrency.scale(self.slot)


class Leases:
    """The concurrency leases of one service's functions (one account in one Region)."""

    def __init__(self, concurrency: Concurrency) -> None:
        self._concurrency = concurrency

    @contextmanager
    def lease(self, function: Function) -> Iterator[Lease]:
        """Hold one unit of concurrency for an invocation of ``function`` (a version), or raise AWS's throttle."""
        slot, running = self._concurrency.admit(function)
        try:
            yield Lease(slot, running, self._concurrency)
        finally:
            self._concurrency.release(slot)

    def running(self, function_name: str | None = None) -> int:
        """Invocations in flight, for one function (any of its versions) or the whole account."""
        return self._concurrency.running(function_name)
