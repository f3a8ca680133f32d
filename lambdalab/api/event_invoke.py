"""Event invoke config operations: the retries, the maximum age and the destinations of asynchronous
invocation, per function, version or alias (the store and AWS's checks are ``service.event_invoke``)."""

from __future__ import annotations

from typing import Any

from .context import ApiContext


def put_function_event_invoke_config(ctx: ApiContext, p: dict[str, Any]) -> dict:
    return ctx.service.event_invoke.put(p, ctx.destinations.check)


def update_function_event_invoke_config(ctx: ApiContext, p: dict[str, Any]) -> dict:
    return ctx.service.event_invoke.update(p, ctx.destinations.check)


def get_function_event_invoke_config(ctx: ApiContext, p: dict[str, Any]) -> dict:
    return ctx.service.event_invoke.get(p["FunctionName"], p.get("Qualifier"))


def delete_function_event_invoke_config(ctx: ApiContext, p: dict[str, Any]) -> dict:
    ctx.service.event_invoke.delete(p["FunctionName"], p.get("Qualifier"))
    return {}


def list_function_event_invoke_configs(ctx: ApiContext, p: dict[str, Any]) -> dict:
    return ctx.service.event_invoke.list(p["FunctionName"], p.get("Marker"), p.get("MaxItems"))


OPERATIONS = {
    "PutFunctionEventInvokeConfig": put_function_event_invoke_config,
    "UpdateFunctionEventInvokeConfig": update_function_event_invoke_config,
    "GetFunctionEventInvokeConfig": get_function_event_invoke_config,
    "DeleteFunctionEventInvokeConfig": delete_function_event_invoke_config,
    "ListFunctionEventInvokeConfigs": list_function_event_invoke_configs,
}
