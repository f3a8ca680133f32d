"""Lambda's CloudWatch metrics (namespace ``AWS/Lambda``), a set of datapoints for each invocation.

Lambda publishes each metric under several dimension sets, and so does lambdalab: the function
(``FunctionName``), the function as it was invoked (``FunctionName`` + ``Resource``, where
Resource is ``name`` or ``name:qualifier``), for an invocation through an alias also the version
that ran (``FunctionName`` + ``Resource`` + ``ExecutedVersion``, how a traffic shift is watched),
and the account-wide aggregate (no dimension):

* ``Invocations`` (Count): every invocation that ran, successful or not; throttles are not invocations.
* ``Errors`` (Count): 1 when the invocation ended in a function error (an exception, a timeout, a
  crash, an out-of-memory kill), else 0, so that its Average is the error rate.
* ``Duration`` (Milliseconds): the invocation's Duration, as on its REPORT line.
* ``Throttles`` (Count): an invocation refused for concurrency; it never reached an environment.
* ``ConcurrentExecutions`` (Count): invocations in flight when this one started (read its Maximum),
  for the function and for the account (not per Resource: lambdalab counts per function).
* ``UnreservedConcurrentExecutions`` (Count, account only): ... of functions without reserved concurrency.
* ``ProvisionedConcurrentExecutions`` (Count): for an invocation on provisioned concurrency, the
  provisioned environments of its version busy (it included), per function and Resource;
  ``ProvisionedConcurrencyUtilization`` (None): that over the environments provisioned (read its
  Maximum); ``ProvisionedConcurrencyInvocations`` (Count): 1 per such invocation.
* ``ProvisionedConcurrencySpilloverInvocations`` (Count): an invocation of a version with provisioned
  concurrency ready that ran on-demand because every provisioned environment was busy.
* The asynchronous queue's, per event: ``AsyncEventsReceived`` (Count), ``AsyncEventAge``
  (Milliseconds, from its receipt to each attempt's start), ``AsyncEventsDropped`` (Count: it failed
  every attempt, ran out of age or lost its function), ``DestinationDeliveryFailures`` and
  ``DeadLetterErrors`` (Count: its record or dead letter could not be sent).
* ``IteratorAge`` (Milliseconds): for a stream mapping's invocation, how old the batch's last record
  was when it was invoked; a mapping's on-failure destination that could not take a record counts in
  ``DestinationDeliveryFailures`` too.

Datapoints carry the cloud clock's time of the invocation's start and leave the invoke path through
a :class:`~lambdalab.observe.batcher.Batcher`, into the CloudWatch of the function's account and
Region (one batcher for all: :meth:`Metrics.at` gives each place its view); ``flush()`` waits until
CloudWatch has them.  A batch's datapoints of one metric, dimension set and minute arrive as one
statistic set (CloudWatch's resolution for Lambda's metrics is one minute).

moto's CloudWatch, which answers the queries, matches dimensions loosely: GetMetricStatistics
counts every datapoint whose dimensions *include* the ones asked for (so a ``FunctionName``-only
or dimensionless query also sums the finer datapoints), and GetMetricData without dimensions
does the same.  Exact answers come from GetMetricData with dimensions and from either API with
the finest set there is (``FunctionName`` + ``Resource``, plus ``ExecutedVersion`` for an alias);
Average, Minimum and Maximum are right in any case.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from ..arns import parse_arn
from .batcher import Shipper

if TYPE_CHECKING:
    from ..service.concurrency import Running

NAMESPACE = "AWS/Lambda"
Deliver = Callable[[str, str, str, list[dict]], None]  # (account, region, namespace, metric_data)


class Metrics(Shipper):
    """Publishes the ``AWS/Lambda`` metrics of invocations to ``deliver(account, region, namespace, metric_data)``;
    :meth:`at` gives the view for the functions of one account in one Region."""

    def __init__(self, deliver: Deliver, interval: float = 0.05) -> None:
        super().__init__(lambda account, region, namespace, items: deliver(account, region, namespace,
                                                                           _metric_data(items)),
                         name="lambdalab-metrics", interval=interval)

    def started(self, function_name: str, resource: str, at: datetime, running: Running, provisioned: bool,
                spillover: bool) -> None:
        """An invocation got its environment: ``running`` counts what runs with it (it included)."""
        self._put("ConcurrentExecutions", running.function, "Count", at, [{"FunctionName": function_name}])
        self._put("ConcurrentExecutions", running.account, "Count", at, [{}])
        self._put("UnreservedConcurrentExecutions", running.unreserved, "Count", at, [{}])
        sets = _dimension_sets(function_name, resource)[:2]
        if provisioned:
            self._put("ProvisionedConcurrentExecutions", running.provisioned, "Count", at, sets)
            self._put("ProvisionedConcurrencyUtilization", running.provisioned / running.provisioned_ready, "None",
                      at, sets)
            self._put("ProvisionedConcurrencyInvocations", 1, "Count", at, sets)
        elif spillover:
            self._put("ProvisionedConcurrencySpilloverInvocations", 1, "Count", at, sets)

    def finished(self, function_name: str, resource: str, at: datetime, duration_ms: float, failed: bool,
                 executed_version: str | None = None) -> None:
        """An invocation ended; ``executed_version`` when it went through an alias (the version that ran)."""
        sets = _dimension_sets(function_name, resource)
        if executed_version:
            sets.insert(2, {"FunctionName": function_name, "Resource": resource, "ExecutedVersion": executed_version})
        self._put("Invocations", 1, "Count", at, sets)
        self._put("Errors", int(failed), "Count", at, sets)
        self._put("Duration", duration_ms, "Milliseconds", at, sets)

    def throttled(self, function_name: str, resource: str, at: datetime) -> None:
        self._put("Throttles", 1, "Count", at, _dimension_sets(function_name, resource))

    def function_metric(self, name: str, value: float, unit: str, function_name: str, resource: str,
                        at: datetime) -> None:
        """Any other metric of a function (``IteratorAge``, ``DestinationDeliveryFailures``) under the same sets."""
        self._put(name, value, unit, at, _dimension_sets(function_name, resource))

    def asynchronous(self, name: str, function_name: str, resource: str, at: datetime, value: float = 1,
                     unit: str = "Count") -> None:
        """One of the asynchronous queue's metrics, for the event's function as it was invoked."""
        self._put(name, value, unit, at, _dimension_sets(function_name, resource))

    def _put(self, name: str, value: float, unit: str, at: datetime, dimension_sets: list[dict[str, str]]) -> None:
        # one tuple on the invoke path; the batcher's thread makes the datapoints (_metric_data)
        self._ship((NAMESPACE,), (name, value, unit, at, dimension_sets))


def _metric_data(items: list[tuple[str, float, str, datetime, list[dict[str, str]]]]) -> list[dict]:
    """The ``MetricData`` of queued metrics: for each metric, dimension set and minute, the value, or the
    statistic set of the values when there are several, at the earliest of their times.

    CloudWatch keeps Lambda's metrics at one-minute resolution, so every statistic it answers (Sum,
    SampleCount, Average, Minimum, Maximum) is the same; moto would otherwise keep a dozen datapoints per
    invocation (about 6 MB per 1,000 invocations, for the life of the cloud).
    """
    groups: dict[tuple, list] = {}  # (name, unit, minute, dimensions) -> [earliest, sum, minimum, maximum, count]
    for name, value, unit, at, dimension_sets in items:
        # moto keeps naive UTC timestamps and compares query times against them
        timestamp = at.astimezone(timezone.utc).replace(tzinfo=None)
        minute, value = timestamp.replace(second=0, microsecond=0), float(value)
        for dimensions in dimension_sets:
            group = groups.get(key := (name, unit, minute, tuple(dimensions.items())))
            if group is None:
                groups[key] = [timestamp, value, value, value, 1]
                continue
            group[0] = min(group[0], timestamp)
            group[1] += value
            group[2] = min(group[2], value)
            group[3] = max(group[3], value)
            group[4] += 1
    return [{"MetricName": name, "Unit": unit, "Timestamp": earliest,
             "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions],
             **({"Value": total} if count == 1 else {"StatisticValues": {
                 "SampleCount": float(count), "Sum": total, "Minimum": low, "Maximum": high}})}
            for (name, unit, _, dimensions), (earliest, total, low, high, count) in groups.items()]


def resource_dimension(invoked_arn: str) -> str:
    """The ``Resource`` dimension of an invocation: ``name`` or ``name:qualifier``, as it was invoked."""
    arn = parse_arn(invoked_arn)
    return arn.resource_id if arn is not None else invoked_arn


def _dimension_sets(function_name: str, resource: str) -> list[dict[str, str]]:
    return [{"FunctionName": function_name}, {"FunctionName": function_name, "Resource": resource}, {}]
