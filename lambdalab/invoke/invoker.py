"""The invoke path: ``with lease: with environment: env.invoke(...)``.

The lease admits the invocation (or throttles it: account, reserved), the pool places it on a
provisioned, warm or new environment (or throttles it: the scaling rate, this machine's room).

Every invocation (or throttle) is counted in the ``AWS/Lambda`` metrics on its way out.
Synchronous invocations run here on the caller's thread; asynchronous ones (``Event``) go through
the queue in ``async_queue``, whose workers come down this same path for each attempt.
"""

from __future__ import annotations

from ..observe.metrics import Metrics, resource_dimension
from ..sandbox.invocation import Invocation
from ..service.errors import TooManyRequestsException
from ..service.functions import LambdaService
from ..service.models import Function
from .lease import Leases
from .pool import EnvironmentPool


class Invoker:
    def __init__(self, service: LambdaService, pool: EnvironmentPool, leases: Leases, metrics: Metrics) -> None:
        self.service, self.pool, self.leases, self.metrics = service, pool, leases, metrics

    def invoke(self, function: Function, inv: Invocation) -> Invocation:
        """Run ``inv`` now and return it completed; raises TooManyRequestsException when throttled."""
        at, resource = self.service.clock.now(), resource_dimension(inv.invoked_arn)
        try:
            with self.leases.lease(function) as lease, self.pool.environment(function, lease) as env:
                self.metrics.started(function.name, resource, at, lease.running, lease.provisioned,
                                     lease.slot.spillover)
                env.invoke(inv)
        except TooManyRequestsException:
            self.metrics.throttled(function.name, resource, at)
            raise
        qualifier = resource.partition(":")[2]  # the Resource dimension is "name" or "name:qualifier"
        through_alias = qualifier not in ("", function.version, "$LATEST")
        self.metrics.finished(function.name, resource, at, inv.duration_ms, inv.error_type is not None,
                              function.version if through_alias else None)
        return inv
