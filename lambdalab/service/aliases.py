"""Aliases: names for versions, and the traffic shifting between two of them.

An alias points at one version ($LATEST or a published one) and may route a share of the
invocations (``RoutingConfig.AdditionalVersionWeights``) to one other published version: each
invocation draws ``random.random()`` and runs the additional version when the draw is under its
weight.  Moving an alias takes effect with the next invocation; a version an alias runs cannot be
deleted.  Checks and messages are AWS's, in AWS's order.  No HTTP here: ``api.aliases`` translates.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from typing import TYPE_CHECKING, Any

from .errors import (
    InvalidParameterValueException,
    PreconditionFailedException,
    ResourceConflictException,
    ResourceNotFoundException,
    function_not_found,
)
from .models import Alias
from .versions import REVISION_MISMATCH

if TYPE_CHECKING:
    from .functions import LambdaService


class AliasStore:
    """The aliases of one :class:`LambdaService`'s functions."""

    def __init__(self, service: LambdaService, lock: threading.RLock) -> None:
        self._service, self._lock = service, lock  # the service's lock: aliases and versions change together
        self._aliases: dict[str, dict[str, Alias]] = {}  # by function name, then alias name

    # -- operations ------------------------------------------------------------------------------
    def create(self, params: dict[str, Any]) -> dict:
        name, version = self._service.function_name(params["FunctionName"]), params["FunctionVersion"]
        with self._lock:
            self._check_version(name, version)
            aliases = self._aliases.setdefault(name, {})
            if params["Name"] in aliases:
                raise ResourceConflictException(f"Alias already exists: {aliases[params['Name']].arn}")
            weights = self._weights(name, version, params.get("RoutingConfig"))
            alias = Alias(function_name=name, name=params["Name"], arn=self._service.arn(name, params["Name"]),
                          function_version=version, description=params.get("Description", ""), weights=weights)
            aliases[alias.name] = alias
            return alias.configuration()

    def get(self, function_name: str, alias_name: str) -> dict:
        name = self._service.function_name(function_name)
        with self._lock:
            self._function(name)
            alias = self.find(name, alias_name)
            if alias is None:
                raise ResourceNotFoundException(f"Cannot find alias arn: {self._service.arn(name, alias_name)}")
            return alias.configuration()

    def update(self, params: dict[str, Any]) -> dict:
        name = self._service.function_name(params["FunctionName"])
        with self._lock:
            self._function(name)
            alias = self.find(name, params["Name"])
            if alias is None:
                raise ResourceNotFoundException(f"Alias not found: {self._service.arn(name, params['Name'])}")
            if params.get("RevisionId") and params["RevisionId"] != alias.revision_id:
                raise PreconditionFailedException(REVISION_MISMATCH)
            version = params.get("FunctionVersion") or alias.function_version
            self._check_version(name, version)
            routing = params.get("RoutingConfig", {"AdditionalVersionWeights": alias.weights})
            alias = dataclasses.replace(
                alias, function_version=version, description=params.get("Description", alias.description),
                weights=self._weights(name, version, routing),  # checked against the version it will point to
                revision_id=str(uuid.uuid4()))  # even an update that changes nothing, as AWS
            self._aliases[name][alias.name] = alias
            return alias.configuration()

    def delete(self, function_name: str, alias_name: str) -> None:
        """Delete an alias; deleting one that does not exist succeeds, as on AWS."""
        name = self._service.function_name(function_name)
        with self._lock:
            self._function(name)
            removed = self._aliases.get(name, {}).pop(alias_name, None)
        if removed is not None:
            self._service.changed(name, alias_name, None)  # its resource-based policy goes with it

    def list(self, function_name: str, function_version: str | None, marker: str | None,
             max_items: int | None) -> dict:
        name = self._service.function_name(function_name)
        with self._lock:
            self._function(name)
            aliases = sorted(self._aliases.get(name, {}).values(), key=lambda a: a.name)
        if function_version:
            aliases = [a for a in aliases if a.function_version == function_version]
        start = next((i for i, a in enumerate(aliases) if a.name >= marker), len(aliases)) if marker else 0
        end = start + max_items if max_items else len(aliases)
        result: dict[str, Any] = {"Aliases": [a.configuration() for a in aliases[start:end]]}
        if end < len(aliases):
            result["NextMarker"] = aliases[end].name
        return result

    # -- for the service -------------------------------------------------------------------------
    def find(self, name: str, alias_name: str) -> Alias | None:
        with self._lock:
            return self._aliases.get(name, {}).get(alias_name)

    def replace(self, alias: Alias, **changes: Any) -> None:
        """Swap an alias for a copy with ``changes`` (its RevisionId, when its policy changes)."""
        with self._lock:
            aliases = self._aliases.get(alias.function_name, {})
            if alias.name in aliases:
                aliases[alias.name] = dataclasses.replace(aliases[alias.name], **changes)

    def referencing(self, name: str, version: str) -> list[str]:
        """The aliases that may run ``version`` (as their version or their additional version)."""
        with self._lock:
            return sorted(a.name for a in self._aliases.get(name, {}).values() if version in a.versions())

    def drop(self, name: str) -> None:
        """The function is gone, and its aliases with it."""
        with self._lock:
            self._aliases.pop(name, None)

    # -- checks ----------------------------------------------------------------------------------
    def _function(self, name: str) -> None:
        if self._service.version(name, "$LATEST") is None:
            raise function_not_found(self._service.arn(name))

    def _check_version(self, name: str, version: str) -> None:
        """The version an alias points to must exist (its absence is named with the version's ARN)."""
        if self._service.version(name, version) is None:
            raise function_not_found(self._service.arn(name, version))

    def _weights(self, name: str, version: str, routing: dict | None) -> dict[str, float]:
        weights = dict((routing or {}).get("AdditionalVersionWeights") or {})
        if not weights:
            return {}
        limit = self._service.quotas.alias_additional_versions_max
        if len(weights) > limit:
            raise InvalidParameterValueException(
                f"Number of items in AdditionalVersionWeights cannot be greater than {limit}")
        for additional in weights:
            if additional == version:
                raise InvalidParameterValueException(f"Invalid function version {version}. Function version "
                                                     f"{version} is already included in routing configuration.")
            if version == "$LATEST":
                raise InvalidParameterValueException(
                    "$LATEST is not supported for an alias pointing to more than 1 version")
            self._check_version(name, additional)
        return {additional: float(weight) for additional, weight in weights.items()}
