"""Who may call Lambda: identity policies, iam:PassRole, and the function's resource-based policy."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from iam_helpers import document, statement, unique, user_with

from lambdalab import zip_files
from lambdalab.iam.policy import Policy, Principal, Request, evaluate

ROLE = "arn:aws:iam::123456789012:role/lambda-role"
ECHO = "def handler(event, context):\n    return event\n"


def function(cloud) -> tuple[str, str]:
    name = unique("fn")
    arn = cloud.client("lambda").create_function(FunctionName=name, Runtime="python3.12", Role=ROLE,
                                                 Handler="app.handler", Code={"ZipFile": zip_files(ECHO)})
    return name, arn["FunctionArn"]


def denied(call) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    assert response["Error"]["Code"] == "AccessDeniedException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403
    return response["Error"]["Message"]


def test_invoke_needs_lambda_invoke_function_on_that_function(cloud):
    name, arn = function(cloud)
    other, _ = function(cloud)
    user, key = user_with(cloud, statement("lambda:InvokeFunction", arn))
    lam = cloud.client("lambda", credentials=key)
    assert json.loads(lam.invoke(FunctionName=name, Payload=b'{"a": 1}')["Payload"].read()) == {"a": 1}
    message = denied(lambda: lam.invoke(FunctionName=other))
    assert message == (f"User: arn:aws:iam::123456789012:user/{user} is not authorized to perform: "
                       f"lambda:InvokeFunction on resource: {arn.rsplit(':', 1)[0]}:{other} because no "
                       "identity-based policy allows the lambda:InvokeFunction action")
    denied(lambda: lam.get_function(FunctionName=name))  # invoking is not reading


def test_a_changed_policy_decides_the_very_next_request(cloud):
    """Parsed policies and compiled patterns are kept between requests: a policy that changes must not be
    judged from what was kept (an inline policy replaced, then a managed policy's new default version)."""
    name, arn = function(cloud)
    user, key = user_with(cloud, statement("lambda:InvokeFunction", arn))
    lam, iam = cloud.client("lambda", credentials=key), cloud.client("iam")
    assert lam.invoke(FunctionName=name)["StatusCode"] == 200
    iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=document(
        statement("lambda:InvokeFunction", arn + "-other")))
    assert "because no identity-based policy allows" in denied(lambda: lam.invoke(FunctionName=name))
    iam.delete_user_policy(UserName=user, PolicyName="p")
    managed = iam.create_policy(PolicyName=unique("m"), PolicyDocument=document(
        statement("lambda:GetFunction", arn)))["Policy"]["Arn"]
    iam.attach_user_policy(UserName=user, PolicyArn=managed)
    denied(lambda: lam.invoke(FunctionName=name))
    iam.create_policy_version(PolicyArn=managed, SetAsDefault=True, PolicyDocument=document(
        statement("lambda:InvokeFunction", arn.rsplit(":", 1)[0] + ":fn-*")))
    assert lam.invoke(FunctionName=name)["StatusCode"] == 200
    iam.put_user_policy(UserName=user, PolicyName="deny", PolicyDocument=document(
        statement("lambda:InvokeFunction", arn, effect="Deny")))
    assert "with an explicit deny" in denied(lambda: lam.invoke(FunctionName=name))


def test_authorization_comes_before_existence(cloud):
    _, key = user_with(cloud)
    denied(lambda: cloud.client("lambda", credentials=key).get_function(FunctionName="does-not-exist"))


def test_creating_a_function_needs_pass_role_on_its_role(cloud):
    create = statement(["lambda:CreateFunction", "lambda:GetFunction"])
    _, without = user_with(cloud, create)
    _, with_pass = user_with(cloud, create, statement("iam:PassRole", ROLE,
                                                      Condition={"StringEquals": {
                                                          "iam:PassedToService": "lambda.amazonaws.com"}}))
    kwargs = {"Runtime": "python3.12", "Role": ROLE, "Handler": "app.handler", "Code": {"ZipFile": zip_files(ECHO)}}
    message = denied(lambda: cloud.client("lambda", credentials=without).create_function(
        FunctionName=unique("fn"), **kwargs))
    assert f"iam:PassRole on resource: {ROLE}" in message
    name = unique("fn")
    cloud.client("lambda", credentials=with_pass).create_function(FunctionName=name, **kwargs)
    assert cloud.client("lambda").get_function(FunctionName=name)["Configuration"]["Role"] == ROLE


def test_another_account_needs_the_functions_resource_policy(cloud):
    name, arn = function(cloud)
    theirs = cloud.client("lambda", account=cloud.other_account)
    message = denied(lambda: theirs.invoke(FunctionName=arn))
    assert message == (f"User: arn:aws:iam::{cloud.other_account}:root is not authorized to perform: "
                       f"lambda:InvokeFunction on resource: {arn} because no resource-based policy allows the "
                       "lambda:InvokeFunction action")
    cloud.client("lambda").add_permission(FunctionName=name, StatementId="partner", Action="lambda:InvokeFunction",
                                          Principal=cloud.other_account)
    assert theirs.invoke(FunctionName=arn)["StatusCode"] == 200
    decisions = cloud.decisions()
    last = decisions[decisions["resource"] == arn].iloc[-1]
    assert last["allowed"] and last["policy"] == f"resource-based policy of function {name}"


def test_a_user_of_the_same_account_may_invoke_through_the_resource_policy_alone(cloud):
    name, _ = function(cloud)
    user, key = user_with(cloud)
    cloud.client("lambda").add_permission(FunctionName=name, StatementId="one-user", Action="lambda:InvokeFunction",
                                          Principal=f"arn:aws:iam::123456789012:user/{user}")
    assert cloud.client("lambda", credentials=key).invoke(FunctionName=name)["StatusCode"] == 200


def test_a_service_principal_is_held_to_the_source_arn_condition(cloud):
    name, arn = function(cloud)
    bucket = unique("uploads")
    cloud.client("lambda").add_permission(FunctionName=name, StatementId="s3", Action="lambda:InvokeFunction",
                                          Principal="s3.amazonaws.com", SourceArn=f"arn:aws:s3:::{bucket}",
                                          SourceAccount="123456789012")
    s3 = Principal(arn="s3.amazonaws.com", account="", service="s3.amazonaws.com")
    document = json.loads(cloud.client("lambda").get_policy(FunctionName=name)["Policy"])
    def judge(source_arn: str) -> bool:
        context = {"aws:SourceArn": source_arn, "aws:SourceAccount": "123456789012"}
        return evaluate(Request(s3, "lambda:InvokeFunction", arn, context), (),
                        Policy("function policy", document, kind="resource"), "123456789012").allowed

    assert judge(f"arn:aws:s3:::{bucket}")
    assert not judge("arn:aws:s3:::someone-elses-bucket")


def test_another_account_reads_a_layer_version_once_its_policy_says_so(cloud):
    lam = cloud.client("lambda")
    layer = lam.publish_layer_version(LayerName=unique("shared"), Content={"ZipFile": zip_files({"python/x.py": ""})})
    arn = layer["LayerVersionArn"]
    theirs = cloud.client("lambda", account=cloud.other_account)
    message = denied(lambda: theirs.get_layer_version_by_arn(Arn=arn))
    assert message.endswith(f"lambda:GetLayerVersion on resource: {arn} because no resource-based policy allows "
                            "the lambda:GetLayerVersion action")
    lam.add_layer_version_permission(LayerName=layer["LayerArn"], VersionNumber=layer["Version"], StatementId="x",
                                     Action="lambda:GetLayerVersion", Principal=cloud.other_account)
    assert theirs.get_layer_version_by_arn(Arn=arn)["LayerVersionArn"] == arn


def test_a_user_of_another_account_needs_both_its_own_policy_and_the_functions(cloud):
    name, arn = function(cloud)
    iam = cloud.client("iam", account=cloud.other_account)
    keys = {}
    for user, statements in (("partner-dev", [statement("lambda:InvokeFunction", arn)]), ("partner-intern", [])):
        iam.create_user(UserName=user)
        if statements:
            iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": statements}))
        keys[user] = iam.create_access_key(UserName=user)["AccessKey"]
    dev, intern = (cloud.client("lambda", credentials=keys[u]) for u in ("partner-dev", "partner-intern"))
    assert denied(lambda: dev.invoke(FunctionName=arn)).endswith(
        "because no resource-based policy allows the lambda:InvokeFunction action")
    cloud.client("lambda").add_permission(FunctionName=name, StatementId="partner", Action="lambda:InvokeFunction",
                                          Principal=cloud.other_account)
    assert dev.invoke(FunctionName=arn)["StatusCode"] == 200
    assert denied(lambda: intern.invoke(FunctionName=arn)).endswith(
        "because no identity-based policy allows the lambda:InvokeFunction action")
