"""Published versions: immutable snapshots of a function's $LATEST, numbered from 1.

PublishVersion copies $LATEST's code and configuration into a :class:`Function` of its own
(``version`` "1", "2", ..., its own RevisionId), which no later update touches: a version keeps
running the code it was published with, in environments of its own.  Numbers are never reused,
even after a version is deleted; publishing when nothing changed since the last version answers
with that version.  The code a version uses stays unpacked until no version (nor $LATEST) uses
it.  No HTTP here: ``api.versions`` translates.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .errors import InvalidParameterValueException, PreconditionFailedException, ResourceConflictException
from .models import Function, page

if TYPE_CHECKING:
    from .functions import LambdaService

VERSION_NUMBER = re.compile(r"^[0-9]+$")
REVISION_MISMATCH = ("The Revision Id provided does not match the latest Revision Id. "
                     "Call the GetFunction/GetAlias API to retrieve the latest Revision Id")


class VersionStore:
    """The published versions of one :class:`LambdaService`'s functions."""

    def __init__(self, service: LambdaService, lock: threading.RLock, timestamp: Callable[[], str]) -> None:
        self._service, self._lock, self._timestamp = service, lock, timestamp  # the service's lock, shared
        self._versions: dict[str, dict[str, Function]] = {}  # by function name, then version, oldest first
        self._last: dict[str, int] = {}  # the last number given, per function (never reused)
        self._published: dict[str, tuple[int, str]] = {}  # ($LATEST's generation, version) of the last publish

    # -- operations ------------------------------------------------------------------------------
    def publish_version(self, params: dict[str, Any]) -> dict:
        with self._lock:
            latest = self._service.resolve(self._service.function_name(params["FunctionName"]))
            self._service.check_not_busy(latest.name)
            version = self.publish(latest, params.get("Description"), params.get("CodeSha256"),
                                   params.get("RevisionId"))
        return version.configuration(version.qualified_arn)

    def list_versions(self, function_name: str, marker: str | None, max_items: int | None) -> dict:
        """$LATEST, then the published versions in order (at most 50 a page, as AWS)."""
        latest = self._service.resolve(self._service.function_name(function_name))
        entries = [(f.version, f.configuration(f.qualified_arn)) for f in [latest, *self.of(latest.name)]]
        return page(entries, marker, max_items, self._service.quotas.list_versions_max_items, "Versions")

    # -- for the service -------------------------------------------------------------------------
    def publish(self, latest: Function, description: str | None = None, code_sha256: str | None = None,
                revision_id: str | None = None) -> Function:
        """Snapshot ``latest`` as a new version, or answer with the last one if nothing changed since."""
        with self._lock:
            if revision_id and revision_id != latest.revision_id:
                raise PreconditionFailedException(REVISION_MISMATCH)
            if code_sha256 is not None and code_sha256 != latest.code.sha256:
                raise InvalidParameterValueException(
                    f"CodeSHA256 ({code_sha256}) is different from current CodeSHA256 in $LATEST "
                    f"({latest.code.sha256}). Please try again with the CodeSHA256 in $LATEST.")
            versions = self._versions.setdefault(latest.name, {})
            generation, number = self._published.get(latest.name, (-1, ""))
            if generation == latest.generation and number in versions:
                return versions[number]
            number = str(self._last.get(latest.name, 0) + 1)
            self._last[latest.name] = int(number)
            version = dataclasses.replace(
                latest, version=number, revision_id=str(uuid.uuid4()), last_modified=self._timestamp(),
                description=latest.description if description is None else description, state="Active",
                last_update_status="Successful", tags={})
            versions[number] = version
            self._published[latest.name] = (latest.generation, number)
            return version

    def get(self, name: str, version: str) -> Function | None:
        with self._lock:
            return self._versions.get(name, {}).get(version)

    def of(self, name: str) -> list[Function]:
        """The function's versions, in the order they were published."""
        with self._lock:
            return list(self._versions.get(name, {}).values())

    def replace(self, version: Function, **changes: Any) -> None:
        """Swap a published version for a copy with ``changes`` (its RevisionId, when its policy changes)."""
        with self._lock:
            versions = self._versions.get(version.name, {})
            if version.version in versions:
                versions[version.version] = dataclasses.replace(versions[version.version], **changes)

    def remove(self, name: str, version: str) -> Function | None:
        """DeleteFunction with a Qualifier: remove a version no alias runs (None if there is none)."""
        if not VERSION_NUMBER.match(version):
            raise InvalidParameterValueException("Deletion of aliases is not currently supported.")
        with self._lock:
            if version in self._versions.get(name, {}) and (users := self._service.aliases.referencing(name, version)):
                raise ResourceConflictException("Unable to delete version because the following aliases reference "
                                                f"it: [{', '.join(users)}]")
            return self._versions.get(name, {}).pop(version, None)

    def drop(self, name: str) -> list[Function]:
        """The function is gone: forget its versions (and its numbering) and return them."""
        with self._lock:
            self._last.pop(name, None)
            self._published.pop(name, None)
            return list(self._versions.pop(name, {}).values())

    def snapshot(self) -> dict[str, list[Function]]:
        """Every function's versions (for account-wide views such as ListFunctions with ALL)."""
        with self._lock:
            return {name: list(versions.values()) for name, versions in self._versions.items()}
