"""Helpers for IAM tests: users with policies, roles for functions, unique names."""

from __future__ import annotations

import json
import uuid

LAMBDA_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def statement(action, resource="*", effect="Allow", **extra) -> dict:
    return {"Effect": effect, "Action": action, "Resource": resource, **extra}


def document(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def user_with(cloud, *statements: dict, name: str | None = None) -> tuple[str, dict]:
    """A new IAM user with one inline policy of ``statements``; returns (name, its AccessKey dict)."""
    iam = cloud.client("iam")
    name = name or unique("user")
    iam.create_user(UserName=name)
    if statements:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=document(*statements))
    return name, iam.create_access_key(UserName=name)["AccessKey"]


def role_with(cloud, *statements: dict, trust: dict = LAMBDA_TRUST) -> str:
    """A new role trusted by ``trust`` with an inline policy of ``statements``; returns its ARN."""
    iam = cloud.client("iam")
    name = unique("role")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    if statements:
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=document(*statements))
    return arn
