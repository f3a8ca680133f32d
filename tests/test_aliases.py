"""Aliases through boto3: their shapes and AWS's errors, invocation through them, and traffic shifting."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from deploy import arn, error_of

SOURCE = """
import os

def handler(event, context):
    return {"timeout": os.environ["TIMEOUT_SEEN"], "version": context.function_version,
            "arn": context.invoked_function_arn}
"""


def with_versions(fn, lam, count: int = 2) -> str:
    """A function with versions 1..count, each remembering its own TIMEOUT_SEEN."""
    name = fn.create(SOURCE, Environment={"Variables": {"TIMEOUT_SEEN": "v1"}})
    lam.publish_version(FunctionName=name)
    for n in range(2, count + 1):
        lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"TIMEOUT_SEEN": f"v{n}"}})
        lam.publish_version(FunctionName=name)
    return name


@pytest.fixture
def raw(cloud):
    """A client that sends what it is given, so the service's own validation answers."""
    return cloud.client("lambda", config=Config(parameter_validation=False))


def test_alias_lifecycle_and_shapes(fn, lam):
    name = with_versions(fn, lam)
    created = lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1", Description="prod",
                               RoutingConfig={"AdditionalVersionWeights": {"2": 0.25}})
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    body = {k: v for k, v in created.items() if k != "ResponseMetadata"}
    assert body == {"AliasArn": arn(name, "live"), "Name": "live", "FunctionVersion": "1", "Description": "prod",
                    "RoutingConfig": {"AdditionalVersionWeights": {"2": 0.25}}, "RevisionId": created["RevisionId"]}
    assert {k: v for k, v in lam.get_alias(FunctionName=name, Name="live").items() if k != "ResponseMetadata"} == body

    updated = lam.update_alias(FunctionName=name, Name="live", FunctionVersion="2", Description="moved",
                               RoutingConfig={"AdditionalVersionWeights": {}})
    assert (updated["FunctionVersion"], updated["Description"]) == ("2", "moved") and "RoutingConfig" not in updated
    assert updated["RevisionId"] != created["RevisionId"]
    untouched = lam.update_alias(FunctionName=name, Name="live")  # changes nothing but its RevisionId, as AWS
    assert (untouched["FunctionVersion"], untouched["Description"]) == ("2", "moved")
    assert untouched["RevisionId"] != updated["RevisionId"]

    assert lam.delete_alias(FunctionName=name, Name="live")["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as e:
        lam.get_alias(FunctionName=name, Name="live")
    assert error_of(e) == ("ResourceNotFoundException", f"Cannot find alias arn: {arn(name, 'live')}", 404)
    assert lam.delete_alias(FunctionName=name, Name="live")["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_an_alias_may_point_to_latest_without_routing(fn, lam):
    name = with_versions(fn, lam, 1)
    assert lam.create_alias(FunctionName=name, Name="dev", FunctionVersion="$LATEST")["FunctionVersion"] == "$LATEST"
    out = lam.invoke(FunctionName=name, Qualifier="dev")
    assert out["ExecutedVersion"] == "$LATEST"


@pytest.mark.parametrize(("params", "expected"), [
    ({"Name": "123", "FunctionVersion": "1"},
     ("ValidationException", "1 validation error detected: Value '123' at 'name' failed to satisfy constraint: "
      "Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)", 400)),
    ({"Name": "a", "FunctionVersion": "10"},
     ("ResourceNotFoundException", "Function not found: {arn}:10", 404)),
    ({"Name": "a", "FunctionVersion": "1", "RoutingConfig": {"AdditionalVersionWeights": {"1": 0.8, "2": 0.2}}},
     ("InvalidParameterValueException", "Number of items in AdditionalVersionWeights cannot be greater than 1", 400)),
    ({"Name": "a", "FunctionVersion": "1", "RoutingConfig": {"AdditionalVersionWeights": {"2": 2}}},
     ("ValidationException", "1 validation error detected: Value '{2=2.0}' at 'routingConfig.additionalVersionWeights'"
      " failed to satisfy constraint: Map value must satisfy constraint: [Member must have value less than or equal "
      "to 1.0, Member must have value greater than or equal to 0.0, Member must not be null]", 400)),
    ({"Name": "a", "FunctionVersion": "1", "RoutingConfig": {"AdditionalVersionWeights": {"2": -1}}},
     ("ValidationException", "1 validation error detected: Value '{2=-1.0}' at 'routingConfig.additionalVersionWeights"
      "' failed to satisfy constraint: Map value must satisfy constraint: [Member must have value less than or equal "
      "to 1.0, Member must have value greater than or equal to 0.0, Member must not be null]", 400)),
    ({"Name": "a", "FunctionVersion": "1", "RoutingConfig": {"AdditionalVersionWeights": {"1": 0.5}}},
     ("InvalidParameterValueException", "Invalid function version 1. Function version 1 is already included in "
      "routing configuration.", 400)),
    ({"Name": "a", "FunctionVersion": "10", "RoutingConfig": {"AdditionalVersionWeights": {"2": 0.5}}},
     ("ResourceNotFoundException", "Function not found: {arn}:10", 404)),
    ({"Name": "a", "FunctionVersion": "1", "RoutingConfig": {"AdditionalVersionWeights": {"10": 0.5}}},
     ("ResourceNotFoundException", "Function not found: {arn}:10", 404)),
    ({"Name": "a", "FunctionVersion": "$LATEST", "RoutingConfig": {"AdditionalVersionWeights": {"1": 0.5}}},
     ("InvalidParameterValueException", "$LATEST is not supported for an alias pointing to more than 1 version", 400)),
    ({"Name": "a", "FunctionVersion": "1", "RoutingConfig": {"AdditionalVersionWeights": {"$LATEST": 0.5}}},
     ("ValidationException", "1 validation error detected: Value '{$LATEST=0.5}' at 'routingConfig."
      "additionalVersionWeights' failed to satisfy constraint: Map keys must satisfy constraint: [Member must have "
      "length less than or equal to 1024, Member must have length greater than or equal to 1, Member must satisfy "
      "regular expression pattern: [0-9]+, Member must not be null]", 400)),
])
def test_create_alias_is_checked_as_aws_checks_it(fn, lam, raw, params, expected):
    name = with_versions(fn, lam)
    with pytest.raises(ClientError) as e:
        raw.create_alias(FunctionName=name, **params)
    code, message, status = expected
    assert error_of(e) == (code, message.replace("{arn}", arn(name)), status)
    assert lam.list_aliases(FunctionName=name)["Aliases"] == []


def test_alias_names_are_unique_and_need_a_function(fn, lam):
    name = with_versions(fn, lam, 1)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    with pytest.raises(ClientError) as e:
        lam.create_alias(FunctionName=name, Name="live", FunctionVersion="$LATEST")
    assert error_of(e) == ("ResourceConflictException", f"Alias already exists: {arn(name, 'live')}", 409)
    with pytest.raises(ClientError) as e:
        lam.create_alias(FunctionName="no-such-function", Name="live", FunctionVersion="1")
    assert error_of(e) == ("ResourceNotFoundException", f"Function not found: {arn('no-such-function', '1')}", 404)


def test_update_alias_errors(fn, lam):
    name = with_versions(fn, lam)
    alias = lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    with pytest.raises(ClientError) as e:
        lam.update_alias(FunctionName=name, Name="nope", FunctionVersion="2")
    assert error_of(e) == ("ResourceNotFoundException", f"Alias not found: {arn(name, 'nope')}", 404)
    lam.update_alias(FunctionName=name, Name="live", Description="changed")
    with pytest.raises(ClientError) as e:
        lam.update_alias(FunctionName=name, Name="live", FunctionVersion="2", RevisionId=alias["RevisionId"])
    assert error_of(e) == ("PreconditionFailedException", "The Revision Id provided does not match the latest Revision "
                           "Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id", 412)
    with pytest.raises(ClientError) as e:  # the routing stays checked against the version the alias moves to
        lam.update_alias(FunctionName=name, Name="live", FunctionVersion="2",
                         RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
    assert error_of(e)[0] == "InvalidParameterValueException"
    current = lam.get_alias(FunctionName=name, Name="live")
    assert current["FunctionVersion"] == "1"
    moved = lam.update_alias(FunctionName=name, Name="live", FunctionVersion="2", RevisionId=current["RevisionId"])
    assert moved["FunctionVersion"] == "2"


def test_list_aliases_filters_by_version_and_pages(fn, lam):
    name = with_versions(fn, lam)
    for alias, version in (("c", "1"), ("a", "2"), ("b", "1"), ("d", "$LATEST")):
        lam.create_alias(FunctionName=name, Name=alias, FunctionVersion=version)
    names = [a["Name"] for a in lam.list_aliases(FunctionName=name)["Aliases"]]
    assert names == ["a", "b", "c", "d"]
    assert [a["Name"] for a in lam.list_aliases(FunctionName=name, FunctionVersion="1")["Aliases"]] == ["b", "c"]
    pages = list(lam.get_paginator("list_aliases").paginate(FunctionName=name, PaginationConfig={"PageSize": 3}))
    assert [[a["Name"] for a in p["Aliases"]] for p in pages] == [["a", "b", "c"], ["d"]]
    with pytest.raises(ClientError) as e:
        lam.list_aliases(FunctionName="no-such-function")
    assert error_of(e) == ("ResourceNotFoundException", f"Function not found: {arn('no-such-function')}", 404)


def test_invoking_an_alias_runs_its_version_and_follows_it_when_moved(fn, lam, cloud):
    name = with_versions(fn, lam)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    for how in ({"FunctionName": name, "Qualifier": "live"}, {"FunctionName": f"{name}:live"},
                {"FunctionName": arn(name, "live")}):
        out = lam.invoke(**how)
        payload = json.loads(out["Payload"].read())
        assert out["ExecutedVersion"] == "1"
        assert payload == {"timeout": "v1", "version": "1", "arn": arn(name, "live")}  # the ARN as invoked
    conf = lam.get_function(FunctionName=name, Qualifier="live")["Configuration"]
    assert (conf["FunctionArn"], conf["Version"]) == (arn(name, "live"), "1")
    lam.update_alias(FunctionName=name, Name="live", FunctionVersion="2")
    out = lam.invoke(FunctionName=name, Qualifier="live")
    assert out["ExecutedVersion"] == "2" and json.loads(out["Payload"].read())["timeout"] == "v2"
    assert list(fn.records(name)["version"]) == ["1", "1", "1", "2"]
    assert {e.function.version for e in cloud.environments(name)} == {"1", "2"}
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName=name, Qualifier="nope")
    assert error_of(e) == ("ResourceNotFoundException", f"Function not found: {arn(name, 'nope')}", 404)


def test_weighted_routing_splits_the_traffic(fn, lam):
    name = with_versions(fn, lam)
    lam.create_alias(FunctionName=name, Name="canary", FunctionVersion="1",
                     RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
    ran = Counter(lam.invoke(FunctionName=name, Qualifier="canary")["ExecutedVersion"] for _ in range(200))
    assert set(ran) == {"1", "2"}
    assert 55 <= ran["2"] <= 145  # Binomial(200, 0.5): outside this band about once in a billion runs
    records = fn.records(name)
    assert Counter(records["version"]) == ran  # the records say which version ran, invocation by invocation


@pytest.mark.parametrize(("weight", "only"), [(0.0, "1"), (1.0, "2")])
def test_weights_of_zero_and_one_send_everything_one_way(fn, lam, weight, only):
    name = with_versions(fn, lam)
    lam.create_alias(FunctionName=name, Name="canary", FunctionVersion="1",
                     RoutingConfig={"AdditionalVersionWeights": {"2": weight}})
    ran = {lam.invoke(FunctionName=name, Qualifier="canary")["ExecutedVersion"] for _ in range(40)}
    assert ran == {only}


def test_shifting_weight_is_seen_by_the_next_invocations(fn, lam):
    name = with_versions(fn, lam)
    lam.create_alias(FunctionName=name, Name="canary", FunctionVersion="1",
                     RoutingConfig={"AdditionalVersionWeights": {"2": 0.0}})
    assert {lam.invoke(FunctionName=name, Qualifier="canary")["ExecutedVersion"] for _ in range(10)} == {"1"}
    lam.update_alias(FunctionName=name, Name="canary", RoutingConfig={"AdditionalVersionWeights": {"2": 1.0}})
    assert {lam.invoke(FunctionName=name, Qualifier="canary")["ExecutedVersion"] for _ in range(10)} == {"2"}


def test_a_policy_on_an_alias_is_its_own(fn, lam):
    name = with_versions(fn, lam)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    before = lam.get_alias(FunctionName=name, Name="live")["RevisionId"]
    added = json.loads(lam.add_permission(FunctionName=name, Qualifier="live", StatementId="s3",
                                          Action="lambda:InvokeFunction", Principal="s3.amazonaws.com")["Statement"])
    assert added["Resource"] == arn(name, "live")
    policy = lam.get_policy(FunctionName=name, Qualifier="live")
    after = lam.get_alias(FunctionName=name, Name="live")["RevisionId"]
    assert policy["RevisionId"] == after != before  # the policy's revision is the alias's, changed by the policy
    assert [s["Sid"] for s in json.loads(policy["Policy"])["Statement"]] == ["s3"]
    for other in ({}, {"Qualifier": "1"}):
        with pytest.raises(ClientError) as e:
            lam.get_policy(FunctionName=name, **other)
        assert error_of(e)[0] == "ResourceNotFoundException"
    lam.delete_alias(FunctionName=name, Name="live")
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="2")
    with pytest.raises(ClientError) as e:  # the policy went with the alias it belonged to
        lam.get_policy(FunctionName=name, Qualifier="live")
    assert error_of(e)[0] == "ResourceNotFoundException"


def test_metrics_say_which_version_ran_behind_an_alias(fn, lam, cloud):
    name = with_versions(fn, lam)
    lam.create_alias(FunctionName=name, Name="canary", FunctionVersion="1",
                     RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
    ran = Counter(lam.invoke(FunctionName=name, Qualifier="canary")["ExecutedVersion"] for _ in range(20))
    lam.invoke(FunctionName=name, Qualifier="1")
    cloud.metrics.flush()
    now = cloud.clock.now()

    def invocations(**dimensions: str) -> float:
        response = cloud.client("cloudwatch").get_metric_data(
            StartTime=now - timedelta(minutes=5), EndTime=now + timedelta(minutes=5), MetricDataQueries=[{
                "Id": "m", "MetricStat": {"Stat": "Sum", "Period": 3600, "Metric": {
                    "Namespace": "AWS/Lambda", "MetricName": "Invocations",
                    "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()]}}}])
        return sum(response["MetricDataResults"][0]["Values"])

    assert invocations(FunctionName=name, Resource=f"{name}:canary") == 20
    assert invocations(FunctionName=name, Resource=f"{name}:1") == 1
    for version in ("1", "2"):
        assert invocations(FunctionName=name, Resource=f"{name}:canary", ExecutedVersion=version) == ran[version]
