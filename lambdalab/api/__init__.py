"""The Lambda API's HTTP face: a WSGI app that parses with botocore's model and calls the service.

A request travels: ``LambdaWire.parse`` (route + params) -> ``validate`` (the model's
constraints, with the on-demand quotas in force) -> the account and Region it addresses (the
Region its signature is scoped to; the account an ARN in it names, else the caller's) ->
``authorize`` (IAM's decision for the caller the gateway attached) -> the operation's handler
(``functions``, ``invoke``, ...) with that account's service in that Region -> ``LambdaWire.respond``.
Any :class:`LambdaError` becomes AWS's error response, and an unexpected exception becomes a
ServiceException, never a lambdalab traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from ..httpd import reason
from ..iam import sigv4
from ..iam.guard import CALLER
from ..iam.principals import Caller
from ..service.errors import LambdaError, RequestEntityTooLargeException, function_not_found
from ..service.quotas import Quotas
from . import (
    concurrency,
    event_invoke,
    functions,
    invoke,
    layers,
    mappings,
    permissions,
    recursion,
    tags,
    urls,
    versions,
)
from .authorize import locate
from .context import ApiContext
from .unserved import unserved
from .wire import LambdaWire, WireError

log = logging.getLogger(__name__)
OPERATIONS = {**functions.OPERATIONS, **concurrency.OPERATIONS, **invoke.OPERATIONS, **permissions.OPERATIONS,
              **tags.OPERATIONS, **layers.OPERATIONS, **versions.OPERATIONS, **event_invoke.OPERATIONS,
              **mappings.OPERATIONS, **urls.OPERATIONS, **recursion.OPERATIONS}
_UPLOADS = ("CreateFunction", "UpdateFunctionCode")
Places = Callable[[str, str], "ApiContext | None"]  # (account, region) -> what its Lambda API reaches


class LambdaAPI:
    def __init__(self, places: Places, quotas: Quotas) -> None:
        """``places(account, region)``: the service (and the rest) of that account in that Region, None
        for an account the cloud does not have; it raises for a Region that does not exist."""
        self.places, self.quotas = places, quotas
        self.wire = LambdaWire()

    def limits(self) -> dict[str, tuple[int, int]]:
        """Where the on-demand quotas are tighter than the API model (which covers Managed Instances)."""
        q = self.quotas
        return {"MemorySize": (q.memory_min_mb, q.memory_max_mb), "Timeout": (q.timeout_min_s, q.timeout_max_s),
                "EphemeralStorage.Size": (q.ephemeral_min_mb, q.ephemeral_max_mb)}

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        status, headers, body = self.handle(environ)
        start_response(f"{status} {reason(status)}", [*headers, ("Content-Length", str(len(body)))])
        return [body]

    def call(self, caller: Caller, region: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """Judge and run one operation with parsed ``params``, for ``caller`` in ``region``; raises
        LambdaError.  The wire's requests come here, and so do the calls AWS's services make to Lambda
        in-process (S3 invoking a function for a bucket's notification)."""
        target = locate(caller.account, region, operation, params)
        # another account's function or layer is that account's service's to judge and answer
        ctx = self.places(target.account, region) or self.places(caller.account, region)
        if ctx is None:  # a caller the cloud knows of, in an account it does not have (moto used directly)
            raise function_not_found(target.arn)
        ctx.authorization.check(caller, operation, params, target)
        handler = OPERATIONS.get(operation)
        return handler(ctx, params) if handler else unserved(ctx, operation, params)

    def handle(self, environ: dict) -> tuple[int, list[tuple[str, str]], bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {k[5:].replace("_", "-"): v for k, v in environ.items() if k.startswith("HTTP_")}
        if "CONTENT_TYPE" in environ:
            headers["CONTENT-TYPE"] = environ["CONTENT_TYPE"]
        try:
            request = self.wire.parse(environ["REQUEST_METHOD"], environ.get("PATH_INFO", "/"),
                                      environ.get("QUERY_STRING", ""), headers, body)
            quotas = self.quotas
            if request.operation in _UPLOADS and length > quotas.zip_request_max_bytes:
                raise RequestEntityTooLargeException(f"Request must be smaller than {quotas.zip_request_max_bytes} "
                                                     f"bytes for the {request.operation} operation")
            self.wire.validate(request, self.limits())
            caller, signed = environ.get(CALLER), environ.get(sigv4.SIGNATURE)
            if caller is None or signed is None:  # the gateway attaches a caller to every signed request
                return self.wire.error("MissingAuthenticationTokenException", "Missing Authentication Token", 403)
            output = self.call(caller, signed.region, request.operation, request.params)
            return self.wire.respond(request.operation, output, output.pop("_request_id", None))
        except WireError as e:
            return self.wire.error(e.code, e.message, e.status)
        except LambdaError as e:
            return self.wire.error(e.code, e.message, e.status, extra=e.extra)
        except Exception:
            log.exception("internal error in the Lambda API")
            return self.wire.error("ServiceException", "An internal error occurred in lambdalab.", 500)

