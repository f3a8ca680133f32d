"""IAM's policy evaluation, rule by rule and operator by operator: pure unit tests, no cloud."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from urllib.parse import quote

import pytest

from lambdalab.iam.policy import Decision, Policy, Principal, Request, evaluate

ACCOUNT, OTHER = "111122223333", "444455556666"
OBJECT = "arn:aws:s3:::reports/2026/q1.csv"
ALICE = Principal(arn=f"arn:aws:iam::{ACCOUNT}:user/alice", account=ACCOUNT)
ROOT = Principal(arn=f"arn:aws:iam::{ACCOUNT}:root", account=ACCOUNT)
WORKER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/worker"
SESSION = Principal(arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/worker/fn", account=ACCOUNT, role_arn=WORKER_ROLE)
BOB = Principal(arn=f"arn:aws:iam::{OTHER}:user/bob", account=OTHER)
S3 = Principal(arn="s3.amazonaws.com", account="", service="s3.amazonaws.com")
LAMBDA = Principal(arn="lambda.amazonaws.com", account="", service="lambda.amazonaws.com")


def allow(action="*", resource="*", **extra) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action="*", resource="*", **extra) -> dict:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def policy(*statements: dict, name: str = "p", kind: str = "identity") -> Policy:
    return Policy(name, {"Version": "2012-10-17", "Statement": list(statements)}, kind=kind)


def decide(*identity: Policy, action: str = "s3:GetObject", resource: str = OBJECT, context: dict | None = None,
           principal: Principal = ALICE, resource_policy: Policy | None = None, account: str = ACCOUNT) -> Decision:
    return evaluate(Request(principal, action, resource, context or {}), identity, resource_policy, account)


# -- the decision rules ------------------------------------------------------------------------------------
def test_the_first_matching_allow_decides():
    decision = decide(policy(allow("s3:PutObject"), allow("s3:GetObject", Sid="Read"), allow("s3:*"), name="mine"))
    assert (decision.allowed, decision.reason) == (True, "allowed")
    assert (decision.policy, decision.statement, decision.sid) == ("mine", 1, "Read")


def test_what_nothing_allows_is_an_implicit_deny():
    decision = decide(policy(allow("s3:PutObject"), allow("dynamodb:*")))
    assert (decision.allowed, decision.reason, decision.policy, decision.statement) == \
        (False, "implicit deny", None, None)


def test_an_explicit_deny_in_another_policy_beats_an_allow():
    decision = decide(policy(allow("s3:*"), name="full"),
                      policy(allow("sqs:*"), deny("s3:GetObject", "arn:aws:s3:::reports/*"), name="guard"))
    assert (decision.allowed, decision.reason, decision.policy, decision.statement) == \
        (False, "explicit deny", "guard", 1)


def test_a_deny_that_does_not_match_leaves_the_allow():
    assert decide(policy(allow("s3:*")), policy(deny("s3:DeleteObject"))).allowed


def test_the_first_deny_found_decides_identity_policies_first():
    decision = decide(policy(deny("s3:Get*"), name="first"), policy(deny("s3:*"), name="second"),
                      resource_policy=policy(deny(Principal="*"), name="bucket", kind="resource"))
    assert (decision.policy, decision.kind) == ("first", "identity")


def test_an_explicit_deny_in_the_resource_policy_beats_an_identity_allow():
    decision = decide(policy(allow()), resource_policy=policy(
        deny("s3:GetObject", Principal={"AWS": ALICE.arn}), name="bucket policy", kind="resource"))
    assert (decision.reason, decision.policy, decision.kind) == ("explicit deny", "bucket policy", "resource")
    assert decision.denial_phrase() == "with an explicit deny in a resource-based policy"


@pytest.mark.parametrize(("statement", "action", "resource", "allowed"), [
    ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, "s3:GetObject", OBJECT, True),
    ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, "iam:CreateUser", "*", False),
    ({"Effect": "Allow", "NotAction": ["iam:*", "s3:Get*"], "Resource": "*"}, "s3:GetObject", OBJECT, False),
    ({"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::payroll/*"}, "s3:GetObject", OBJECT, True),
    ({"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::payroll/*"}, "s3:GetObject",
     "arn:aws:s3:::payroll/march.csv", False),
], ids=["notaction-other", "notaction-listed", "notaction-list", "notresource-other", "notresource-listed"])
def test_not_action_and_not_resource_match_everything_but_what_they_list(statement, action, resource, allowed):
    assert decide(policy(statement), action=action, resource=resource).allowed is allowed


@pytest.mark.parametrize(("pattern", "action", "allowed"), [
    ("s3:Get*", "s3:GetObject", True),
    ("s3:Get*", "s3:PutObject", False),
    ("s3:Get?bject", "s3:GetObject", True),
    ("s3:Get?bject", "s3:GetObjectAcl", False),
    ("S3:GETOBJECT", "s3:GetObject", True),  # actions are case-insensitive
    ("*", "dynamodb:DeleteTable", True),
])
def test_actions_match_with_wildcards_and_any_case(pattern, action, allowed):
    assert decide(policy(allow(pattern)), action=action).allowed is allowed


@pytest.mark.parametrize(("pattern", "resource", "allowed"), [
    ("arn:aws:s3:::reports/*", "arn:aws:s3:::reports/2026/q1.csv", True),  # * spans /
    ("arn:*:reports/2026/q1.csv", "arn:aws:s3:::reports/2026/q1.csv", True),  # and :
    ("arn:aws:s3:::reports/2026/q?.csv", "arn:aws:s3:::reports/2026/q1.csv", True),
    ("arn:aws:s3:::reports/2026/q?.csv", "arn:aws:s3:::reports/2026/q10.csv", False),
    ("arn:aws:s3:::Reports/*", "arn:aws:s3:::reports/2026/q1.csv", False),  # resources are case-sensitive
    ("arn:aws:s3:::reports", "arn:aws:s3:::reports/2026/q1.csv", False),  # no wildcard: the whole ARN
])
def test_resources_match_with_wildcards_and_exact_case(pattern, resource, allowed):
    assert decide(policy(allow("s3:GetObject", pattern)), resource=resource).allowed is allowed


@pytest.mark.parametrize(("pattern", "context", "resource", "allowed"), [
    ("arn:aws:s3:::homes/${aws:username}/*", {"aws:username": "alice"}, "arn:aws:s3:::homes/alice/a", True),
    ("arn:aws:s3:::homes/${aws:username}/*", {"aws:username": "alice"}, "arn:aws:s3:::homes/bob/a", False),
    ("arn:aws:s3:::homes/${AWS:UserName}/*", {"aws:username": "alice"}, "arn:aws:s3:::homes/alice/a", True),
    ("arn:aws:s3:::homes/${aws:username}/*", {}, "arn:aws:s3:::homes/${aws:username}/a", False),  # absent
    ("arn:aws:s3:::homes/${aws:username, 'guest'}/*", {}, "arn:aws:s3:::homes/guest/a", True),
    ("arn:aws:s3:::homes/${aws:username, 'guest'}/*", {"aws:username": "alice"}, "arn:aws:s3:::homes/guest/a",
     False),
    ("arn:aws:s3:::${s3:custom}/*", {"s3:Custom": "team"}, "arn:aws:s3:::team/a", True),  # any context key
    ("arn:aws:s3:::b/${*}", {}, "arn:aws:s3:::b/*", True),  # ${*} is a literal *
    ("arn:aws:s3:::b/${*}", {}, "arn:aws:s3:::b/x", False),
    ("arn:aws:s3:::b/${?}", {}, "arn:aws:s3:::b/x", False),
    ("arn:aws:s3:::b/${$}{x}", {}, "arn:aws:s3:::b/${x}", True),
], ids=["username", "someone-else", "key-any-case", "absent", "default", "default-unused", "context-key",
        "escaped-star", "escaped-star-literal", "escaped-question", "escaped-dollar"])
def test_policy_variables_in_resources(pattern, context, resource, allowed):
    assert decide(policy(allow("s3:GetObject", pattern)), resource=resource, context=context).allowed is allowed


# -- conditions --------------------------------------------------------------------------------------------
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
CONDITIONS = [  # (id, Condition, context, holds)
    ("string-equals", {"StringEquals": {"s3:prefix": "home/"}}, {"s3:prefix": "home/"}, True),
    ("string-equals-case", {"StringEquals": {"s3:prefix": "home/"}}, {"s3:prefix": "HOME/"}, False),
    ("string-equals-no-wildcard", {"StringEquals": {"s3:prefix": "home/*"}}, {"s3:prefix": "home/a"}, False),
    ("string-not-equals", {"StringNotEquals": {"s3:prefix": "home/"}}, {"s3:prefix": "tmp/"}, True),
    ("string-not-equals-same", {"StringNotEquals": {"s3:prefix": "home/"}}, {"s3:prefix": "home/"}, False),
    ("ignore-case", {"StringEqualsIgnoreCase": {"aws:PrincipalTag/team": "Data"}},
     {"aws:PrincipalTag/team": "DATA"}, True),
    ("not-ignore-case", {"StringNotEqualsIgnoreCase": {"aws:PrincipalTag/team": "Data"}},
     {"aws:PrincipalTag/team": "data"}, False),
    ("string-like", {"StringLike": {"s3:prefix": "home/*/docs/?"}}, {"s3:prefix": "home/alice/docs/1"}, True),
    ("string-like-miss", {"StringLike": {"s3:prefix": "home/*"}}, {"s3:prefix": "tmp/alice"}, False),
    ("string-not-like", {"StringNotLike": {"s3:prefix": "home/*"}}, {"s3:prefix": "tmp/alice"}, True),
    ("string-not-like-match", {"StringNotLike": {"s3:prefix": "home/*"}}, {"s3:prefix": "home/alice"}, False),
    ("variable-in-value", {"StringLike": {"s3:prefix": "home/${aws:username}/*"}},
     {"s3:prefix": "home/alice/x", "aws:username": "alice"}, True),
    ("variable-in-value-other", {"StringLike": {"s3:prefix": "home/${aws:username}/*"}},
     {"s3:prefix": "home/bob/x", "aws:username": "alice"}, False),
    ("variable-in-value-absent", {"StringLike": {"s3:prefix": "home/${aws:username}/*"}},
     {"s3:prefix": "home/${aws:username}/x"}, False),
    ("values-or", {"StringEquals": {"aws:RequestedRegion": ["eu-west-1", "us-east-1"]}},
     {"aws:RequestedRegion": "us-east-1"}, True),
    ("keys-and", {"StringEquals": {"aws:RequestedRegion": "us-east-1", "aws:PrincipalAccount": ACCOUNT}},
     {"aws:RequestedRegion": "us-east-1", "aws:PrincipalAccount": OTHER}, False),
    ("operators-and", {"StringEquals": {"aws:RequestedRegion": "us-east-1"}, "Bool": {"aws:SecureTransport": "true"}},
     {"aws:RequestedRegion": "us-east-1", "aws:SecureTransport": False}, False),
    ("key-any-case", {"StringEquals": {"AWS:SourceAccount": ACCOUNT}}, {"aws:sourceaccount": ACCOUNT}, True),
    ("numeric-equals", {"NumericEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": 10.0}, True),
    ("numeric-not-equals", {"NumericNotEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": 10}, False),
    ("numeric-less", {"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "9"}, True),
    ("numeric-less-equal-bound", {"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": 10}, False),
    ("numeric-less-equals", {"NumericLessThanEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": 10}, True),
    ("numeric-greater", {"NumericGreaterThan": {"s3:max-keys": "10"}}, {"s3:max-keys": 10}, False),
    ("numeric-greater-equals", {"NumericGreaterThanEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": 11}, True),
    ("numeric-unreadable", {"NumericNotEquals": {"s3:max-keys": "ten"}}, {"s3:max-keys": 3}, False),
    ("date-less-datetime", {"DateLessThan": {"aws:CurrentTime": "2026-12-31T23:59:59Z"}},
     {"aws:CurrentTime": NOW}, True),
    ("date-greater-datetime", {"DateGreaterThan": {"aws:CurrentTime": "2026-12-31T23:59:59Z"}},
     {"aws:CurrentTime": NOW}, False),
    ("date-naive-is-utc", {"DateEquals": {"aws:CurrentTime": "2026-03-01T12:00:00Z"}},
     {"aws:CurrentTime": datetime(2026, 3, 1, 12, 0)}, True),
    ("date-epoch-context", {"DateGreaterThanEquals": {"aws:EpochTime": "2026-03-01T12:00:00Z"}},
     {"aws:EpochTime": int(NOW.timestamp())}, True),
    ("date-epoch-policy", {"DateLessThanEquals": {"aws:CurrentTime": str(int(NOW.timestamp()))}},
     {"aws:CurrentTime": NOW}, True),
    ("date-iso-context", {"DateNotEquals": {"aws:TokenIssueTime": "2026-03-01T12:00:00+00:00"}},
     {"aws:TokenIssueTime": "2026-03-01T13:00:00+01:00"}, False),
    ("bool-true", {"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": True}, True),
    ("bool-false", {"Bool": {"aws:SecureTransport": "false"}}, {"aws:SecureTransport": False}, True),
    ("bool-mismatch", {"Bool": {"aws:SecureTransport": True}}, {"aws:SecureTransport": False}, False),
    ("binary", {"BinaryEquals": {"s3:key": "QUJD"}}, {"s3:key": b"ABC"}, True),
    ("binary-mismatch", {"BinaryEquals": {"s3:key": "QUJD"}}, {"s3:key": b"ABD"}, False),
    ("ip-in-cidr", {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {"aws:SourceIp": "10.20.30.40"}, True),
    ("ip-outside", {"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"]}},
     {"aws:SourceIp": "172.16.0.1"}, False),
    ("ip-single", {"IpAddress": {"aws:SourceIp": "127.0.0.1"}}, {"aws:SourceIp": "127.0.0.1"}, True),
    ("ipv6", {"IpAddress": {"aws:SourceIp": "2001:db8::/32"}}, {"aws:SourceIp": "2001:db8::1"}, True),
    ("not-ip", {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {"aws:SourceIp": "10.1.1.1"}, False),
    ("arn-like", {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::uploads-*"}}, {"aws:SourceArn": "arn:aws:s3:::uploads-1"},
     True),
    ("arn-equals-wildcard-part", {"ArnEquals": {"aws:SourceArn": f"arn:aws:lambda:*:{ACCOUNT}:function:f"}},
     {"aws:SourceArn": f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:f"}, True),
    ("arn-like-last-part-keeps-colons", {"ArnLike": {"aws:SourceArn": f"arn:aws:lambda:*:{ACCOUNT}:function:f:*"}},
     {"aws:SourceArn": f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:f:live"}, True),
    ("arn-star-stays-in-its-part", {"ArnLike": {"aws:SourceArn": "arn:aws:*"}},
     {"aws:SourceArn": "arn:aws:s3:::uploads"}, False),
    ("arn-account-part", {"ArnLike": {"aws:SourceArn": f"arn:aws:sqs:*:{ACCOUNT}:*"}},
     {"aws:SourceArn": f"arn:aws:sqs:eu-west-1:{OTHER}:{ACCOUNT}:q"}, False),
    ("arn-variable", {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::${aws:username}-*"}},
     {"aws:SourceArn": "arn:aws:s3:::alice-data", "aws:username": "alice"}, True),
    ("arn-not-equals", {"ArnNotEquals": {"aws:SourceArn": "arn:aws:s3:::uploads"}},
     {"aws:SourceArn": "arn:aws:s3:::other"}, True),
    ("arn-not-like", {"ArnNotLike": {"aws:SourceArn": "arn:aws:s3:::up*"}}, {"aws:SourceArn": "arn:aws:s3:::uploads"},
     False),
    ("null-absent", {"Null": {"aws:TokenIssueTime": "true"}}, {}, True),
    ("null-present", {"Null": {"aws:TokenIssueTime": "true"}}, {"aws:TokenIssueTime": NOW}, False),
    ("null-false-present", {"Null": {"aws:TokenIssueTime": "false"}}, {"aws:TokenIssueTime": NOW}, True),
    ("if-exists-absent", {"StringEqualsIfExists": {"ec2:InstanceType": "t3.micro"}}, {}, True),
    ("if-exists-present", {"StringEqualsIfExists": {"ec2:InstanceType": "t3.micro"}},
     {"ec2:InstanceType": "m5.large"}, False),
    ("numeric-if-exists-absent", {"NumericLessThanIfExists": {"s3:max-keys": "10"}}, {}, True),
    ("for-all-values-subset", {"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "cost"]}},
     {"aws:TagKeys": ["team"]}, True),
    ("for-all-values-extra", {"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "cost"]}},
     {"aws:TagKeys": ["team", "owner"]}, False),
    ("for-all-values-absent", {"ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}}, {}, True),
    ("for-all-values-empty", {"ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}}, {"aws:TagKeys": []}, True),
    ("for-all-values-negated", {"ForAllValues:StringNotLike": {"aws:TagKeys": "key1*"}},
     {"aws:TagKeys": ["key2", "key1a"]}, False),
    ("for-any-value", {"ForAnyValue:StringLike": {"aws:TagKeys": "cost*"}}, {"aws:TagKeys": ["team", "costcentre"]},
     True),
    ("for-any-value-none", {"ForAnyValue:StringLike": {"aws:TagKeys": "cost*"}}, {"aws:TagKeys": ["team"]}, False),
    ("for-any-value-absent", {"ForAnyValue:StringLike": {"aws:TagKeys": "cost*"}}, {}, False),
    ("unknown-operator", {"StringSortOf": {"s3:prefix": "home/"}}, {"s3:prefix": "home/"}, False),
    ("unknown-qualifier", {"ForSomeValues:StringEquals": {"aws:TagKeys": "team"}}, {"aws:TagKeys": ["team"]}, False),
]


@pytest.mark.parametrize(("condition", "context", "holds"), [c[1:] for c in CONDITIONS], ids=[c[0] for c in CONDITIONS])
def test_condition_operators(condition, context, holds):
    assert decide(policy(allow(Condition=condition)), context=context).allowed is holds


@pytest.mark.parametrize("operator", ["StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike",
                                      "NumericNotEquals", "DateNotEquals", "ArnNotEquals", "ArnNotLike",
                                      "NotIpAddress"])
def test_a_negated_operator_holds_when_the_key_is_absent(operator):
    assert decide(policy(allow(Condition={operator: {"aws:SomeKey": "10.0.0.1"}}))).allowed


@pytest.mark.parametrize("operator", ["StringEquals", "StringEqualsIgnoreCase", "StringLike", "NumericEquals",
                                      "NumericLessThan", "DateEquals", "DateGreaterThan", "Bool", "BinaryEquals",
                                      "IpAddress", "ArnEquals", "ArnLike"])
def test_a_plain_operator_fails_when_the_key_is_absent(operator):
    assert not decide(policy(allow(Condition={operator: {"aws:SomeKey": "10.0.0.1"}}))).allowed


def test_a_negated_condition_on_a_deny_protects_when_the_key_is_absent():
    guard = policy(deny(Condition={"StringNotEquals": {"aws:RequestedRegion": "eu-west-1"}}), name="region guard")
    assert decide(policy(allow()), guard, context={"aws:RequestedRegion": "eu-west-1"}).allowed
    assert decide(policy(allow()), guard).reason == "explicit deny"


# -- resource-based policies -------------------------------------------------------------------------------
def bucket_policy(*statements: dict) -> Policy:
    return policy(*statements, name="bucket policy of reports", kind="resource")


@pytest.mark.parametrize("named", [ALICE.arn, [BOB.arn, ALICE.arn]])
def test_a_user_named_by_the_resource_policy_of_their_account_needs_no_identity_policy(named):
    decision = decide(resource_policy=bucket_policy(allow("s3:GetObject", OBJECT, Principal={"AWS": named})))
    assert (decision.allowed, decision.policy, decision.kind) == (True, "bucket policy of reports", "resource")


@pytest.mark.parametrize("principal", ["*", {"AWS": "*"}])
def test_everyone_includes_the_users_of_the_account(principal):
    assert decide(resource_policy=bucket_policy(allow("s3:GetObject", Principal=principal))).allowed


@pytest.mark.parametrize("account", [ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root"])
def test_naming_its_own_account_leaves_users_to_their_identity_policies(account):
    resource_policy = bucket_policy(allow("s3:GetObject", Principal={"AWS": account}))
    decision = decide(resource_policy=resource_policy)
    assert (decision.reason, decision.denial_phrase()) == \
        ("implicit deny", "because no identity-based policy allows the s3:GetObject action")
    assert decide(policy(allow("s3:GetObject")), resource_policy=resource_policy).allowed
    assert decide(resource_policy=resource_policy, principal=ROOT).allowed  # the root user is the account


@pytest.mark.parametrize(("named", "allowed"), [(WORKER_ROLE, True), (SESSION.arn, True),
                                                (f"arn:aws:iam::{ACCOUNT}:role/other", False)])
def test_a_role_session_is_named_by_its_role_or_its_session(named, allowed):
    resource_policy = bucket_policy(allow("s3:GetObject", Principal={"AWS": named}))
    assert decide(resource_policy=resource_policy, principal=SESSION).allowed is allowed


def test_a_resource_policy_statement_without_resource_is_about_its_resource():
    statement = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}
    assert decide(resource_policy=bucket_policy(statement)).allowed


def test_a_resource_policy_statement_must_name_a_principal():
    assert not decide(resource_policy=bucket_policy(allow("s3:GetObject"))).allowed


def test_not_principal_denies_everyone_but_those_it_names():
    resource_policy = bucket_policy(allow(Principal="*"), deny(NotPrincipal={"AWS": ALICE.arn}))
    assert decide(resource_policy=resource_policy).allowed
    assert decide(resource_policy=resource_policy, principal=ROOT).reason == "explicit deny"


@pytest.mark.parametrize("named", [OTHER, f"arn:aws:iam::{OTHER}:root", BOB.arn])
def test_across_accounts_both_sides_must_allow(named):
    resource_policy = bucket_policy(allow("s3:GetObject", Principal={"AWS": named}, Sid="Partner"))
    theirs = policy(allow("s3:GetObject"), name="bob's policy")
    both = decide(theirs, principal=BOB, resource_policy=resource_policy)
    assert (both.allowed, both.policy, both.statement, both.sid) == (True, "bucket policy of reports", 0, "Partner")
    no_identity = decide(principal=BOB, resource_policy=resource_policy)
    assert no_identity.denial_phrase() == "because no identity-based policy allows the s3:GetObject action"
    no_resource = decide(theirs, principal=BOB)
    assert no_resource.denial_phrase() == "because no resource-based policy allows the s3:GetObject action"


def test_across_accounts_a_policy_for_another_account_is_no_allow():
    resource_policy = bucket_policy(allow("s3:GetObject", Principal={"AWS": "arn:aws:iam::999999999999:root"}))
    decision = decide(policy(allow()), principal=BOB, resource_policy=resource_policy)
    assert (decision.reason, decision.kind) == ("implicit deny", "resource")


def function_policy(condition: dict, service: str | list = "s3.amazonaws.com") -> Policy:
    function = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:thumbnail"
    return Policy("resource-based policy of function thumbnail", json.dumps({
        "Version": "2012-10-17", "Id": "default", "Statement": [
            {"Sid": "s3", "Effect": "Allow", "Principal": {"Service": service}, "Action": "lambda:InvokeFunction",
             "Resource": function, "Condition": condition}]}), kind="resource")


SOURCE = {"StringEquals": {"AWS:SourceAccount": ACCOUNT}, "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::uploads"}}


@pytest.mark.parametrize(("context", "allowed"), [
    ({"aws:SourceArn": "arn:aws:s3:::uploads", "aws:SourceAccount": ACCOUNT}, True),
    ({"aws:SourceArn": "arn:aws:s3:::someone-elses", "aws:SourceAccount": ACCOUNT}, False),
    ({"aws:SourceArn": "arn:aws:s3:::uploads", "aws:SourceAccount": OTHER}, False),
    ({}, False),
], ids=["their-bucket", "other-bucket", "other-account", "no-source"])
def test_a_service_principal_is_held_to_its_source_conditions(context, allowed):
    decision = decide(principal=S3, action="lambda:InvokeFunction", resource=f"arn:aws:lambda:us-east-1:{ACCOUNT}:"
                      "function:thumbnail", context=context, resource_policy=function_policy(SOURCE))
    assert decision.allowed is allowed


def test_a_service_is_judged_by_the_resource_policy_alone():
    resource = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:thumbnail"
    only_identity = decide(policy(allow()), principal=S3, action="lambda:InvokeFunction", resource=resource)
    assert only_identity.denial_phrase() == "because no resource-based policy allows the lambda:InvokeFunction action"
    listed = function_policy({}, service=["sns.amazonaws.com", "s3.amazonaws.com"])
    assert decide(principal=S3, action="lambda:InvokeFunction", resource=resource, resource_policy=listed).allowed
    assert not decide(principal=LAMBDA, action="lambda:InvokeFunction", resource=resource,
                      resource_policy=listed).allowed


@pytest.mark.parametrize(("service", "allowed"), [("lambda.amazonaws.com", True), ("ec2.amazonaws.com", False)])
def test_a_trust_policy_says_which_service_may_assume_the_role(service, allowed):
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]})
    role = f"arn:aws:iam::{ACCOUNT}:role/fn-role"
    for document in (trust, quote(trust)):  # moto keeps trust policies as text, sometimes URL-encoded
        decision = decide(principal=LAMBDA, action="sts:AssumeRole", resource=role,
                          resource_policy=Policy("trust policy of role fn-role", document, kind="trust"))
        assert decision.allowed is allowed


def trust(principal) -> Policy:
    return policy({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}, name="trust",
                  kind="trust")


MAY_ASSUME = policy(allow("sts:AssumeRole", WORKER_ROLE), name="may-assume")


@pytest.mark.parametrize(("identity", "trusts", "caller", "allowed", "missing"), [
    ((MAY_ASSUME,), {"Service": "lambda.amazonaws.com"}, ALICE, False, "resource"),  # the role must trust the caller
    ((), {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, ALICE, False, "identity"),  # trusting the account delegates to IAM
    ((MAY_ASSUME,), {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, ALICE, True, None),
    ((), {"AWS": ALICE.arn}, ALICE, True, None),  # named in the trust policy: enough within the account
    ((), {"AWS": OTHER}, BOB, False, "identity"),  # across accounts the caller's side must allow as well
    ((MAY_ASSUME,), {"AWS": OTHER}, BOB, True, None),
    ((MAY_ASSUME,), {"AWS": BOB.arn}, BOB, True, None),
], ids=["trusts-a-service", "trusts-the-account-no-identity", "trusts-the-account", "names-the-user",
        "other-account-no-identity", "other-account", "names-the-other-user"])
def test_assuming_a_role_needs_its_trust_policy_and_usually_the_callers_own(identity, trusts, caller, allowed,
                                                                             missing):
    decision = decide(*identity, principal=caller, action="sts:AssumeRole", resource=WORKER_ROLE,
                      resource_policy=trust(trusts))
    assert decision.allowed is allowed
    if missing:
        assert decision.denial_phrase() == f"because no {missing}-based policy allows the sts:AssumeRole action"
    else:
        assert decision.policy == "trust"


def test_a_deny_in_a_trust_policy_is_a_resource_based_deny():
    denying = Policy("trust", {"Statement": [
        {"Effect": "Allow", "Principal": {"AWS": ALICE.arn}, "Action": "sts:AssumeRole"},
        {"Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole",
         "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}}}]}, kind="trust")
    decision = decide(MAY_ASSUME, action="sts:AssumeRole", resource=WORKER_ROLE, resource_policy=denying,
                      context={"aws:MultiFactorAuthPresent": False})
    assert decision.denial_phrase() == "with an explicit deny in a resource-based policy"


# -- documents ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("document", [
    {"Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": OBJECT}},
    json.dumps({"Statement": [{"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": [OBJECT]}]}),
    quote(json.dumps({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})),
], ids=["one-statement", "json-text", "url-encoded"])
def test_documents_in_each_form_moto_stores(document):
    assert decide(Policy("p", document)).allowed
    assert not decide(Policy("p", document), action="s3:DeleteObject").allowed


# -- explanations ------------------------------------------------------------------------------------------
def test_explain_names_the_deciding_statement():
    allowed = decide(policy(allow("s3:GetObject", Sid="ReadReports"), name='inline policy "list" of role r'))
    assert allowed.explain() == 'Allowed by statement 0 (Sid "ReadReports") of inline policy "list" of role r'
    denied = decide(policy(allow(), deny("s3:*"), name="managed policy arn:aws:iam::aws:policy/Guard"))
    assert denied.explain() == "Denied explicitly by statement 1 of managed policy arn:aws:iam::aws:policy/Guard"
    assert denied.denial_phrase() == "with an explicit deny in an identity-based policy"
    assert allowed.denial_phrase() == ""


def test_explain_an_implicit_deny_counts_the_policies_that_apply():
    two = decide(policy(allow("sqs:*")), policy(allow("sns:*")))
    assert two.explain() == \
        f"Implicitly denied: no statement of the 2 policies that apply allows s3:GetObject on {OBJECT}"
    assert decide(policy(allow("sqs:*"))).explain() == \
        f"Implicitly denied: no statement of the 1 policy that applies allows s3:GetObject on {OBJECT}"
    assert decide().explain() == f"Implicitly denied: no policy applies, so nothing allows s3:GetObject on {OBJECT}"
    assert two.denial_phrase() == "because no identity-based policy allows the s3:GetObject action"


def test_explain_says_which_side_is_missing_across_accounts():
    resource_policy = bucket_policy(allow("s3:GetObject", Principal={"AWS": OTHER}))
    no_resource = decide(policy(allow()), principal=BOB).explain()
    assert no_resource.startswith(f"Implicitly denied: the caller's identity-based policies allow s3:GetObject on "
                                  f"{OBJECT}, but no resource-based policy allows it")
    no_identity = decide(principal=BOB, resource_policy=resource_policy).explain()
    assert no_identity.startswith(f"Implicitly denied: no identity-based policy of the caller allows s3:GetObject "
                                  f"on {OBJECT}")
    both = decide(policy(allow()), principal=BOB, resource_policy=resource_policy).explain()
    assert both.startswith("Allowed by statement 0 of bucket policy of reports (across accounts")
