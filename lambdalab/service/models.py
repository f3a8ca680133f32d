"""What the Lambda service stores about a function, independent of HTTP.

``Function.configuration()`` renders botocore's ``FunctionConfiguration`` shape; the
``generation`` counter changes with every code or configuration update, which is how the
invoke layer knows an execution environment is stale and must be retired.  Both are immutable
values: the service replaces them whole, so a reader never sees half an update.  A published version
is a :class:`Function` of its own (``version`` "1", "2", ...), a snapshot that never changes; an
:class:`Alias` names one version, or two with a share of the traffic for the second.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import runtimes
from ..arns import parse_arn


@dataclass(frozen=True)
class Code:
    """A deployment package, unpacked once into a read-only directory that environments share."""

    sha256: str  # base64 of the zip's SHA-256, as AWS reports CodeSha256
    size: int  # zipped bytes
    unzipped_size: int
    root: Path  # where it was unpacked (the task root)


@dataclass(frozen=True)
class LayerVersion:
    """One published version of a layer: immutable, its archive unpacked once, read-only."""

    name: str
    layer_arn: str
    version: int
    code: Code
    created: str
    description: str = ""
    compatible_runtimes: tuple[str, ...] = ()
    compatible_architectures: tuple[str, ...] = ()
    license_info: str | None = None

    @property
    def arn(self) -> str:
        return f"{self.layer_arn}:{self.version}"


@dataclass(frozen=True)
class Function:
    """A function's $LATEST or one of its versions: an immutable value, replaced whole by an update."""

    name: str
    arn: str
    runtime: str
    role: str
    handler: str
    code: Code
    last_modified: str
    description: str = ""
    timeout: int = 3
    memory_size: int = 128
    ephemeral_storage: int = 512
    environment: dict[str, str] = field(default_factory=dict)
    has_environment: bool = False  # Environment was given (AWS echoes it then, even without variables)
    architectures: tuple[str, ...] = ("x86_64",)
    tracing_mode: str = "PassThrough"
    log_format: str = "Text"
    log_group_name: str = ""  # LoggingConfig.LogGroup when it is not the default /aws/lambda/<name>
    application_log_level: str = "INFO"  # LoggingConfig's levels, shown while LogFormat is JSON
    system_log_level: str = "INFO"
    dead_letter_arn: str | None = None  # DeadLetterConfig.TargetArn: the SQS queue or SNS topic of failed events
    snap_start: str = "None"  # SnapStart.ApplyOn (configuration only: lambdalab takes no snapshots)
    tags: dict[str, str] = field(default_factory=dict)
    layers: tuple[LayerVersion, ...] = ()
    opt: Path | None = None  # the layers extracted in order, what environments see as /opt (set by the service)
    state: str = "Pending"
    last_update_status: str = "Successful"
    revision_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    generation: int = 0
    version: str = "$LATEST"

    @property
    def log_group(self) -> str:
        return self.log_group_name or f"/aws/lambda/{self.name}"

    @property
    def region(self) -> str:
        return parse_arn(self.arn).region

    @property
    def qualified_arn(self) -> str:
        """``...:function:name:1`` for a version, ``...:function:name:$LATEST`` for $LATEST."""
        return f"{self.arn}:{self.version}"

    def configuration(self, arn: str | None = None) -> dict[str, Any]:
        """The ``FunctionConfiguration`` shape AWS returns for this function.

        ``arn`` is the FunctionArn as the caller named it: AWS answers a qualified request
        (``:1``, ``:$LATEST``, ``:alias``) with that qualified ARN, an unqualified one without.
        """
        conf: dict[str, Any] = {
            "FunctionName": self.name,
            "FunctionArn": arn or self.arn,
            "Runtime": self.runtime,
            "Role": self.role,
            "Handler": self.handler,
            "CodeSize": self.code.size,
            "Description": self.description,
            "Timeout": self.timeout,
            "MemorySize": self.memory_size,
            "LastModified": self.last_modified,
            "CodeSha256": self.code.sha256,
            "Version": self.version,
            "TracingConfig": {"Mode": self.tracing_mode},
            "RevisionId": self.revision_id,
            "State": self.state,
            "LastUpdateStatus": self.last_update_status,
            "PackageType": "Zip",
            "Architectures": list(self.architectures),
            "EphemeralStorage": {"Size": self.ephemeral_storage},
            "SnapStart": {"ApplyOn": self.snap_start, "OptimizationStatus": "On" if self.snap_start ==
                          "PublishedVersions" and self.version != "$LATEST" else "Off"},
            "LoggingConfig": {"LogFormat": self.log_format, "LogGroup": self.log_group},
            "RuntimeVersionConfig": {"RuntimeVersionArn": runtimes.version(self.runtime, self.region)[1]},
        }
        if self.log_format == "JSON":
            conf["LoggingConfig"].update(ApplicationLogLevel=self.application_log_level,
                                         SystemLogLevel=self.system_log_level)
        if self.has_environment or self.environment:
            conf["Environment"] = {"Variables": dict(self.environment)}
        if self.dead_letter_arn:
            conf["DeadLetterConfig"] = {"TargetArn": self.dead_letter_arn}
        if self.layers:
            conf["Layers"] = [{"Arn": layer.arn, "CodeSize": layer.code.size} for layer in self.layers]
        if self.state == "Pending":  # AWS's create response has no LastUpdateStatus yet
            del conf["LastUpdateStatus"]
            conf.update(StateReason="The function is being created.", StateReasonCode="Creating")
        if self.last_update_status == "InProgress":  # AWS's wording, even for an update
            conf.update(LastUpdateStatusReason="The function is being created.",
                        LastUpdateStatusReasonCode="Creating")
        return conf


# Fields that list operations (ListFunctions, ListVersionsByFunction) leave out, as AWS does.
NOT_LISTED = ("State", "StateReason", "StateReasonCode", "LastUpdateStatus", "LastUpdateStatusReason",
              "LastUpdateStatusReasonCode", "RuntimeVersionConfig")


def listed(conf: dict[str, Any]) -> dict[str, Any]:
    """A configuration as list operations show it (without its state)."""
    return {k: v for k, v in conf.items() if k not in NOT_LISTED}


def page(entries: list[tuple[str, dict]], marker: str | None, max_items: int | None, cap: int, key: str) -> dict:
    """One page of a list of configurations: ``entries`` are (marker, configuration) in order, at most
    ``cap`` a page whatever MaxItems says (AWS's 50); NextMarker is the marker of the next page's first."""
    markers = [m for m, _ in entries]
    start = markers.index(marker) if marker in markers else sum(m < marker for m in markers) if marker else 0
    limit = min(max_items or cap, cap)
    result: dict[str, Any] = {key: [listed(conf) for _, conf in entries[start:start + limit]]}
    if start + limit < len(entries):
        result["NextMarker"] = markers[start + limit]
    return result


@dataclass(frozen=True)
class Located:
    """What a function name and qualifier designate: a version ($LATEST, a number) or an alias of one."""

    function: Function  # the version itself, or the version the alias points to
    alias: Alias | None
    qualifier: str | None  # as the caller gave it (parameter or ARN)
    arn: str  # the ARN as named: unqualified, or qualified with the qualifier

    def configuration(self) -> dict[str, Any]:
        """FunctionConfiguration as AWS answers this name: a qualified name gets its qualified ARN."""
        return self.function.configuration(self.arn)


@dataclass(frozen=True)
class Alias:
    """A name for a version of a function, optionally sharing its traffic with a second version (immutable)."""

    function_name: str
    name: str
    arn: str
    function_version: str
    description: str = ""
    weights: dict[str, float] = field(default_factory=dict)  # RoutingConfig.AdditionalVersionWeights
    revision_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def pick(self, draw: float | None = None) -> str:
        """The version one invocation runs: the additional version with its weight's probability."""
        draw = random.random() if draw is None else draw
        for version, weight in self.weights.items():
            if draw < weight:
                return version
            draw -= weight
        return self.function_version

    def versions(self) -> set[str]:
        """Every version this alias may run."""
        return {self.function_version, *self.weights}

    def configuration(self) -> dict[str, Any]:
        """The ``AliasConfiguration`` shape; RoutingConfig only while it names a version, as AWS."""
        conf: dict[str, Any] = {"AliasArn": self.arn, "Name": self.name, "FunctionVersion": self.function_version,
                                "Description": self.description, "RevisionId": self.revision_id}
        if self.weights:
            conf["RoutingConfig"] = {"AdditionalVersionWeights": dict(self.weights)}
        return conf
