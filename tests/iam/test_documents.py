"""Malformed policy documents and unreadable bodies: AWS's 400s at the door, never a 500 further in."""

from __future__ import annotations

import json
import urllib.request
from functools import partial

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import ClientError
from iam_helpers import LAMBDA_TRUST, document, statement, unique, user_with

from lambdalab import zip_files
from lambdalab.iam.policy import Policy, Principal, Request, evaluate
from lambdalab.jackson import TOO_DEEP

NOT_JSON = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*",}]}'
POLICY = document(statement("s3:ListBucket"))


def malformed(call) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response["Error"]
    assert (error["Code"], error["Type"], caught.value.response["ResponseMetadata"]["HTTPStatusCode"]) == \
        ("MalformedPolicyDocument", "Sender", 400)
    return error["Message"]


def test_every_operation_that_stores_a_policy_refuses_text_that_is_not_json(cloud):
    iam = cloud.client("iam")
    role, user, group = unique("role"), unique("user"), unique("group")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))
    iam.create_user(UserName=user)
    iam.create_group(GroupName=group)
    policy = iam.create_policy(PolicyName=unique("policy"), PolicyDocument=POLICY)["Policy"]["Arn"]
    for text in (NOT_JSON, "[" * 5000, '{"Version": "2012-10-17", "Statement": NaN}'):
        for operation, params in (("create_role", {"RoleName": unique("role"), "AssumeRolePolicyDocument": text}),
                                  ("update_assume_role_policy", {"RoleName": role, "PolicyDocument": text}),
                                  ("put_role_policy", {"RoleName": role, "PolicyName": "p", "PolicyDocument": text}),
                                  ("put_user_policy", {"UserName": user, "PolicyName": "p", "PolicyDocument": text}),
                                  ("put_group_policy", {"GroupName": group, "PolicyName": "p",
                                                        "PolicyDocument": text}),
                                  ("create_policy", {"PolicyName": unique("policy"), "PolicyDocument": text}),
                                  ("create_policy_version", {"PolicyArn": policy, "PolicyDocument": text})):
            assert malformed(partial(getattr(iam, operation), **params)) == "This policy contains invalid Json"
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == []  # nothing reached moto


def test_json_that_is_no_policy_is_refused_in_awss_words(cloud):
    iam = cloud.client("iam")
    with_resource = {"Version": "2012-10-17", "Statement": [{**LAMBDA_TRUST["Statement"][0], "Resource": "*"}]}
    assert malformed(lambda: iam.create_role(RoleName=unique("role"),
                                             AssumeRolePolicyDocument=json.dumps(with_resource))) == \
        "Has prohibited field Resource"
    assert malformed(lambda: iam.create_role(RoleName=unique("role"),
                                             AssumeRolePolicyDocument=json.dumps(json.dumps(LAMBDA_TRUST)))) == \
        "Syntax errors in policy."
    assert iam.create_role(RoleName=unique("role"), AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))["Role"]


def test_a_caller_not_allowed_to_store_the_policy_is_told_that_first(cloud):
    _, key = user_with(cloud)
    with pytest.raises(ClientError) as caught:
        cloud.client("iam", credentials=key).create_role(RoleName=unique("role"), AssumeRolePolicyDocument=NOT_JSON)
    assert caught.value.response["Error"]["Code"] == "AccessDenied"


def test_an_unreadable_document_allows_and_denies_nothing():
    alice = Principal(arn="arn:aws:iam::111122223333:user/alice", account="111122223333")
    request = Request(alice, "s3:GetObject", "arn:aws:s3:::b/k")
    for text in (NOT_JSON, "[1, 2]", "[" * 100_000, json.dumps({"Statement": ["Allow", 7, None]})):
        assert Policy("broken", text).statements() == []
        decision = evaluate(request, [Policy("broken", text)], Policy("broken too", text, kind="resource"),
                            "111122223333")
        assert (decision.allowed, decision.reason) == (False, "implicit deny")


def test_a_role_whose_stored_trust_policy_is_unreadable_cannot_be_passed_to_lambda(cloud):
    from moto.iam.models import iam_backends

    name = unique("broken-trust")  # stored as moto would store it, past the guard (an older cloud, say)
    arn = iam_backends[cloud.account]["aws"].create_role(name, NOT_JSON, "/", None, "", [], None).arn
    with pytest.raises(ClientError) as caught:
        cloud.client("lambda").create_function(FunctionName=unique("fn"), Runtime="python3.12", Role=arn,
                                               Handler="app.handler", Code={"ZipFile": zip_files("x = 1\n")})
    assert caught.value.response["Error"] == {"Code": "InvalidParameterValueException",
                                              "Message": "The role defined for the function cannot be assumed by "
                                                         "Lambda."}


def signed(cloud, service: str, target: str, body: bytes) -> tuple[int, bytes]:
    """A JSON-protocol request with any body, signed as an SDK signs it."""
    request = AWSRequest("POST", cloud.endpoint_url + "/", data=body,
                         headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.0"})
    SigV4Auth(cloud.session.get_credentials(), service, cloud.region).add_auth(request)
    prepared = request.prepare()
    try:
        with urllib.request.urlopen(urllib.request.Request(prepared.url, data=body, headers=dict(prepared.headers),
                                                           method="POST"), timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@pytest.mark.parametrize(("service", "target"), [("dynamodb", "DynamoDB_20120810.PutItem"),
                                                 ("sqs", "AmazonSQS.SendMessage")])
@pytest.mark.parametrize(("body", "words"), [(b"[" * 100_000, TOO_DEEP), (b'{"TableName": ' * 2000, TOO_DEEP),
                                             (b"{not json", None)])
def test_a_json_body_no_service_could_read_is_a_serialization_exception(cloud, service, target, body, words):
    status, answer = signed(cloud, service, target, body)
    error = json.loads(answer)
    assert (status, error["__type"]) == (400, "com.amazon.coral.service#SerializationException")
    assert words is None or error["message"] == words
