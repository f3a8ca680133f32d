"""The Lambda API's HTTP face: a WSGI app that parses with botocore's model and calls the service.

A request travels: ``LambdaWire.parse`` (route + params) -> ``validate`` (the model's
constraints, with the on-demand quotas in force) -> ``authorize`` (IAM's decision for the caller
the gateway attached) -> the operation's handler (``functions``, ``invoke``, ...) ->
``LambdaWire.respond``.  Any :class:`LambdaError` becomes AWS's error response,
and an unexpected exception becomes a ServiceException, never a lambdalab traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from ..iam.guard import CALLER
from ..service.errors import LambdaError, RequestEntityTooLargeException
from . import event_invoke, functions, invoke, layers, permissions, tags, versions
from .context import ApiContext
from .wire import LambdaWire, WireError

log = logging.getLogger(__name__)
OPERATIONS = {**functions.OPERATIONS, **invoke.OPERATIONS, **permissions.OPERATIONS, **tags.OPERATIONS,
              **layers.OPERATIONS, **versions.OPERATIONS, **event_invoke.OPERATIONS}
_UPLOADS = ("CreateFunction", "UpdateFunctionCode")


class LambdaAPI:
    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx
        self.wire = LambdaWire()

    def limits(self) -> dict[str, tuple[int, int]]:
        """Where the on-demand quotas are tighter than the API model (which covers Managed Instances)."""
        q = self.ctx.service.quotas
        return {"MemorySize": (q.memory_min_mb, q.memory_max_mb), "Timeout": (q.timeout_min_s, q.timeout_max_s),
                "EphemeralStorage.Size": (q.ephemeral_min_mb, q.ephemeral_max_mb)}

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        status, headers, body = self.handle(environ)
        start_response(f"{status} {_REASONS.get(status, 'Status')}", [*headers, ("Content-Length", str(len(body)))])
        return [body]

    def handle(self, environ: dict) -> tuple[int, list[tuple[str, str]], bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {k[5:].replace("_", "-"): v for k, v in environ.items() if k.startswith("HTTP_")}
        if "CONTENT_TYPE" in environ:
            headers["CONTENT-TYPE"] = environ["CONTENT_TYPE"]
        try:
            request = self.wire.parse(environ["REQUEST_METHOD"], environ.get("PATH_INFO", "/"),
                                      environ.get("QUERY_STRING", ""), headers, body)
            quotas = self.ctx.service.quotas
            if request.operation in _UPLOADS and length > quotas.zip_request_max_bytes:
                raise RequestEntityTooLargeException(f"Request must be smaller than {quotas.zip_request_max_bytes} "
                                                     f"bytes for the {request.operation} operation")
            self.wire.validate(request, self.limits())
            handler = OPERATIONS.get(request.operation)
            if handler is None:
                return self.wire.error("InvalidParameterValueException",
                                       f"lambdalab does not implement {request.operation} yet.", 400)
            caller = environ.get(CALLER)
            if caller is None:  # the gateway attaches one to every signed request
                return self.wire.error("MissingAuthenticationTokenException", "Missing Authentication Token", 403)
            self.ctx.authorization.check(caller, request.operation, request.params)
            output = handler(self.ctx, request.params)
            return self.wire.respond(request.operation, output, output.pop("_request_id", None))
        except WireError as e:
            return self.wire.error(e.code, e.message, e.status)
        except LambdaError as e:
            return self.wire.error(e.code, e.message, e.status, extra=e.extra)
        except Exception:
            log.exception("internal error in the Lambda API")
            return self.wire.error("ServiceException", "An internal error occurred in lambdalab.", 500)


_REASONS = {200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 400: "Bad Request", 403: "Forbidden",
            404: "Not Found", 409: "Conflict", 413: "Request Entity Too Large", 429: "Too Many Requests",
            500: "Internal Server Error"}
