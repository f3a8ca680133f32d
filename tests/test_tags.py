"""Function tags: TagResource, UntagResource, ListTags by function ARN, and Tags in GetFunction."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

SOURCE = "def handler(event, context):\n    return 'ok'\n"


def _error(call) -> tuple[str, str]:
    with pytest.raises(ClientError) as e:
        call()
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def test_tags_are_added_listed_and_removed_by_arn(fn, lam):
    name = fn.create(SOURCE, Tags={"team": "course"})
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    revision = lam.get_function(FunctionName=name)["Configuration"]["RevisionId"]
    lam.tag_resource(Resource=arn, Tags={"stage": "dev", "team": "platform"})
    assert lam.list_tags(Resource=arn)["Tags"] == {"team": "platform", "stage": "dev"}
    assert lam.get_function(FunctionName=name)["Tags"] == {"team": "platform", "stage": "dev"}
    assert lam.get_function(FunctionName=name)["Configuration"]["RevisionId"] != revision
    lam.untag_resource(Resource=arn, TagKeys=["team", "absent"])
    assert lam.list_tags(Resource=arn)["Tags"] == {"stage": "dev"}
    lam.untag_resource(Resource=arn, TagKeys=["stage"])
    assert lam.list_tags(Resource=arn)["Tags"] == {}
    assert "Tags" not in lam.get_function(FunctionName=name)


def test_tag_errors_are_aws_errors(fn, lam, cloud):
    name = fn.create(SOURCE)
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    assert _error(lambda: lam.tag_resource(Resource=f"{arn}:$LATEST", Tags={"a": "b"})) == (
        "InvalidParameterValueException",
        "Tags on function aliases and versions are not supported. Please specify a function ARN.")
    missing = arn.replace(name, f"{name}-missing")
    assert _error(lambda: lam.list_tags(Resource=missing)) == ("ResourceNotFoundException",
                                                               f"Function not found: {missing}")
    assert _error(lambda: lam.tag_resource(Resource=missing, Tags={"a": "b"}))[0] == "ResourceNotFoundException"
    lam.tag_resource(Resource=arn, Tags={f"k{i}": "v" for i in range(cloud.quotas.tags_max)})
    assert _error(lambda: lam.tag_resource(Resource=arn, Tags={"one": "more"})) == (
        "InvalidParameterValueException", "Number of tags exceeds resource tag limit.")
    assert _error(lambda: lam.list_tags(Resource="not-an-arn"))[0] == "ValidationException"
