"""Tag operations: TagResource, UntagResource, ListTags."""

from __future__ import annotations

from typing import Any

from ..service import tags
from .context import ApiContext


def tag_resource(ctx: ApiContext, p: dict[str, Any]) -> dict:
    tags.tag_resource(ctx.service, p["Resource"], p["Tags"])
    return {}


def untag_resource(ctx: ApiContext, p: dict[str, Any]) -> dict:
    tags.untag_resource(ctx.service, p["Resource"], p["TagKeys"])
    return {}


def list_tags(ctx: ApiContext, p: dict[str, Any]) -> dict:
    return {"Tags": tags.list_tags(ctx.service, p["Resource"])}


OPERATIONS = {"TagResource": tag_resource, "UntagResource": untag_resource, "ListTags": list_tags}
