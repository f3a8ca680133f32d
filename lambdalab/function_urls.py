"""Function URLs over HTTP: ``{endpoint}/lambda-url/<url-id>/<path>``, reachable with ``requests``,
``curl`` and the browser.

AWS gives each URL a host of its own (``<url-id>.lambda-url.<region>.on.aws``); here it is a path
under the endpoint, so that no name needs to resolve: what follows the id is the request's path, as
the function sees it (``rawPath``), and the event names AWS's domain.  A request is judged first:
``NONE`` lets in whoever the function's resource-based policy lets call both ``lambda:InvokeFunctionUrl``
(``"Principal": "*"`` with ``lambda:FunctionUrlAuthType`` NONE) and, as AWS requires of URLs made since
October 2025, ``lambda:InvokeFunction`` (``lambda:InvokedViaFunctionUrl`` true); ``AWS_IAM`` a
SigV4-signed caller (service ``lambda``) whose policies allow both; a refusal is AWS's 403.  Then the function runs
synchronously with the payload format 2.0 event, and its answer becomes the HTTP response as AWS
maps it: a ``statusCode`` object (headers, cookies, a body, base64 when ``isBase64Encoded``), or any
other JSON value as a 200 ``application/json`` body; an error is a 502 "Internal Server Error".
CORS settings answer preflight requests and add their headers to every response.

The words are AWS's, recorded by LocalStack's AWS-validated ``TestLambdaURL`` tests
(``test_lambda.py``, November 2025).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

from .api import invoke
from .api.authorize import function_policy
from .clock import Clock
from .http_events import HttpRequest, Response, cors_headers, event_v2, http_response, is_preflight, json_error
from .iam import sigv4
from .iam.authorizer import Authorizer
from .iam.guard import CALLER, send
from .iam.principals import ANONYMOUS, Caller
from .regions import Place
from .service.errors import LambdaError
from .service.urls import UrlConfig

PREFIX = "/lambda-url/"
FORBIDDEN = ("Forbidden. For troubleshooting Function URL authorization issues, see: "
             "https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html")


class FunctionUrlFront:
    """The WSGI app behind ``PREFIX``: finds the URL, judges the caller, runs the function."""

    def __init__(self, places: Callable[[], Iterable[Place]], authorizer: Authorizer, clock: Clock) -> None:
        self.places, self.authorizer, self.clock = places, authorizer, clock

    def __call__(self, environ: dict, start_response: Callable) -> list[bytes]:
        return send(start_response, self.handle(environ))

    def handle(self, environ: dict) -> Response:
        url_id, _, path = environ.get("PATH_INFO", "").removeprefix(PREFIX).partition("/")
        found = self._find(url_id)
        if found is None:  # AWS answers an unknown URL as a refusal that names nothing
            return json_error(403, {"Message": None}, "AccessDeniedException")
        place, name, alias, config = found
        request = HttpRequest.of(environ, "/" + path)
        cors = cors_headers(config.cors, request.headers, is_preflight(request)) if config.cors else []
        if config.cors and is_preflight(request):
            return 200, cors, b""
        caller = environ.get(CALLER)
        if not self._allowed(place, name, alias, config, caller):
            return json_error(403, {"Message": FORBIDDEN}, "AccessDeniedException")
        region = place.service.region
        authorizer = None
        account = "anonymous"
        if config.auth_type == "AWS_IAM":
            account = caller.account
            authorizer = {"iam": {"accessKey": _access_key(environ), "accountId": caller.account,
                                  "callerId": caller.userid, "cognitoIdentity": None, "principalOrgId": None,
                                  "userArn": caller.arn, "userId": caller.userid}}
        event = event_v2(request, route_key="$default", api_id=url_id, domain=f"{url_id}.lambda-url.{region}.on.aws",
                         stage="$default", account_id=account, now=self.clock.now(), authorizer=authorizer)
        try:
            out = invoke.invoke(place.api, {"FunctionName": config.function_arn,
                                            "Payload": json.dumps(event).encode()})
        except LambdaError as e:  # throttled, too large: the service's status with its message
            return json_error(e.status, {"Message": e.message}, e.code)
        mapped = None if out.get("FunctionError") else http_response(out["Payload"])
        status, headers, body = mapped or (502, [("Content-Type", "text/plain")], b"Internal Server Error")
        return status, [*headers, *cors, ("x-amzn-RequestId", out["_request_id"])], body

    def _find(self, url_id: str) -> tuple[Place, str, str | None, UrlConfig] | None:
        for place in self.places():
            found = place.service.urls.by_id(url_id)
            if found is not None:
                return (place, *found)
        return None

    def _allowed(self, place: Place, name: str, alias: str | None, config: UrlConfig,
                 caller: Caller | None) -> bool:
        """``lambda:InvokeFunctionUrl`` and ``lambda:InvokeFunction`` for this caller (anonymous under NONE),
        as IAM decides them: function URLs made since October 2025 need both, the second with
        ``lambda:InvokedViaFunctionUrl`` true in the request's context."""
        if config.auth_type == "AWS_IAM" and caller is None:
            return False
        who = caller if config.auth_type == "AWS_IAM" else ANONYMOUS
        context = {"lambda:FunctionUrlAuthType": config.auth_type, "lambda:InvokedViaFunctionUrl": "true",
                   "aws:RequestedRegion": place.service.region}
        policy = function_policy(place.service, name, alias)
        return all(self.authorizer.decide(who, action, config.function_arn, context, policy,
                                          place.service.account).allowed
                   for action in ("lambda:InvokeFunctionUrl", "lambda:InvokeFunction"))


def _access_key(environ: dict) -> str | None:
    signature = environ.get(sigv4.SIGNATURE)
    return signature.access_key if signature else None
