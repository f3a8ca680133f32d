"""The policy explorer, driven in the kernel as a learner would drive it: IAM's decision without the call."""

from __future__ import annotations

import json
import uuid

from lambdalab.widgets.policy import PolicyExplorer


def user(cloud, *statements: dict) -> str:
    iam, name = cloud.client("iam"), f"explorer-{uuid.uuid4().hex[:8]}"
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    iam.put_user_policy(UserName=name, PolicyName="office", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": list(statements)}))
    return arn


OFFICE_READ = {"Sid": "ReadFromTheOffice", "Effect": "Allow", "Action": "s3:GetObject",
               "Resource": "arn:aws:s3:::homes/*", "Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}}


def test_it_shows_the_decision_and_the_statement_that_decided(cloud):
    alice = user(cloud, OFFICE_READ)
    explorer = PolicyExplorer(cloud, alice, "s3:GetObject", "arn:aws:s3:::homes/alice/notes.txt",
                              {"aws:SourceIp": "203.0.113.10"})
    assert alice in explorer.principal.options
    assert explorer.decision.allowed and explorer.decision.reason == "allowed"
    assert "<b>Allowed</b>" in explorer.result.value
    assert '"Sid": "ReadFromTheOffice"'.replace('"', "&quot;") in explorer.result.value  # the statement, shown

    explorer.context.value = json.dumps({"aws:SourceIp": "127.0.0.1"})
    explorer.button.click()
    assert not explorer.decision.allowed and explorer.decision.reason == "implicit deny"
    assert "<b>Denied</b>" in explorer.result.value and "<pre>" not in explorer.result.value  # no statement


def test_an_explicit_deny_is_named(cloud):
    bob = user(cloud, {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
               {"Sid": "NoDeletes", "Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"})
    decision = PolicyExplorer(cloud, bob, "s3:DeleteObject", "arn:aws:s3:::homes/k").decision
    assert decision.reason == "explicit deny" and decision.statement == 1


def test_asking_is_not_calling_nothing_is_logged(cloud):
    alice = user(cloud, OFFICE_READ)
    before = len(cloud.decisions())
    PolicyExplorer(cloud, alice, "s3:GetObject", "arn:aws:s3:::homes/alice/notes.txt").decide()
    assert len(cloud.decisions()) == before


def test_bad_input_is_explained_not_raised(cloud):
    explorer = PolicyExplorer(cloud, user(cloud, OFFICE_READ))
    explorer.context.value = "{not json"
    assert explorer.decide() is None and "Context is not JSON" in explorer.result.value
    explorer.principal.options = [*explorer.principal.options, "arn:aws:iam::123456789012:user/nobody"]
    explorer.principal.value = "arn:aws:iam::123456789012:user/nobody"
    explorer.context.value = "{}"
    assert explorer.decide() is None and "No such principal" in explorer.result.value


def test_the_functions_policy_takes_part_as_in_the_real_call(cloud, fn):
    name = fn.create("def handler(event, context):\n    return 1\n")
    partner = f"arn:aws:iam::{cloud.other_account}:root"
    explorer = PolicyExplorer(cloud, partner, "lambda:InvokeFunction", cloud.service.arn(name))
    assert explorer.decision.reason == "implicit deny"
    assert explorer.decision.denial_phrase().startswith("because no resource-based policy allows")
    cloud.client("lambda").add_permission(FunctionName=name, StatementId="partner", Action="lambda:InvokeFunction",
                                          Principal=cloud.other_account)
    assert explorer.decide().allowed
    assert f"resource-based policy of function {name}" in explorer.result.value
    assert "&quot;Sid&quot;: &quot;partner&quot;" in explorer.result.value  # the statement that let them in
