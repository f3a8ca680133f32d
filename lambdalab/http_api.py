"""API Gateway HTTP APIs (``apigatewayv2``) in front of functions: ``{endpoint}/execute-api/<api-id>/...``.

moto keeps the APIs, routes, integrations and stages; this module serves them.  AWS gives each API a
host of its own (``<api-id>.execute-api.<region>.amazonaws.com``); here it is a path under the
endpoint, so no name needs to resolve, and an API's ``ApiEndpoint`` says so.  A request is routed as
API Gateway routes it: the ``$default`` stage serves paths as they are, another stage the paths under
its name (still in the path the function sees); the most specific route wins (literal segments
before ``{param}``, ``{proxy+}`` last, a method before ``ANY``, ``$default`` when nothing else
matches, else 404 ``{"message":"Not Found"}``).
A Lambda proxy integration (``AWS_PROXY``, payload format 2.0) invokes the function synchronously as
``apigateway.amazonaws.com`` with the route's ``execute-api`` ARN as ``aws:SourceArn``, judged by
the function's policy; the event and the mapping of the answer are :mod:`lambdalab.http_events`'.
A refusal or a function error is API Gateway's 500 ``{"message":"Internal Server Error"}``.
Payload format 1.0, authorizers, throttling settings and REST APIs (v1) are not served.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .http_events import HttpRequest, Response, cors_headers, event_v2, http_response, is_preflight, json_error
from .iam import principals
from .iam.guard import send
from .newest import Newest
from .service.errors import LambdaError

if TYPE_CHECKING:
    from .api import LambdaAPI
    from .clock import Clock

log = logging.getLogger(__name__)
PREFIX = "/execute-api/"
APIGATEWAY = "apigateway.amazonaws.com"
NOT_FOUND = {"message": "Not Found"}
INTERNAL = {"message": "Internal Server Error"}
_FUNCTION_IN_URI = re.compile(r"functions/(arn:[^/]+)/invocations")
_fronts: Newest[HttpApiFront] = Newest()


class HttpApiFront:
    """The WSGI app behind ``PREFIX``, for one cloud's accounts."""

    def __init__(self, api: LambdaAPI, accounts: Iterable[str], base_url: str, clock: Clock) -> None:
        self.api, self.accounts, self.base_url, self.clock = api, tuple(accounts), base_url, clock

    def start(self) -> None:
        _fronts.add(self, install)

    def stop(self) -> None:
        _fronts.remove(self)

    def endpoint(self, api_id: str) -> str:
        return f"{self.base_url}{PREFIX}{api_id}"

    def __call__(self, environ: dict, start_response: Callable) -> list[bytes]:
        return send(start_response, self.handle(environ))

    def handle(self, environ: dict) -> Response:
        api_id, _, rest = environ.get("PATH_INFO", "").removeprefix(PREFIX).partition("/")
        found = self._find(api_id)
        if found is None:
            return json_error(404, NOT_FOUND)
        account, region, api = found
        stage, path = _stage(api, "/" + rest)
        if stage is None:
            return json_error(404, NOT_FOUND)
        request = HttpRequest.of(environ, "/" + rest)  # the function sees a named stage in its path, as in AWS
        cors = api.cors_configuration
        headers = cors_headers(cors, request.headers, is_preflight(request)) if cors else []
        if cors and is_preflight(request):
            return 204, headers, b""
        matched = route(api.routes.values(), request.method, path)
        if matched is None:
            return json_error(404, NOT_FOUND)
        chosen, parameters = matched
        integration = _integration(api, chosen)
        if integration is None:
            return json_error(500, INTERNAL)
        function_arn = _function(integration.integration_uri or "")
        stage_name = stage.name
        resource_path = chosen.route_key.split(" ", 1)[-1] if chosen.route_key != "$default" else "$default"
        source_arn = f"arn:aws:execute-api:{region}:{account}:{api.api_id}/{stage_name}/" + (
            "$default" if chosen.route_key == "$default" else f"{request.method}{resource_path}")
        event = event_v2(request, route_key=chosen.route_key, api_id=api.api_id,
                         domain=f"{api.api_id}.execute-api.{region}.amazonaws.com", stage=stage_name,
                         account_id=account, now=self.clock.now(), path_parameters=parameters,
                         stage_variables=stage.stage_variables)
        caller = principals.service(APIGATEWAY, source_arn, account)
        try:
            out = self.api.call(caller, region, "Invoke", {"FunctionName": function_arn,
                                                           "Payload": json.dumps(event).encode()})
        except LambdaError as e:  # no function, no permission, throttled: API Gateway says no more than this
            log.info("HTTP API %s could not invoke %s: %s", api.api_id, function_arn, e.message)
            return json_error(500, INTERNAL)
        mapped = None if out.get("FunctionError") else http_response(out["Payload"])
        status, response_headers, body = mapped or json_error(500, INTERNAL)
        return status, [*response_headers, *headers, ("apigw-requestid", event["requestContext"]["requestId"])], body

    def _find(self, api_id: str) -> tuple[str, str, Any] | None:
        from moto.apigatewayv2.models import apigatewayv2_backends

        for account in self.accounts:
            for region, backend in list(apigatewayv2_backends[account].items()):
                api = backend.apis.get(api_id)
                if api is not None and api.protocol_type == "HTTP":
                    return account, region, api
        return None


def route(routes: Iterable[Any], method: str, path: str) -> tuple[Any, dict[str, str]] | None:
    """The route API Gateway picks for ``method`` and ``path``, with its path parameters."""
    best: tuple[tuple, Any, dict[str, str]] | None = None
    default = None
    for candidate in routes:
        if candidate.route_key == "$default":
            default = candidate
            continue
        verb, _, template = candidate.route_key.partition(" ")
        if verb not in (method, "ANY"):
            continue
        parameters = _match(template, path)
        if parameters is None:
            continue
        parts = [p for p in template.split("/") if p]
        greedy = any(p.endswith("+}") for p in parts)
        literal = sum(not p.startswith("{") for p in parts)
        rank = (not greedy, literal, len(parts), verb != "ANY")
        if best is None or rank > best[0]:
            best = (rank, candidate, parameters)
    if best is not None:
        return best[1], best[2]
    return (default, {}) if default is not None else None


def _match(template: str, path: str) -> dict[str, str] | None:
    """The path parameters if ``path`` matches the route's template (``/items/{id}``, ``/{proxy+}``)."""
    parts = [p for p in template.split("/") if p]
    segments = [s for s in path.split("/") if s]
    parameters: dict[str, str] = {}
    for i, part in enumerate(parts):
        if part.startswith("{") and part.endswith("+}"):
            if i >= len(segments):
                return None
            parameters[part[1:-2]] = "/".join(segments[i:])
            return parameters
        if i >= len(segments):
            return None
        if part.startswith("{") and part.endswith("}"):
            parameters[part[1:-1]] = segments[i]
        elif part != segments[i]:
            return None
    return parameters if len(segments) == len(parts) else None


def _stage(api: Any, path: str) -> tuple[Any | None, str]:
    """The stage a path names and the path under it: ``$default`` takes every path as it is."""
    if "$default" in api.stages:
        return api.stages["$default"], path
    name, _, rest = path.lstrip("/").partition("/")
    return api.stages.get(name), "/" + rest


def _integration(api: Any, chosen: Any) -> Any | None:
    target = chosen.target or ""
    integration = api.integrations.get(target.removeprefix("integrations/"))
    if integration is None or integration.integration_type != "AWS_PROXY":
        return None
    return integration


def _function(uri: str) -> str:
    """The function an integration URI names: its ARN, or API Gateway's ``.../functions/<arn>/invocations``."""
    found = _FUNCTION_IN_URI.search(uri)
    return found[1] if found else uri


# -- the API's address ---------------------------------------------------------------------------------
def install() -> None:
    from moto.apigatewayv2.models import ApiGatewayV2Backend

    if not getattr(ApiGatewayV2Backend.create_api, "lambdalab", False):
        ApiGatewayV2Backend.create_api = _addressed(ApiGatewayV2Backend.create_api)


def _addressed(moto_create):
    @functools.wraps(moto_create)
    def create_api(backend: Any, *args: Any, **kwargs: Any) -> Any:
        created = moto_create(backend, *args, **kwargs)
        front = _fronts.get()
        if front is not None:  # the address that reaches it here, not AWS's host name
            created.api_endpoint = front.endpoint(created.api_id)
        return created

    create_api.lambdalab = True
    return create_api
