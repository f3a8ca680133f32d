"""Chapter 07 (permissions): a least-privilege role, a function policy, PassRole, IAM's decisions.

The checks build what they need in the learner's cloud (buckets, roles, users, functions, all with
fresh names), make the real requests as the principals involved, and delete what they made.
"""

from __future__ import annotations

import json
from contextlib import suppress
from typing import Any

from ..course import Functions
from ..packaging import LAMBDA_TRUST, execution_role
from . import Chapter, Exercise, error_of
from .judges import Case, Deploys, Expect

REASONS = ("allowed", "explicit deny", "implicit deny")


def _policy_text(policy: Any) -> str:
    return policy if isinstance(policy, str) else json.dumps(policy)


def _is_policy(ctx, policy: Any) -> str | None:
    """The answer is a policy document: a dict (or its JSON) with a list of statements."""
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except ValueError as e:
            return f"`{ctx.answer}` is a string but not JSON ({e}); write it as a dict instead."
    statements = policy.get("Statement") if isinstance(policy, dict) else None
    if not isinstance(statements, (list, dict)) or not statements:
        return (f"`{ctx.answer}` should be a policy document: a dict like "
                '{"Version": "2012-10-17", "Statement": [...]}, each statement with Effect, Action and Resource.')
    if not all(isinstance(s, dict) for s in (statements if isinstance(statements, list) else [statements])):
        return f"each statement of `{ctx.answer}` should be a dict with Effect, Action and Resource."
    return None


# -- q1: a least-privilege reader for one bucket --------------------------------------------------
INVOICES, PAYROLL = "ch07-invoices", "ch07-payroll"
PROBE = """
import boto3
from botocore.exceptions import ClientError

s3 = boto3.client("s3")

def outcome(call):
    try:
        call()
        return "allowed"
    except ClientError:
        return "denied"

def handler(event, context):
    invoices, payroll = event["invoices"], event["payroll"]
    return {
        "list invoices": outcome(lambda: s3.list_objects_v2(Bucket=invoices)),
        "read an invoice": outcome(lambda: s3.get_object(Bucket=invoices, Key="2026/inv-001.json")["Body"].read()),
        "write an invoice": outcome(lambda: s3.put_object(Bucket=invoices, Key="2026/forged.json", Body=b"{}")),
        "list payroll": outcome(lambda: s3.list_objects_v2(Bucket=payroll)),
        "read payroll": outcome(lambda: s3.get_object(Bucket=payroll, Key="march.csv")["Body"].read()),
    }
"""
_ELSEWHERE = f"Name {INVOICES}'s ARNs in Resource instead of \"*\" or a wildcard that also matches other buckets."
_READER_EXPLAIN = {
    "list invoices": f"Listing is the action s3:ListBucket, and it acts on the bucket itself: arn:aws:s3:::{INVOICES} "
                     "(no /*).",
    "read an invoice": f"Reading is s3:GetObject, and it acts on objects: arn:aws:s3:::{INVOICES}/* (with /*).",
    "write an invoice": "The function only needs to read: allow s3:ListBucket and s3:GetObject, not s3:* or s3:Put*.",
    "list payroll": _ELSEWHERE,
    "read payroll": _ELSEWHERE,
}


def _reader_role(ctx, reader_policy) -> dict:
    """Two buckets with an object each, and a new role whose only permissions policy is the answer."""
    s3, iam = ctx.cloud.client("s3"), ctx.cloud.client("iam")
    for bucket, key, body in ((INVOICES, "2026/inv-001.json", b'{"total": 120}'), (PAYROLL, "march.csv", b"a,4200")):
        with suppress(s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
            s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    role = ctx.name("ch07-q1-role")
    arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))["Role"]["Arn"]
    ctx.defer(lambda: iam.delete_role(RoleName=role))
    iam.put_role_policy(RoleName=role, PolicyName="reader", PolicyDocument=_policy_text(reader_policy))
    ctx.defer(lambda: iam.delete_role_policy(RoleName=role, PolicyName="reader"))
    return {"role": arn, "Timeout": 10}


q1 = Exercise(
    name="ch07.q1",
    answer="reader_policy",
    judge=(_is_policy,
           Deploys(source=PROBE, config=_reader_role, prefix="ch07-q1-reader",
                   cases=(Case({"invoices": INVOICES, "payroll": PAYROLL}, explain=_READER_EXPLAIN,
                               expect={"list invoices": "allowed", "read an invoice": "allowed",
                                       "write an invoice": "denied", "list payroll": "denied",
                                       "read payroll": "denied"}),))),
    hints=("Two statements, each with Effect, Action and Resource: one for listing, one for reading.",
           "s3:ListBucket on the bucket (arn:aws:s3:::ch07-invoices) and s3:GetObject on its objects "
           "(arn:aws:s3:::ch07-invoices/*)."),
    solution="""reader_policy = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::ch07-invoices"},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::ch07-invoices/*"},
    ],
}""",
    mistake="""reader_policy = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetObject"], "Resource": "*"}],
}""",
    praise="the function lists and reads ch07-invoices, and IAM denies it everything else: writing, and the payroll "
           "bucket, without a single Deny. One action on one resource at a time is least privilege.",
)

# -- q2: a function policy that lets the other account invoke -------------------------------------


def _principals(statement: dict) -> list[str]:
    principal = statement.get("Principal")
    if isinstance(principal, dict):
        principal = principal.get("AWS", principal.get("Service", []))
    return [principal] if isinstance(principal, str) else list(principal or [])


def _partner_invokes(ctx, allow_partner) -> str | None:
    if not callable(allow_partner):
        return "`allow_partner` should be a function that takes a function name and calls lam.add_permission."
    name = ctx.deploy("ch07-q2-api", "def handler(event, context):\n    return {'echo': event}\n")
    try:
        allow_partner(name)
    except Exception as e:
        return "allow_partner({!r}) raised {}: {}".format(name, *error_of(e))
    lam = ctx.fn.lam
    try:
        statements = json.loads(lam.get_policy(FunctionName=name)["Policy"])["Statement"]
    except lam.exceptions.ResourceNotFoundException:
        return "after allow_partner the function has no resource-based policy: call lam.add_permission in it."
    for statement in statements:
        if "*" in _principals(statement):
            return ('your statement\'s Principal is "*": anyone, in any AWS account, may now invoke the function. '
                    "Name the partner's account, cloud.other_account.")
        if statement.get("Action") not in ("lambda:InvokeFunction", ["lambda:InvokeFunction"]):
            return (f"your statement allows {statement.get('Action')!r}. The partner only needs to invoke: "
                    'Action="lambda:InvokeFunction".')
    partner = ctx.cloud.client("lambda", account=ctx.cloud.other_account)
    try:
        partner.invoke(FunctionName=ctx.fn.arn(name), Payload=b'{"from": "partner"}')
    except Exception as e:
        named = ", ".join(p for s in statements for p in _principals(s))
        code, message = error_of(e)
        return (f"the other account ({ctx.cloud.other_account}) still cannot invoke: {code}: {message}. Your policy "
                f"names {named}; the partner is arn:aws:iam::{ctx.cloud.other_account}:root, which add_permission "
                "accepts as just the account id.")
    return None


q2 = Exercise(
    name="ch07.q2",
    answer="allow_partner",
    judge=_partner_invokes,
    hints=('Action is the one action the partner needs: "lambda:InvokeFunction".',
           "Principal can be an account id: the other account's is cloud.other_account."),
    solution="""def allow_partner(function_name):
    lam.add_permission(FunctionName=function_name, StatementId="partner", Action="lambda:InvokeFunction",
                       Principal=cloud.other_account)""",
    mistake="""def allow_partner(function_name):
    lam.add_permission(FunctionName=function_name, StatementId="partner", Action="lambda:InvokeFunction",
                       Principal=cloud.account)""",
    praise="the partner's account invoked the function, and the policy names no one else. On their side, their "
           "administrator still decides which of their users and roles may use that permission.",
)

# -- q3: iam:PassRole for one role ----------------------------------------------------------------
APP_ROLE_NAME, ADMIN_ROLE_NAME = "ch07-app-role", "ch07-admin-role"


def _developer(ctx, pass_role_policy) -> Any:
    """A new IAM user who may create functions, with the answer as their PassRole policy; its Lambda client."""
    iam = ctx.cloud.client("iam")
    user = ctx.name("ch07-q3-dev")
    iam.create_user(UserName=user)
    ctx.defer(lambda: iam.delete_user(UserName=user))
    for name, document in (("lambda", {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*",
                            "Action": ["lambda:CreateFunction", "lambda:GetFunction", "lambda:DeleteFunction"]}]}),
                           ("pass-role", pass_role_policy)):
        iam.put_user_policy(UserName=user, PolicyName=name, PolicyDocument=_policy_text(document))
        ctx.defer(lambda name=name: iam.delete_user_policy(UserName=user, PolicyName=name))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    ctx.defer(lambda: iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"]))
    return ctx.cloud.client("lambda", credentials=key)


def _passes_one_role(ctx, pass_role_policy) -> str | None:
    iam = ctx.cloud.client("iam")
    app = execution_role(iam, APP_ROLE_NAME)
    admin = execution_role(iam, ADMIN_ROLE_NAME, "arn:aws:iam::aws:policy/AdministratorAccess")
    developer = _developer(ctx, pass_role_policy)

    def create(role_arn: str) -> tuple[str, str] | None:
        name = ctx.name("ch07-q3-fn")
        try:
            Functions(ctx.cloud, client=developer).deploy(name, "def handler(event, context):\n    return 1\n",
                                                          role=role_arn)
        except Exception as e:
            return error_of(e)
        ctx.defer(lambda: ctx.fn.delete(name))
        return None

    if refused := create(app):
        return (f"the developer could not create a function with {APP_ROLE_NAME}: {refused[0]}: {refused[1]}. Allow "
                f"iam:PassRole with Resource {app}.")
    if create(admin) is None:
        return (f"the developer also created a function with {ADMIN_ROLE_NAME}, which has AdministratorAccess: any "
                f'code they write could then do anything. Name only {APP_ROLE_NAME}\'s ARN in Resource, not "*".')
    return None


q3 = Exercise(
    name="ch07.q3",
    answer="pass_role_policy",
    judge=(_is_policy, _passes_one_role),
    hints=('One statement: Effect "Allow", Action "iam:PassRole", and a Resource.',
           "The Resource is the ARN of ch07-app-role (APP_ROLE). A condition on iam:PassedToService = "
           "lambda.amazonaws.com is a good extra."),
    solution="""pass_role_policy = {
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow",
        "Action": "iam:PassRole",
        "Resource": APP_ROLE,
        "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
    }],
}""",
    mistake="""pass_role_policy = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}],
}""",
    praise="the developer can give functions ch07-app-role and nothing else, so their code can never run with more "
           "permissions than that role has.",
    setup='APP_ROLE = f"arn:aws:iam::{cloud.account}:role/ch07-app-role"\n',
)

# -- q4: predict IAM's decisions ------------------------------------------------------------------
Q4_POLICIES = {
    "AmazonS3FullAccess": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]},
    "security-team": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::ch07-reports/*"}]},
}
Q4_REQUESTS = {  # key of the answer -> (action, resource)
    "delete_report": ("s3:DeleteObject", "arn:aws:s3:::ch07-reports/2026/q1.csv"),
    "read_report": ("s3:GetObject", "arn:aws:s3:::ch07-reports/2026/q1.csv"),
    "delete_payroll": ("s3:DeleteObject", "arn:aws:s3:::ch07-payroll/march.csv"),
    "delete_table": ("dynamodb:DeleteTable", "arn:aws:dynamodb:us-east-1:123456789012:table/orders"),
}
_WHY = {
    "delete_report": "The security team's Deny matches it, and an explicit deny beats every Allow, even s3:* on *.",
    "read_report": "AmazonS3FullAccess allows s3:* on every resource, and no Deny matches this request.",
    "delete_payroll": "The Deny is about ch07-reports only; AmazonS3FullAccess allows s3:* on every resource.",
    "delete_table": "No statement matches it at all (the user's policies are about S3 only), and what nothing allows "
                    "is denied.",
}


def q4_decisions(ctx=None) -> dict[str, str]:
    """What lambdalab's policy engine decides for each request of the exercise."""
    from ..iam.policy import Policy, Principal, Request, evaluate

    account = ctx.cloud.account if ctx is not None and ctx.cloud is not None else "123456789012"
    user = Principal(arn=f"arn:aws:iam::{account}:user/q4-user", account=account)
    policies = tuple(Policy(name, document) for name, document in Q4_POLICIES.items())
    return {key: evaluate(Request(user, action, resource, {}), policies, None, account).reason
            for key, (action, resource) in Q4_REQUESTS.items()}


def _reasons(decisions: Any) -> Any:
    """The answers as IAM's words, whatever their case and spacing (the rest is left for the check to name)."""
    if not isinstance(decisions, dict):
        return decisions
    return {k: v.strip().lower() if isinstance(v, str) else v for k, v in decisions.items()}


def _one_of_the_reasons(ctx, decisions: Any) -> str | None:
    if not isinstance(decisions, dict):
        return f"`{ctx.answer}` should be the dict of the exercise, with one answer per request."
    for key, value in decisions.items():
        if not isinstance(value, str) or value.strip().lower() not in REASONS:
            return f"answer each request with one of {list(REASONS)}; {key!r} is {value!r}."
    return None


q4 = Exercise(
    name="ch07.q4",
    answer="decisions",
    judge=(_one_of_the_reasons, Expect(q4_decisions, normalize=_reasons, explain=_WHY)),
    hints=("Go through IAM's order for each request: does a Deny statement match it (action and resource)?",
           "If no Deny matches, does an Allow match it? If neither, it is an implicit deny."),
    solution="""decisions = {
    "delete_report": "explicit deny",
    "read_report": "allowed",
    "delete_payroll": "allowed",
    "delete_table": "implicit deny",
}""",
    mistake="""decisions = {
    "delete_report": "allowed",
    "read_report": "allowed",
    "delete_payroll": "allowed",
    "delete_table": "explicit deny",
}""",
    praise="a Deny that matches wins over any Allow; an Allow that matches wins over silence; and silence is a deny. "
           "The policy explorer gives the same answers for a user with these two policies.",
)

exercises = Chapter(q1, q2, q3, q4)

__all__ = ["exercises", "q1", "q2", "q3", "q4", "q4_decisions"]
