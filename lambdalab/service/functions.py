"""LambdaService: the functions of one account and Region, and the control-plane operations on them.

It knows nothing of HTTP (the ``api`` package translates) nor of processes (the ``invoke``
package runs code): it stores configurations, checks them as AWS does and tells listeners when
a function changes so that stale execution environments can be retired.
"""

from __future__ import annotations

import re
import secrets
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..clock import Clock
from . import code as packages
from .errors import (
    InvalidParameterValueException,
    PreconditionFailedException,
    ResourceConflictException,
    function_not_found,
)
from .layers import LayerStore, unzipped_size
from .models import Code, Function
from .permissions import FunctionPolicies
from .quotas import Quotas
from .validation import check_environment, check_runtime

FUNCTION_ARN = re.compile(
    r"^(?:arn:aws[a-zA-Z-]*:lambda:(?P<region>[a-z0-9-]+):)?(?:(?P<account>\d{12}):)?(?:function:)?"
    r"(?P<name>[a-zA-Z0-9-_]+)(?::(?P<qualifier>\$LATEST|[a-zA-Z0-9-_]+))?$")

S3Fetch = Callable[[str, str, "str | None"], bytes]
Listener = Callable[[str, "Function | None"], None]


class LambdaService:
    def __init__(self, *, account: str, region: str, quotas: Quotas, clock: Clock, workdir: Path,
                 fetch_s3: S3Fetch) -> None:
        self.account, self.region, self.quotas, self.clock = account, region, quotas, clock
        self._codedir = workdir / "code"
        self._codedir.mkdir(parents=True, exist_ok=True)
        self._fetch_s3 = fetch_s3
        self._functions: dict[str, Function] = {}
        self._lock = threading.RLock()
        self._listeners: list[Listener] = []
        self.policies = FunctionPolicies(self)  # resource-based policies, per function, version and alias
        self.layers = LayerStore(self, package=self._package, timestamp=self._timestamp, mounts=workdir / "opt")

    # -- lookups ---------------------------------------------------------------------------------
    def arn(self, name: str, qualifier: str | None = None) -> str:
        base = f"arn:aws:lambda:{self.region}:{self.account}:function:{name}"
        return f"{base}:{qualifier}" if qualifier else base

    def resolve(self, function_name: str, qualifier: str | None = None, invoke: bool = False) -> Function:
        """The function named by a name, partial ARN or ARN (with an optional qualifier).

        Invoke's not-found message names ``:$LATEST`` when no qualifier was given; the control
        plane's names the bare function ARN (both as AWS answers).
        """
        match = FUNCTION_ARN.match(function_name)
        if not match:
            raise function_not_found(self.arn(function_name))
        name, arn_qualifier = match["name"], match["qualifier"]
        if qualifier and arn_qualifier and qualifier != arn_qualifier:
            raise InvalidParameterValueException("The derived qualifier from the function name does not match "
                                                 "the specified qualifier.")
        qualifier = qualifier or arn_qualifier
        with self._lock:
            function = self._functions.get(name)
        if function is None or (match["account"] and match["account"] != self.account):
            shown = qualifier or ("$LATEST" if invoke else None)
            raise function_not_found(self.arn(name, None if shown == "$LATEST" and not invoke else shown))
        if qualifier not in (None, "$LATEST"):  # versions and aliases come with a later chapter
            raise function_not_found(self.arn(name, qualifier))
        return function

    def functions(self) -> list[Function]:
        with self._lock:
            return sorted(self._functions.values(), key=lambda f: f.name)

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener(name, function_or_None)`` after every update or deletion."""
        self._listeners.append(listener)

    # -- operations ------------------------------------------------------------------------------
    def create_function(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params["FunctionName"]
        match = FUNCTION_ARN.match(name)
        if not match or match["qualifier"]:
            raise InvalidParameterValueException(f"Invalid function name: {name}")
        name = match["name"]
        if params.get("PackageType", "Zip") != "Zip":
            raise InvalidParameterValueException("lambdalab runs .zip packages; container images are not supported.")
        runtime = params.get("Runtime")
        if not runtime:
            raise InvalidParameterValueException("Runtime and Handler are mandatory parameters for functions "
                                                 "created with deployment packages.")
        check_runtime(runtime)
        if not params.get("Handler"):
            raise InvalidParameterValueException("Runtime and Handler are mandatory parameters for functions "
                                                 "created with deployment packages.")
        variables = (params.get("Environment") or {}).get("Variables") or {}
        check_environment(variables, self.quotas)
        with self._lock:
            if name in self._functions:
                raise ResourceConflictException(f"Function already exist: {name}")
            layers = self.layers.resolve(params.get("Layers") or [])
            code = self._package(params.get("Code") or {}, layer_bytes=unzipped_size(layers))
            function = Function(
                name=name, arn=self.arn(name), runtime=runtime, role=params["Role"], handler=params["Handler"],
                code=code, last_modified=self._timestamp(), description=params.get("Description", ""),
                timeout=params.get("Timeout", self.quotas.timeout_default_s),
                memory_size=params.get("MemorySize", self.quotas.memory_default_mb),
                ephemeral_storage=(params.get("EphemeralStorage") or {}).get("Size", self.quotas.ephemeral_default_mb),
                environment=dict(variables), architectures=params.get("Architectures") or ["x86_64"],
                tracing_mode=(params.get("TracingConfig") or {}).get("Mode", "PassThrough"),
                log_format=(params.get("LoggingConfig") or {}).get("LogFormat", "Text"),
                tags=dict(params.get("Tags") or {}), layers=layers, opt=self.layers.mount(layers),
            )
            self._functions[name] = function
            response = function.configuration()  # AWS answers while the function is still Pending
            function.state = "Active"  # its code is unpacked before we answer, so it is ready at once
        return response

    def get_function(self, function_name: str, qualifier: str | None, code_url: Callable[[Function], str]) -> dict:
        function = self.resolve(function_name, qualifier)
        result = {"Configuration": function.configuration(),
                  "Code": {"RepositoryType": "S3", "Location": code_url(function)}}
        if function.tags:
            result["Tags"] = dict(function.tags)
        return result

    def get_function_configuration(self, function_name: str, qualifier: str | None = None) -> dict:
        return self.resolve(function_name, qualifier).configuration()

    def list_functions(self, marker: str | None, max_items: int | None) -> dict:
        functions = self.functions()
        start = 0
        if marker:
            names = [f.name for f in functions]
            start = names.index(marker) if marker in names else len([n for n in names if n < marker])
        limit = min(max_items or self.quotas.list_max_items, self.quotas.list_max_items)
        page = functions[start:start + limit]
        result: dict[str, Any] = {"Functions": [f.configuration() for f in page]}
        if start + limit < len(functions):
            result["NextMarker"] = functions[start + limit].name
        return result

    def update_function_code(self, params: dict[str, Any]) -> dict:
        with self._lock:
            function = self.resolve(params["FunctionName"])
            self._check_revision(function, params.get("RevisionId"))
            layer_bytes = unzipped_size(function.layers)
            if params.get("DryRun"):
                code = self._package(params, keep=False, layer_bytes=layer_bytes)
                return {**function.configuration(), "CodeSha256": code.sha256, "CodeSize": code.size}
            old = function.code
            function.code = self._package(params, layer_bytes=layer_bytes)
            response = self._updated(function)
        packages.remove(old)
        return response

    def update_function_configuration(self, params: dict[str, Any]) -> dict:
        with self._lock:
            function = self.resolve(params["FunctionName"])
            self._check_revision(function, params.get("RevisionId"))
            if "Runtime" in params:
                check_runtime(params["Runtime"])
            mounted = self.layers.attach(params["Layers"], function.code) if "Layers" in params else None
            if "Environment" in params:
                variables = (params["Environment"] or {}).get("Variables") or {}
                check_environment(variables, self.quotas)
                function.environment = dict(variables)
            simple = {"Role": "role", "Handler": "handler", "Description": "description", "Timeout": "timeout",
                      "MemorySize": "memory_size", "Runtime": "runtime"}
            for key, attr in simple.items():
                if key in params:
                    setattr(function, attr, params[key])
            if "EphemeralStorage" in params:
                function.ephemeral_storage = params["EphemeralStorage"]["Size"]
            if mounted:
                function.layers, function.opt = mounted
            if "TracingConfig" in params:
                function.tracing_mode = params["TracingConfig"].get("Mode", function.tracing_mode)
            if "LoggingConfig" in params:
                function.log_format = params["LoggingConfig"].get("LogFormat", function.log_format)
            return self._updated(function)

    def delete_function(self, function_name: str, qualifier: str | None = None) -> None:
        with self._lock:
            function = self.resolve(function_name, qualifier)
            del self._functions[function.name]
        self._notify(function.name, None)
        packages.remove(function.code)

    def account_settings(self) -> dict:
        functions = self.functions()
        q = self.quotas
        return {
            "AccountLimit": {
                "TotalCodeSize": q.code_storage_bytes,
                "CodeSizeUnzipped": q.unzipped_max_bytes,
                "CodeSizeZipped": q.zip_direct_max_bytes,
                "ConcurrentExecutions": q.concurrent_executions,
                "UnreservedConcurrentExecutions": q.concurrent_executions,
            },
            "AccountUsage": {"TotalCodeSize": sum(f.code.size for f in functions), "FunctionCount": len(functions)},
        }

    # -- helpers ---------------------------------------------------------------------------------
    def _package(self, source: dict[str, Any], keep: bool = True, layer_bytes: int = 0) -> Code:
        if source.get("ZipFile") is not None:
            data = source["ZipFile"]
        elif source.get("S3Bucket") and source.get("S3Key"):
            data = self._fetch_s3(source["S3Bucket"], source["S3Key"], source.get("S3ObjectVersion"))
        elif source.get("ImageUri"):
            raise InvalidParameterValueException("lambdalab runs .zip packages; container images are not supported.")
        else:
            raise InvalidParameterValueException("Please provide a source for function code.")
        dest = self._codedir / secrets.token_hex(16)
        code = packages.unpack(data, dest, self.quotas, layer_bytes)
        if not keep:
            packages.remove(code)
        return code

    def _check_revision(self, function: Function, revision_id: str | None) -> None:
        if revision_id and revision_id != function.revision_id:
            raise PreconditionFailedException(
                "The Revision Id provided does not match the latest Revision Id. "
                "Call the GetFunction/GetAlias API to retrieve the latest Revision Id")

    def _updated(self, function: Function) -> dict:
        function.last_modified = self._timestamp()
        function.revision_id = str(uuid.uuid4())
        function.generation += 1
        function.last_update_status = "InProgress"
        response = function.configuration()  # AWS answers while the update is in progress
        function.last_update_status = "Successful"  # it is applied before we answer
        self._notify(function.name, function)
        return response

    def _notify(self, name: str, function: Function | None) -> None:
        for listener in self._listeners:
            listener(name, function)

    def _timestamp(self) -> str:
        now = self.clock.now()
        return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}+0000"
