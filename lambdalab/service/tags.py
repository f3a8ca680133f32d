"""Function tags: TagResource, UntagResource and ListTags, addressed by the function's ARN.

Tags belong to the function, not to a version or alias, so a qualified ARN is refused as AWS
refuses it; a change of tags is a change of the function and gives it a new RevisionId.  Tags
given to CreateFunction are stored by the service itself; GetFunction shows them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..arns import FUNCTION_ARN
from .errors import InvalidParameterValueException
from .models import Function

if TYPE_CHECKING:
    from .functions import LambdaService


def tag_resource(service: LambdaService, resource: str, tags: dict[str, str]) -> None:
    if not tags:
        raise InvalidParameterValueException("An error occurred and the request cannot be processed.")

    def merged(function: Function) -> dict:
        if len(merged := {**function.tags, **tags}) > service.quotas.tags_max:
            raise InvalidParameterValueException("Number of tags exceeds resource tag limit.")
        return {"tags": merged}

    service.revise(_function(service, resource).name, merged)


def untag_resource(service: LambdaService, resource: str, keys: list[str]) -> None:
    service.revise(_function(service, resource).name,
                   lambda function: {"tags": {k: v for k, v in function.tags.items() if k not in keys}})


def list_tags(service: LambdaService, resource: str) -> dict[str, str]:
    return dict(_function(service, resource).tags)


def _function(service: LambdaService, resource: str) -> Function:
    match = FUNCTION_ARN.match(resource)
    if match and match["qualifier"]:
        raise InvalidParameterValueException("Tags on function aliases and versions are not supported. "
                                             "Please specify a function ARN.")
    return service.resolve(resource)

