"""Layers: versioned .zip archives that functions mount, in order, at /opt.

PublishLayerVersion unpacks an archive once, read-only, as a new immutable version (numbered from
1, never reused).  A function names up to 5 layer versions; they are extracted in order, a later
layer's file replacing an earlier one's, into one read-only directory per list of layers (hard
links, so shared by every function with that list) that the environment sees as ``/opt``.
Deleting a version only stops new uses: AWS keeps a copy for the functions that have it, and so
does lambdalab, until the cloud stops.  Each version has its own resource-based policy
(AddLayerVersionPermission), stored as AWS stores it, that IAM reads when another account uses it.
No HTTP here: ``api.layers`` translates, and names the download URL of a version's archive.
"""

from __future__ import annotations

import copy
import os
import re
import secrets
import shutil
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..arns import LAYER_ARN
from . import code as packages
from .errors import (
    NOT_FOUND,
    InvalidParameterValueException,
    PreconditionFailedException,
    ResourceConflictException,
    ResourceNotFoundException,
)
from .models import Code, LayerVersion
from .permissions import _document, _text, build_statement

if TYPE_CHECKING:
    from .functions import LambdaService

Package = Callable[..., Code]  # LambdaService._package(source): fetch (ZipFile or S3), check and unpack
Location = Callable[[LayerVersion], str]


class LayerStore:
    """The layers of one :class:`LambdaService`, their versions and their policies."""

    def __init__(self, service: LambdaService, package: Package, timestamp: Callable[[], str], mounts: Path) -> None:
        self._service, self._package, self._timestamp, self._mounts = service, package, timestamp, mounts
        self._versions: dict[str, dict[int, LayerVersion]] = {}  # by layer name, then version number
        self._latest: dict[str, int] = {}  # numbers are never reused, even after every version is deleted
        self._policies: dict[str, list[dict[str, Any]]] = {}  # by layer version ARN
        self._revisions: dict[str, str] = {}
        self._opt: dict[tuple[str, ...], Path] = {}
        self._lock = threading.RLock()

    def layer_arn(self, name: str) -> str:
        return f"arn:aws:lambda:{self._service.region}:{self._service.account}:layer:{name}"

    # -- operations ------------------------------------------------------------------------------
    def publish(self, params: dict[str, Any], location: Location) -> dict:
        name = self._name(params["LayerName"])
        code = self._package(params["Content"])
        with self._lock:
            number = self._latest.get(name, 0) + 1
            self._latest[name] = number
            layer = LayerVersion(
                name=name, layer_arn=self.layer_arn(name), version=number, code=code, created=self._timestamp(),
                description=params.get("Description", ""),
                compatible_runtimes=tuple(params.get("CompatibleRuntimes") or ()),
                compatible_architectures=tuple(params.get("CompatibleArchitectures") or ()),
                license_info=params.get("LicenseInfo"))
            self._versions.setdefault(name, {})[number] = layer
            self._revisions[layer.arn] = str(uuid.uuid4())
        return _describe(layer, location)

    def get(self, layer_name: str, version: int, location: Location) -> dict:
        return _describe(self.find(self._name(layer_name), version), location)

    def get_by_arn(self, arn: str, location: Location) -> dict:
        match = LAYER_ARN.match(arn)
        if not match or not match["version"] or not self._ours(match):
            raise ResourceNotFoundException(NOT_FOUND)
        return _describe(self.find(match["name"], int(match["version"])), location)

    def list_layers(self, runtime: str | None, architecture: str | None, marker: str | None,
                    max_items: int | None) -> dict:
        with self._lock:
            latest = {name: next(iter(_matching(versions.values(), runtime, architecture)), None)
                      for name, versions in sorted(self._versions.items())}
        items = [{"LayerName": name, "LayerArn": self.layer_arn(name), "LatestMatchingVersion": _item(layer)}
                 for name, layer in latest.items() if layer is not None]
        return self._page(items, "Layers", lambda item: item["LayerName"], marker, max_items)

    def list_versions(self, layer_name: str, runtime: str | None, architecture: str | None, marker: str | None,
                      max_items: int | None) -> dict:
        with self._lock:
            versions = list(self._versions.get(self._name(layer_name), {}).values())
        items = [_item(layer) for layer in _matching(versions, runtime, architecture)]
        return self._page(items, "LayerVersions", lambda item: str(item["Version"]), marker, max_items)

    def delete(self, layer_name: str, version: int) -> None:
        """Stop new uses of a version; functions that have it keep it (its files stay)."""
        _check_number(version)
        with self._lock:
            layer = self._versions.get(self._name(layer_name), {}).pop(version, None)
            if layer is not None:
                self._policies.pop(layer.arn, None)

    def find(self, name: str, version: int) -> LayerVersion:
        _check_number(version)
        with self._lock:
            layer = self._versions.get(name, {}).get(version)
        if layer is None:
            raise ResourceNotFoundException(NOT_FOUND)
        return layer

    # -- layer version policies ------------------------------------------------------------------
    def add_permission(self, params: dict[str, Any]) -> dict[str, str]:
        with self._lock:
            layer = self._policy_target(params["LayerName"], params["VersionNumber"])
            statements = self._policies.get(layer.arn, [])
            sid = params["StatementId"]
            if any(s["Sid"] == sid for s in statements):
                raise ResourceConflictException(f"The statement id ({sid}) provided already exists. Please provide "
                                                "a new statement id, or remove the existing statement.")
            self._check_revision(layer, params.get("RevisionId"))
            statement = build_statement({"StatementId": sid, "Principal": params["Principal"],
                                         "Action": params["Action"], "PrincipalOrgID": params.get("OrganizationId")},
                                        layer.arn)
            self._policies[layer.arn] = [*statements, statement]
            self._revisions[layer.arn] = str(uuid.uuid4())
            return {"Statement": _text(statement), "RevisionId": self._revisions[layer.arn]}

    def remove_permission(self, layer_name: str, version: int, statement_id: str, revision_id: str | None) -> None:
        with self._lock:
            layer = self._policy_target(layer_name, version)
            self._check_revision(layer, revision_id)
            statements = self._policies.get(layer.arn, [])
            if not any(s["Sid"] == statement_id for s in statements):
                raise ResourceNotFoundException(f"Statement {statement_id} is not found in resource policy.")
            self._policies[layer.arn] = [s for s in statements if s["Sid"] != statement_id]
            self._revisions[layer.arn] = str(uuid.uuid4())

    def get_policy(self, layer_name: str, version: int) -> dict[str, str]:
        with self._lock:
            layer = self._policy_target(layer_name, version)
            statements = self._policies.get(layer.arn)
            if not statements:
                raise ResourceNotFoundException("No policy is associated with the given resource.")
            return {"Policy": _text(_document(statements)), "RevisionId": self._revisions[layer.arn]}

    def policy_document(self, arn: str) -> dict | None:
        """The policy of the layer version ``arn`` (for the IAM evaluator), None without one; a copy."""
        with self._lock:
            statements = self._policies.get(arn)
            return copy.deepcopy(_document(statements)) if statements else None

    # -- for functions ---------------------------------------------------------------------------
    def resolve(self, arns: list[str]) -> tuple[LayerVersion, ...]:
        """The layer versions a function's ``Layers`` names, checked as CreateFunction checks them."""
        limit = self._service.quotas.layers_per_function_max
        if len(arns) > limit:
            raise InvalidParameterValueException(f"Cannot reference more than {limit} layers.")
        layers: dict[str, LayerVersion] = {}
        for arn in arns:
            match = LAYER_ARN.match(arn)
            if match and match["region"] != self._service.region:
                raise InvalidParameterValueException("Layers are not in the same region as the function. "
                                                     f"Layers are expected to be in region {self._service.region}.")
            try:
                layer = self.find(match["name"], int(match["version"])) if match and self._ours(match) else None
            except ResourceNotFoundException:
                layer = None
            if layer is None:
                raise InvalidParameterValueException(f"Layer version {arn} does not exist.")
            if layer.name in layers:
                raise InvalidParameterValueException(
                    "Two different versions of the same layer are not allowed to be referenced in the same "
                    f"function. {layers[layer.name].arn} and {arn} are versions of the same layer.")
            layers[layer.name] = layer
        return tuple(layers.values())

    def attach(self, arns: list[str], code: Code) -> tuple[tuple[LayerVersion, ...], Path]:
        """New layers for a function's existing code: checked, sized against the quota, mounted."""
        layers = self.resolve(arns)
        packages.check_unzipped(code.unzipped_size, unzipped_size(layers), self._service.quotas)
        return layers, self.mount(layers)

    def mount(self, layers: tuple[LayerVersion, ...]) -> Path:
        """The read-only directory of these layers extracted in order (an empty one for no layers).

        Built outside the lock (it links every file); two requests that build the same list at
        once keep the first and discard the second.
        """
        key = tuple(layer.arn for layer in layers)
        with self._lock:
            if key in self._opt:
                return self._opt[key]
        root = self._mounts / secrets.token_hex(16)
        root.mkdir(parents=True)
        for layer in layers:
            _overlay(layer.code.root, root)
        packages.make_read_only(root)
        with self._lock:
            mounted = self._opt.setdefault(key, root)
        if mounted != root:
            packages.remove_tree(root)
        return mounted

    # -- helpers ---------------------------------------------------------------------------------
    def _name(self, name_or_arn: str) -> str:
        match = LAYER_ARN.match(name_or_arn)
        return match["name"] if match else name_or_arn

    def _ours(self, match: re.Match) -> bool:
        return match["account"] == self._service.account and match["region"] == self._service.region

    def _policy_target(self, layer_name: str, version: int) -> LayerVersion:
        name = self._name(layer_name)
        try:
            return self.find(name, version)
        except ResourceNotFoundException:
            raise ResourceNotFoundException(f"Layer version {self.layer_arn(name)}:{version} does not exist.") from None

    def _check_revision(self, layer: LayerVersion, revision_id: str | None) -> None:
        if revision_id and revision_id != self._revisions[layer.arn]:
            raise PreconditionFailedException("The Revision Id provided does not match the latest Revision Id. "
                                              "Call the GetLayerPolicy API to retrieve the latest Revision Id")

    def _page(self, items: list[dict], key: str, marker_of: Callable[[dict], str], marker: str | None,
              max_items: int | None) -> dict:
        markers = [marker_of(item) for item in items]
        start = markers.index(marker) if marker in markers else 0
        limit = min(max_items or self._service.quotas.list_max_items, self._service.quotas.list_max_items)
        result: dict[str, Any] = {key: items[start:start + limit]}
        if start + limit < len(items):
            result["NextMarker"] = markers[start + limit]
        return result


def unzipped_size(layers: tuple[LayerVersion, ...]) -> int:
    return sum(layer.code.unzipped_size for layer in layers)


def _check_number(version: int) -> None:
    if version < 1:
        raise InvalidParameterValueException("Layer Version Cannot be less than 1")


def _matching(versions, runtime: str | None, architecture: str | None) -> list[LayerVersion]:
    """Newest first, filtered as ListLayers and ListLayerVersions filter."""
    return [layer for layer in sorted(versions, key=lambda v: v.version, reverse=True)
            if (runtime is None or runtime in layer.compatible_runtimes)
            and (architecture is None or architecture in layer.compatible_architectures)]


def _item(layer: LayerVersion) -> dict[str, Any]:
    """The ``LayerVersionsListItem`` shape."""
    item: dict[str, Any] = {"LayerVersionArn": layer.arn, "Version": layer.version,
                            "Description": layer.description, "CreatedDate": layer.created}
    if layer.compatible_runtimes:
        item["CompatibleRuntimes"] = list(layer.compatible_runtimes)
    if layer.compatible_architectures:
        item["CompatibleArchitectures"] = list(layer.compatible_architectures)
    if layer.license_info is not None:
        item["LicenseInfo"] = layer.license_info
    return item


def _describe(layer: LayerVersion, location: Location) -> dict[str, Any]:
    """The ``GetLayerVersionResponse`` (and PublishLayerVersion) shape."""
    return {**_item(layer), "LayerArn": layer.layer_arn,
            "Content": {"Location": location(layer), "CodeSha256": layer.code.sha256, "CodeSize": layer.code.size}}


def _overlay(source: Path, dest: Path) -> None:
    """Add a layer's files to ``dest``; a later layer's file (or link) replaces what an earlier one put there.

    Links are copied as links and never followed: a link in a layer may point anywhere (as on AWS),
    and following it would link or chmod what it points to.
    """
    for dirpath, dirnames, filenames in os.walk(source):
        target = dest / Path(dirpath).relative_to(source)
        for name in [*dirnames, *filenames]:
            origin, path = os.path.join(dirpath, name), target / name
            real_dir = name in dirnames and not os.path.islink(origin)
            if real_dir and path.is_dir() and not path.is_symlink():
                continue  # both layers have this directory: their files merge
            if path.is_symlink() or path.is_file():
                path.unlink()
            elif path.is_dir():
                shutil.rmtree(path)
            if real_dir:
                path.mkdir()
            elif os.path.islink(origin):
                os.symlink(os.readlink(origin), path)
            else:
                try:
                    os.link(origin, path, follow_symlinks=False)  # read-only already: share it rather than copy
                except OSError:
                    shutil.copy2(origin, path, follow_symlinks=False)
