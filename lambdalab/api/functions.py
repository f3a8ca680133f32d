"""Function resource operations: create, read, list, update, delete."""

from __future__ import annotations

from typing import Any

from .context import ApiContext


def create_function(ctx: ApiContext, p: dict[str, Any]) -> dict:
    return ctx.service.create_function(p)


def get_function(ctx: ApiContext, p: dict[str, Any]) -> dict:
    return ctx.service.get_function(p["FunctionName"], p.get("Qualifier"), ctx.code_url)


def get_function_configuration(ctx: ApiContext, p: dict[str, Any]) -> dict:
    return ctx.service.get_function_configuration(p["FunctionName"], p.get("Qualifier"))


def list_functions(ctx: ApiContext, p: dict[str, Any]) -> dict:
    return ctx.service.list_functions(p.get("Marker"), p.get("MaxItems"), p.get("FunctionVersion"))


def update_function_code(ctx: ApiContext, p: dict[str, Any]) -> dict:
    return ctx.service.update_function_code(p)


def update_function_configuration(ctx: ApiContext, p: dict[str, Any]) -> dict:
    return ctx.service.update_function_configuration(p)


def delete_function(ctx: ApiContext, p: dict[str, Any]) -> dict:
    ctx.service.delete_function(p["FunctionName"], p.get("Qualifier"))
    return {"StatusCode": 204}  # the model's default is 200 now; a delete (of a function or a version) answers 204


def get_account_settings(ctx: ApiContext, p: dict[str, Any]) -> dict:
    return ctx.service.account_settings()


OPERATIONS = {
    "CreateFunction": create_function,
    "GetFunction": get_function,
    "GetFunctionConfiguration": get_function_configuration,
    "ListFunctions": list_functions,
    "UpdateFunctionCode": update_function_code,
    "UpdateFunctionConfiguration": update_function_configuration,
    "DeleteFunction": delete_function,
    "GetAccountSettings": get_account_settings,
}
