"""Layer operations: publish, read, list and delete layer versions, and their permissions."""

from __future__ import annotations

from typing import Any

from .context import ApiContext


def publish_layer_version(ctx: ApiContext, p: dict[str, Any]) -> dict:
    return ctx.service.layers.publish(p, ctx.layer_url)


def get_layer_version(ctx: ApiContext, p: dict[str, Any]) -> dict:
    return ctx.service.layers.get(p["LayerName"], p["VersionNumber"], ctx.layer_url)


def get_layer_version_by_arn(ctx: ApiContext, p: dict[str, Any]) -> dict:
    return ctx.service.layers.get_by_arn(p["Arn"], ctx.layer_url)


def list_layers(ctx: ApiContext, p: dict[str, Any]) -> dict:
    return ctx.service.layers.list_layers(p.get("CompatibleRuntime"), p.get("CompatibleArchitecture"),
                                          p.get("Marker"), p.get("MaxItems"))


def list_layer_versions(ctx: ApiContext, p: dict[str, Any]) -> dict:
    return ctx.service.layers.list_versions(p["LayerName"], p.get("CompatibleRuntime"),
                                            p.get("CompatibleArchitecture"), p.get("Marker"), p.get("MaxItems"))


def delete_layer_version(ctx: ApiContext, p: dict[str, Any]) -> dict:
    ctx.service.layers.delete(p["LayerName"], p["VersionNumber"])
    return {}


def add_layer_version_permission(ctx: ApiContext, p: dict[str, Any]) -> dict:
    return ctx.service.layers.add_permission(p)


def remove_layer_version_permission(ctx: ApiContext, p: dict[str, Any]) -> dict:
    ctx.service.layers.remove_permission(p["LayerName"], p["VersionNumber"], p["StatementId"], p.get("RevisionId"))
    return {}


def get_layer_version_policy(ctx: ApiContext, p: dict[str, Any]) -> dict:
    return ctx.service.layers.get_policy(p["LayerName"], p["VersionNumber"])


OPERATIONS = {
    "PublishLayerVersion": publish_layer_version,
    "GetLayerVersion": get_layer_version,
    "GetLayerVersionByArn": get_layer_version_by_arn,
    "ListLayers": list_layers,
    "ListLayerVersions": list_layer_versions,
    "DeleteLayerVersion": delete_layer_version,
    "AddLayerVersionPermission": add_layer_version_permission,
    "RemoveLayerVersionPermission": remove_layer_version_permission,
    "GetLayerVersionPolicy": get_layer_version_policy,
}
