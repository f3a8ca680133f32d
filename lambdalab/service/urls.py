"""Function URLs: the FunctionUrlConfig of a function or of one of its aliases.

A function has at most one URL unqualified (it runs $LATEST) and one per alias; never one for a
version or for ``$LATEST`` named as such (the API model's Qualifier pattern refuses them).  Deleting
the function or the alias deletes its URL.  Create and Update answer ``InvokeMode`` only once it was
set; Get and List always say it (``BUFFERED`` by default), as AWS does.  Checks and messages are
AWS's, as recorded by LocalStack's AWS-validated ``TestLambdaUrl`` tests (``test_lambda_api.py``,
November 2025): "Function does not exist" where Create, Update and List name a missing function or alias,
"The resource you requested does not exist." where Get and Delete find none, or no configuration,
and a ResourceConflictException for a second URL.

``_configs`` (key -> config) and ``_ids`` (URL id -> key) are guarded by ``_lock``, held for
dictionary work only; the HTTP front finds a URL by its id (:meth:`FunctionUrls.by_id`).
"""

from __future__ import annotations

import dataclasses
import secrets
import string
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import NOT_FOUND, ResourceConflictException, ResourceNotFoundException
from .models import page

if TYPE_CHECKING:
    from .functions import LambdaService

Key = tuple[str, "str | None"]  # (function name, alias or None)
NO_FUNCTION = "Function does not exist"
_ID_ALPHABET = string.ascii_lowercase + string.digits


@dataclass(frozen=True)
class UrlConfig:
    """One function URL's configuration (immutable, replaced whole)."""

    url_id: str  # 32 lower-case letters and digits, as AWS makes them
    function_arn: str  # unqualified, or qualified by the alias
    auth_type: str  # "NONE" or "AWS_IAM"
    created: str
    modified: str
    cors: dict[str, Any] | None = None
    invoke_mode: str | None = None  # as set; BUFFERED when never set

    def response(self, url: str, answer: str) -> dict[str, Any]:
        """The shape ``answer`` ("Create", "Update", "Get" or "List") gives."""
        out: dict[str, Any] = {"FunctionUrl": url, "FunctionArn": self.function_arn, "AuthType": self.auth_type,
                               "CreationTime": self.created}
        if self.cors is not None:
            out["Cors"] = self.cors
        if self.invoke_mode or answer in ("Get", "List"):
            out["InvokeMode"] = self.invoke_mode or "BUFFERED"
        if answer != "Create":
            out["LastModifiedTime"] = self.modified
        return out


class FunctionUrls:
    """The function URLs of one :class:`LambdaService`'s functions and aliases."""

    def __init__(self, service: LambdaService, timestamp: Callable[[], str]) -> None:
        self._service, self._timestamp = service, timestamp
        self._configs: dict[Key, UrlConfig] = {}
        self._ids: dict[str, Key] = {}
        self._lock = threading.Lock()
        service.subscribe(self._function_changed)

    def create(self, params: dict[str, Any]) -> UrlConfig:
        key = self._existing(params)
        now = self._timestamp()
        config = UrlConfig("".join(secrets.choice(_ID_ALPHABET) for _ in range(32)), self._service.arn(*key),
                           params["AuthType"], now, now, params.get("Cors"), params.get("InvokeMode"))
        with self._lock:
            if key in self._configs:
                raise ResourceConflictException(
                    f"Failed to create function url config for [functionArn = {config.function_arn}]. Error "
                    "message:  FunctionUrlConfig exists for this Lambda function")
            self._configs[key] = config
            self._ids[config.url_id] = key
        return config

    def get(self, function_name: str, qualifier: str | None) -> UrlConfig:
        with self._lock:
            config = self._configs.get(self._key(function_name, qualifier))
        if config is None:
            raise ResourceNotFoundException(NOT_FOUND)
        return config

    def update(self, params: dict[str, Any]) -> UrlConfig:
        key = self._existing(params)  # a missing function or alias first, then a missing configuration
        changes: dict[str, Any] = {"modified": self._timestamp()}
        for param, attr in (("AuthType", "auth_type"), ("Cors", "cors"), ("InvokeMode", "invoke_mode")):
            if params.get(param) is not None:
                changes[attr] = params[param]
        with self._lock:
            current = self._configs.get(key)
            if current is None:
                raise ResourceNotFoundException(NOT_FOUND)
            config = self._configs[key] = dataclasses.replace(current, **changes)
        return config

    def delete(self, function_name: str, qualifier: str | None) -> None:
        with self._lock:
            config = self._configs.pop(self._key(function_name, qualifier), None)
            if config is None:
                raise ResourceNotFoundException(NOT_FOUND)
            del self._ids[config.url_id]

    def list(self, function_name: str, marker: str | None, max_items: int | None,
             url: Callable[[UrlConfig], str]) -> dict[str, Any]:
        """The function's URLs, the unqualified one first, then the aliases' by name."""
        try:
            name = self._service.resolve(self._service.function_name(function_name)).name
        except ResourceNotFoundException:
            raise ResourceNotFoundException(NO_FUNCTION) from None
        with self._lock:
            keys = sorted((k for k in self._configs if k[0] == name), key=lambda k: k[1] or "")
            entries = [(self._configs[k].url_id, self._configs[k].response(url(self._configs[k]), "List"))
                       for k in keys]
        return page(entries, marker, max_items, 50, "FunctionUrlConfigs")

    def by_id(self, url_id: str) -> tuple[str, str | None, UrlConfig] | None:
        """(function name, alias or None, configuration) of the URL with this id, if it is this service's."""
        with self._lock:
            key = self._ids.get(url_id)
            return (*key, self._configs[key]) if key else None

    # -- helpers ---------------------------------------------------------------------------------
    def _existing(self, params: dict[str, Any]) -> Key:
        """The key Create or Update configures: the function (or the alias) must exist."""
        name, alias = self._key(params["FunctionName"], params.get("Qualifier"))
        try:
            self._service.lookup(name, alias)
        except ResourceNotFoundException:
            raise ResourceNotFoundException(NO_FUNCTION) from None
        return name, alias

    def _key(self, function_name: str, qualifier: str | None) -> Key:
        name, qualifier, mine = self._service.split(function_name, qualifier)
        if not mine:  # another account's function has no configuration here
            raise ResourceNotFoundException(NOT_FOUND)
        return name, qualifier

    def _function_changed(self, name: str, qualifier: str | None, function: Any) -> None:
        """A deleted function takes its URLs along; a deleted alias its own."""
        if function is not None:
            return
        with self._lock:
            for key in [k for k in self._configs if k[0] == name and (qualifier is None or k[1] == qualifier)]:
                del self._ids[self._configs.pop(key).url_id]
