"""Function policies through boto3: the statements AWS stores, GetPolicy's document, and AWS's errors."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from deploy import ACCOUNT, arn, error_of

ECHO = "def handler(event, context):\n    return event\n"


def statements(lam, name: str, **kwargs) -> list[dict]:
    return json.loads(lam.get_policy(FunctionName=name, **kwargs)["Policy"])["Statement"]


@pytest.mark.parametrize(("principal", "stored"), [
    ("s3.amazonaws.com", {"Service": "s3.amazonaws.com"}),
    ("logs.us-east-1.amazonaws.com", {"Service": "logs.us-east-1.amazonaws.com"}),
    ("223456789012", {"AWS": "arn:aws:iam::223456789012:root"}),
    ("arn:aws:iam::223456789012:role/partner", {"AWS": "arn:aws:iam::223456789012:role/partner"}),
    ("arn:aws:iam::223456789012:root", {"AWS": "arn:aws:iam::223456789012:root"}),
    ("*", "*"),
])
def test_each_principal_kind_is_stored_as_aws_stores_it(fn, lam, principal, stored):
    name = fn.create(ECHO)
    added = lam.add_permission(FunctionName=name, StatementId="sid1", Action="lambda:InvokeFunction",
                               Principal=principal)
    assert added["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert json.loads(added["Statement"]) == {"Sid": "sid1", "Effect": "Allow", "Principal": stored,
                                              "Action": "lambda:InvokeFunction", "Resource": arn(name)}


def test_statement_text_matches_the_aws_documentation_example(fn, lam):
    """The AddPermission example of botocore's examples-1.json, byte for byte (but for names)."""
    name = fn.create(ECHO)
    added = lam.add_permission(FunctionName=name, StatementId="s3", Action="lambda:InvokeFunction",
                               Principal="s3.amazonaws.com", SourceAccount=ACCOUNT,
                               SourceArn="arn:aws:s3:::my-bucket-1xpuxmplzrlbh")
    assert added["Statement"] == (
        '{"Sid":"s3","Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction",'
        f'"Resource":"{arn(name)}","Condition":{{"StringEquals":{{"AWS:SourceAccount":"{ACCOUNT}"}},'
        '"ArnLike":{"AWS:SourceArn":"arn:aws:s3:::my-bucket-1xpuxmplzrlbh"}}}')


@pytest.mark.parametrize(("params", "condition"), [
    ({"SourceArn": "arn:aws:sns:us-east-1:123456789012:topic"},
     {"ArnLike": {"AWS:SourceArn": "arn:aws:sns:us-east-1:123456789012:topic"}}),
    ({"SourceAccount": "223456789012"}, {"StringEquals": {"AWS:SourceAccount": "223456789012"}}),
    ({"PrincipalOrgID": "o-a1b2c3d4e5"}, {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}),
    ({"FunctionUrlAuthType": "NONE"}, {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}}),
    ({"EventSourceToken": "amzn1.ask.skill.12"}, {"StringEquals": {"lambda:EventSourceToken": "amzn1.ask.skill.12"}}),
    ({"InvokedViaFunctionUrl": True}, {"Bool": {"lambda:InvokedViaFunctionUrl": "true"}}),
    ({"FunctionUrlAuthType": "AWS_IAM", "PrincipalOrgID": "o-a1b2c3d4e5", "SourceAccount": "223456789012"},
     {"StringEquals": {"lambda:FunctionUrlAuthType": "AWS_IAM", "aws:PrincipalOrgID": "o-a1b2c3d4e5",
                       "AWS:SourceAccount": "223456789012"}}),
])
def test_each_condition_kind_is_stored_as_aws_stores_it(fn, lam, params, condition):
    name = fn.create(ECHO)
    principal = "*" if "PrincipalOrgID" in params or "FunctionUrlAuthType" in params else "s3.amazonaws.com"
    added = json.loads(lam.add_permission(FunctionName=name, StatementId="c", Action="lambda:InvokeFunction",
                                          Principal=principal, **params)["Statement"])
    assert added["Condition"] == condition
    assert statements(lam, name) == [added]


def test_action_is_kept_as_given(fn, lam):
    name = fn.create(ECHO)
    for sid, action in (("a", "lambda:InvokeFunctionUrl"), ("b", "lambda:GetFunction"), ("c", "lambda:*")):
        lam.add_permission(FunctionName=name, StatementId=sid, Action=action, Principal="223456789012")
    assert [s["Action"] for s in statements(lam, name)] == ["lambda:InvokeFunctionUrl", "lambda:GetFunction",
                                                            "lambda:*"]


def test_get_policy_is_the_whole_document_with_the_function_revision(fn, lam):
    name = fn.create(ECHO)
    before = lam.get_function_configuration(FunctionName=name)["RevisionId"]
    lam.add_permission(FunctionName=name, StatementId="one", Action="lambda:InvokeFunction", Principal="223456789012")
    lam.add_permission(FunctionName=arn(name), StatementId="two", Action="lambda:InvokeFunction",
                       Principal="sns.amazonaws.com")
    got = lam.get_policy(FunctionName=f"{ACCOUNT}:function:{name}")
    document = json.loads(got["Policy"])
    assert list(document) == ["Version", "Id", "Statement"]
    assert (document["Version"], document["Id"]) == ("2012-10-17", "default")
    assert [s["Sid"] for s in document["Statement"]] == ["one", "two"]
    assert got["Policy"] == json.dumps(document, separators=(",", ":"))  # compact, as AWS answers
    revision = lam.get_function_configuration(FunctionName=name)["RevisionId"]
    assert got["RevisionId"] == revision != before  # a policy change is a new revision of the function
    assert lam.get_policy(FunctionName=name, Qualifier="$LATEST")["Policy"] == got["Policy"]


def test_remove_permission_then_the_policy_is_gone(fn, lam):
    name = fn.create(ECHO)
    for sid in ("keep", "drop"):
        lam.add_permission(FunctionName=name, StatementId=sid, Action="lambda:InvokeFunction",
                           Principal="223456789012")
    removed = lam.remove_permission(FunctionName=name, StatementId="drop")
    assert removed["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert [s["Sid"] for s in statements(lam, name)] == ["keep"]
    lam.remove_permission(FunctionName=arn(name), StatementId="keep")
    with pytest.raises(ClientError) as e:
        lam.get_policy(FunctionName=name)
    assert error_of(e) == ("ResourceNotFoundException", "The resource you requested does not exist.", 404)
    assert isinstance(e.value, lam.exceptions.ResourceNotFoundException)


def test_a_statement_id_may_be_reused_once_removed(fn, lam):
    name = fn.create(ECHO)
    lam.add_permission(FunctionName=name, StatementId="s", Action="lambda:InvokeFunction", Principal="223456789012")
    lam.remove_permission(FunctionName=name, StatementId="s")
    lam.add_permission(FunctionName=name, StatementId="s", Action="lambda:GetFunction", Principal="223456789012")
    assert [s["Action"] for s in statements(lam, name)] == ["lambda:GetFunction"]


def test_duplicate_statement_id_conflicts(fn, lam):
    name = fn.create(ECHO)
    lam.add_permission(FunctionName=name, StatementId="dup", Action="lambda:InvokeFunction", Principal="223456789012")
    with pytest.raises(lam.exceptions.ResourceConflictException) as e:
        lam.add_permission(FunctionName=name, StatementId="dup", Action="lambda:GetFunction", Principal="*")
    assert error_of(e) == ("ResourceConflictException", "The statement id (dup) provided already exists. Please "
                           "provide a new statement id, or remove the existing statement.", 409)
    assert len(statements(lam, name)) == 1


def test_not_found_errors(fn, lam):
    name = fn.create(ECHO)
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as e:
        lam.get_policy(FunctionName=name)
    assert error_of(e) == ("ResourceNotFoundException", "The resource you requested does not exist.", 404)
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as e:
        lam.remove_permission(FunctionName=name, StatementId="nope")
    assert error_of(e)[1] == "No policy is associated with the given resource."
    lam.add_permission(FunctionName=name, StatementId="s", Action="lambda:InvokeFunction", Principal="223456789012")
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as e:
        lam.remove_permission(FunctionName=name, StatementId="nope")
    assert error_of(e) == ("ResourceNotFoundException", "Statement nope is not found in resource policy.", 404)
    # each operation words a missing function its own way (recorded against AWS: fidelity case err-permissions)
    for call, words in ((lambda: lam.get_policy(FunctionName="no-such-fn-perm"),
                         "The resource you requested does not exist."),
                        (lambda: lam.remove_permission(FunctionName="no-such-fn-perm", StatementId="s"),
                         f"No policy found for: {arn('no-such-fn-perm')}"),
                        (lambda: lam.add_permission(FunctionName="no-such-fn-perm", StatementId="s",
                                                    Action="lambda:InvokeFunction", Principal="s3.amazonaws.com"),
                         f"Function not found: {arn('no-such-fn-perm')}")):
        with pytest.raises(lam.exceptions.ResourceNotFoundException) as e:
            call()
        assert error_of(e)[1] == words
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as e:  # a missing version of a function
        lam.get_policy(FunctionName=name, Qualifier="42")
    assert error_of(e)[1] == f"Function not found: {arn(name, '42')}"


@pytest.mark.parametrize("principal", ["someone", "s3", "arn:aws:s3:::bucket", "12345", "example.com"])
def test_invalid_principal(fn, lam, principal):
    name = fn.create(ECHO)
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as e:
        lam.add_permission(FunctionName=name, StatementId="s", Action="lambda:InvokeFunction", Principal=principal)
    assert error_of(e) == ("InvalidParameterValueException",
                           "The provided principal was invalid. Please check the principal and try again.", 400)


def test_latest_cannot_carry_its_own_policy(fn, lam):
    name = fn.create(ECHO)
    for kwargs in ({"FunctionName": name, "Qualifier": "$LATEST"}, {"FunctionName": f"{name}:$LATEST"}):
        with pytest.raises(lam.exceptions.InvalidParameterValueException) as e:
            lam.add_permission(StatementId="s", Action="lambda:InvokeFunction", Principal="*", **kwargs)
        assert error_of(e)[1] == "We currently do not support adding policies for $LATEST."


def test_unknown_qualifier_is_not_found(fn, lam):
    name = fn.create(ECHO)
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as e:
        lam.add_permission(FunctionName=name, Qualifier="prod", StatementId="s", Action="lambda:InvokeFunction",
                           Principal="*")
    assert error_of(e)[1] == f"Function not found: {arn(name, 'prod')}"


def test_action_outside_lambda_fails_model_validation(fn, lam):
    name = fn.create(ECHO)
    with pytest.raises(ClientError) as e:
        lam.add_permission(FunctionName=name, StatementId="s", Action="s3:GetObject", Principal="*")
    assert error_of(e)[0] == "ValidationException"


def test_revision_id_preconditions(fn, lam):
    name = fn.create(ECHO)
    stale = lam.get_function_configuration(FunctionName=name)["RevisionId"]
    lam.add_permission(FunctionName=name, StatementId="a", Action="lambda:InvokeFunction", Principal="*",
                       RevisionId=stale)
    with pytest.raises(lam.exceptions.PreconditionFailedException) as e:
        lam.add_permission(FunctionName=name, StatementId="b", Action="lambda:InvokeFunction", Principal="*",
                           RevisionId=stale)
    assert error_of(e) == ("PreconditionFailedException", "The Revision Id provided does not match the latest "
                           "Revision Id. Call the GetPolicy API to retrieve the latest Revision Id", 412)
    with pytest.raises(lam.exceptions.PreconditionFailedException) as e:
        lam.remove_permission(FunctionName=name, StatementId="a", RevisionId=stale)
    assert error_of(e)[1] == ("The Revision Id provided does not match the latest Revision Id. "
                              "Call the GetFunction/GetAlias API to retrieve the latest Revision Id")
    with pytest.raises(lam.exceptions.PreconditionFailedException):  # the function's own updates see it too
        lam.update_function_configuration(FunctionName=name, Description="x", RevisionId=stale)
    current = lam.get_policy(FunctionName=name)["RevisionId"]
    lam.remove_permission(FunctionName=name, StatementId="a", RevisionId=current)


def test_policy_over_20_kb_is_refused_and_left_unchanged(fn, lam):
    name = fn.create(ECHO)
    source = "arn:aws:execute-api:us-east-1:123456789012:abcdefghij/prod/GET/" + "x" * 300
    sid = 0
    while True:
        sid += 1
        try:
            lam.add_permission(FunctionName=name, StatementId=f"route{sid}", Action="lambda:InvokeFunction",
                               Principal="apigateway.amazonaws.com", SourceArn=f"{source}{sid}")
        except lam.exceptions.PolicyLengthExceededException as e:
            refused = e
            break
    policy = lam.get_policy(FunctionName=name)["Policy"]
    assert len(policy) <= 20480 and len(json.loads(policy)["Statement"]) == sid - 1
    last = policy[policy.rindex('{"Sid"'):-2]  # the last statement's text; the refused one differs by its number
    refused_statement = last.replace(f'route{sid - 1}"', f'route{sid}"').replace(f'{source}{sid - 1}"',
                                                                                 f'{source}{sid}"')
    error = refused.response["Error"]
    assert (error["Code"], refused.response["ResponseMetadata"]["HTTPStatusCode"]) == (
        "PolicyLengthExceededException", 400)
    final_size = len(policy) + len(",") + len(refused_statement)
    assert error["Message"] == f"The final policy size ({final_size}) is bigger than the limit (20480)."


def test_deleting_the_function_drops_its_policy(fn, lam, cloud):
    name = fn.create(ECHO)
    lam.add_permission(FunctionName=name, StatementId="s", Action="lambda:InvokeFunction", Principal="223456789012")
    lam.delete_function(FunctionName=name)
    assert cloud.service.policies.policy_document(name, None) is None
    fn.create(ECHO, FunctionName=name)
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as e:
        lam.get_policy(FunctionName=name)
    assert error_of(e)[1] == "The resource you requested does not exist."
    lam.add_permission(FunctionName=name, StatementId="s", Action="lambda:InvokeFunction", Principal="223456789012")


def test_policy_document_for_the_evaluator(fn, lam, cloud):
    name = fn.create(ECHO)
    policies = cloud.service.policies
    assert policies.policy_document(name, None) is None
    lam.add_permission(FunctionName=name, StatementId="s", Action="lambda:InvokeFunction", Principal="223456789012")
    document = policies.policy_document(name, None)
    assert document == json.loads(lam.get_policy(FunctionName=name)["Policy"])
    assert policies.policy_document(arn(name), "$LATEST") == document == policies.policy_document(
        f"{arn(name)}:$LATEST", None)
    document["Statement"].clear()  # the caller's copy
    assert len(policies.policy_document(name, None)["Statement"]) == 1
