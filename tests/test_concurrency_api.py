"""Reserved and provisioned concurrency through the Lambda API: each control, each error, the statuses on the clock."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from deploy import Deployer, Deploying, arn, error_of
from gate import GATED

from lambdalab.course import Functions

ALLOCATION_S = 120  # quotas.provisioned_allocation_s: AWS takes about two minutes
NOT_PUBLISHED = "The function resource provided must be an alias or a published version."
QUALIFIED = ("This operation is permitted on Lambda functions only. Aliases and versions do not support this "
             "operation. Please specify either a function name or an unqualified function ARN.")


@pytest.fixture
def fn(cloud):
    """Functions deleted when the test ends: the session's account keeps no reservation or provisioned environment."""
    deployer = Deploying(cloud)
    yield deployer
    deployer.clean()


def _published(fn: Deployer, source: str = GATED) -> tuple[str, str]:
    name = fn.create(source)
    return name, fn.lam.publish_version(FunctionName=name)["Version"]


def _unreserved(lam) -> int:
    return lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"]


def _raw_error(cloud, method: str, path: str, body: dict) -> dict:
    """The error document exactly as the wire carries it (botocore would add the keys it parses)."""
    import urllib.request

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    request = AWSRequest(method=method, url=cloud.endpoint_url + path, data=json.dumps(body).encode(),
                         headers={"Content-Type": "application/json"})
    SigV4Auth(cloud.session.get_credentials(), "lambda", cloud.region).add_auth(request)
    try:
        urllib.request.urlopen(urllib.request.Request(request.url, data=request.body, method=method,
                                                      headers=dict(request.headers)))
    except urllib.error.HTTPError as e:
        return json.loads(e.read())
    raise AssertionError("the request succeeded")


# -- reserved concurrency ---------------------------------------------------------------------------
def test_reserved_concurrency_is_put_read_shown_by_get_function_and_deleted(fn, lam):
    name = fn.create(GATED)
    before = _unreserved(lam)
    assert lam.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions") is None
    assert "Concurrency" not in lam.get_function(FunctionName=name)
    assert lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=3)[
        "ReservedConcurrentExecutions"] == 3
    assert lam.get_function_concurrency(FunctionName=arn(name))["ReservedConcurrentExecutions"] == 3
    assert lam.get_function(FunctionName=name)["Concurrency"] == {"ReservedConcurrentExecutions": 3}
    assert _unreserved(lam) == before - 3
    assert lam.delete_function_concurrency(FunctionName=name)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=name)
    assert _unreserved(lam) == before


def test_reserved_concurrency_is_for_functions_not_versions_and_names_what_is_missing(fn, lam, cloud):
    name, version = _published(fn)
    for qualified in (arn(name, "$LATEST"), arn(name, version), f"{name}:{version}"):
        with pytest.raises(ClientError) as e:
            lam.put_function_concurrency(FunctionName=qualified, ReservedConcurrentExecutions=1)
        assert error_of(e) == ("InvalidParameterValueException", QUALIFIED, 400)
    with pytest.raises(ClientError) as e:
        lam.put_function_concurrency(FunctionName="nothing-here", ReservedConcurrentExecutions=1)
    assert error_of(e) == ("ResourceNotFoundException", f"Function not found: {arn('nothing-here', '$LATEST')}", 404)
    with pytest.raises(ClientError) as e:
        lam.get_function_concurrency(FunctionName="nothing-here")
    assert error_of(e) == ("ResourceNotFoundException", f"Function not found: {arn('nothing-here')}", 404)
    with pytest.raises(ClientError) as e:
        lam.delete_function_concurrency(FunctionName="nothing-here")
    assert error_of(e)[0] == "ResourceNotFoundException"


def test_the_unreserved_minimum_refuses_a_reservation_in_aws_words_without_a_type(fn, lam, cloud):
    name = fn.create(GATED)
    limit = lam.get_account_settings()["AccountLimit"]["ConcurrentExecutions"]
    expected = ("Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution "
                "below its minimum value of [100].")
    for too_many in (limit + 1, _unreserved(lam) - 99):
        with pytest.raises(ClientError) as e:
            lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=too_many)
        assert error_of(e) == ("InvalidParameterValueException", expected, 400)
    assert _raw_error(cloud, "PUT", f"/2017-10-31/functions/{name}/concurrency",
                      {"ReservedConcurrentExecutions": limit + 1}) == {"message": expected}
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=_unreserved(lam) - 100)
    assert _unreserved(lam) == 100
    lam.delete_function_concurrency(FunctionName=name)


def test_an_account_limited_below_a_hundred_keeps_its_whole_limit_unreserved(fn, lam, cloud):
    name = fn.create(GATED)
    cloud.quotas.set(concurrent_executions=10)
    try:
        with pytest.raises(ClientError) as e:
            lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
        assert error_of(e)[1].endswith("below its minimum value of [10].")
        assert lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)[
            "ReservedConcurrentExecutions"] == 0
        cloud.quotas.set(unreserved_min=2)  # a lesson lowers the minimum to reserve in a small account
        lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=8)
        limits = lam.get_account_settings()["AccountLimit"]
        assert (limits["ConcurrentExecutions"], limits["UnreservedConcurrentExecutions"]) == (10, 2)
    finally:
        lam.delete_function_concurrency(FunctionName=name)
        cloud.quotas.set(concurrent_executions=1000, unreserved_min=100)


def test_deleting_a_function_gives_its_reservation_back(fn, lam):
    name = fn.create(GATED)
    before = _unreserved(lam)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=5)
    lam.delete_function(FunctionName=name)
    assert _unreserved(lam) == before
    fn.create(GATED, FunctionName=name)
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=name)


# -- provisioned concurrency ------------------------------------------------------------------------
def test_provisioned_concurrency_is_in_progress_then_ready_on_the_clock(fn, lam, cloud):
    name, version = _published(fn)
    before = _unreserved(lam)
    put = lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier=version,
                                                 ProvisionedConcurrentExecutions=2)
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert {k: v for k, v in put.items() if k not in ("ResponseMetadata", "LastModified")} == {
        "RequestedProvisionedConcurrentExecutions": 2, "AllocatedProvisionedConcurrentExecutions": 0,
        "AvailableProvisionedConcurrentExecutions": 0, "Status": "IN_PROGRESS"}
    assert _unreserved(lam) == before - 2  # counted as soon as it is configured
    cloud.clock.advance(ALLOCATION_S - 1)
    assert lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier=version)["Status"] == "IN_PROGRESS"
    cloud.clock.advance(1)
    ready = lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier=version)
    assert (ready["Status"], ready["AllocatedProvisionedConcurrentExecutions"],
            ready["AvailableProvisionedConcurrentExecutions"], ready["LastModified"]) == ("READY", 2, 2,
                                                                                        put["LastModified"])
    envs = [e for e in cloud.environments(name) if e.initialization_type == "provisioned-concurrency"]
    assert len(envs) == 2 and {e.function.version for e in envs} == {version}
    (item,) = lam.list_provisioned_concurrency_configs(FunctionName=name)["ProvisionedConcurrencyConfigs"]
    assert item["FunctionArn"] == arn(name, version) and item["Status"] == "READY"
    assert lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier=version)[
        "ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as e:
        lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier=version)
    assert error_of(e) == ("ProvisionedConcurrencyConfigNotFoundException",
                           "No Provisioned Concurrency Config found for this function", 404)
    assert _unreserved(lam) == before
    assert lam.list_provisioned_concurrency_configs(FunctionName=name)["ProvisionedConcurrencyConfigs"] == []
    (billed,) = [row for row in cloud.service.concurrency.allocations() if row["function"] == name]
    assert (billed["version"], billed["environments"], billed["memory_mb"], billed["status"]) == (version, 2, 128,
                                                                                                 "READY")
    assert (billed["end"] - billed["start"]).total_seconds() >= ALLOCATION_S  # configured from the Put to the Delete


def test_an_init_that_fails_makes_provisioned_concurrency_failed_and_invocations_stay_on_demand(fn, lam, cloud):
    source = ("import os\nif os.environ['AWS_LAMBDA_INITIALIZATION_TYPE'] == 'provisioned-concurrency':\n"
              "    raise Exception('Intentional failure upon provisioned concurrency initialization')\n" + GATED)
    name, version = _published(fn, source)
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier=version, ProvisionedConcurrentExecutions=1)
    cloud.clock.advance(ALLOCATION_S)
    failed = lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier=version)
    assert (failed["Status"], failed["StatusReason"], failed["AllocatedProvisionedConcurrentExecutions"]) == (
        "FAILED", "FUNCTION_ERROR_INIT_FAILURE", 0)
    assert fn.invoke(name, Qualifier=version)["Payload"] == "on-demand"
    assert all(e.initialization_type == "on-demand" for e in cloud.environments(name))


def test_provisioned_concurrency_is_for_published_versions_and_aliases_and_says_what_is_missing(fn, lam):
    name, version = _published(fn)

    def refused(call, **params) -> tuple[str, str, int]:
        with pytest.raises(ClientError) as e:
            call(**params)
        return error_of(e)

    put, get = lam.put_provisioned_concurrency_config, lam.get_provisioned_concurrency_config
    delete = lam.delete_provisioned_concurrency_config
    assert refused(put, FunctionName=name, Qualifier="$LATEST", ProvisionedConcurrentExecutions=1) == (
        "InvalidParameterValueException",
        "Provisioned Concurrency Configs cannot be applied to unpublished function versions.", 400)
    for call in (get, delete):
        assert refused(call, FunctionName=name, Qualifier="$LATEST") == (
            "InvalidParameterValueException", NOT_PUBLISHED, 400)
        assert refused(call, FunctionName=name, Qualifier="10") == (
            "ResourceNotFoundException", f"Function not found: {arn(name, '10')}", 404)
        assert refused(call, FunctionName=name, Qualifier="noalias") == (
            "ResourceNotFoundException", f"Cannot find alias arn: {arn(name, 'noalias')}", 404)
        assert refused(call, FunctionName="doesnotexist", Qualifier="noalias") == (
            "ResourceNotFoundException", f"Cannot find alias arn: {arn('doesnotexist', 'noalias')}", 404)
        assert refused(call, FunctionName="doesnotexist", Qualifier="1") == (
            "ResourceNotFoundException", f"Function not found: {arn('doesnotexist', '1')}", 404)
    assert refused(get, FunctionName=name, Qualifier=version)[0] == "ProvisionedConcurrencyConfigNotFoundException"
    assert delete(FunctionName=name, Qualifier=version)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert refused(lam.list_provisioned_concurrency_configs, FunctionName="doesnotexist") == (
        "ResourceNotFoundException", f"Function not found: {arn('doesnotexist')}", 404)
    unchecked = fn.cloud.client("lambda", config=Config(parameter_validation=False))
    assert refused(unchecked.put_provisioned_concurrency_config, FunctionName=name, Qualifier=version,
                   ProvisionedConcurrentExecutions=0) == (
        "ValidationException", "1 validation error detected: Value '0' at 'provisionedConcurrentExecutions' failed to "
        "satisfy constraint: Member must have value greater than or equal to 1", 400)


def test_a_version_gets_provisioned_concurrency_from_itself_or_from_one_alias(fn, lam, cloud):
    name, version = _published(fn)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier=version, ProvisionedConcurrentExecutions=1)
    with pytest.raises(ClientError) as e:
        lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="live", ProvisionedConcurrentExecutions=1)
    assert error_of(e) == ("ResourceConflictException", "Alias can't be used for Provisioned Concurrency "
                           "configuration on an already Provisioned version", 409)
    lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier=version)
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="live", ProvisionedConcurrentExecutions=1)
    with pytest.raises(ClientError) as e:
        lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier=version, ProvisionedConcurrentExecutions=1)
    assert error_of(e) == ("ResourceConflictException", "Version is pointed by a Provisioned Concurrency alias", 409)
    cloud.clock.advance(ALLOCATION_S)
    assert lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier="live")["Status"] == "READY"
    assert fn.invoke(name, Qualifier=version)["Payload"] == "provisioned-concurrency"  # the version's, via its alias
    lam.delete_alias(FunctionName=name, Name="live")
    with pytest.raises(ClientError) as e:
        lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier="live")
    assert error_of(e)[0] == "ResourceNotFoundException"
    assert lam.list_provisioned_concurrency_configs(FunctionName=name)["ProvisionedConcurrencyConfigs"] == []
    assert fn.invoke(name, Qualifier=version)["Payload"] == "on-demand"


def test_provisioned_concurrency_fits_in_reserved_concurrency(fn, lam, cloud):
    name, v1 = _published(fn)
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier=v1, ProvisionedConcurrentExecutions=2)
    with pytest.raises(ClientError) as e:
        lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    assert error_of(e) == ("InvalidParameterValueException", " ReservedConcurrentExecutions  1 should not be lower "
                           "than function's total provisioned concurrency [2].", 400)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=2)
    lam.update_function_configuration(FunctionName=name, Timeout=15)
    v2 = lam.publish_version(FunctionName=name)["Version"]
    for qualifier, amount in ((v2, 1), (v1, 3)):
        with pytest.raises(ClientError) as e:
            lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier=qualifier,
                                                   ProvisionedConcurrentExecutions=amount)
        assert error_of(e) == ("InvalidParameterValueException", "Requested Provisioned Concurrency should not be "
                               "greater than the reservedConcurrentExecution for function", 400)
    lam.delete_function(FunctionName=name)


def test_provisioned_concurrency_beyond_the_unreserved_pool_is_refused(fn, lam):
    name, version = _published(fn)
    unreserved = _unreserved(lam)
    with pytest.raises(ClientError) as e:
        lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier=version,
                                               ProvisionedConcurrentExecutions=unreserved + 1)
    assert error_of(e) == ("InvalidParameterValueException", "Specified ConcurrentExecutions for function is greater "
                           f"than account's unreserved concurrency [{unreserved}].", 400)
    with pytest.raises(ClientError) as e:
        lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier=version,
                                               ProvisionedConcurrentExecutions=unreserved - 99)
    assert error_of(e) == ("InvalidParameterValueException", "Specified ConcurrentExecutions for function decreases "
                           "account's UnreservedConcurrentExecution below its minimum value of [100].", 400)


def test_listing_provisioned_configurations_pages_by_qualifier(fn, lam):
    name, v1 = _published(fn)
    lam.update_function_configuration(FunctionName=name, Timeout=5)
    v2 = lam.publish_version(FunctionName=name)["Version"]
    for alias, version in (("a", v1), ("b", v2)):
        lam.create_alias(FunctionName=name, Name=alias, FunctionVersion=version)
        lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier=alias, ProvisionedConcurrentExecutions=1)
    first = lam.list_provisioned_concurrency_configs(FunctionName=name, MaxItems=1)
    assert [c["FunctionArn"] for c in first["ProvisionedConcurrencyConfigs"]] == [arn(name, "a")]
    rest = lam.list_provisioned_concurrency_configs(FunctionName=name, Marker=first["NextMarker"])
    assert [c["FunctionArn"] for c in rest["ProvisionedConcurrencyConfigs"]] == [arn(name, "b")]
    assert "NextMarker" not in rest
    lam.delete_function(FunctionName=name)


def test_a_weighted_alias_shares_its_provisioned_environments_between_its_versions(fn, lam, cloud):
    name, v1 = _published(fn)
    lam.update_function_configuration(FunctionName=name, Timeout=5)
    v2 = lam.publish_version(FunctionName=name)["Version"]
    lam.create_alias(FunctionName=name, Name="shift", FunctionVersion=v1,
                     RoutingConfig={"AdditionalVersionWeights": {v2: 0.25}})
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="shift", ProvisionedConcurrentExecutions=4)
    cloud.clock.advance(ALLOCATION_S)
    assert lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier="shift")["Status"] == "READY"
    envs = [e.function.version for e in cloud.environments(name)]
    assert sorted(envs) == sorted([v1, v1, v1, v2])
    lam.delete_function(FunctionName=name)
    assert cloud.environments(name) == []


def test_provisioned_concurrency_the_machine_cannot_hold_fails_saying_so(fn, lam, cloud):
    name, version = _published(fn)
    cloud.quotas.set(machine_memory_mb=256)
    try:
        lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier=version,
                                               ProvisionedConcurrentExecutions=5)
        cloud.clock.advance(ALLOCATION_S)
        failed = lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier=version)
    finally:
        cloud.quotas.set(machine_memory_mb=0)
    assert failed["Status"] == "FAILED"
    assert failed["StatusReason"].startswith("lambdalab: this machine holds execution environments of at most 256 MB")
    lam.delete_function(FunctionName=name)



# -- per account and Region -------------------------------------------------------------------------
@pytest.fixture
def eu(cloud):
    """Functions in eu-west-1 (deleted when the test ends), through a client signed for that Region."""
    deployer = Deploying(cloud)
    deployer.lam = cloud.client("lambda", region_name="eu-west-1")
    yield deployer
    deployer.clean()


def test_reserved_concurrency_in_one_region_leaves_the_others_account_quota_whole(fn, eu, lam, cloud):
    name = eu.create(GATED)
    fn.create(GATED, FunctionName=name)  # the same name in us-east-1: another function
    us_before, eu_before = _unreserved(lam), _unreserved(eu.lam)
    eu.lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=400)
    assert _unreserved(eu.lam) == eu_before - 400
    assert _unreserved(lam) == us_before
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=name)
    assert "Concurrency" not in lam.get_function(FunctionName=name)
    # us-east-1 has its own 1,000: it reserves more than eu-west-1 has left unreserved
    mine = us_before - cloud.quotas.unreserved_min
    assert mine > _unreserved(eu.lam) - cloud.quotas.unreserved_min
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=mine)
    assert _unreserved(lam) == cloud.quotas.unreserved_min
    assert eu.lam.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 400
    assert _unreserved(eu.lam) == eu_before - 400
    with pytest.raises(ClientError) as e:  # another Region's function is not reachable from here
        lam.put_function_concurrency(FunctionName=arn(name).replace("us-east-1", "eu-west-1"),
                                     ReservedConcurrentExecutions=1)
    assert error_of(e) == ("ResourceNotFoundException",
                           "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')", 404)
    lam.delete_function_concurrency(FunctionName=name)


def test_provisioned_environments_in_one_region_never_serve_the_same_name_in_another(fn, eu, lam, cloud):
    name = eu.create(GATED)
    fn.create(GATED, FunctionName=name)
    eu_arn, us_arn = arn(name).replace("us-east-1", "eu-west-1"), arn(name)
    version = eu.lam.publish_version(FunctionName=name)["Version"]
    assert lam.publish_version(FunctionName=name)["Version"] == version
    eu.lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier=version, ProvisionedConcurrentExecutions=1)
    cloud.clock.advance(ALLOCATION_S)
    assert eu.lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier=version)["Status"] == "READY"
    with pytest.raises(ClientError) as e:
        lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier=version)
    assert error_of(e)[0] == "ProvisionedConcurrencyConfigNotFoundException"
    assert fn.invoke(name, Qualifier=version)["Payload"] == "on-demand"  # us-east-1's own version 1
    assert eu.invoke(name, Qualifier=version)["Payload"] == "provisioned-concurrency"
    frame = cloud.invocations()
    runs = frame[frame["function"] == name].set_index("function_arn")["provisioned"].to_dict()
    assert runs == {us_arn: False, eu_arn: True}
    assert [e.initialization_type for e in cloud.environments(us_arn)] == ["on-demand"]
    assert [e.initialization_type for e in cloud.environments(eu_arn)] == ["provisioned-concurrency"]
    (billed,) = [row for row in cloud.services(region="eu-west-1").concurrency.allocations()
                 if row["function"] == name]
    assert billed["function_arn"] == eu_arn
    assert not [row for row in cloud.service.concurrency.allocations() if row["function"] == name]
    eu.lam.delete_function(FunctionName=name)
    assert cloud.environments(eu_arn) == [] and len(cloud.environments(us_arn)) == 1

def test_the_course_provisions_a_version_and_fast_forwards_through_the_allocation(cloud):
    course = Functions(cloud)
    name = course.deploy(f"provisioned-{uuid.uuid4().hex[:8]}", GATED)
    version = course.lam.publish_version(FunctionName=name)["Version"]
    config = course.provision(name, version, 1)
    assert (config["Status"], config["AllocatedProvisionedConcurrentExecutions"]) == ("READY", 1)
    assert course.invoke(name, Qualifier=version) == "provisioned-concurrency"
    course.delete(name)
