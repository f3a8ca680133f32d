"""The Lambda API's errors: AWS's code, HTTP status and message, raised by the service layer.

The wire layer turns any :class:`LambdaError` into AWS's rest-json error response, so the
service never speaks HTTP and a caller (boto3, the AWS CLI) sees the error AWS would send.
"""

from __future__ import annotations

from typing import Any


class LambdaError(Exception):
    code = "ServiceException"
    status = 500
    kind = "Service"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra

    def __repr__(self) -> str:
        return f"{self.code}({self.message!r})"


class InvalidParameterValueException(LambdaError):
    code, status, kind = "InvalidParameterValueException", 400, "User"


class ValidationException(LambdaError):
    code, status, kind = "ValidationException", 400, "User"


class ResourceNotFoundException(LambdaError):
    code, status, kind = "ResourceNotFoundException", 404, "User"


class ResourceConflictException(LambdaError):
    code, status, kind = "ResourceConflictException", 409, "User"


class RequestEntityTooLargeException(LambdaError):
    code, status, kind = "RequestEntityTooLargeException", 413, "User"


class CodeStorageExceededException(LambdaError):
    code, status, kind = "CodeStorageExceededException", 400, "User"


class InvalidRequestContentException(LambdaError):
    code, status, kind = "InvalidRequestContentException", 400, "User"


class PreconditionFailedException(LambdaError):
    code, status, kind = "PreconditionFailedException", 412, "User"


class TooManyRequestsException(LambdaError):
    code, status, kind = "TooManyRequestsException", 429, "User"


class ServiceException(LambdaError):
    pass


def function_not_found(arn: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(f"Function not found: {arn}")
