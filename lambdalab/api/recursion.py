"""Recursion configuration operations: whether Lambda stops a function caught in a recursive loop
(the store is ``service.recursion_config``; the detection ``invoke.recursion``)."""

from __future__ import annotations

from typing import Any

from .context import ApiContext


def put_function_recursion_config(ctx: ApiContext, p: dict[str, Any]) -> dict:
    return ctx.service.recursion.put(p["FunctionName"], p["RecursiveLoop"])


def get_function_recursion_config(ctx: ApiContext, p: dict[str, Any]) -> dict:
    return ctx.service.recursion.get(p["FunctionName"])


OPERATIONS = {
    "PutFunctionRecursionConfig": put_function_recursion_config,
    "GetFunctionRecursionConfig": get_function_recursion_config,
}
