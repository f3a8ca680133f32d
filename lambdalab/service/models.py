"""What the Lambda service stores about a function, independent of HTTP.

``Function.configuration()`` renders botocore's ``FunctionConfiguration`` shape; the
``generation`` counter changes with every code or configuration update, which is how the
invoke layer knows an execution environment is stale and must be retired.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


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


@dataclass
class Function:
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
    architectures: list[str] = field(default_factory=lambda: ["x86_64"])
    tracing_mode: str = "PassThrough"
    log_format: str = "Text"
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
        return f"/aws/lambda/{self.name}"

    def configuration(self) -> dict[str, Any]:
        """The ``FunctionConfiguration`` shape AWS returns for this function."""
        conf: dict[str, Any] = {
            "FunctionName": self.name,
            "FunctionArn": self.arn,
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
            "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
            "LoggingConfig": {"LogFormat": self.log_format, "LogGroup": self.log_group},
        }
        if self.environment:
            conf["Environment"] = {"Variables": dict(self.environment)}
        if self.layers:
            conf["Layers"] = [{"Arn": layer.arn, "CodeSize": layer.code.size} for layer in self.layers]
        if self.state == "Pending":  # AWS's create response has no LastUpdateStatus yet
            del conf["LastUpdateStatus"]
            conf.update(StateReason="The function is being created.", StateReasonCode="Creating")
        if self.last_update_status == "InProgress":  # AWS's wording, even for an update
            conf.update(LastUpdateStatusReason="The function is being created.",
                        LastUpdateStatusReasonCode="Creating")
        return conf
