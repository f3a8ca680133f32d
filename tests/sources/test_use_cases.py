"""The course's use cases of event sources, end to end: what a learner builds in chapter 05."""

from __future__ import annotations

import json
import uuid

import requests
from deploy import ACCOUNT

from lambdalab.iam.roles import BASIC_EXECUTION
from lambdalab.packaging import execution_role

EC2_SWITCH = """
import boto3, os
ec2 = boto3.client("ec2")
def handler(event, context):
    tagged = ec2.describe_instances(Filters=[{"Name": "tag:office-hours", "Values": ["yes"]}])
    ids = [i["InstanceId"] for r in tagged["Reservations"] for i in r["Instances"]]
    if ids:
        getattr(ec2, os.environ["ACTION"] + "_instances")(InstanceIds=ids)
    return {"action": os.environ["ACTION"], "instances": ids, "time": event["time"]}
"""


def test_instances_tagged_for_office_hours_stop_at_seven_pm_and_start_at_seven_am(cloud, fn, lam):
    ec2, events = cloud.client("ec2"), cloud.client("events")
    role = execution_role(cloud.client("iam"), "office-hours-role", BASIC_EXECUTION, statements=(
        {"Effect": "Allow", "Action": ["ec2:DescribeInstances", "ec2:StopInstances", "ec2:StartInstances"],
         "Resource": "*"},))
    image = ec2.describe_images()["Images"][0]["ImageId"]
    tagged = ec2.run_instances(ImageId=image, MinCount=2, MaxCount=2, TagSpecifications=[
        {"ResourceType": "instance", "Tags": [{"Key": "office-hours", "Value": "yes"}]}])["Instances"]
    other = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    for action, cron in (("stop", "cron(0 19 ? * MON-FRI *)"), ("start", "cron(0 7 ? * MON-FRI *)")):
        name = fn.create(EC2_SWITCH, Role=role, Environment={"Variables": {"ACTION": action}})
        rule = f"{action}-{uuid.uuid4().hex[:6]}"
        rule_arn = events.put_rule(Name=rule, ScheduleExpression=cron)["RuleArn"]
        lam.add_permission(FunctionName=name, StatementId=rule, Action="lambda:InvokeFunction",
                           Principal="events.amazonaws.com", SourceArn=rule_arn, SourceAccount=ACCOUNT)
        arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
        events.put_targets(Rule=rule, Targets=[{"Id": "1", "Arn": arn}])
    ids = [i["InstanceId"] for i in tagged]

    def states() -> dict[str, str]:
        found = ec2.describe_instances(InstanceIds=[*ids, other])["Reservations"]
        return {i["InstanceId"]: i["State"]["Name"] for r in found for i in r["Instances"]}

    now = cloud.clock.now()
    # to the next weekday 20:00 UTC: the stop rule has fired, the start rule not yet
    days = next(d for d in range(0, 8) if (now.weekday() + d) % 7 < 5 and (d > 0 or now.hour < 19))
    target = now.replace(hour=20, minute=0, second=0, microsecond=0).timestamp() + 86400 * days
    cloud.clock.advance(target - cloud.clock.time())
    evening = states()
    assert {evening[i] for i in ids} == {"stopped"} and evening[other] == "running"
    cloud.clock.advance(hours=12)  # 08:00 the next day, a weekday unless it is Saturday
    morning = states()
    expected = "stopped" if cloud.clock.now().weekday() >= 5 else "running"
    assert {morning[i] for i in ids} == {expected} and morning[other] == "running"


ITEMS_API = """
import boto3, json, os
table = boto3.resource("dynamodb").Table(os.environ["TABLE"])
def handler(event, context):
    key = event.get("pathParameters", {}).get("id")
    if event["routeKey"] == "PUT /items/{id}":
        table.put_item(Item={"id": key, **json.loads(event["body"])})
        return {"statusCode": 201, "body": json.dumps({"id": key})}
    item = table.get_item(Key={"id": key}).get("Item")
    if item is None:
        return {"statusCode": 404, "body": json.dumps({"message": f"no item {key}"})}
    return item
"""


def test_a_json_service_over_a_dynamodb_table_behind_an_http_api(cloud, fn, lam):
    dynamodb, apigw = cloud.client("dynamodb"), cloud.client("apigatewayv2")
    table = f"items-{uuid.uuid4().hex[:6]}"
    dynamodb.create_table(TableName=table, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                          BillingMode="PAY_PER_REQUEST")
    role = execution_role(cloud.client("iam"), "items-api-role", BASIC_EXECUTION, statements=(
        {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem"], "Resource": "*"},))
    name = fn.create(ITEMS_API, Role=role, Environment={"Variables": {"TABLE": table}})
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    api = apigw.create_api(Name="items", ProtocolType="HTTP")
    integration = apigw.create_integration(ApiId=api["ApiId"], IntegrationType="AWS_PROXY", IntegrationUri=arn,
                                           PayloadFormatVersion="2.0")["IntegrationId"]
    for key in ("GET /items/{id}", "PUT /items/{id}"):
        apigw.create_route(ApiId=api["ApiId"], RouteKey=key, Target=f"integrations/{integration}")
    apigw.create_stage(ApiId=api["ApiId"], StageName="$default", AutoDeploy=True)
    lam.add_permission(FunctionName=name, StatementId="api", Action="lambda:InvokeFunction",
                       Principal="apigateway.amazonaws.com",
                       SourceArn=f"arn:aws:execute-api:{cloud.region}:{ACCOUNT}:{api['ApiId']}/*")
    url = api["ApiEndpoint"]
    created = requests.put(f"{url}/items/pear", data=json.dumps({"colour": "green"}))
    assert (created.status_code, created.json()) == (201, {"id": "pear"})
    assert requests.get(f"{url}/items/pear").json() == {"id": "pear", "colour": "green"}
    missing = requests.get(f"{url}/items/plum")
    assert (missing.status_code, missing.json()) == (404, {"message": "no item plum"})
    assert dynamodb.get_item(TableName=table, Key={"id": {"S": "pear"}})["Item"]["colour"] == {"S": "green"}
