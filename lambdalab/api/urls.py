"""Function URL operations: a function's (or an alias's) HTTP endpoint and who may call it (the store
and AWS's checks are ``service.urls``; the HTTP side is ``lambdalab.function_urls``)."""

from __future__ import annotations

from typing import Any

from .context import ApiContext


def create_function_url_config(ctx: ApiContext, p: dict[str, Any]) -> dict:
    config = ctx.service.urls.create(p)
    return config.response(ctx.function_url(config.url_id), "Create")


def get_function_url_config(ctx: ApiContext, p: dict[str, Any]) -> dict:
    config = ctx.service.urls.get(p["FunctionName"], p.get("Qualifier"))
    return config.response(ctx.function_url(config.url_id), "Get")


def update_function_url_config(ctx: ApiContext, p: dict[str, Any]) -> dict:
    config = ctx.service.urls.update(p)
    return config.response(ctx.function_url(config.url_id), "Update")


def delete_function_url_config(ctx: ApiContext, p: dict[str, Any]) -> dict:
    ctx.service.urls.delete(p["FunctionName"], p.get("Qualifier"))
    return {}


def list_function_url_configs(ctx: ApiContext, p: dict[str, Any]) -> dict:
    return ctx.service.urls.list(p["FunctionName"], p.get("Marker"), p.get("MaxItems"),
                                 lambda config: ctx.function_url(config.url_id))


OPERATIONS = {
    "CreateFunctionUrlConfig": create_function_url_config,
    "GetFunctionUrlConfig": get_function_url_config,
    "UpdateFunctionUrlConfig": update_function_url_config,
    "DeleteFunctionUrlConfig": delete_function_url_config,
    "ListFunctionUrlConfigs": list_function_url_configs,
}
