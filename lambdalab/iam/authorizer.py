"""The one place where a call is judged: the caller's policies, the resource's policy, the context.

Every decision on a call by a principal other than an account's root user in its own account is
kept (the newest ``LOG_SIZE``), with the statement that decided, so a notebook can show why a
call was allowed or refused; ``simulate`` judges a call that was never made, like IAM's policy
simulator.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..clock import Clock
from .policy import Decision, Policy, Request, evaluate
from .principals import Caller

LOG_SIZE = 10_000
SOURCE_IP = "127.0.0.1"  # every caller of the local cloud comes from this machine


@dataclass(frozen=True)
class Judgement:
    """One decision, as the decision log keeps it."""

    time: datetime
    principal: str
    action: str
    resource: str
    allowed: bool
    reason: str
    policy: str | None
    statement: int | None
    explanation: str


class Authorizer:
    def __init__(self, clock: Clock, region: str) -> None:
        self.clock, self.region = clock, region
        self._log: deque[Judgement] = deque(maxlen=LOG_SIZE)
        self._lock = threading.Lock()

    def decide(self, caller: Caller, action: str, resource: str, context: Mapping[str, Any] | None = None,
               resource_policy: Policy | None = None, resource_account: str | None = None) -> Decision:
        """AWS's decision on ``caller`` doing ``action`` on ``resource`` (logged)."""
        account = resource_account or caller.account
        decision = self.simulate(caller, action, resource, context, resource_policy, account)
        if caller.is_root and account == caller.account:  # always allowed: not worth a line in the log
            return decision
        with self._lock:
            self._log.append(Judgement(self.clock.now(), caller.arn, action, resource, decision.allowed,
                                       decision.reason, decision.policy, decision.statement, decision.explain()))
        return decision

    def simulate(self, caller: Caller, action: str, resource: str, context: Mapping[str, Any] | None = None,
                 resource_policy: Policy | None = None, resource_account: str | None = None) -> Decision:
        """The decision, without logging it: for explorers and for checks that are not calls."""
        keys = {"aws:CurrentTime": self.clock.now(), "aws:EpochTime": int(self.clock.time()),
                "aws:SourceIp": SOURCE_IP, "aws:SecureTransport": False, "aws:RequestedRegion": self.region,
                **caller.context(), **(context or {})}
        return evaluate(Request(caller.principal, action, resource, keys), caller.policies, resource_policy,
                        resource_account or caller.account)

    def judgements(self) -> list[Judgement]:
        with self._lock:
            return list(self._log)
