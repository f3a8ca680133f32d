"""What CreateFunction's and UpdateFunctionConfiguration's settings change in a :class:`Function`.

Both operations take the same optional settings and AWS treats them alike: what a request names
changes, what it leaves out stays (CreateFunction starts from the defaults).  Each setting is
answered back in AWS's shape by :meth:`Function.configuration`, as recorded against AWS (the
LocalStack snapshots cited in ``tests/fidelity``): an ``Environment`` given, even without
variables, is echoed; LogFormat JSON brings ``ApplicationLogLevel``/``SystemLogLevel`` (INFO unless
set, dropped again by a switch to Text); a ``DeadLetterConfig`` without ``TargetArn`` changes
nothing (``{"TargetArn": ""}`` removes it); SnapStart is a Python 3.12+ (or Java, .NET) setting.
"""

from __future__ import annotations

from typing import Any

from .errors import InvalidParameterValueException
from .models import Function
from .quotas import Quotas
from .validation import check_environment, check_runtime

# Runtimes lambdalab runs that AWS lets enable SnapStart (AWS's SnapStart documentation).
SNAP_START_RUNTIMES = frozenset({"python3.12", "python3.13"})
LEVEL_WITH_TEXT = ('LogLevel is not supported when LogFormat is set to "Text". Remove LogLevel from your request '
                   'or change the LogFormat to "JSON" and try again.')
_SIMPLE = {"Role": "role", "Handler": "handler", "Description": "description", "Timeout": "timeout",
           "MemorySize": "memory_size", "Runtime": "runtime"}


def configure(params: dict[str, Any], current: Function, quotas: Quotas) -> dict[str, Any]:
    """The fields ``params`` changes in ``current``, checked as AWS checks them (layers and code aside)."""
    changes: dict[str, Any] = {attr: params[key] for key, attr in _SIMPLE.items() if key in params}
    if "Runtime" in params:
        check_runtime(params["Runtime"])
    if "Environment" in params:
        variables = params["Environment"].get("Variables") or {}
        check_environment(variables, quotas)
        changes.update(environment=dict(variables), has_environment=True)
    if "EphemeralStorage" in params:
        changes["ephemeral_storage"] = params["EphemeralStorage"]["Size"]
    if "TracingConfig" in params:
        changes["tracing_mode"] = params["TracingConfig"].get("Mode", current.tracing_mode)
    if "LoggingConfig" in params:
        changes.update(_logging(params["LoggingConfig"], current))
    if "TargetArn" in params.get("DeadLetterConfig", {}):
        changes["dead_letter_arn"] = params["DeadLetterConfig"]["TargetArn"] or None
    if "SnapStart" in params:
        changes["snap_start"] = params["SnapStart"].get("ApplyOn", "None")
    runtime = changes.get("runtime", current.runtime)
    if changes.get("snap_start", current.snap_start) == "PublishedVersions" and runtime not in SNAP_START_RUNTIMES:
        raise InvalidParameterValueException(f"{runtime} is not supported for SnapStart enabled functions.")
    return changes


def _logging(given: dict[str, Any], current: Function) -> dict[str, Any]:
    """LoggingConfig: the format, the log group (the default one is stored as no custom one) and the levels."""
    log_format = given.get("LogFormat", current.log_format)
    changes: dict[str, Any] = {"log_format": log_format}
    if "LogGroup" in given:
        changes["log_group_name"] = "" if given["LogGroup"] == f"/aws/lambda/{current.name}" else given["LogGroup"]
    levels = {"application_log_level": given.get("ApplicationLogLevel"),
              "system_log_level": given.get("SystemLogLevel")}
    if log_format == "Text":
        if any(levels.values()):
            raise InvalidParameterValueException(LEVEL_WITH_TEXT)
        return {**changes, "application_log_level": "INFO", "system_log_level": "INFO"}  # JSON again starts at INFO
    return {**changes, **{attr: level for attr, level in levels.items() if level}}
