"""Event source mappings: the control plane of Lambda's pollers (SQS, Kinesis, DynamoDB Streams).

An :class:`EventSourceMapping` says which queue or stream to poll for which function (a name, a
version or an alias, named as the caller named it) and how: batch size and window, filters,
retries, the on-failure destination.  It is an immutable value replaced whole by an update, so a
poller that holds one has a consistent configuration.  The :class:`MappingStore` checks requests as
AWS checks them, in AWS's order and words, keeps the mappings of one :class:`LambdaService`, and
tells its listeners (the pollers, ``invoke/poll``) of every change; they answer with
:meth:`MappingStore.settle` once a poller has started or stopped, which ends the transitional state
(``Creating``, ``Enabling``, ``Updating``, ``Disabling``; ``Deleting`` ends with the mapping gone).
Whether the queue or stream exists and the function's role may read it is the pollers' to judge
(``check_source``), since that means asking moto and IAM.

Sources of the checks and their wording: LocalStack's AWS-validated snapshots
(``test_lambda_api.py::TestLambdaEventSourceMappings`` and ``event_source_mapping/test_lambda_integration_*``:
"Unrecognized event source.", "Function does not exist", "Unsupported DestinationConfig parameter for
given event source mapping type.", the startingPosition and batch window messages, "Invalid filter
pattern definition.", the conflict messages, "The resource you requested does not exist."); AWS
answers quoted in public issues ("StartingPosition is not valid for SQS event sources.", boto3#1613;
"Unsupported '<parameter>' parameter for given event source mapping type.", pulumi-aws#1418;
"Batching window is not supported for FIFO queues", aws-lambda-dotnet#1758; the MaximumRecordAgeInSeconds
range, terraform-provider-aws#16113).  Where no answer was found the wording is marked "assumed".

Lock: ``MappingStore._lock`` guards ``_mappings`` and is never held while a listener runs.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid as uuids
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..arns import FUNCTION_ARN, parse_arn
from ..patterns import PatternError, compile_pattern
from .errors import (
    InvalidParameterValueException,
    LambdaError,
    ResourceConflictException,
    ResourceInUseException,
    ResourceNotFoundException,
)

if TYPE_CHECKING:
    from .functions import LambdaService

SQS, KINESIS, DYNAMODB = "sqs", "kinesis", "dynamodb"
STREAMS = (KINESIS, DYNAMODB)
NOT_FOUND = "The resource you requested does not exist."
# Parameters only stream mappings take (AWS's refusal names them camelCased: 'parallelizationFactor')
_STREAM_ONLY = ("ParallelizationFactor", "BisectBatchOnFunctionError", "MaximumRetryAttempts",
                "MaximumRecordAgeInSeconds", "TumblingWindowInSeconds", "StartingPositionTimestamp")
_OTHER_SOURCES = {"kafka": "Amazon MSK", "mq": "Amazon MQ", "rds": "Amazon DocumentDB"}
# A listener hears of every change: the new value, or the value that was deleted.
Listener = Callable[["EventSourceMapping"], None]


@dataclass(frozen=True)
class EventSourceMapping:
    """One mapping: a source, a function, and how the poller reads one for the other (immutable)."""

    uuid: str
    arn: str
    kind: str  # sqs, kinesis or dynamodb
    source_arn: str
    function_arn: str  # as the caller named it: unqualified, or with :$LATEST, a version or an alias
    enabled: bool  # what the user asked for; ``state`` says how far the poller is with it
    state: str
    state_reason: str
    last_modified: datetime
    batch_size: int
    window_s: int
    response_types: tuple[str, ...] = ()
    filters: tuple[str, ...] = ()  # the patterns' JSON texts, as given
    max_concurrency: int | None = None  # SQS ScalingConfig.MaximumConcurrency
    starting_position: str | None = None
    starting_timestamp: datetime | None = None
    parallelization: int = 1
    bisect: bool = False
    retries: int = -1
    max_age_s: int = -1
    tumbling_s: int = 0
    on_failure: str | None = None
    last_result: str = "No records processed"
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def fifo(self) -> bool:
        return self.kind == SQS and self.source_arn.endswith(".fifo")

    @property
    def reports_item_failures(self) -> bool:
        return "ReportBatchItemFailures" in self.response_types

    def configuration(self) -> dict[str, Any]:
        """The ``EventSourceMappingConfiguration`` shape as AWS answers it for this kind of source."""
        conf: dict[str, Any] = {
            "UUID": self.uuid, "BatchSize": self.batch_size, "EventSourceArn": self.source_arn,
            "EventSourceMappingArn": self.arn, "FunctionArn": self.function_arn,
            "FunctionResponseTypes": list(self.response_types), "LastModified": self.last_modified,
            "MaximumBatchingWindowInSeconds": self.window_s, "State": self.state,
            "StateTransitionReason": self.state_reason,
        }
        if self.filters:
            conf["FilterCriteria"] = {"Filters": [{"Pattern": p} for p in self.filters]}
        if self.max_concurrency is not None:
            conf["ScalingConfig"] = {"MaximumConcurrency": self.max_concurrency}
        if self.kind in STREAMS:
            conf.update({
                "StartingPosition": self.starting_position, "ParallelizationFactor": self.parallelization,
                "BisectBatchOnFunctionError": self.bisect, "MaximumRetryAttempts": self.retries,
                "MaximumRecordAgeInSeconds": self.max_age_s, "TumblingWindowInSeconds": self.tumbling_s,
                "DestinationConfig": {"OnFailure": {"Destination": self.on_failure} if self.on_failure else {}},
                "LastProcessingResult": self.last_result})
            if self.starting_timestamp is not None:
                conf["StartingPositionTimestamp"] = self.starting_timestamp
        return conf


def source_kind(arn: str) -> str | None:
    """sqs, kinesis or dynamodb for a queue's or stream's ARN; None for anything else."""
    parsed = parse_arn(arn)
    if parsed is None:
        return None
    if parsed.service == SQS and parsed.resource and ":" not in parsed.resource:
        return SQS
    if parsed.service == KINESIS and parsed.resource.startswith("stream/"):
        return KINESIS
    if parsed.service == DYNAMODB and "/stream/" in parsed.resource and parsed.resource.startswith("table/"):
        return DYNAMODB
    return None


class MappingStore:
    """The event source mappings of one :class:`LambdaService` (one account and Region)."""

    def __init__(self, service: LambdaService) -> None:
        self._service = service
        self._lock = threading.Lock()
        self._mappings: dict[str, EventSourceMapping] = {}  # by UUID, in creation order
        self._listeners: list[Listener] = []
        # Set by the pollers: raise AWS's error unless the source exists and ``role`` may poll it.
        self.check_source: Callable[[EventSourceMapping, str], None] | None = None

    # -- the API's operations ----------------------------------------------------------------------
    def create(self, p: dict[str, Any]) -> dict:
        kind = source_kind(p.get("EventSourceArn") or "")
        _check_destination(kind, p)
        if not p.get("EventSourceArn"):
            raise InvalidParameterValueException("Unrecognized event source.")
        if kind is None:
            service = parsed.service if (parsed := parse_arn(p["EventSourceArn"])) else ""
            if service in _OTHER_SOURCES:
                raise InvalidParameterValueException(f"lambdalab polls SQS, Kinesis and DynamoDB Streams; "
                                                     f"{_OTHER_SOURCES[service]} event sources are not supported.")
            raise InvalidParameterValueException("Unrecognized event source.")
        q = self._service.quotas
        stream = kind in STREAMS
        now = self._service.clock.now()
        mapping_id = str(uuids.uuid4())
        mapping = EventSourceMapping(
            uuid=mapping_id, arn=f"arn:aws:lambda:{self._service.region}:{self._service.account}:"
                                 f"event-source-mapping:{mapping_id}",
            kind=kind, source_arn=p["EventSourceArn"], function_arn="", enabled=p.get("Enabled", True),
            state="Creating" if p.get("Enabled", True) else "Disabled",
            state_reason="User action" if stream else "USER_INITIATED", last_modified=now,
            batch_size=p.get("BatchSize", q.esm_stream_batch_default if stream else q.esm_sqs_batch_default),
            window_s=p.get("MaximumBatchingWindowInSeconds", 0), tags=dict(p.get("Tags") or {}))
        mapping = self._apply(mapping, p, creating=True)
        function_arn = self._function_arn(p["FunctionName"])
        mapping = dataclasses.replace(mapping, function_arn=function_arn)
        self._check_source(mapping)
        with self._lock:
            for other in self._mappings.values():
                if other.function_arn == function_arn and other.source_arn == mapping.source_arn:
                    raise ResourceConflictException(_conflict(other, FUNCTION_ARN.match(function_arn)["name"]))
            self._mappings[mapping.uuid] = mapping
        self._tell(mapping)
        return mapping.configuration()

    def get(self, mapping_id: str) -> dict:
        return self._find(mapping_id).configuration()

    def update(self, p: dict[str, Any]) -> dict:
        current = self._find(p["UUID"])
        if current.state == "Deleting":  # wording assumed
            raise ResourceInUseException("Cannot update the event source mapping because it is being deleted.")
        _check_destination(current.kind, p)
        updated = self._apply(current, p, creating=False)
        if "FunctionName" in p:
            updated = dataclasses.replace(updated, function_arn=self._function_arn(p["FunctionName"]))
            self._check_source(updated)
        enabled = p.get("Enabled", current.enabled)
        if enabled != current.enabled:
            state = "Enabling" if enabled else "Disabling"
        else:
            state = "Updating" if enabled else "Disabled"
        updated = dataclasses.replace(updated, enabled=enabled, state=state,
                                      last_modified=self._service.clock.now())
        with self._lock:
            if self._mappings.get(updated.uuid) is not current:
                raise ResourceConflictException("The operation cannot be performed at this time. The event source "
                                                "mapping is being changed by another request.")  # wording assumed
            self._mappings[updated.uuid] = updated
        self._tell(updated)
        return updated.configuration()

    def delete(self, mapping_id: str) -> dict:
        with self._lock:
            current = self._mappings.get(mapping_id)
            if current is None:
                raise ResourceNotFoundException(NOT_FOUND)
            deleting = dataclasses.replace(current, state="Deleting")
            self._mappings[mapping_id] = deleting
        self._tell(deleting)
        return deleting.configuration()

    def list(self, function_name: str | None, source_arn: str | None, marker: str | None,
             max_items: int | None) -> dict:
        """Mappings in creation order, by function (any qualifier unless one is named) and source."""
        wanted = _function_filter(function_name)
        with self._lock:
            mappings = [m for m in self._mappings.values()
                        if (source_arn is None or m.source_arn == source_arn) and wanted(m.function_arn)]
        ids = [m.uuid for m in mappings]
        start = ids.index(marker) if marker in ids else 0
        end = start + (max_items or 100)
        result: dict[str, Any] = {"EventSourceMappings": [m.configuration() for m in mappings[start:end]]}
        if end < len(mappings):
            result["NextMarker"] = ids[end]
        return result

    # -- for the pollers ---------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> None:
        """Call ``listener(mapping)`` after every create, update and delete (outside any lock)."""
        self._listeners.append(listener)

    def mappings(self) -> list[EventSourceMapping]:
        with self._lock:
            return list(self._mappings.values())

    def find(self, mapping_id: str) -> EventSourceMapping | None:
        with self._lock:
            return self._mappings.get(mapping_id)

    def settle(self, mapping_id: str) -> None:
        """The poller has caught up with the mapping: its transitional state ends (a deleted one goes)."""
        with self._lock:
            current = self._mappings.get(mapping_id)
            if current is None:
                return
            if current.state == "Deleting":
                del self._mappings[mapping_id]
            elif current.state in ("Creating", "Enabling", "Updating", "Disabling"):
                self._mappings[mapping_id] = dataclasses.replace(
                    current, state="Enabled" if current.enabled else "Disabled")

    def processed(self, mapping_id: str, result: str) -> None:
        """A stream poller's LastProcessingResult: ``OK`` or ``PROBLEM: ...``."""
        with self._lock:
            current = self._mappings.get(mapping_id)
            if current is not None and current.last_result != result:
                self._mappings[mapping_id] = dataclasses.replace(current, last_result=result)

    # -- checks ------------------------------------------------------------------------------------
    def _find(self, mapping_id: str) -> EventSourceMapping:
        mapping = self.find(mapping_id)
        if mapping is None:
            raise ResourceNotFoundException(NOT_FOUND)
        return mapping

    def _apply(self, m: EventSourceMapping, p: dict[str, Any], creating: bool) -> EventSourceMapping:
        """``m`` with the request's settings, checked as AWS checks them for this kind of source."""
        q = self._service.quotas
        changes: dict[str, Any] = {}
        if "BatchSize" in p:
            changes["batch_size"] = p["BatchSize"]
        if "MaximumBatchingWindowInSeconds" in p:
            changes["window_s"] = p["MaximumBatchingWindowInSeconds"]
        if "FunctionResponseTypes" in p:
            changes["response_types"] = tuple(p["FunctionResponseTypes"])
        if "FilterCriteria" in p:
            changes["filters"] = self._filters(p["FilterCriteria"])
        if m.kind == SQS:
            if p.get("StartingPosition"):
                raise InvalidParameterValueException("StartingPosition is not valid for SQS event sources.")
            for member in _STREAM_ONLY:
                if member in p:
                    raise InvalidParameterValueException(f"Unsupported '{member[0].lower()}{member[1:]}' parameter "
                                                         "for given event source mapping type.")
            if "ScalingConfig" in p:
                changes["max_concurrency"] = (p["ScalingConfig"] or {}).get("MaximumConcurrency")
            batch, window = changes.get("batch_size", m.batch_size), changes.get("window_s", m.window_s)
            if batch > q.esm_sqs_batch_without_window_max and not window:
                raise InvalidParameterValueException(
                    "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than "
                    f"{q.esm_sqs_batch_without_window_max}")
            if m.fifo and window:
                raise InvalidParameterValueException("Batching window is not supported for FIFO queues")
            return dataclasses.replace(m, **changes)
        if "ScalingConfig" in p:
            raise InvalidParameterValueException("Unsupported 'scalingConfig' parameter for given event source "
                                                 "mapping type.")
        if creating:
            position = p.get("StartingPosition")
            if not position:
                raise InvalidParameterValueException("1 validation error detected: Value null at 'startingPosition' "
                                                     "failed to satisfy constraint: Member must not be null.")
            if position == "AT_TIMESTAMP" and m.kind == DYNAMODB:
                raise InvalidParameterValueException(f"Unsupported starting position for arn type: {m.source_arn}")
            if position == "AT_TIMESTAMP" and p.get("StartingPositionTimestamp") is None:
                raise InvalidParameterValueException("StartingPositionTimestamp must be provided when the starting "
                                                     "position is AT_TIMESTAMP.")  # wording assumed
            changes.update(starting_position=position, starting_timestamp=p.get("StartingPositionTimestamp"))
        elif "StartingPosition" in p:  # wording assumed
            raise InvalidParameterValueException("StartingPosition cannot be changed once a mapping exists.")
        simple = {"ParallelizationFactor": "parallelization", "BisectBatchOnFunctionError": "bisect",
                  "MaximumRetryAttempts": "retries", "MaximumRecordAgeInSeconds": "max_age_s",
                  "TumblingWindowInSeconds": "tumbling_s"}
        changes.update((attr, p[key]) for key, attr in simple.items() if key in p)
        age = changes.get("max_age_s", m.max_age_s)
        if age != -1 and age < q.esm_record_age_min_s:
            raise InvalidParameterValueException("MaximumRecordAgeInSeconds must be either -1 (forever) or between "
                                                 f"{q.esm_record_age_min_s} and 604800 (inclusive)")
        if "DestinationConfig" in p:
            changes["on_failure"] = ((p["DestinationConfig"] or {}).get("OnFailure") or {}).get("Destination")
        return dataclasses.replace(m, **changes)

    def _filters(self, criteria: dict[str, Any] | None) -> tuple[str, ...]:
        filters = (criteria or {}).get("Filters") or []
        limit = self._service.quotas.esm_filters_max
        if len(filters) > limit:  # wording assumed
            raise InvalidParameterValueException(f"The number of filters in FilterCriteria exceeds the limit of "
                                                 f"{limit}.")
        patterns = []
        for item in filters:
            text = item.get("Pattern")
            try:
                if not text:
                    raise PatternError("no pattern")
                compile_pattern(text)
            except PatternError:
                raise InvalidParameterValueException("Invalid filter pattern definition.") from None
            patterns.append(text)
        return tuple(patterns)

    def _function_arn(self, function_name: str) -> str:
        """The FunctionArn as AWS shows it for this name: qualified as named, in this account."""
        try:
            located = self._service.lookup(function_name)
        except LambdaError:
            raise InvalidParameterValueException("Function does not exist") from None
        return self._service.arn(located.function.name, located.qualifier)

    def _check_source(self, mapping: EventSourceMapping) -> None:
        if self.check_source is not None:
            role = self._service.resolve(mapping.function_arn).role
            self.check_source(mapping, role)

    def _tell(self, mapping: EventSourceMapping) -> None:
        for listener in self._listeners:
            listener(mapping)


def _check_destination(kind: str | None, p: dict[str, Any]) -> None:
    """Only stream mappings take a destination, and only OnFailure (checked before anything else, as AWS does)."""
    destination = p.get("DestinationConfig") or {}
    if destination.get("OnSuccess") or (kind == SQS and (destination.get("OnFailure") or {}).get("Destination")):
        raise InvalidParameterValueException("Unsupported DestinationConfig parameter for given event source "
                                             "mapping type.")


def _conflict(existing: EventSourceMapping, function_name: str) -> str:
    if existing.kind == SQS:
        return (f'An event source mapping with SQS arn (" {existing.source_arn} ") and function (" {function_name} ") '
                f"already exists. Please update or delete the existing mapping with UUID {existing.uuid}")
    return (f'The event source arn (" {existing.source_arn} ") and function (" {function_name} ") provided mapping '
            f"already exists. Please update or delete the existing mapping with UUID {existing.uuid}")


def _function_filter(function_name: str | None) -> Callable[[str], bool]:
    """Which FunctionArns a ListEventSourceMappings FunctionName names: the function's own, or one qualifier's."""
    if not function_name:
        return lambda arn: True
    match = FUNCTION_ARN.match(function_name)
    if match is None:
        return lambda arn: False
    name, qualifier = match["name"], match["qualifier"]

    def wanted(arn: str) -> bool:
        own = FUNCTION_ARN.match(arn)
        return own is not None and own["name"] == name and (qualifier is None or own["qualifier"] == qualifier)
    return wanted
