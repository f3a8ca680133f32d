"""Function resource operations: create, read, list, update, delete.

A DeadLetterConfig is checked here before the service stores it: the queue or topic must be one
Lambda can send to, and the execution role must be allowed to send (``Destinations.check_dead_letter``).
"""

from __future__ import annotations

from typing import Any

from .context import ApiContext


def create_function(ctx: ApiContext, p: dict[str, Any]) -> dict:
    if target := (p.get("DeadLetterConfig") or {}).get("TargetArn"):
        ctx.destinations.check_dead_letter(p["Role"], target, ctx.service.region)
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
    if target := (p.get("DeadLetterConfig") or {}).get("TargetArn"):  # checked with the role it will have
        role = p.get("Role") or ctx.service.resolve(ctx.service.function_name(p["FunctionName"])).role
        ctx.destinations.check_dead_letter(role, target, ctx.service.region)
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
