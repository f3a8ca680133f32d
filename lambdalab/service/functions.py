"""LambdaService: the functions of one account and Region, and the control-plane operations on them.

It knows nothing of HTTP (the ``api`` package translates) nor of processes (the ``invoke``
package runs code): it stores configurations, checks them as AWS does and tells listeners when
a function changes so that stale execution environments can be retired.  A name with a qualifier
(``Qualifier=1`` or ``name:1``, ``name:alias``) designates a published version (``versions``) or an
alias (``aliases``); :meth:`LambdaService.lookup` says which, :meth:`LambdaService.route` which
version an invocation of it runs.

Who owns what, and which lock guards it:

* ``LambdaService._lock`` (an RLock, shared with :class:`VersionStore` and :class:`AliasStore`)
  guards ``_functions`` ($LATEST by name), ``_busy`` (the names a create or an update is working
  on), the versions and the aliases.  Every Invoke takes it for a dictionary look-up, so nothing
  slow runs under it: packages are fetched and unzipped, layers mounted and listeners told
  (environments stopped) outside it.
* A :class:`Function` (and an :class:`Alias`) is an immutable value.  An update builds a new one
  and swaps it in under the lock; an environment or an invocation that holds the old value keeps
  a consistent configuration.  Environments notice the change by ``generation``.
* Updates of one function are serialized as AWS serializes them: an update takes the function's
  slot in ``_busy`` while its package unpacks, and a second update (UpdateFunctionCode,
  UpdateFunctionConfiguration, PublishVersion) meanwhile gets AWS's ResourceConflictException
  ("An update is in progress for resource: ...") rather than waiting in a queue.
* Function policies (``FunctionPolicies``), concurrency (``Concurrency``), asynchronous invocation
  settings (``EventInvokeConfigs``), event source mappings (``MappingStore``) and layers
  (``LayerStore``) have locks of their own, which may be held while the service's lock is taken,
  never the other way round.  Unpacked packages on disk belong to the values that name them and are
  removed, outside the lock, once none does.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..arns import FUNCTION_ARN
from ..clock import Clock
from . import code as packages
from .aliases import AliasStore
from .concurrency import Concurrency
from .configure import configure
from .errors import (
    InvalidParameterValueException,
    LambdaError,
    PreconditionFailedException,
    ResourceConflictException,
    function_not_found,
    not_reachable,
)
from .event_invoke import EventInvokeConfigs
from .layers import LayerStore, unzipped_size
from .mappings import MappingStore
from .models import Code, Function, Located, page
from .permissions import FunctionPolicies
from .quotas import Quotas
from .recursion_config import RecursionConfigs
from .urls import FunctionUrls
from .versions import REVISION_MISMATCH, VERSION_NUMBER, VersionStore

S3Fetch = Callable[[str, str, "str | None"], bytes]
_UNPACKED_LATER = Code(sha256="", size=0, unzipped_size=0, root=Path())  # a new function's, until its package is
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
        self._functions: dict[str, Function] = {}  # $LATEST of each function, by name
        self._busy: dict[str, object] = {}  # names being created or updated -> the token of that operation
        self._lock = threading.RLock()
        self._listeners: list[Listener] = []
        self.versions = VersionStore(self, self._lock, self._timestamp)  # published versions, per function
        self.aliases = AliasStore(self, self._lock)
        self.policies = FunctionPolicies(self)  # resource-based policies, per function, version and alias
        self.concurrency = Concurrency(self, self._timestamp)  # reserved and provisioned concurrency, and what runs
        self.event_invoke = EventInvokeConfigs(self)  # asynchronous invocation settings, likewise
        self.layers = LayerStore(self, package=self._package, timestamp=self._timestamp, mounts=workdir / "opt")
        self.mappings = MappingStore(self)  # event source mappings; the pollers (invoke/poll) run them
        self.urls = FunctionUrls(self, self._timestamp)  # function URLs, per function and alias
        self.recursion = RecursionConfigs(self)  # recursive loop detection: Terminate or Allow, per function

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
        name, qualifier, mine = self.split(function_name, qualifier)
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
        name, _, mine = self.split(function_name, None)
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
        self._check_region(match)
        name = match["name"]
        if params.get("PackageType", "Zip") != "Zip":
            raise InvalidParameterValueException("lambdalab runs .zip packages; container images are not supported.")
        if not params.get("Runtime") or not params.get("Handler"):
            raise InvalidParameterValueException("Runtime and Handler are mandatory parameters for functions "
                                                 "created with deployment packages.")
        q = self.quotas
        blank = Function(name=name, arn=self.arn(name), runtime=params["Runtime"], role=params["Role"],
                         handler=params["Handler"], code=_UNPACKED_LATER, last_modified="", timeout=q.timeout_default_s,
                         memory_size=q.memory_default_mb, ephemeral_storage=q.ephemeral_default_mb)
        settings = configure(params, blank, q)  # checked before the package is unpacked
        with self._lock:  # the name is taken from here on, while its package is unpacked outside the lock
            if name in self._functions or name in self._busy:
                raise ResourceConflictException(f"Function already exist: {name}")
            token = self._busy[name] = object()
        try:
            layers = self.layers.resolve(params.get("Layers") or [])
            opt = self.layers.mount(layers)
            code = self._package(params.get("Code") or {}, layer_bytes=unzipped_size(layers))
            function = dataclasses.replace(
                blank, **settings, code=code, last_modified=self._timestamp(),
                architectures=tuple(params.get("Architectures") or ["x86_64"]), tags=dict(params.get("Tags") or {}),
                layers=layers, opt=opt, state="Active",  # its code is unpacked before we answer, so it is ready at once
            )
            with self._lock:
                self._functions[name] = function
                response = dataclasses.replace(function, state="Pending").configuration()  # AWS answers Pending
                if params.get("Publish"):  # AWS answers with version 1, still Pending, under the function's ARN
                    response = dataclasses.replace(self.versions.publish(function), state="Pending").configuration()
        finally:
            self._release(name, token)
        return response

    def get_function(self, function_name: str, qualifier: str | None, code_url: Callable[[Function], str]) -> dict:
        located = self.lookup(function_name, qualifier)
        result = {"Configuration": located.configuration(),
                  "Code": {"RepositoryType": "S3", "Location": code_url(located.function)}}
        latest = self.version(located.function.name, "$LATEST")  # tags belong to the function, not to a version
        if tags := latest.tags if latest else {}:
            result["Tags"] = dict(tags)
        if (reserved := self.concurrency.reserved(located.function.name)) is not None:
            result["Concurrency"] = {"ReservedConcurrentExecutions": reserved}
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
        name = self.function_name(params["FunctionName"])  # updates change $LATEST only
        if params.get("DryRun"):  # checks the package without keeping it, nor taking the update slot
            function = self.resolve(name)
            self._check_revision(function, params.get("RevisionId"))
            code = self._package(params, keep=False, layer_bytes=unzipped_size(function.layers))
            return {**function.configuration(), "CodeSha256": code.sha256, "CodeSize": code.size}
        with self._update(name, params.get("RevisionId")) as update:
            code = self._package(params, layer_bytes=unzipped_size(update.current.layers))
            architectures = {"architectures": tuple(params["Architectures"])} if "Architectures" in params else {}
            try:
                function = update.commit(code=code, **architectures)
            except LambdaError:
                packages.remove(code)
                raise
            response = _in_progress(function)
            if params.get("Publish"):  # AWS answers with the new version, still Pending
                version = self.versions.publish(function)
                response = dataclasses.replace(version, state="Pending").configuration(version.qualified_arn)
        self._discard([update.current.code])
        return response

    def update_function_configuration(self, params: dict[str, Any]) -> dict:
        name = self.function_name(params["FunctionName"])  # updates change $LATEST only
        with self._update(name, params.get("RevisionId")) as update:
            changes = configure(params, update.current, self.quotas)
            if "Layers" in params:
                changes["layers"], changes["opt"] = self.layers.attach(params["Layers"], update.current.code)
            return _in_progress(update.commit(**changes))

    def delete_function(self, function_name: str, qualifier: str | None = None) -> None:
        """Delete the function with its versions and aliases or, with a qualifier, one version."""
        name, qualifier, mine = self.split(function_name, qualifier)
        if qualifier == "$LATEST":
            raise InvalidParameterValueException("$LATEST version cannot be deleted without deleting the function.")
        with self._lock:
            if not mine or name not in self._functions:
                raise function_not_found(self.arn(name))
            if qualifier is None:
                gone = [self._functions.pop(name), *self.versions.drop(name)]
                self.aliases.drop(name)
                self._busy.pop(name, None)  # an update under way finds the function gone when it commits
            else:
                gone = [v for v in [self.versions.remove(name, qualifier)] if v is not None]
                if not gone:
                    return  # deleting a version that does not exist succeeds, as on AWS
        self.changed(name, qualifier, None)
        self._discard([f.code for f in gone])

    def revise(self, name: str, change: Callable[[Function], dict[str, Any]]) -> None:
        """Replace $LATEST with ``change(current)`` applied and a new RevisionId (tags, for one)."""
        with self._lock:
            current = self._functions.get(name)
            if current is None:
                raise function_not_found(self.arn(name))
            self._functions[name] = dataclasses.replace(current, revision_id=str(uuid.uuid4()), **change(current))

    def new_revision(self, located: Located) -> None:
        """What ``located`` names (an alias, a version or $LATEST) gets a new RevisionId (a policy changed)."""
        revision = {"revision_id": str(uuid.uuid4())}
        with self._lock:
            if located.alias is not None:
                self.aliases.replace(located.alias, **revision)
            elif located.function.version != "$LATEST":
                self.versions.replace(located.function, **revision)
            elif (current := self._functions.get(located.function.name)) is not None:
                self._functions[current.name] = dataclasses.replace(current, **revision)

    def account_settings(self) -> dict:
        functions = self.functions()
        q = self.quotas
        return {
            "AccountLimit": {
                "TotalCodeSize": q.code_storage_bytes,
                "CodeSizeUnzipped": q.unzipped_max_bytes,
                "CodeSizeZipped": q.zip_direct_max_bytes,
                "ConcurrentExecutions": q.concurrent_executions,
                "UnreservedConcurrentExecutions": self.concurrency.unreserved(),
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

    def split(self, function_name: str, qualifier: str | None) -> tuple[str, str | None, bool]:
        """(function name, qualifier, whether the function would be this account's) of a name or ARN, with a
        Qualifier parameter: AWS's errors for another Region's ARN or two qualifiers that differ."""
        match = FUNCTION_ARN.match(function_name)
        if not match:
            raise function_not_found(self.arn(function_name))
        self._check_region(match)
        arn_qualifier = match["qualifier"]
        if qualifier and arn_qualifier and qualifier != arn_qualifier:
            raise InvalidParameterValueException("The derived qualifier from the function name does not match "
                                                 "the specified qualifier.")
        return match["name"], qualifier or arn_qualifier, match["account"] in (None, self.account)

    def _check_region(self, match: re.Match) -> None:
        """An ARN of another Region names nothing here (AWS's answer, whatever the operation)."""
        if match["region"] and match["region"] != self.region:
            raise not_reachable(match["region"], self.region)

    def _discard(self, codes: list[Code]) -> None:
        """Delete the packages among ``codes`` that neither $LATEST nor any version runs any more."""
        with self._lock:
            in_use = {f.code.root for f in self._functions.values()} | {
                v.code.root for versions in self.versions.snapshot().values() for v in versions}
        for code in {c.root: c for c in codes if c.root not in in_use}.values():
            packages.remove(code)

    def _check_revision(self, function: Function, revision_id: str | None) -> None:
        if revision_id and revision_id != function.revision_id:
            raise PreconditionFailedException(REVISION_MISMATCH)

    def check_not_busy(self, name: str) -> None:
        """AWS takes one update of a function at a time and refuses others meanwhile (no queue)."""
        with self._lock:
            if name in self._busy:
                raise ResourceConflictException("The operation cannot be performed at this time. An update is in "
                                                f"progress for resource: {self.arn(name)}")

    @contextmanager
    def _update(self, name: str, revision_id: str | None) -> Iterator[_Update]:
        """Hold the function's update slot while a new $LATEST is built outside the lock.

        Listeners hear of the commit before the slot is given back, so they hear of a function's
        updates in the order they were made.
        """
        with self._lock:
            current = self.resolve(name)
            self._check_revision(current, revision_id)
            self.check_not_busy(name)
            update = _Update(self, current, token=object())
            self._busy[name] = update.token
        try:
            yield update
            if update.committed is not None:
                self.changed(name, "$LATEST", update.committed)
        finally:
            self._release(name, update.token)

    def _commit(self, update: _Update, changes: dict[str, Any]) -> Function:
        """Replace $LATEST by a new value: the latest one (tags may have changed) with ``changes``."""
        name = update.current.name
        with self._lock:
            current = self._functions.get(name)
            if current is None or self._busy.get(name) is not update.token:
                raise function_not_found(self.arn(name))  # deleted while the update was being built
            function = dataclasses.replace(current, **changes, last_modified=self._timestamp(),
                                           revision_id=str(uuid.uuid4()), generation=current.generation + 1,
                                           last_update_status="Successful")  # applied before we answer
            self._functions[name] = function
        return function

    def _release(self, name: str, token: object) -> None:
        with self._lock:
            if self._busy.get(name) is token:
                del self._busy[name]

    def _timestamp(self) -> str:
        now = self.clock.now()
        return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}+0000"



@dataclass
class _Update:
    """One update of a function's $LATEST under way: what it started from, and what it committed."""

    service: LambdaService
    current: Function
    token: object
    committed: Function | None = None

    def commit(self, **changes: Any) -> Function:
        self.committed = self.service._commit(self, changes)
        return self.committed


def _in_progress(function: Function) -> dict:
    """An update's answer: AWS answers while the update is in progress."""
    return dataclasses.replace(function, last_update_status="InProgress").configuration()
