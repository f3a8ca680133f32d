"""Operations lambdalab does not serve: AWS's 404 for a missing function, else a refusal that says so."""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError
from deploy import ACCOUNT, error_of

HELLO = "def handler(event, context):\n    return 'hello'\n"


@pytest.mark.parametrize(("call", "words"), [
    ("get_function_concurrency", "Function not found: {arn}"),
    ("get_function_code_signing_config", "Function not found: {arn}"),
    ("get_function_url_config", "The resource you requested does not exist."),
    ("put_function_concurrency", "Function not found: {arn}:$LATEST"),
])
def test_a_missing_function_gets_awss_answer(lam, call, words):
    params = {"FunctionName": "no-such-function"}
    if call == "put_function_concurrency":
        params["ReservedConcurrentExecutions"] = 1
    with pytest.raises(ClientError) as caught:
        getattr(lam, call)(**params)
    arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:no-such-function"
    assert error_of(caught) == ("ResourceNotFoundException", words.format(arn=arn), 404)


def test_an_existing_function_is_told_lambdalab_lacks_the_operation(fn, lam):
    name = fn.create(HELLO)
    with pytest.raises(ClientError) as caught:
        lam.get_function_concurrency(FunctionName=name)
    assert error_of(caught) == ("InvalidParameterValueException",
                                "lambdalab does not implement GetFunctionConcurrency yet.", 400)


def test_an_operation_on_no_function_is_refused_plainly(lam):
    with pytest.raises(ClientError) as caught:
        lam.list_code_signing_configs()
    assert error_of(caught) == ("InvalidParameterValueException",
                                "lambdalab does not implement ListCodeSigningConfigs yet.", 400)


def test_authorization_comes_before_existence_here_too(cloud):
    iam, user = cloud.client("iam"), f"unserved-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    with pytest.raises(ClientError) as caught:
        cloud.client("lambda", credentials=key).get_function_concurrency(FunctionName="no-such-function")
    assert error_of(caught)[0] == "AccessDeniedException"
