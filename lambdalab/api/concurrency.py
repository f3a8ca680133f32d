"""Concurrency operations: reserved concurrency of a function, provisioned concurrency of its versions and aliases."""

from __future__ import annotations

from typing import Any

from .context import ApiContext


def put_function_concurrency(ctx: ApiContext, p: dict[str, Any]) -> dict:
    return ctx.service.concurrency.put_reserved(p["FunctionName"], p["ReservedConcurrentExecutions"])


def get_function_concurrency(ctx: ApiContext, p: dict[str, Any]) -> dict:
    return ctx.service.concurrency.get_reserved(p["FunctionName"])


def delete_function_concurrency(ctx: ApiContext, p: dict[str, Any]) -> dict:
    ctx.service.concurrency.delete_reserved(p["FunctionName"])
    return {}


def put_provisioned_concurrency_config(ctx: ApiContext, p: dict[str, Any]) -> dict:
    return ctx.service.concurrency.put_provisioned(p)


def get_provisioned_concurrency_config(ctx: ApiContext, p: dict[str, Any]) -> dict:
    return ctx.service.concurrency.get_provisioned(p["FunctionName"], p["Qualifier"])


def delete_provisioned_concurrency_config(ctx: ApiContext, p: dict[str, Any]) -> dict:
    ctx.service.concurrency.delete_provisioned(p["FunctionName"], p["Qualifier"])
    return {}


def list_provisioned_concurrency_configs(ctx: ApiContext, p: dict[str, Any]) -> dict:
    return ctx.service.concurrency.list_provisioned(p["FunctionName"], p.get("Marker"), p.get("MaxItems"))


OPERATIONS = {
    "PutFunctionConcurrency": put_function_concurrency,
    "GetFunctionConcurrency": get_function_concurrency,
    "DeleteFunctionConcurrency": delete_function_concurrency,
    "PutProvisionedConcurrencyConfig": put_provisioned_concurrency_config,
    "GetProvisionedConcurrencyConfig": get_provisioned_concurrency_config,
    "DeleteProvisionedConcurrencyConfig": delete_provisioned_concurrency_config,
    "ListProvisionedConcurrencyConfigs": list_provisioned_concurrency_configs,
}
