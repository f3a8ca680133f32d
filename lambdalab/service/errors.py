"""The Lambda API's errors: AWS's code, HTTP status and message, raised by the service layer.

The wire layer turns any :class:`LambdaError` into AWS's rest-json error response, so the
service never speaks HTTP and a caller (boto3, the AWS CLI) sees the error AWS would send.
"""

from __future__ import annotations

from typing import Any


class LambdaError(Exception):
    """An error of the Lambda API; subclasses are named as AWS names the error code."""

    code = "ServiceException"
    status = 500

    def __init_subclass__(cls, status: int = 400) -> None:
        cls.code, cls.status = cls.__name__, status

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra

    def __repr__(self) -> str:
        return f"{self.code}({self.message!r})"


class InvalidParameterValueException(LambdaError):
    """A parameter's value is not acceptable (beyond the model's own constraints)."""


class InvalidRequestContentException(LambdaError):
    """The request body (or the invocation payload) could not be parsed."""


class ResourceNotFoundException(LambdaError, status=404):
    """No such function (or qualifier)."""


class ResourceConflictException(LambdaError, status=409):
    """The function exists already, or is busy with an update."""


class PreconditionFailedException(LambdaError, status=412):
    """The RevisionId given is not the function's latest."""


class RequestEntityTooLargeException(LambdaError, status=413):
    """A payload or deployment package over its quota."""


class TooManyRequestsException(LambdaError, status=429):
    """A throttle; ``Reason`` says which limit."""


class RecursiveInvocationException(LambdaError, status=400):
    """The invocation is the 17th of one function in a chain of invocations one event caused."""


class ProvisionedConcurrencyConfigNotFoundException(LambdaError, status=404):
    """The version or alias has no provisioned concurrency configured."""


class AccessDeniedException(LambdaError, status=403):
    """The caller's policies (or the function's) do not allow the call."""


class PolicyLengthExceededException(LambdaError):
    """A function policy would grow over its size quota."""


class InvalidSignatureException(LambdaError, status=403):
    """The request's signature is scoped to a Region that does not exist (an error of AWS's front end)."""


NOT_FOUND = "The resource you requested does not exist."  # AWS's words where it names nothing


def function_not_found(arn: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(f"Function not found: {arn}")


class ResourceInUseException(LambdaError):
    """The resource is busy with another change (an event source mapping being deleted)."""


def not_reachable(region: str, here: str) -> ResourceNotFoundException:
    """An ARN of another Region: AWS's answer to any call that names one."""
    return ResourceNotFoundException(f"Functions from '{region}' are not reachable in this region ('{here}')")
