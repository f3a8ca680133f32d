"""Regions and accounts: each account's functions in each Region are its own, as in AWS."""

from __future__ import annotations

import json
import time
import urllib.request
import uuid

import pytest
from botocore.exceptions import ClientError
from deploy import ACCOUNT, ROLE, error_of, function_names

from lambdalab import zip_files

ENVIRONMENT = "import os\n\ndef handler(event, context):\n    return {k: os.environ[k] for k in " \
              "('AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_LAMBDA_LOG_GROUP_NAME')} | " \
              "{'arn': context.invoked_function_arn, 'says': event.get('says')}\n"


def unique() -> str:
    return f"fn-{uuid.uuid4().hex[:10]}"


def create(lam, name: str, source: str = ENVIRONMENT, role: str = ROLE, **config) -> dict:
    return lam.create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="app.handler",
                               Code={"ZipFile": zip_files(source)}, **config)


def invoke(lam, name: str, event: dict | None = None) -> dict:
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event or {}))
    assert "FunctionError" not in response, response["Payload"].read()
    return json.loads(response["Payload"].read())


def wait_for(probe, what: str, timeout: float = 10.0):
    """Poll ``probe`` (which flushes what it reads) until it returns something true."""
    deadline = time.monotonic() + timeout
    while not (found := probe()):
        assert time.monotonic() < deadline, f"no {what} after {timeout:.0f} s"
        time.sleep(0.05)
    return found


def test_a_function_lives_in_the_region_its_request_was_signed_for(cloud):
    eu = cloud.client("lambda", region_name="eu-west-1")
    name = unique()
    created = create(eu, name)
    assert created["FunctionArn"] == f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:{name}"
    assert created["RuntimeVersionConfig"]["RuntimeVersionArn"].startswith("arn:aws:lambda:eu-west-1::runtime:")
    assert eu.get_function(FunctionName=name)["Configuration"]["FunctionArn"] == created["FunctionArn"]
    with pytest.raises(ClientError) as caught:
        cloud.client("lambda").get_function(FunctionName=name)
    assert error_of(caught) == ("ResourceNotFoundException",
                                f"Function not found: arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}", 404)
    assert name not in function_names(cloud.client("lambda"))
    assert name in [f["FunctionName"] for f in eu.list_functions()["Functions"]]
    assert cloud.services(region="eu-west-1").resolve(name).arn == created["FunctionArn"]
    assert cloud.service.region == "us-east-1"


def test_its_environment_knows_its_region_and_its_logs_and_metrics_stay_there(cloud):
    eu = cloud.client("lambda", region_name="eu-west-1")
    name = unique()
    arn = create(eu, name)["FunctionArn"]
    seen = invoke(eu, name)
    assert seen == {"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1",
                    "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}", "arn": arn, "says": None}
    group = f"/aws/lambda/{name}"

    def reports(region: str) -> list[str]:
        cloud.logs.flush()
        try:
            events = cloud.client("logs", region_name=region).filter_log_events(logGroupName=group)["events"]
        except ClientError:
            return []
        return [e["message"] for e in events if e["message"].startswith("REPORT")]

    assert wait_for(lambda: reports("eu-west-1"), "REPORT line in eu-west-1")
    assert reports("us-east-1") == []
    assert cloud.client("logs").describe_log_groups(logGroupNamePrefix=group)["logGroups"] == []

    def invocations(region: str) -> int:
        cloud.metrics.flush()
        stats = cloud.client("cloudwatch", region_name=region).get_metric_statistics(
            Namespace="AWS/Lambda", MetricName="Invocations", Dimensions=[{"Name": "FunctionName", "Value": name}],
            StartTime=cloud.clock.now().replace(year=2000), EndTime=cloud.clock.now().replace(year=2100),
            Period=86400, Statistics=["Sum"])["Datapoints"]
        return int(sum(d["Sum"] for d in stats))

    assert wait_for(lambda: invocations("eu-west-1"), "Invocations datapoint in eu-west-1") >= 1
    assert invocations("us-east-1") == 0
    rows = cloud.invocations()
    assert list(rows[rows["function"] == name]["function_arn"]) == [arn]
    assert [env.function.arn for env in cloud.environments(arn)] == [arn]
    assert cloud.environments(name) == []  # a bare name is one of cloud.service's (us-east-1)


def test_the_same_name_in_two_regions_is_two_functions(cloud):
    name = unique()
    east, west = cloud.client("lambda"), cloud.client("lambda", region_name="us-west-2")
    create(east, name, "def handler(event, context):\n    return 'east'\n")
    create(west, name, "def handler(event, context):\n    return 'west'\n", Timeout=7)
    assert (invoke(east, name), invoke(west, name)) == ("east", "west")
    assert (east.get_function_configuration(FunctionName=name)["Timeout"],
            west.get_function_configuration(FunctionName=name)["Timeout"]) == (3, 7)
    west.delete_function(FunctionName=name)
    assert invoke(east, name) == "east"  # deleting one leaves the other and its environments
    assert [env.function.arn for env in cloud.environments(name)] == [cloud.service.arn(name)]


def test_an_arn_of_another_region_is_not_reachable(cloud):
    lam = cloud.client("lambda")
    name = unique()
    create(lam, name)
    wrong = f"arn:aws:lambda:eu-central-1:{ACCOUNT}:function:{name}"
    message = "Functions from 'eu-central-1' are not reachable in this region ('us-east-1')"
    for call in (lambda: lam.get_function(FunctionName=wrong), lambda: lam.invoke(FunctionName=wrong),
                 lambda: lam.delete_function(FunctionName=wrong), lambda: lam.list_tags(Resource=wrong),
                 lambda: lam.get_function_concurrency(FunctionName=wrong)):  # one lambdalab does not serve
        with pytest.raises(ClientError) as caught:
            call()
        assert error_of(caught) == ("ResourceNotFoundException", message, 404)
    assert lam.get_function(FunctionName=name)["Configuration"]["FunctionName"] == name  # still there


def test_a_region_that_does_not_exist_is_refused_as_its_signature(cloud):
    with pytest.raises(ClientError) as caught:
        cloud.client("lambda", region_name="mars-north-1").list_functions()
    assert error_of(caught) == ("InvalidSignatureException",
                                "Credential should be scoped to a valid region, not 'mars-north-1'. ", 403)


def test_code_and_layer_downloads_come_from_their_region(cloud):
    west = cloud.client("lambda", region_name="us-west-2")
    layer = west.publish_layer_version(LayerName=unique(), Content={"ZipFile": zip_files({"python/lib.py": "X = 1"})})
    assert layer["LayerVersionArn"].startswith(f"arn:aws:lambda:us-west-2:{ACCOUNT}:layer:")
    name = unique()
    create(west, name, "from lib import X\n\ndef handler(event, context):\n    return X\n",
           Layers=[layer["LayerVersionArn"]])
    assert invoke(west, name) == 1
    for url in (west.get_function(FunctionName=name)["Code"]["Location"],
                west.get_layer_version_by_arn(Arn=layer["LayerVersionArn"])["Content"]["Location"]):
        with urllib.request.urlopen(url) as response:
            assert response.read()[:2] == b"PK"
    with pytest.raises(ClientError) as caught:  # a layer of another Region
        create(cloud.client("lambda"), unique(), Layers=[layer["LayerVersionArn"]])
    assert error_of(caught)[0] == "InvalidParameterValueException"
    assert "Layers are expected to be in region us-east-1" in error_of(caught)[1]


def test_the_other_account_creates_lists_and_invokes_functions_of_its_own(cloud):
    theirs, ours = cloud.client("lambda", account=cloud.other_account), cloud.client("lambda")
    name = unique()
    their_role = f"arn:aws:iam::{cloud.other_account}:role/lambda-role"
    created = create(theirs, name, "def handler(event, context):\n    return 'theirs'\n", role=their_role)
    assert created["FunctionArn"] == f"arn:aws:lambda:us-east-1:{cloud.other_account}:function:{name}"
    create(ours, name, "def handler(event, context):\n    return 'ours'\n")  # the same name, another account
    assert (invoke(theirs, name), invoke(ours, name)) == ("theirs", "ours")
    assert name in [f["FunctionName"] for f in theirs.list_functions()["Functions"]]
    assert cloud.services(cloud.other_account).resolve(name).arn == created["FunctionArn"]
    with pytest.raises(ClientError) as caught:  # calling ours by ARN needs our function's policy, as before
        theirs.invoke(FunctionName=f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}")
    assert error_of(caught)[0] == "AccessDeniedException"
    with pytest.raises(ClientError) as caught:
        theirs.get_function(FunctionName="anything")
    assert error_of(caught) == (
        "ResourceNotFoundException",
        f"Function not found: arn:aws:lambda:us-east-1:{cloud.other_account}:function:anything", 404)


def test_an_execution_role_is_one_of_the_functions_own_account(cloud):
    theirs = cloud.client("lambda", account=cloud.other_account)
    with pytest.raises(ClientError) as caught:  # our role: theirs may not pass it
        create(theirs, unique(), role=ROLE)
    code, message, status = error_of(caught)
    assert (code, status) == ("AccessDeniedException", 403)
    assert message == (f"User: arn:aws:iam::{cloud.other_account}:root is not authorized to perform: iam:PassRole "
                       f"on resource: {ROLE} because no resource-based policy allows the iam:PassRole action")


def test_a_user_of_the_other_account_works_with_its_accounts_functions(cloud):
    iam = cloud.client("iam", account=cloud.other_account)
    user = unique()
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="lambda", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["lambda:*", "iam:PassRole"],
                                                "Resource": "*"}]}))
    lam = cloud.client("lambda", credentials=iam.create_access_key(UserName=user)["AccessKey"])
    name = unique()
    create(lam, name, role=f"arn:aws:iam::{cloud.other_account}:role/lambda-role")
    assert invoke(lam, name, {"says": "hi"})["arn"] == \
        f"arn:aws:lambda:us-east-1:{cloud.other_account}:function:{name}"
    assert name in function_names(lam)


def test_a_cloud_whose_own_region_is_another_serves_it_by_default():
    import lambdalab

    with lambdalab.start(region="ap-southeast-2") as cloud:
        lam = cloud.client("lambda")
        name = unique()
        arn = create(lam, name)["FunctionArn"]
        assert arn == f"arn:aws:lambda:ap-southeast-2:{cloud.account}:function:{name}"
        assert invoke(lam, name)["AWS_REGION"] == "ap-southeast-2"
        assert cloud.service.region == "ap-southeast-2" and cloud.environ()["AWS_DEFAULT_REGION"] == "ap-southeast-2"


def test_a_region_that_does_not_exist_stops_the_cloud_before_it_starts():
    import lambdalab
    from lambdalab.cli import main

    with pytest.raises(ValueError, match="'mars-north-1' is not a Region"):
        lambdalab.LocalCloud(region="mars-north-1")
    with pytest.raises(SystemExit) as exited:  # the CLI says so as a usage error
        main(["serve", "--region", "mars-north-1"])
    assert exited.value.code == 2
