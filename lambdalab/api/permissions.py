"""Function policy operations: AddPermission, RemovePermission, GetPolicy."""

from __future__ import annotations

from typing import Any

from .context import ApiContext


def add_permission(ctx: ApiContext, p: dict[str, Any]) -> dict:
    return ctx.service.policies.add_permission(p)


def remove_permission(ctx: ApiContext, p: dict[str, Any]) -> dict:
    ctx.service.policies.remove_permission(p["FunctionName"], p["StatementId"], p.get("Qualifier"),
                                           p.get("RevisionId"))
    return {}


def get_policy(ctx: ApiContext, p: dict[str, Any]) -> dict:
    return ctx.service.policies.get_policy(p["FunctionName"], p.get("Qualifier"))


OPERATIONS = {
    "AddPermission": add_permission,
    "RemovePermission": remove_permission,
    "GetPolicy": get_policy,
}
