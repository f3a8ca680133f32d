"""Execution roles: may Lambda assume this role, and the credentials an environment gets from it.

Lambda checks the role's trust policy when a function is created or reconfigured, and each
execution environment receives a fresh session of the role in the three standard variables,
so ``boto3.client(...)`` inside a handler acts as the role (its session is named after the function).
Every cloud starts with the course's role, ``lambda-role``: trusted by Lambda, allowed to write logs.
"""

from __future__ import annotations

import json

from ..arns import account_of
from ..service.errors import InvalidParameterValueException
from .policy import Principal, Request, evaluate
from .principals import find_role
from .resources import trust_policy

LAMBDA = Principal(arn="lambda.amazonaws.com", account="", service="lambda.amazonaws.com")
LAMBDA_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": LAMBDA.service}, "Action": "sts:AssumeRole"}]}
BASIC_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
COURSE_ROLE_NAME = "lambda-role"
SESSION_SECONDS = 3600 * 12  # sessions last as long as an environment may; lambdalab never expires them early


def check_execution_role(arn: str) -> None:
    """Raise AWS's error unless ``arn`` exists and its trust policy lets Lambda assume it."""
    role = find_role(arn)
    if role is None or not trusts(role, LAMBDA.service):
        raise InvalidParameterValueException("The role defined for the function cannot be assumed by Lambda.")


def trusts(role, service: str) -> bool:
    """Does the role's trust policy let ``service`` (``scheduler.amazonaws.com``) assume it?"""
    principal = Principal(arn=service, account="", service=service)
    return evaluate(Request(principal, "sts:AssumeRole", role.arn), (), trust_policy(role),
                    resource_account=role.account_id).allowed


def session_credentials(role_arn: str, session_name: str, region: str) -> dict[str, str]:
    """A new session of ``role_arn`` (STS in moto), as the variables Lambda sets for the runtime."""
    from moto.sts.models import sts_backends

    account = account_of(role_arn)
    session = sts_backends[account]["aws"].assume_role(region_name=region, role_session_name=session_name,
                                                       role_arn=role_arn, policy="", duration=SESSION_SECONDS,
                                                       external_id="")
    return {"AWS_ACCESS_KEY_ID": session.access_key_id, "AWS_SECRET_ACCESS_KEY": session.secret_access_key,
            "AWS_SESSION_TOKEN": session.session_token}


def create_course_role(account: str) -> None:
    """``lambda-role`` in ``account``, as the Lambda console makes one: Lambda may assume it, it may log."""
    from moto.iam.models import iam_backends

    iam = iam_backends[account]["aws"]
    if COURSE_ROLE_NAME in {role.name for role in iam.roles.values()}:  # moto's state outlives a cloud
        return
    iam.create_role(COURSE_ROLE_NAME, json.dumps(LAMBDA_TRUST), "/", None,
                    "The course's execution role: writes logs, nothing else", [], None)
    iam.attach_role_policy(BASIC_EXECUTION, COURSE_ROLE_NAME)
