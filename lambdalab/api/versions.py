"""Version and alias operations: publish and list versions; create, read, update, list and delete aliases."""

from __future__ import annotations

from typing import Any

from .context import ApiContext


def publish_version(ctx: ApiContext, p: dict[str, Any]) -> dict:
    return ctx.service.versions.publish_version(p)


def list_versions_by_function(ctx: ApiContext, p: dict[str, Any]) -> dict:
    return ctx.service.versions.list_versions(p["FunctionName"], p.get("Marker"), p.get("MaxItems"))


def create_alias(ctx: ApiContext, p: dict[str, Any]) -> dict:
    return ctx.service.aliases.create(p)


def get_alias(ctx: ApiContext, p: dict[str, Any]) -> dict:
    return ctx.service.aliases.get(p["FunctionName"], p["Name"])


def update_alias(ctx: ApiContext, p: dict[str, Any]) -> dict:
    return ctx.service.aliases.update(p)


def delete_alias(ctx: ApiContext, p: dict[str, Any]) -> dict:
    ctx.service.aliases.delete(p["FunctionName"], p["Name"])
    return {}


def list_aliases(ctx: ApiContext, p: dict[str, Any]) -> dict:
    return ctx.service.aliases.list(p["FunctionName"], p.get("FunctionVersion"), p.get("Marker"), p.get("MaxItems"))


OPERATIONS = {
    "PublishVersion": publish_version,
    "ListVersionsByFunction": list_versions_by_function,
    "CreateAlias": create_alias,
    "GetAlias": get_alias,
    "UpdateAlias": update_alias,
    "DeleteAlias": delete_alias,
    "ListAliases": list_aliases,
}
