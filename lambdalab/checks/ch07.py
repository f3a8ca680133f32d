"""Exercises of chapter 07, permissions: a least-privilege role, a function policy, PassRole, IAM's decisions.

The checks build what they need in the learner's ``cloud`` (buckets, roles, users, functions, all
with fresh names), make the real requests as the principals involved, and delete what they made.
"""

from __future__ import annotations

import json
from contextlib import suppress
from typing import Any

from ..packaging import LAMBDA_TRUST, deploy, execution_role
from . import Exercise, error_of, unique

REASONS = ("allowed", "explicit deny", "implicit deny")


def _policy_text(policy: Any, variable: str) -> tuple[str | None, str | None]:
    """(the policy as JSON text, None) or (None, what is wrong with it)."""
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except ValueError as e:
            return None, f"`{variable}` is a string but not JSON ({e}); write it as a dict instead."
    if not isinstance(policy, dict):
        return None, (f"`{variable}` should be a policy document: a dict like "
                      '{"Version": "2012-10-17", "Statement": [...]}.')
    statements = policy.get("Statement")
    if not statements or not isinstance(statements, (list, dict)):
        return None, f"`{variable}` needs a \"Statement\": a list of statements, each with Effect, Action and Resource."
    for statement in statements if isinstance(statements, list) else [statements]:
        if not isinstance(statement, dict):
            return None, f"each statement of `{variable}` should be a dict with Effect, Action and Resource."
    return json.dumps(policy), None


# -- q1: a least-privilege reader for one bucket --------------------------------------------------

INVOICES, PAYROLL = "ch07-invoices", "ch07-payroll"
PROBE = """
import boto3
from botocore.exceptions import ClientError

s3 = boto3.client("s3")

def attempt(call):
    try:
        call()
        return "allowed"
    except ClientError as err:
        return err.response["Error"]["Code"] + ": " + err.response["Error"]["Message"]

def handler(event, context):
    invoices, payroll = event["invoices"], event["payroll"]
    return {
        "list invoices": attempt(lambda: s3.list_objects_v2(Bucket=invoices)),
        "read an invoice": attempt(lambda: s3.get_object(Bucket=invoices, Key="2026/inv-001.json")["Body"].read()),
        "write an invoice": attempt(lambda: s3.put_object(Bucket=invoices, Key="2026/forged.json", Body=b"{}")),
        "list payroll": attempt(lambda: s3.list_objects_v2(Bucket=payroll)),
        "read payroll": attempt(lambda: s3.get_object(Bucket=payroll, Key="march.csv")["Body"].read()),
    }
"""


def _ensure_buckets(cloud) -> None:
    s3 = cloud.client("s3")
    for bucket, key, body in ((INVOICES, "2026/inv-001.json", b'{"total": 120}'),
                              (PAYROLL, "march.csv", b"alice,4200")):
        with suppress(s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
            s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key=key, Body=body)


def _check_reader(cloud, reader_policy) -> str | None:
    text, problem = _policy_text(reader_policy, "reader_policy")
    if problem:
        return problem
    _ensure_buckets(cloud)
    iam, lam = cloud.client("iam"), cloud.client("lambda")
    role, function = unique("ch07-q1-role"), unique("ch07-q1-reader")
    arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))["Role"]["Arn"]
    try:
        try:
            iam.put_role_policy(RoleName=role, PolicyName="reader", PolicyDocument=text)
        except Exception as e:
            code, message = error_of(e)
            return f"IAM refused the policy: {code}: {message}"
        deploy(lam, function, PROBE, role=arn, Timeout=10)
        response = lam.invoke(FunctionName=function, Payload=json.dumps({"invoices": INVOICES, "payroll": PAYROLL}))
        results = json.loads(response["Payload"].read())
        if response.get("FunctionError"):
            return f"the checker's function failed: {results}"
        return _judge_reader(results)
    finally:
        with suppress(Exception):
            lam.delete_function(FunctionName=function)
        with suppress(Exception):
            iam.delete_role_policy(RoleName=role, PolicyName="reader")
        with suppress(Exception):
            iam.delete_role(RoleName=role)


def _judge_reader(results: dict[str, str]) -> str | None:
    if results["list invoices"] != "allowed":
        return (f"the function could not list {INVOICES}: {results['list invoices']}. Listing is the action "
                f"s3:ListBucket, and it acts on the bucket itself: arn:aws:s3:::{INVOICES} (no /*).")
    if results["read an invoice"] != "allowed":
        return (f"the function could not read an object of {INVOICES}: {results['read an invoice']}. Reading is "
                f"s3:GetObject, and it acts on objects: arn:aws:s3:::{INVOICES}/* (with /*).")
    if results["write an invoice"] == "allowed":
        return (f"the function could write to {INVOICES} (s3:PutObject). It only needs to read: allow "
                "s3:ListBucket and s3:GetObject, not s3:* or s3:Put*.")
    for what in ("list payroll", "read payroll"):
        if results[what] == "allowed":
            return (f"the function could {what.split()[0]} {PAYROLL}, a bucket it has nothing to do with. Name "
                    f"{INVOICES}'s ARNs in Resource instead of \"*\" or a wildcard that also matches other buckets.")
    return None


q1 = Exercise(
    name="least-privilege reader",
    variables=("cloud", "reader_policy"),
    checker=_check_reader,
    hint_text="Two statements: s3:ListBucket on the bucket (arn:aws:s3:::ch07-invoices) and s3:GetObject on its "
              "objects (arn:aws:s3:::ch07-invoices/*). Each statement has Effect, Action and Resource.",
    solution_code="""reader_policy = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::ch07-invoices"},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::ch07-invoices/*"},
    ],
}""",
    wrong_code="""reader_policy = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetObject"], "Resource": "*"}],
}""",
    praise="the function lists and reads ch07-invoices, and IAM denies it everything else: writing, and the payroll "
           "bucket, without a single Deny. One action on one resource at a time is least privilege.",
)

# -- q2: a function policy that lets the other account invoke -------------------------------------

ECHO = "def handler(event, context):\n    return {'echo': event}\n"


def _principal_arns(statement: dict) -> list[str]:
    principal = statement.get("Principal")
    if isinstance(principal, dict):
        principal = principal.get("AWS", principal.get("Service", []))
    return [principal] if isinstance(principal, str) else list(principal or [])


def _check_partner(cloud, allow_partner) -> str | None:
    if not callable(allow_partner):
        return "`allow_partner` should be a function that takes a function name and calls lam.add_permission."
    lam = cloud.client("lambda")
    name = unique("ch07-q2-api")
    deploy(lam, name, ECHO)
    try:
        arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
        try:
            allow_partner(name)
        except Exception as e:
            code, message = error_of(e)
            return f"allow_partner({name!r}) raised {code}: {message}"
        try:
            statements = json.loads(lam.get_policy(FunctionName=name)["Policy"])["Statement"]
        except lam.exceptions.ResourceNotFoundException:
            return "after allow_partner the function has no resource-based policy: call lam.add_permission in it."
        partner = f"arn:aws:iam::{cloud.other_account}:root"
        for statement in statements:
            principals = _principal_arns(statement)
            if "*" in principals:
                return ("your statement's Principal is \"*\": anyone, in any AWS account, may now invoke the "
                        "function. Name the partner's account, cloud.other_account.")
            if statement.get("Action") not in ("lambda:InvokeFunction", ["lambda:InvokeFunction"]):
                return (f"your statement allows {statement.get('Action')!r}. The partner only needs to invoke: "
                        "Action=\"lambda:InvokeFunction\".")
        try:
            theirs = cloud.client("lambda", account=cloud.other_account)
            theirs.invoke(FunctionName=arn, Payload=b'{"from": "partner"}')
        except Exception as e:
            code, message = error_of(e)
            named = ", ".join(p for s in statements for p in _principal_arns(s))
            return (f"the other account ({cloud.other_account}) still cannot invoke: {code}: {message}. Your policy "
                    f"names {named}; the partner is {partner}, which add_permission accepts as just the account id.")
        return None
    finally:
        with suppress(Exception):
            lam.delete_function(FunctionName=name)


q2 = Exercise(
    name="cross-account invoke",
    variables=("cloud", "allow_partner"),
    checker=_check_partner,
    hint_text="Action is the one action the partner needs, \"lambda:InvokeFunction\". Principal can be an account "
              "id: the other account's is cloud.other_account.",
    solution_code="""def allow_partner(function_name):
    lam.add_permission(FunctionName=function_name, StatementId="partner", Action="lambda:InvokeFunction",
                       Principal=cloud.other_account)""",
    wrong_code="""def allow_partner(function_name):
    lam.add_permission(FunctionName=function_name, StatementId="partner", Action="lambda:InvokeFunction",
                       Principal=cloud.account)""",
    praise="the partner's account invoked the function, and the policy names no one else. On their side, their "
           "administrator still decides which of their users and roles may use that permission.",
)

# -- q3: iam:PassRole for one role ----------------------------------------------------------------

APP_ROLE, ADMIN_ROLE = "ch07-app-role", "ch07-admin-role"


def _check_pass_role(cloud, pass_role_policy) -> str | None:
    from ..packaging import zip_files

    text, problem = _policy_text(pass_role_policy, "pass_role_policy")
    if problem:
        return problem
    iam, lam = cloud.client("iam"), cloud.client("lambda")
    app = execution_role(iam, APP_ROLE)
    admin = execution_role(iam, ADMIN_ROLE, "arn:aws:iam::aws:policy/AdministratorAccess")
    user = unique("ch07-q3-dev")
    iam.create_user(UserName=user)
    made: list[str] = []
    try:
        iam.put_user_policy(UserName=user, PolicyName="lambda", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*", "Action": [
                "lambda:CreateFunction", "lambda:GetFunction", "lambda:DeleteFunction"]}]}))
        try:
            iam.put_user_policy(UserName=user, PolicyName="pass-role", PolicyDocument=text)
        except Exception as e:
            code, message = error_of(e)
            return f"IAM refused the policy: {code}: {message}"
        dev = cloud.client("lambda", credentials=iam.create_access_key(UserName=user)["AccessKey"])

        def create(role_arn: str) -> tuple[str, str] | None:
            name = unique("ch07-q3-fn")
            try:
                dev.create_function(FunctionName=name, Runtime="python3.12", Handler="app.handler", Role=role_arn,
                                    Code={"ZipFile": zip_files(ECHO)})
            except Exception as e:
                return error_of(e)
            made.append(name)
            return None

        refused = create(app)
        if refused:
            return (f"the developer could not create a function with {APP_ROLE}: {refused[0]}: {refused[1]}. Allow "
                    f"iam:PassRole with Resource {app}.")
        if create(admin) is None:
            return (f"the developer also created a function with {ADMIN_ROLE}, which has AdministratorAccess: any code "
                    f"they write could then do anything. Name only {APP_ROLE}'s ARN in Resource, not \"*\".")
        return None
    finally:
        for name in made:
            with suppress(Exception):
                lam.delete_function(FunctionName=name)
        with suppress(Exception):
            for key in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]:
                iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
        for policy in ("lambda", "pass-role"):
            with suppress(Exception):
                iam.delete_user_policy(UserName=user, PolicyName=policy)
        with suppress(Exception):
            iam.delete_user(UserName=user)


q3 = Exercise(
    name="PassRole for one role",
    variables=("cloud", "pass_role_policy"),
    checker=_check_pass_role,
    hint_text="One statement: Effect Allow, Action \"iam:PassRole\", Resource the ARN of ch07-app-role "
              "(APP_ROLE). A condition on iam:PassedToService = lambda.amazonaws.com is a good extra.",
    solution_code="""pass_role_policy = {
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow",
        "Action": "iam:PassRole",
        "Resource": "arn:aws:iam::123456789012:role/ch07-app-role",
        "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
    }],
}""",
    wrong_code="""pass_role_policy = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}],
}""",
    praise="the developer can give functions ch07-app-role and nothing else, so their code can never run with "
           "more permissions than that role has.",
)

# -- q4: predict IAM's decisions ------------------------------------------------------------------

Q4_POLICIES = {
    "AmazonS3FullAccess": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]},
    "security-team": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::ch07-reports/*"}]},
}
Q4_REQUESTS = {  # variable -> (action, resource)
    "delete_report": ("s3:DeleteObject", "arn:aws:s3:::ch07-reports/2026/q1.csv"),
    "read_report": ("s3:GetObject", "arn:aws:s3:::ch07-reports/2026/q1.csv"),
    "delete_payroll": ("s3:DeleteObject", "arn:aws:s3:::ch07-payroll/march.csv"),
    "delete_table": ("dynamodb:DeleteTable", "arn:aws:dynamodb:us-east-1:123456789012:table/orders"),
}
_WHY = {
    "explicit deny": "The security team's Deny matches it, and an explicit deny beats every Allow, even s3:* on *.",
    "allowed": "AmazonS3FullAccess allows s3:* on every resource, and no Deny matches this request.",
    "implicit deny": "No statement matches it at all (the user's policies are about S3 only), and what nothing "
                     "allows is denied.",
}


def q4_decisions() -> dict[str, str]:
    """What lambdalab's policy engine decides for each request of the exercise."""
    from ..iam.policy import Policy, Principal, Request, evaluate

    user = Principal(arn="arn:aws:iam::123456789012:user/q4-user", account="123456789012")
    policies = tuple(Policy(name, document) for name, document in Q4_POLICIES.items())
    return {variable: evaluate(Request(user, action, resource, {}), policies, None, "123456789012").reason
            for variable, (action, resource) in Q4_REQUESTS.items()}


def _check_predictions(**answers) -> str | None:
    truth = q4_decisions()
    for variable, (action, resource) in Q4_REQUESTS.items():
        answer, expected = answers[variable], truth[variable]
        if not isinstance(answer, str) or answer.strip().lower() not in REASONS:
            return f"answer each request with one of {list(REASONS)}; `{variable}` is {answer!r}."
        if answer.strip().lower() != expected:
            return (f"`{variable}` ({action} on {resource}): not {answer.strip()!r} but {expected!r}. "
                    f"{_WHY[expected]}")
    return None


q4 = Exercise(
    name="predict the decision",
    variables=tuple(Q4_REQUESTS),
    checker=_check_predictions,
    hint_text="Go through IAM's order for each request: does a Deny statement match it (action and resource)? "
              "If not, does an Allow match it? If neither, it is an implicit deny.",
    solution_code='delete_report = "explicit deny"\nread_report = "allowed"\ndelete_payroll = "allowed"\n'
                  'delete_table = "implicit deny"\n',
    wrong_code='delete_report = "allowed"\nread_report = "allowed"\ndelete_payroll = "allowed"\n'
               'delete_table = "explicit deny"\n',
    praise="a Deny that matches wins over any Allow; an Allow that matches wins over silence; and silence is a "
           "deny. The policy explorer would give the same answers for a user with these two policies.",
)

__all__ = ["q1", "q2", "q3", "q4", "q4_decisions"]
