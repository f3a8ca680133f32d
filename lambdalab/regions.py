"""Lambda in every account and Region of the cloud: one :class:`Place` per (account, region), made on first use.

AWS is many Regions, and an account's functions in one Region are its own: another Region neither
lists nor runs them, and an ARN of another Region is "not reachable in this region".  So each
(account, region) has its own :class:`~lambdalab.service.functions.LambdaService` (functions,
versions, aliases, policies, layers, reserved and provisioned concurrency), its own concurrency
leases (AWS's quotas of 1,000 and of unreserved concurrency are per account and Region) and
provisioner, its own invoker and asynchronous queue, and its own sandbox context: its environments
get its ``AWS_REGION`` and a session of their role, and write their logs, metrics and records to that
account's CloudWatch in that Region.  Every place shares the environment pool (and with it the
machine's capacity), the governor, the clock and the quotas.  A request's Region is the one its
signature names; its account is the one an ARN in it names, else the caller's (see ``api``).

``Regions._lock`` guards ``_places`` and ``_closed`` and is held only to read or insert: a place is made outside it
(it creates a directory), and when two requests make the same place at once the first one stored wins.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from . import memory
from .api.context import ApiContext
from .arns import parse_arn
from .invoke.async_queue import AsyncQueue
from .invoke.invoker import Invoker
from .invoke.lease import Leases
from .invoke.provisioner import Provisioner
from .sandbox.environment import SandboxContext
from .service.errors import InvalidSignatureException
from .service.functions import LambdaService

# The Regions of the aws partition where Lambda runs, as botocore knows them (the ARNs say "aws").
REGIONS = frozenset(memory.botocore_session().get_available_regions("lambda", partition_name="aws"))


@dataclass(frozen=True)
class Place:
    """Lambda for one account in one Region, and what its API calls reach."""

    service: LambdaService
    leases: Leases
    provisioner: Provisioner  # makes the provisioned environments its service's configurations ask for
    invoker: Invoker
    queue: AsyncQueue
    sandbox: SandboxContext
    api: ApiContext


class Regions:
    """The places of the cloud's accounts, each made by ``make(account, region)`` the first time it is used."""

    def __init__(self, accounts: Iterable[str], make: Callable[[str, str], Place]) -> None:
        self.accounts = frozenset(accounts)
        self._make = make
        self._places: dict[tuple[str, str], Place] = {}
        self._closed = False  # the cloud is stopping: a place made now gets a closed queue
        self._lock = threading.Lock()
        self.unfinished = 0  # asynchronous events the last join() found unfinished, in every place

    def get(self, account: str, region: str) -> Place:
        """The place of ``account`` in ``region``, made now if need be.

        A Region that does not exist is refused as AWS refuses a signature scoped to it; an account
        the cloud does not have raises KeyError.
        """
        if region not in REGIONS:
            raise InvalidSignatureException(f"Credential should be scoped to a valid region, not '{region}'. ")
        if account not in self.accounts:
            raise KeyError(f"account {account} is not one of this cloud's ({', '.join(sorted(self.accounts))})")
        key = (account, region)
        with self._lock:
            place = self._places.get(key)
        if place is not None:
            return place
        made = self._make(account, region)
        with self._lock:
            place = self._places.setdefault(key, made)
            closed = self._closed
        if closed:
            place.queue.close()
        return place

    def of(self, arn: str) -> Place:
        """The place that holds a function or layer of this ARN (KeyError if it is no ARN of the cloud's)."""
        parsed = parse_arn(arn)
        if parsed is None:
            raise KeyError(f"not an ARN: {arn}")
        return self.get(parsed.account, parsed.region)

    def api(self, account: str, region: str) -> ApiContext | None:
        """What the Lambda API of ``account`` in ``region`` reaches (None: not an account of this cloud)."""
        try:
            return self.get(account, region).api
        except KeyError:
            return None

    def places(self) -> list[Place]:
        """Every place made so far."""
        with self._lock:
            return list(self._places.values())

    def close(self) -> None:
        """No asynchronous attempt starts from now on, in any place (the cloud is stopping)."""
        with self._lock:
            self._closed = True
        for place in self.places():
            place.queue.close()

    def join(self) -> None:
        """After ``close()`` and the environments' stop: wait for every place's provisioner (its
        reconciliations under way) and queue workers; what they left unfinished is counted in ``unfinished``."""
        for place in self.places():
            place.provisioner.stop()
        self.unfinished = sum(place.queue.join() for place in self.places())
