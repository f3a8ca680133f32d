"""Checks AWS makes on a function's configuration beyond the API model's own constraints.

The model's ranges, patterns and enums are checked by the wire layer (``api.wire``) with the
quotas in force; what lives here needs the service's knowledge: which runtimes can still be
used, reserved environment variable names, the 4 KB environment limit.
"""

from __future__ import annotations

import json

from .. import runtimes
from .errors import InvalidParameterValueException
from .quotas import Quotas

# Runtimes lambdalab can run.
SUPPORTED_RUNTIMES = (*runtimes.PYTHON, *runtimes.CUSTOM)
# Runtimes AWS no longer accepts for creating or updating functions (its runtime deprecation policy).
BLOCKED_RUNTIMES = frozenset({
    "python2.7", "python3.6", "python3.7", "python3.8", "python3.9", "nodejs", "nodejs4.3", "nodejs4.3-edge",
    "nodejs6.10", "nodejs8.10", "nodejs10.x", "nodejs12.x", "nodejs14.x", "nodejs16.x", "nodejs18.x", "java8",
    "dotnetcore1.0", "dotnetcore2.0", "dotnetcore2.1", "dotnetcore3.1", "dotnet6", "go1.x", "ruby2.5",
    "ruby2.7", "provided",
})

# Variables Lambda sets itself; a function may not define them (AWS's reserved list).
RESERVED_ENV_VARS = frozenset({
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
})


# The runtimes AWS names when it refuses one it does not know, in the order it named them (a Java hash
# set's) in January 2026 (LocalStack's AWS-validated test_create_lambda_exceptions snapshot): the list
# changes whenever AWS adds or retires a runtime.
AWS_RUNTIMES = ("nodejs20.x", "python3.14", "provided.al2023", "python3.12", "python3.13", "nodejs24.x",
                "nodejs22.x", "java25", "python3.10", "python3.11", "java21", "ruby3.3", "ruby3.4", "ruby3.2",
                "python3.8", "python3.9", "java17", "nodejs16.x", "dotnet10", "dotnet8", "java11", "dotnet6",
                "nodejs18.x", "provided.al2", "java8.al2")


def check_runtime(runtime: str) -> None:
    """AWS's answer to a runtime it retired or does not know, then lambdalab's to one it cannot run."""
    if runtime in BLOCKED_RUNTIMES:
        raise InvalidParameterValueException(
            f"The runtime parameter of {runtime} is no longer supported for creating or updating "
            "AWS Lambda functions. We recommend you use a supported runtime while creating or updating functions.")
    if runtime not in AWS_RUNTIMES:
        raise InvalidParameterValueException(
            f"Value {runtime} at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: "
            f"[{', '.join(AWS_RUNTIMES)}] or be a valid ARN")
    if runtime not in SUPPORTED_RUNTIMES:
        raise InvalidParameterValueException(
            f"The runtime {runtime} is valid in AWS but lambdalab does not run it yet; "
            f"use one of {', '.join(SUPPORTED_RUNTIMES)}.")


def check_environment(variables: dict[str, str], quotas: Quotas) -> None:
    reserved = sorted(k for k in variables if k in RESERVED_ENV_VARS)
    if reserved:
        raise InvalidParameterValueException(
            "Lambda was unable to configure your environment variables because the environment "
            "variables you have provided contains reserved keys that are currently not supported "
            f"for modification. Reserved keys used in this request: {', '.join(reserved)}")
    measured = json.dumps(variables, separators=(",", ":"))
    if len(measured.encode()) > quotas.env_vars_max_bytes:
        raise InvalidParameterValueException(
            "Lambda was unable to configure your environment variables because the environment "
            f"variables you have provided exceeded the 4KB limit. String measured: {measured}")
