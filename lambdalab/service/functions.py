"""LambdaService: the functions of one account and Region, and the control-plane operations on them.

It knows nothing of HTTP (the ``api`` package translates) nor of processes (the ``invoke``
package runs code): it stores configurations, checks them as AWS does and tells listeners when
a function changes so that stale execution environments can be retired.  A name with a qualifier
(``Qualifier=1`` or ``name:1``, ``name:alias``) designates a published version (``versions``) or an
alias (``aliases``); :meth:`LambdaService.lookup` says which, :meth:`LambdaService.route` which
version an invocation of it runs.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..clock import Clock
from . import code as packages
from .aliases import AliasStore
from .errors import (
    InvalidParameterValueException,
    PreconditionFailedException,
    ResourceConflictException,
    function_not_found,
)
from .layers import LayerStore, unzipped_size
from .models import Code, Function, Located, page
from .permissions import FunctionPolicies
from .quotas import Quotas
from .validation import check_environment, check_runtime
from .versions import REVISION_MISMATCH, VERSION_NUMBER, VersionStore

FUNCTION_ARN = re.compile(
    r"^(?:arn:aws[a-zA-Z-]*:lambda:(?P<region>[a-z0-9-]+):)?(?:(?P<account>\d{12}):)?(?:function:)?"
    r"(?P<name>[a-zA-Z0-9-_]+)(?::(?P<qualifier>\$LATEST|[a-zA-Z0-9-_]+))?$")

S3Fetch = Callable[[str, str, "str | None"], bytes]
# listener(name, qualifier, function): (name, "$LATEST", $LATEST) after an update, (name, "3", None) when
# version 3 is deleted, (name, "prod", None) when alias prod is, (name, None, None) when the function is.
Listener = Callable[[str, "str | None", "Function | None"], None]


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
        self.versions = VersionStore(self, self._lock, self._timestamp)  # published versions, per function
        self.aliases = AliasStore(self, self._lock)
        self.policies = FunctionPolicies(self)  # resource-based policies, per function, version and alias
        self.layers = LayerStore(self, package=self._package, timestamp=self._timestamp, mounts=workdir / "opt")

    # -- lookups ---------------------------------------------------------------------------------
    def arn(self, name: str, qualifier: str | None = None) -> str:
        base = f"arn:aws:lambda:{self.region}:{self.account}:function:{name}"
        return f"{base}:{qualifier}" if qualifier else base

    def lookup(self, function_name: str, qualifier: str | None = None, invoke: bool = False) -> Located:
        """What a name, partial ARN or ARN (with an optional qualifier) designates.

        Invoke's not-found message names ``:$LATEST`` when no qualifier was given; the control
        plane's names the bare function ARN (both as AWS answers).  A missing version or alias is
        named with its qualified ARN.
        """
        name, qualifier, mine = self._split(function_name, qualifier)
        with self._lock:
            latest = self._functions.get(name) if mine else None
            if latest is None:
                shown = qualifier or ("$LATEST" if invoke else None)
                raise function_not_found(self.arn(name, None if shown == "$LATEST" and not invoke else shown))
            if qualifier is None:
                return Located(latest, None, None, latest.arn)
            arn, alias = self.arn(name, qualifier), None
            if qualifier == "$LATEST":
                function = latest
            elif VERSION_NUMBER.match(qualifier):
                function = self.versions.get(name, qualifier)
            else:
                alias = self.aliases.find(name, qualifier)
                function = self.version(name, alias.function_version) if alias else None
            if function is None:
                raise function_not_found(arn)
            return Located(function, alias, qualifier, arn)

    def resolve(self, function_name: str, qualifier: str | None = None, invoke: bool = False) -> Function:
        """The version a name designates: $LATEST, a published version, or an alias's own version."""
        return self.lookup(function_name, qualifier, invoke).function

    def route(self, located: Located) -> Function:
        """The version one invocation runs: an alias draws between its versions by their weights."""
        if located.alias is None:
            return located.function
        with self._lock:
            return self.version(located.function.name, located.alias.pick()) or located.function

    def function_name(self, function_name: str) -> str:
        """The function a name or ARN names (its qualifier, if any, aside); refuses another account's."""
        name, _, mine = self._split(function_name, None)
        if not mine:
            raise function_not_found(self.arn(name))
        return name

    def version(self, name: str, version: str) -> Function | None:
        """$LATEST or a published version of the function ``name``, None if either does not exist."""
        with self._lock:
            return self._functions.get(name) if version == "$LATEST" else self.versions.get(name, version)

    def functions(self) -> list[Function]:
        with self._lock:
            return sorted(self._functions.values(), key=lambda f: f.name)

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener(name, qualifier, function_or_None)`` after every update or deletion."""
        self._listeners.append(listener)

    def changed(self, name: str, qualifier: str | None, function: Function | None) -> None:
        """Tell the listeners (environments, policies) that a function, version or alias changed or went."""
        for listener in self._listeners:
            listener(name, qualifier, function)

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
            if params.get("Publish"):  # AWS answers with version 1, still Pending, under the function's ARN
                response = dataclasses.replace(self.versions.publish(function), state="Pending").configuration()
        return response

    def get_function(self, function_name: str, qualifier: str | None, code_url: Callable[[Function], str]) -> dict:
        located = self.lookup(function_name, qualifier)
        result = {"Configuration": located.configuration(),
                  "Code": {"RepositoryType": "S3", "Location": code_url(located.function)}}
        tags = self._functions[located.function.name].tags  # tags belong to the function, not to a version
        if tags:
            result["Tags"] = dict(tags)
        return result

    def get_function_configuration(self, function_name: str, qualifier: str | None = None) -> dict:
        return self.lookup(function_name, qualifier).configuration()

    def list_functions(self, marker: str | None, max_items: int | None, function_version: str | None = None) -> dict:
        """$LATEST of each function, by name; with ``FunctionVersion=ALL`` each one's versions after it."""
        every = function_version == "ALL"
        versions = self.versions.snapshot() if every else {}
        entries = [(f"{f.name}:{f.version}", f.configuration(f.qualified_arn)) if every else (f.name, f.configuration())
                   for latest in self.functions() for f in [latest, *versions.get(latest.name, [])]]
        return page(entries, marker, max_items, self.quotas.list_max_items, "Functions")

    def update_function_code(self, params: dict[str, Any]) -> dict:
        with self._lock:
            function = self.resolve(self.function_name(params["FunctionName"]))  # updates change $LATEST only
            self._check_revision(function, params.get("RevisionId"))
            layer_bytes = unzipped_size(function.layers)
            if params.get("DryRun"):
                code = self._package(params, keep=False, layer_bytes=layer_bytes)
                return {**function.configuration(), "CodeSha256": code.sha256, "CodeSize": code.size}
            old = function.code
            function.code = self._package(params, layer_bytes=layer_bytes)
            response = self._updated(function)
            if params.get("Publish"):  # AWS answers with the new version, still Pending
                version = self.versions.publish(function)
                response = dataclasses.replace(version, state="Pending").configuration(version.qualified_arn)
            unused = self._unused([old])
        for code in unused:
            packages.remove(code)
        return response

    def update_function_configuration(self, params: dict[str, Any]) -> dict:
        with self._lock:
            function = self.resolve(self.function_name(params["FunctionName"]))  # updates change $LATEST only
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
        """Delete the function with its versions and aliases or, with a qualifier, one version."""
        name, qualifier, mine = self._split(function_name, qualifier)
        if qualifier == "$LATEST":
            raise InvalidParameterValueException("$LATEST version cannot be deleted without deleting the function.")
        with self._lock:
            if not mine or name not in self._functions:
                raise function_not_found(self.arn(name))
            if qualifier is None:
                gone = [self._functions.pop(name), *self.versions.drop(name)]
                self.aliases.drop(name)
            else:
                gone = [v for v in [self.versions.remove(name, qualifier)] if v is not None]
                if not gone:
                    return  # deleting a version that does not exist succeeds, as on AWS
            self.changed(name, qualifier, None)
            unused = self._unused([f.code for f in gone])
        for code in unused:
            packages.remove(code)

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

    def _split(self, function_name: str, qualifier: str | None) -> tuple[str, str | None, bool]:
        """(function name, qualifier, whether the function would be this account's) of a name or ARN."""
        match = FUNCTION_ARN.match(function_name)
        if not match:
            raise function_not_found(self.arn(function_name))
        arn_qualifier = match["qualifier"]
        if qualifier and arn_qualifier and qualifier != arn_qualifier:
            raise InvalidParameterValueException("The derived qualifier from the function name does not match "
                                                 "the specified qualifier.")
        return match["name"], qualifier or arn_qualifier, match["account"] in (None, self.account)

    def _unused(self, codes: list[Code]) -> list[Code]:
        """The packages among ``codes`` that neither $LATEST nor any version runs any more."""
        with self._lock:
            in_use = {f.code.root for f in self._functions.values()} | {
                v.code.root for versions in self.versions.snapshot().values() for v in versions}
        return list({c.root: c for c in codes if c.root not in in_use}.values())

    def _check_revision(self, function: Function, revision_id: str | None) -> None:
        if revision_id and revision_id != function.revision_id:
            raise PreconditionFailedException(REVISION_MISMATCH)

    def _updated(self, function: Function) -> dict:
        function.last_modified = self._timestamp()
        function.revision_id = str(uuid.uuid4())
        function.generation += 1
        function.last_update_status = "InProgress"
        response = function.configuration()  # AWS answers while the update is in progress
        function.last_update_status = "Successful"  # it is applied before we answer
        self.changed(function.name, "$LATEST", function)
        return response

    def _timestamp(self) -> str:
        now = self.clock.now()
        return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}+0000"

