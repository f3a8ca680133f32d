"""HTTP requests as Lambda events, and Lambda answers as HTTP responses: payload format 2.0, shared
by function URLs (``function_urls``) and API Gateway HTTP APIs (``http_api``).

AWS maps both the same way: headers lower-cased with repeated ones joined by commas, cookies apart,
the query string raw and as parameters (repeated ones joined), a text body as it is and any other
base64-encoded; a ``statusCode`` object becomes status, headers, cookies and body (base64 when
``isBase64Encoded``), and any other JSON value a 200 ``application/json`` body (a string as its
text, anything else as compact JSON).  What each front answers on errors differs and stays theirs.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .httpd import HEADERS, request_body

_TEXT = ("text/", "application/json", "application/javascript", "application/xml",
         "application/x-www-form-urlencoded")
Response = tuple[int, list[tuple[str, str]], bytes]


@dataclass(frozen=True)
class HttpRequest:
    """One request as the event describes it."""

    method: str
    path: str  # as the function sees it (rawPath)
    query: str
    headers: dict[str, str]  # lower-cased, without Cookie
    cookies: list[str]
    body: bytes
    source_ip: str
    protocol: str

    @classmethod
    def of(cls, environ: dict, path: str) -> HttpRequest:
        headers: dict[str, str] = {}
        for name, value in environ.get(HEADERS, ()):
            key = name.lower()
            headers[key] = f"{headers[key]},{value}" if key in headers else value
        source_ip = environ.get("REMOTE_ADDR", "127.0.0.1")
        headers.setdefault("x-forwarded-for", source_ip)
        headers.setdefault("x-forwarded-proto", "http")
        cookie = headers.pop("cookie", "")
        return cls(environ["REQUEST_METHOD"], path, environ.get("QUERY_STRING", ""), headers,
                   [c.strip() for c in cookie.split(";") if c.strip()], request_body(environ), source_ip,
                   environ.get("SERVER_PROTOCOL", "HTTP/1.1"))


def event_v2(request: HttpRequest, *, route_key: str, api_id: str, domain: str, stage: str, account_id: str,
             now: datetime, authorizer: dict[str, Any] | None = None,
             path_parameters: dict[str, str] | None = None,
             stage_variables: dict[str, str] | None = None) -> dict[str, Any]:
    """The payload format 2.0 event of ``request``."""
    context: dict[str, Any] = {
        "accountId": account_id, "apiId": api_id, "domainName": domain, "domainPrefix": domain.split(".")[0],
        "http": {"method": request.method, "path": request.path, "protocol": request.protocol,
                 "sourceIp": request.source_ip, "userAgent": request.headers.get("user-agent", "")},
        "requestId": str(uuid.uuid4()), "routeKey": route_key, "stage": stage,
        "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"), "timeEpoch": int(now.timestamp() * 1000)}
    if authorizer is not None:
        context["authorizer"] = authorizer
    event: dict[str, Any] = {"version": "2.0", "routeKey": route_key, "rawPath": request.path,
                             "rawQueryString": request.query}
    if request.cookies:
        event["cookies"] = list(request.cookies)
    event["headers"] = dict(request.headers)
    if request.query:
        params: dict[str, list[str]] = {}
        for key, value in urllib.parse.parse_qsl(request.query, keep_blank_values=True):
            params.setdefault(key, []).append(value)
        event["queryStringParameters"] = {k: ",".join(v) for k, v in params.items()}
    event["requestContext"] = context
    if path_parameters:
        event["pathParameters"] = path_parameters
    if stage_variables:
        event["stageVariables"] = stage_variables
    text = _is_text(request.headers.get("content-type"), request.body)
    if request.body:
        event["body"] = request.body.decode() if text else base64.b64encode(request.body).decode()
    event["isBase64Encoded"] = bool(request.body) and not text
    return event


def http_response(raw: bytes) -> Response | None:
    """The HTTP response a function's answer makes; None when the answer is no JSON at all."""
    try:
        value = json.loads(raw or b"null")
    except ValueError:
        return None
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


def cors_headers(cors: dict[str, Any], headers: dict[str, str], preflight: bool) -> list[tuple[str, str]]:
    """The CORS headers a response carries for the request's Origin, if the configuration allows it
    (keys as the API models write them, ``AllowOrigins`` or ``allowOrigins``)."""
    cors = {k[0].upper() + k[1:]: v for k, v in cors.items()}
    origin = headers.get("origin")
    allowed = cors.get("AllowOrigins") or []
    if origin is None or not ("*" in allowed or origin in allowed):
        return []
    out = [("Access-Control-Allow-Origin", "*" if "*" in allowed and not cors.get("AllowCredentials") else origin)]
    if cors.get("AllowCredentials"):
        out.append(("Access-Control-Allow-Credentials", "true"))
    if cors.get("ExposeHeaders"):
        out.append(("Access-Control-Expose-Headers", ",".join(cors["ExposeHeaders"])))
    if preflight:
        for key, header in (("AllowMethods", "Access-Control-Allow-Methods"),
                            ("AllowHeaders", "Access-Control-Allow-Headers")):
            if cors.get(key):
                out.append((header, ",".join(cors[key])))
        if cors.get("MaxAge") is not None:
            out.append(("Access-Control-Max-Age", str(cors["MaxAge"])))
    return out


def is_preflight(request: HttpRequest) -> bool:
    return request.method == "OPTIONS" and "access-control-request-method" in request.headers


def json_error(status: int, body: dict[str, Any], error: str | None = None) -> Response:
    headers = [("Content-Type", "application/json")]
    if error:
        headers.append(("x-amzn-ErrorType", error))
    return status, headers, json.dumps(body, separators=(",", ":")).encode()


def _is_text(content_type: str | None, body: bytes) -> bool:
    if content_type is None:
        try:
            body.decode()
        except UnicodeDecodeError:
            return False
        return True
    kind = content_type.split(";")[0].strip().lower()
    return kind.startswith(_TEXT) or kind.endswith(("+json", "+xml"))
