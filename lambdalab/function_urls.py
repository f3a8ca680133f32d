"""Function URLs over HTTP: ``{endpoint}/lambda-url/<url-id>/<path>``, reachable with ``requests``,
``curl`` and the browser.

AWS gives each URL a host of its own (``<url-id>.lambda-url.<region>.on.aws``); here it is a path
under the endpoint, so that no name needs to resolve: what follows the id is the request's path, as
the function sees it (``rawPath``), and the event names AWS's domain.  A request is judged first:
``NONE`` lets in whoever the function's resource-based policy lets call ``lambda:InvokeFunctionUrl``
(``"Principal": "*"`` with ``lambda:FunctionUrlAuthType`` NONE), ``AWS_IAM`` a SigV4-signed caller
(service ``lambda``) whose policies allow it; a refusal is AWS's 403.  Then the function runs
synchronously with the payload format 2.0 event, and its answer becomes the HTTP response as AWS
maps it: a ``statusCode`` object (headers, cookies, a body, base64 when ``isBase64Encoded``), or any
other JSON value as a 200 ``application/json`` body; an error is a 502 "Internal Server Error".
CORS settings answer preflight requests and add their headers to every response.

The words are AWS's, recorded by LocalStack's AWS-validated ``TestLambdaURL`` tests
(``test_lambda.py``, November 2025).
"""

from __future__ import annotations

import base64
import json
import urllib.parse
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from .api import invoke
from .api.authorize import function_policy
from .clock import Clock
from .httpd import HEADERS, reason, request_body
from .iam import sigv4
from .iam.authorizer import Authorizer
from .iam.guard import CALLER
from .iam.principals import ANONYMOUS, Caller
from .regions import Place
from .service.errors import LambdaError
from .service.urls import UrlConfig

PREFIX = "/lambda-url/"
FORBIDDEN = ("Forbidden. For troubleshooting Function URL authorization issues, see: "
             "https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html")
_TEXT = ("text/", "application/json", "application/javascript", "application/xml",
         "application/x-www-form-urlencoded")
Response = tuple[int, list[tuple[str, str]], bytes]


class FunctionUrlFront:
    """The WSGI app behind ``PREFIX``: finds the URL, judges the caller, runs the function."""

    def __init__(self, places: Callable[[], Iterable[Place]], authorizer: Authorizer, clock: Clock) -> None:
        self.places, self.authorizer, self.clock = places, authorizer, clock

    def __call__(self, environ: dict, start_response: Callable) -> list[bytes]:
        status, headers, body = self.handle(environ)
        start_response(f"{status} {reason(status)}", [*headers, ("Content-Length", str(len(body)))])
        return [body]

    def handle(self, environ: dict) -> Response:
        url_id, _, path = environ.get("PATH_INFO", "").removeprefix(PREFIX).partition("/")
        found = self._find(url_id)
        if found is None:  # AWS answers an unknown URL as a refusal that names nothing
            return _json(403, {"Message": None}, error="AccessDeniedException")
        place, name, alias, config = found
        headers = _headers(environ)
        cors = _cors(config.cors, headers) if config.cors else []
        if environ["REQUEST_METHOD"] == "OPTIONS" and "access-control-request-method" in headers and config.cors:
            return 200, [*cors, *_preflight(config.cors)], b""
        caller = environ.get(CALLER)
        if not self._allowed(place, name, alias, config, caller):
            return _json(403, {"Message": FORBIDDEN}, error="AccessDeniedException")
        event = payload(environ, headers, "/" + path, url_id, place.service.region, config, caller, self.clock)
        try:
            out = invoke.invoke(place.api, {"FunctionName": config.function_arn,
                                            "Payload": json.dumps(event).encode()})
        except LambdaError as e:  # throttled, too large: the service's status with its message
            return _json(e.status, {"Message": e.message}, error=e.code)
        status, response_headers, body = http_response(out["Payload"], out.get("FunctionError"))
        return status, [*response_headers, *cors, ("x-amzn-RequestId", out["_request_id"])], body

    def _find(self, url_id: str) -> tuple[Place, str, str | None, UrlConfig] | None:
        for place in self.places():
            found = place.service.urls.by_id(url_id)
            if found is not None:
                return (place, *found)
        return None

    def _allowed(self, place: Place, name: str, alias: str | None, config: UrlConfig,
                 caller: Caller | None) -> bool:
        """lambda:InvokeFunctionUrl for this caller (anonymous under NONE), as IAM decides it."""
        if config.auth_type == "AWS_IAM" and caller is None:
            return False
        who = caller if config.auth_type == "AWS_IAM" else ANONYMOUS
        decision = self.authorizer.decide(
            who, "lambda:InvokeFunctionUrl", config.function_arn,
            {"lambda:FunctionUrlAuthType": config.auth_type, "aws:RequestedRegion": place.service.region},
            function_policy(place.service, name, alias), place.service.account)
        return decision.allowed


def payload(environ: dict, headers: dict[str, str], path: str, url_id: str, region: str, config: UrlConfig,
            caller: Caller | None, clock: Clock) -> dict[str, Any]:
    """The payload format 2.0 event a function URL sends."""
    query = environ.get("QUERY_STRING", "")
    now = clock.now()
    domain = f"{url_id}.lambda-url.{region}.on.aws"
    context: dict[str, Any] = {
        "accountId": "anonymous", "apiId": url_id, "domainName": domain, "domainPrefix": url_id,
        "http": {"method": environ["REQUEST_METHOD"], "path": path, "protocol": environ.get("SERVER_PROTOCOL",
                                                                                           "HTTP/1.1"),
                 "sourceIp": environ.get("REMOTE_ADDR", "127.0.0.1"), "userAgent": headers.get("user-agent", "")},
        "requestId": str(uuid.uuid4()), "routeKey": "$default", "stage": "$default",
        "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"), "timeEpoch": int(now.timestamp() * 1000)}
    if config.auth_type == "AWS_IAM" and caller is not None:
        context["accountId"] = caller.account
        context["authorizer"] = {"iam": {"accessKey": _access_key(environ), "accountId": caller.account,
                                         "callerId": caller.userid, "cognitoIdentity": None, "principalOrgId": None,
                                         "userArn": caller.arn, "userId": caller.userid}}
    event: dict[str, Any] = {"version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": query}
    if "cookie" in headers:
        event["cookies"] = [c.strip() for c in headers.pop("cookie").split(";") if c.strip()]
    event["headers"] = headers
    if query:
        params: dict[str, list[str]] = {}
        for key, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
            params.setdefault(key, []).append(value)
        event["queryStringParameters"] = {k: ",".join(v) for k, v in params.items()}
    event["requestContext"] = context
    body = request_body(environ)
    text = _is_text(headers.get("content-type"), body)
    if body:
        event["body"] = body.decode() if text else base64.b64encode(body).decode()
    event["isBase64Encoded"] = bool(body) and not text
    return event


def http_response(raw: bytes, function_error: str | None) -> Response:
    """The HTTP response a function's answer makes, as function URLs map it."""
    if function_error:
        return 502, [("Content-Type", "text/plain")], b"Internal Server Error"
    try:
        value = json.loads(raw or b"null")
    except ValueError:
        return 502, [("Content-Type", "text/plain")], b"Internal Server Error"
    if not (isinstance(value, dict) and "statusCode" in value):
        text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
        return 200, [("Content-Type", "application/json")], text.encode()
    headers = {str(k): str(v) for k, v in (value.get("headers") or {}).items()}
    if not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = "application/json"
    body = value.get("body")
    if body is None:
        data = b""
    elif value.get("isBase64Encoded"):
        data = base64.b64decode(body)
    else:
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
    cookies = [("Set-Cookie", str(c)) for c in value.get("cookies") or []]
    return int(value["statusCode"]), [*headers.items(), *cookies], data


def _headers(environ: dict) -> dict[str, str]:
    """The request's headers, lower-cased, repeated ones joined with commas (as the event has them)."""
    headers: dict[str, str] = {}
    for name, value in environ.get(HEADERS, ()):
        key = name.lower()
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    headers.setdefault("x-forwarded-for", environ.get("REMOTE_ADDR", "127.0.0.1"))
    headers.setdefault("x-forwarded-proto", "http")
    return headers


def _access_key(environ: dict) -> str | None:
    signature = environ.get(sigv4.SIGNATURE)
    return signature.access_key if signature else None


def _is_text(content_type: str | None, body: bytes) -> bool:
    if content_type is None:
        try:
            body.decode()
        except UnicodeDecodeError:
            return False
        return True
    kind = content_type.split(";")[0].strip().lower()
    return kind.startswith(_TEXT) or kind.endswith(("+json", "+xml"))


def _cors(cors: dict[str, Any], headers: dict[str, str]) -> list[tuple[str, str]]:
    """The CORS headers a response carries for the request's Origin, if the configuration allows it."""
    origin = headers.get("origin")
    allowed = cors.get("AllowOrigins") or []
    if origin is None or not ("*" in allowed or origin in allowed):
        return []
    out = [("Access-Control-Allow-Origin", "*" if "*" in allowed and not cors.get("AllowCredentials") else origin)]
    if cors.get("AllowCredentials"):
        out.append(("Access-Control-Allow-Credentials", "true"))
    if cors.get("ExposeHeaders"):
        out.append(("Access-Control-Expose-Headers", ",".join(cors["ExposeHeaders"])))
    return out


def _preflight(cors: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    if cors.get("AllowMethods"):
        out.append(("Access-Control-Allow-Methods", ",".join(cors["AllowMethods"])))
    if cors.get("AllowHeaders"):
        out.append(("Access-Control-Allow-Headers", ",".join(cors["AllowHeaders"])))
    if cors.get("MaxAge") is not None:
        out.append(("Access-Control-Max-Age", str(cors["MaxAge"])))
    return out


def _json(status: int, body: dict[str, Any], error: str) -> Response:
    return status, [("Content-Type", "application/json"), ("x-amzn-ErrorType", error)], \
        json.dumps(body, separators=(",", ":")).encode()
