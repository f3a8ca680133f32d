"""The execution role: Lambda must be able to assume it, and handlers act as it, with nothing more."""

from __future__ import annotations

import json

import pytest
from iam_helpers import role_with, statement, unique

from lambdalab import zip_files

CANNOT_ASSUME = "The role defined for the function cannot be assumed by Lambda."
WHOAMI = """
import os, boto3
def handler(event, context):
    return {"arn": boto3.client("sts").get_caller_identity()["Arn"],
            "key": os.environ["AWS_ACCESS_KEY_ID"], "token": bool(os.environ.get("AWS_SESSION_TOKEN"))}
"""
LIST_BUCKET = """
import boto3
def handler(event, context):
    try:
        keys = boto3.client("s3").list_objects_v2(Bucket=event["bucket"]).get("Contents", [])
        return {"keys": [k["Key"] for k in keys]}
    except Exception as e:
        return {"error": e.response["Error"]["Code"], "message": e.response["Error"]["Message"]}
"""


def create(lam, role: str, source: str = WHOAMI) -> str:
    name = unique("fn")
    # Timeout: a boto3 client made in the handler at 128 MB (a 13.8th of a core) took 2.5 s of the default 3 on
    # a slow 2-core machine, and timed out under load; these tests are about the role (30 s, as test_isolation's)
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="app.handler",
                        Code={"ZipFile": zip_files(source)}, Timeout=30)
    return name


def invoke(lam, name: str, event: dict | None = None) -> dict:
    return json.loads(lam.invoke(FunctionName=name, Payload=json.dumps(event or {}))["Payload"].read())


def test_a_role_that_does_not_exist_is_refused(lam):
    with pytest.raises(lam.exceptions.InvalidParameterValueException, match=CANNOT_ASSUME):
        create(lam, "arn:aws:iam::123456789012:role/no-such-role")


def test_a_role_that_trusts_another_service_is_refused(cloud, lam):
    ec2_only = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    with pytest.raises(lam.exceptions.InvalidParameterValueException, match=CANNOT_ASSUME):
        create(lam, role_with(cloud, trust=ec2_only))


def test_a_bad_role_in_an_update_changes_nothing(cloud, lam):
    name = create(lam, role_with(cloud))
    before = lam.get_function_configuration(FunctionName=name)
    with pytest.raises(lam.exceptions.InvalidParameterValueException, match=CANNOT_ASSUME):
        lam.update_function_configuration(FunctionName=name, Role="arn:aws:iam::123456789012:role/missing")
    assert lam.get_function_configuration(FunctionName=name)["RevisionId"] == before["RevisionId"]


def test_the_handler_runs_as_a_session_of_its_role_named_after_the_function(cloud, lam):
    role = role_with(cloud)
    name = create(lam, role)
    me = invoke(lam, name)
    assert me["arn"] == f"arn:aws:sts::123456789012:assumed-role/{role.split('/')[-1]}/{name}"
    assert me["key"].startswith("ASIA") and me["token"]


def test_least_privilege_access_denied_then_allowed_once_the_policy_grants_it(cloud, lam):
    bucket = unique("bucket")
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="a.txt", Body=b"a")
    role = role_with(cloud)  # trusted by Lambda, no permissions at all
    name = create(lam, role, LIST_BUCKET)

    denied = invoke(lam, name, {"bucket": bucket})
    session = f"arn:aws:sts::123456789012:assumed-role/{role.split('/')[-1]}/{name}"
    assert denied == {"error": "AccessDenied", "message": (
        f'User: {session} is not authorized to perform: s3:ListBucket on resource: "arn:aws:s3:::{bucket}" '
        "because no identity-based policy allows the s3:ListBucket action")}

    cloud.client("iam").put_role_policy(RoleName=role.split("/")[-1], PolicyName="list", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [statement("s3:ListBucket", f"arn:aws:s3:::{bucket}")]}))
    assert invoke(lam, name, {"bucket": bucket}) == {"keys": ["a.txt"]}  # the same warm environment

    decisions = cloud.decisions()
    mine = decisions[(decisions["principal"] == session) & (decisions["action"] == "s3:ListBucket")]
    assert list(mine["allowed"]) == [False, True]
    assert list(mine["reason"]) == ["implicit deny", "allowed"]
    assert mine.iloc[1]["policy"] == f'inline policy "list" of role {role.split("/")[-1]}'


def test_the_course_role_can_write_logs_but_not_read_s3(cloud, lam):
    name = create(lam, "arn:aws:iam::123456789012:role/lambda-role", LIST_BUCKET)
    bucket = unique("bucket")
    cloud.client("s3").create_bucket(Bucket=bucket)
    assert invoke(lam, name, {"bucket": bucket})["error"] == "AccessDenied"
