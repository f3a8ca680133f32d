"""Event source mapping operations: create, get, update, delete and list the pollers' configurations."""

from __future__ import annotations

from typing import Any

from .context import ApiContext


def create_event_source_mapping(ctx: ApiContext, p: dict[str, Any]) -> dict:
    return ctx.service.mappings.create(p)


def get_event_source_mapping(ctx: ApiContext, p: dict[str, Any]) -> dict:
    return ctx.service.mappings.get(p["UUID"])


def update_event_source_mapping(ctx: ApiContext, p: dict[str, Any]) -> dict:
    return ctx.service.mappings.update(p)


def delete_event_source_mapping(ctx: ApiContext, p: dict[str, Any]) -> dict:
    return ctx.service.mappings.delete(p["UUID"])


def list_event_source_mappings(ctx: ApiContext, p: dict[str, Any]) -> dict:
    return ctx.service.mappings.list(p.get("FunctionName"), p.get("EventSourceArn"), p.get("Marker"),
                                     p.get("MaxItems"))


OPERATIONS = {
    "CreateEventSourceMapping": create_event_source_mapping,
    "GetEventSourceMapping": get_event_source_mapping,
    "UpdateEventSourceMapping": update_event_source_mapping,
    "DeleteEventSourceMapping": delete_event_source_mapping,
    "ListEventSourceMappings": list_event_source_mappings,
}
