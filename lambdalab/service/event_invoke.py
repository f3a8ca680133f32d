"""Asynchronous invocation settings: the EventInvokeConfig of each function, version and alias.

A configuration belongs to one (function, qualifier) pair: ``$LATEST`` (what an unqualified name
means), a published version or an alias, each with its own; publishing a version copies none, and
deleting a version, an alias or the function deletes its own.  PutFunctionEventInvokeConfig
replaces a configuration whole (a setting it leaves out is gone), UpdateFunctionEventInvokeConfig
changes only the settings it names (a DestinationConfig whole); both need at least one setting.
The asynchronous queue reads the configuration of what an event invoked each time it decides
(:meth:`EventInvokeConfigs.settings`), so a change applies to the events already queued.

Checks, their order and their messages are AWS's, as recorded against AWS by LocalStack's
validated ``TestLambdaEventInvokeConfig`` tests (``tests/aws/services/lambda_/test_lambda_api.py``
and its ``.snapshot.json``, November 2025): "The function doesn't exist." where Put, Update and
List name a missing function or qualifier, "The function ARN doesn't have an EventInvokeConfig"
where Get, Delete and Update find no configuration (even for a missing function), the destination
service checked first for the whole DestinationConfig, rendered as AWS's Java ``toString``.  Lambda
destinations are checked here (they are this service's functions); the others, and whether the
execution role may send to any of them, by the ``check`` the API layer passes in.

``_lock`` guards ``_configs`` and is held for dictionary work only, never while the service's lock is taken.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..arns import FUNCTION_ARN, parse_arn
from .errors import InvalidParameterValueException, LambdaError, ResourceNotFoundException
from .models import Function, Located
from .versions import VERSION_NUMBER

if TYPE_CHECKING:
    from .functions import LambdaService

Key = tuple[str, str]  # (function name, qualifier): "$LATEST", a version or an alias
Check = Callable[[Function, str], None]  # (function, destination ARN): raise if AWS would refuse it
NO_SETTING = "You must specify at least one of error handling or destination setting."
NO_FUNCTION = "The function doesn't exist."
# The services a destination may name, by the ARN's service; S3 receives failures only.
SERVICES = {"sqs", "sns", "lambda", "events", "s3"}


def destination_service(arn: str, on_failure: bool) -> str | None:
    """The service an asynchronous destination ARN names, or None if Lambda cannot deliver there."""
    parsed = parse_arn(arn)
    if parsed is None or parsed.service not in SERVICES:
        return None
    if parsed.service == "events" and not parsed.resource.startswith("event-bus/"):
        return None
    if parsed.service == "s3" and not on_failure:
        return None
    return parsed.service


@dataclass(frozen=True)
class EventInvokeConfig:
    """One stored configuration (immutable, replaced whole)."""

    function_arn: str  # qualified: ...:$LATEST, ...:1, ...:alias
    last_modified: datetime
    maximum_retry_attempts: int | None = None
    maximum_event_age_s: int | None = None
    on_success: str | None = None
    on_failure: str | None = None

    def response(self) -> dict[str, Any]:
        """The ``FunctionEventInvokeConfig`` shape: both destinations always, ``{}`` when unset."""
        out: dict[str, Any] = {
            "LastModified": self.last_modified, "FunctionArn": self.function_arn,
            "DestinationConfig": {"OnSuccess": _destination(self.on_success),
                                  "OnFailure": _destination(self.on_failure)}}
        if self.maximum_retry_attempts is not None:
            out["MaximumRetryAttempts"] = self.maximum_retry_attempts
        if self.maximum_event_age_s is not None:
            out["MaximumEventAgeInSeconds"] = self.maximum_event_age_s
        return out


@dataclass(frozen=True)
class Settings:
    """What the queue applies to one event: the configuration's values, AWS's defaults where it has none."""

    retries: int
    max_age_s: int
    on_success: str | None
    on_failure: str | None


class EventInvokeConfigs:
    """The EventInvokeConfigs of one :class:`LambdaService`'s functions, versions and aliases."""

    def __init__(self, service: LambdaService) -> None:
        self._service = service
        self._configs: dict[Key, EventInvokeConfig] = {}
        self._lock = threading.Lock()
        service.subscribe(self._function_changed)

    # -- operations ------------------------------------------------------------------------------
    def put(self, params: dict[str, Any], check: Check) -> dict:
        _require_setting(params)
        function, key = self._target(params)
        on_success, on_failure = self._destinations(function, params.get("DestinationConfig"), check)
        config = EventInvokeConfig(self._service.arn(*key), self._service.clock.now(),
                                   params.get("MaximumRetryAttempts"), params.get("MaximumEventAgeInSeconds"),
                                   on_success, on_failure)
        with self._lock:
            self._configs[key] = config
        return config.response()

    def update(self, params: dict[str, Any], check: Check) -> dict:
        _require_setting(params)
        function, key = self._target(params)
        self._find(key)  # AWS's 404 comes before any check of the destinations
        changes: dict[str, Any] = {"last_modified": self._service.clock.now()}
        if "DestinationConfig" in params:
            changes["on_success"], changes["on_failure"] = self._destinations(function, params["DestinationConfig"],
                                                                              check)
        for param, attr in (("MaximumRetryAttempts", "maximum_retry_attempts"),
                            ("MaximumEventAgeInSeconds", "maximum_event_age_s")):
            if params.get(param) is not None:
                changes[attr] = params[param]
        with self._lock:
            current = self._configs.get(key)  # what is there now: it may have been replaced or deleted meanwhile
            if current is None:
                raise self._missing(key)
            config = self._configs[key] = dataclasses.replace(current, **changes)
        return config.response()

    def get(self, function_name: str, qualifier: str | None) -> dict:
        return self._find(self._key(function_name, qualifier)).response()

    def delete(self, function_name: str, qualifier: str | None) -> None:
        key = self._key(function_name, qualifier)
        with self._lock:
            if self._configs.pop(key, None) is None:
                raise self._missing(key)

    def list(self, function_name: str, marker: str | None, max_items: int | None) -> dict:
        """The function's configurations: $LATEST's, the versions' in order, then the aliases' by name."""
        try:
            name = self._service.resolve(self._service.function_name(function_name)).name
        except ResourceNotFoundException:
            raise ResourceNotFoundException(NO_FUNCTION) from None
        with self._lock:
            keys = sorted((k for k in self._configs if k[0] == name), key=_order)
            configs = [self._configs[k] for k in keys]
        qualifiers = [k[1] for k in keys]
        start = qualifiers.index(marker) if marker in qualifiers else 0
        end = start + (max_items or len(keys))
        result: dict[str, Any] = {"FunctionEventInvokeConfigs": [c.response() for c in configs[start:end]]}
        if end < len(keys):
            result["NextMarker"] = qualifiers[end]
        return result

    # -- for the asynchronous queue --------------------------------------------------------------
    def settings(self, located: Located) -> Settings:
        """The settings for an event that invoked ``located`` (a function, version or alias), now."""
        with self._lock:
            config = self._configs.get((located.function.name, located.qualifier or "$LATEST"))
        quotas = self._service.quotas
        if config is None:
            return Settings(quotas.async_retry_attempts_default, quotas.async_event_age_default_s, None, None)
        return Settings(
            quotas.async_retry_attempts_default if config.maximum_retry_attempts is None
            else config.maximum_retry_attempts,
            quotas.async_event_age_default_s if config.maximum_event_age_s is None else config.maximum_event_age_s,
            config.on_success, config.on_failure)

    # -- helpers ---------------------------------------------------------------------------------
    def _target(self, params: dict[str, Any]) -> tuple[Function, Key]:
        """The function (version) a Put or Update configures, and its key; AWS's 404 when it is missing."""
        try:
            located = self._service.lookup(params["FunctionName"], params.get("Qualifier"))
        except ResourceNotFoundException:
            raise ResourceNotFoundException(NO_FUNCTION) from None
        return located.function, (located.function.name, located.qualifier or "$LATEST")

    def _key(self, function_name: str, qualifier: str | None) -> Key:
        """The key a name designates, whether or not the function exists (Get and Delete do not say)."""
        match = FUNCTION_ARN.match(function_name)
        if match is None:
            raise self._missing((function_name, qualifier or "$LATEST"))
        if qualifier and match["qualifier"] and qualifier != match["qualifier"]:
            raise InvalidParameterValueException("The derived qualifier from the function name does not match "
                                                 "the specified qualifier.")
        return match["name"], qualifier or match["qualifier"] or "$LATEST"

    def _find(self, key: Key) -> EventInvokeConfig:
        with self._lock:
            config = self._configs.get(key)
        if config is None:
            raise self._missing(key)
        return config

    def _missing(self, key: Key) -> ResourceNotFoundException:
        return ResourceNotFoundException(f"The function {self._service.arn(*key)} doesn't have an EventInvokeConfig")

    def _destinations(self, function: Function, config: dict | None, check: Check) -> tuple[str | None, str | None]:
        """(OnSuccess, OnFailure) destination ARNs of a DestinationConfig, each checked as AWS checks it."""
        config = config or {}
        on_success = (config.get("OnSuccess") or {}).get("Destination") or None
        on_failure = (config.get("OnFailure") or {}).get("Destination") or None
        chosen = [(arn, failure) for arn, failure in ((on_success, False), (on_failure, True)) if arn]
        if any(destination_service(arn, failure) is None for arn, failure in chosen):
            raise InvalidParameterValueException(f"The provided destination config {_java(config)} is invalid.")
        for arn, _ in chosen:
            if destination_service(arn, True) == "lambda":
                self._check_function_destination(function, arn)
            check(function, arn)
        return on_success, on_failure

    def _check_function_destination(self, function: Function, arn: str) -> None:
        try:
            target = self._service.lookup(arn)
        except LambdaError:
            raise InvalidParameterValueException(f"The destination ARN {arn} is invalid.") from None
        if target.function.name == function.name:
            raise InvalidParameterValueException("You can't specify the function as a destination for itself.")

    def _function_changed(self, name: str, qualifier: str | None, function: Function | None) -> None:
        """A deleted version or alias takes its configuration with it; a deleted function, all of its own."""
        if function is None:
            with self._lock:
                for key in [k for k in self._configs if k[0] == name and qualifier in (None, k[1])]:
                    del self._configs[key]


def _require_setting(params: dict[str, Any]) -> None:
    if all(params.get(k) is None for k in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig")):
        raise InvalidParameterValueException(NO_SETTING)


def _destination(arn: str | None) -> dict[str, str]:
    return {"Destination": arn} if arn else {}


def _order(key: Key) -> tuple[int, int, str]:
    """$LATEST first, then versions by number, then aliases by name."""
    qualifier = key[1]
    if qualifier == "$LATEST":
        return 0, 0, ""
    return (1, int(qualifier), "") if VERSION_NUMBER.match(qualifier) else (2, 0, qualifier)


def _java(config: dict) -> str:
    """A DestinationConfig as AWS's error message renders it (Java's toString of its request object)."""
    def part(kind: str) -> str:
        if kind not in config:
            return "null"
        destination = (config[kind] or {}).get("Destination")
        return f"{kind}(destination={'null' if destination is None else destination})"

    return f"DestinationConfig(onSuccess={part('OnSuccess')}, onFailure={part('OnFailure')})"
