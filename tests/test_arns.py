"""The one ARN parser: parts of an ARN, None for what is not one."""

from __future__ import annotations

import pytest

from lambdalab.arns import Arn, account_of, parse_arn
from lambdalab.observe.metrics import resource_dimension


@pytest.mark.parametrize("text, parts, ident", [
    ("arn:aws:lambda:us-east-1:123456789012:function:fn:1",
     ("aws", "lambda", "us-east-1", "123456789012", "function:fn:1"), "fn:1"),
    ("arn:aws:iam::123456789012:role/path/to/r", ("aws", "iam", "", "123456789012", "role/path/to/r"), "path/to/r"),
    ("arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
     ("aws", "iam", "", "aws", "policy/service-role/AWSLambdaBasicExecutionRole"),
     "service-role/AWSLambdaBasicExecutionRole"),
    ("arn:aws:s3:::bucket/key:with:colons", ("aws", "s3", "", "", "bucket/key:with:colons"), "key:with:colons"),
    ("arn:aws:sqs:us-east-1:123456789012:queue", ("aws", "sqs", "us-east-1", "123456789012", "queue"), "queue"),
    ("arn:aws-cn:lambda:cn-north-1:123456789012:layer:l:3",
     ("aws-cn", "lambda", "cn-north-1", "123456789012", "layer:l:3"), "l:3"),
])
def test_an_arn_parses_into_its_parts(text, parts, ident):
    arn = parse_arn(text)
    assert arn == Arn(*parts) and arn.resource_id == ident
    assert str(arn) == text


@pytest.mark.parametrize("text", ["fn", "fn:1", "123456789012:function:fn", "arn:aws:lambda", "", "urn:a:b:c:d:e"])
def test_what_is_not_an_arn_is_none(text):
    assert parse_arn(text) is None
    assert account_of(text, "home") == "home"


def test_account_of_needs_a_numeric_account():
    assert account_of("arn:aws:iam::123456789012:user/alice") == "123456789012"
    assert account_of("arn:aws:iam::aws:policy/AdministratorAccess", "home") == "home"


def test_the_resource_dimension_is_the_function_as_invoked():
    assert resource_dimension("arn:aws:lambda:us-east-1:123456789012:function:fn") == "fn"
    assert resource_dimension("arn:aws:lambda:us-east-1:123456789012:function:fn:live") == "fn:live"
