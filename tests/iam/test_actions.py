"""Real boto3 requests, captured before they leave botocore, described as IAM actions on resources."""

from __future__ import annotations

import functools
import re
from typing import Any
from urllib.parse import unquote, urlsplit

import boto3
import pytest

from lambdalab.iam.actions import Call, describe

REGION, ACCOUNT, OTHER = "eu-west-1", "123456789012", "210987654321"
QUEUE_URL = f"http://127.0.0.1:9/{OTHER}/jobs"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:news"
MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:flow"
_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/")


class Sent(Exception):
    """Raised by the before-send hook: the request never leaves the client."""

    def __init__(self, request: Any) -> None:
        self.request = request


def _stop(request: Any, **_: Any) -> None:
    raise Sent(request)


@functools.cache
def _client(service: str) -> Any:
    client = boto3.client(service, region_name=REGION, endpoint_url="http://127.0.0.1:9",
                          aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="secret")
    client.meta.events.register("before-send", _stop)
    return client


def wire(service: str, operation: str, **params: Any) -> dict[str, Any]:
    """The request boto3 sends for ``operation``, as the gateway hands it to describe() (WSGI PATH_INFO)."""
    with pytest.raises(Sent) as sent:
        getattr(_client(service), operation)(**params)
    request = sent.value.request
    headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
    body = request.body
    body = body.read() if hasattr(body, "read") else body.encode() if isinstance(body, str) else body or b""
    region, scope = _SCOPE.search(headers["Authorization"]).groups()
    url = urlsplit(request.url)
    return {"service": scope, "method": request.method, "path": unquote(url.path, "latin-1"), "query": url.query,
            "headers": headers, "body": body, "region": region, "account": ACCOUNT}


def calls(service: str, operation: str, **params: Any) -> list[Call]:
    return describe(**wire(service, operation, **params))


def pairs(service: str, operation: str, **params: Any) -> list[tuple[str, str]]:
    return [(c.action, c.resource) for c in calls(service, operation, **params)]


S3 = "arn:aws:s3:::"
TABLE = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/"
LOGS = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:"
CASES = [
    # S3: rest-xml, path-style; the action is S3's own name, the resource the bucket or the object
    ("s3", "list_buckets", {}, [("s3:ListAllMyBuckets", f"{S3}*")]),
    ("s3", "create_bucket", {"Bucket": "b"}, [("s3:CreateBucket", f"{S3}b")]),
    ("s3", "delete_bucket", {"Bucket": "b"}, [("s3:DeleteBucket", f"{S3}b")]),
    ("s3", "head_bucket", {"Bucket": "b"}, [("s3:ListBucket", f"{S3}b")]),
    ("s3", "list_objects_v2", {"Bucket": "b"}, [("s3:ListBucket", f"{S3}b")]),
    ("s3", "list_objects", {"Bucket": "b"}, [("s3:ListBucket", f"{S3}b")]),
    ("s3", "list_object_versions", {"Bucket": "b"}, [("s3:ListBucketVersions", f"{S3}b")]),
    ("s3", "list_multipart_uploads", {"Bucket": "b"}, [("s3:ListBucketMultipartUploads", f"{S3}b")]),
    ("s3", "get_bucket_location", {"Bucket": "b"}, [("s3:GetBucketLocation", f"{S3}b")]),
    ("s3", "get_bucket_acl", {"Bucket": "b"}, [("s3:GetBucketAcl", f"{S3}b")]),
    ("s3", "put_bucket_policy", {"Bucket": "b", "Policy": "{}"}, [("s3:PutBucketPolicy", f"{S3}b")]),
    ("s3", "delete_bucket_policy", {"Bucket": "b"}, [("s3:DeleteBucketPolicy", f"{S3}b")]),
    ("s3", "delete_bucket_tagging", {"Bucket": "b"}, [("s3:PutBucketTagging", f"{S3}b")]),
    ("s3", "put_bucket_versioning", {"Bucket": "b", "VersioningConfiguration": {"Status": "Enabled"}},
     [("s3:PutBucketVersioning", f"{S3}b")]),
    ("s3", "put_bucket_notification_configuration", {"Bucket": "b", "NotificationConfiguration": {}},
     [("s3:PutBucketNotification", f"{S3}b")]),
    ("s3", "get_bucket_notification_configuration", {"Bucket": "b"}, [("s3:GetBucketNotification", f"{S3}b")]),
    ("s3", "get_bucket_analytics_configuration", {"Bucket": "b", "Id": "a"},
     [("s3:GetAnalyticsConfiguration", f"{S3}b")]),
    ("s3", "get_object", {"Bucket": "b", "Key": "photos/a b+ü.jpg"}, [("s3:GetObject", f"{S3}b/photos/a b+ü.jpg")]),
    ("s3", "get_object", {"Bucket": "b", "Key": "k", "VersionId": "v1"}, [("s3:GetObjectVersion", f"{S3}b/k")]),
    ("s3", "head_object", {"Bucket": "b", "Key": "k"}, [("s3:GetObject", f"{S3}b/k")]),
    ("s3", "put_object", {"Bucket": "b", "Key": "k", "Body": b"x"}, [("s3:PutObject", f"{S3}b/k")]),
    ("s3", "delete_object", {"Bucket": "b", "Key": "k"}, [("s3:DeleteObject", f"{S3}b/k")]),
    ("s3", "delete_object", {"Bucket": "b", "Key": "k", "VersionId": "v"}, [("s3:DeleteObjectVersion", f"{S3}b/k")]),
    ("s3", "get_object_tagging", {"Bucket": "b", "Key": "k"}, [("s3:GetObjectTagging", f"{S3}b/k")]),
    ("s3", "put_object_acl", {"Bucket": "b", "Key": "k", "ACL": "private"}, [("s3:PutObjectAcl", f"{S3}b/k")]),
    ("s3", "copy_object", {"Bucket": "b", "Key": "to", "CopySource": {"Bucket": "src", "Key": "a?b c"}},
     [("s3:PutObject", f"{S3}b/to"), ("s3:GetObject", f"{S3}src/a?b c")]),
    ("s3", "copy_object", {"Bucket": "b", "Key": "to", "CopySource": {"Bucket": "s", "Key": "k", "VersionId": "v"}},
     [("s3:PutObject", f"{S3}b/to"), ("s3:GetObjectVersion", f"{S3}s/k")]),
    ("s3", "delete_objects", {"Bucket": "b", "Delete": {"Objects": [{"Key": "a"}, {"Key": "b&c"}]}},
     [("s3:DeleteObject", f"{S3}b/a"), ("s3:DeleteObject", f"{S3}b/b&c")]),
    ("s3", "create_multipart_upload", {"Bucket": "b", "Key": "k"}, [("s3:PutObject", f"{S3}b/k")]),
    # setting the new object's ACL or tags needs their actions too (PutObject's documented permissions)
    ("s3", "put_object", {"Bucket": "b", "Key": "k", "Body": b"x", "ACL": "private", "Tagging": "a=b"},
     [("s3:PutObject", f"{S3}b/k"), ("s3:PutObjectAcl", f"{S3}b/k"), ("s3:PutObjectTagging", f"{S3}b/k")]),
    ("s3", "put_object", {"Bucket": "b", "Key": "k", "Body": b"x", "GrantRead": "id=abc"},
     [("s3:PutObject", f"{S3}b/k"), ("s3:PutObjectAcl", f"{S3}b/k")]),
    ("s3", "copy_object", {"Bucket": "b", "Key": "to", "CopySource": "src/k", "Tagging": "a=b",
                           "TaggingDirective": "REPLACE"},
     [("s3:PutObject", f"{S3}b/to"), ("s3:PutObjectTagging", f"{S3}b/to"), ("s3:GetObject", f"{S3}src/k")]),
    ("s3", "create_multipart_upload", {"Bucket": "b", "Key": "k", "ACL": "bucket-owner-full-control"},
     [("s3:PutObject", f"{S3}b/k"), ("s3:PutObjectAcl", f"{S3}b/k")]),
    ("s3", "upload_part", {"Bucket": "b", "Key": "k", "UploadId": "u", "PartNumber": 1, "Body": b"x"},
     [("s3:PutObject", f"{S3}b/k")]),
    ("s3", "complete_multipart_upload", {"Bucket": "b", "Key": "k", "UploadId": "u"}, [("s3:PutObject", f"{S3}b/k")]),
    ("s3", "abort_multipart_upload", {"Bucket": "b", "Key": "k", "UploadId": "u"},
     [("s3:AbortMultipartUpload", f"{S3}b/k")]),
    ("s3", "list_parts", {"Bucket": "b", "Key": "k", "UploadId": "u"}, [("s3:ListMultipartUploadParts", f"{S3}b/k")]),
    # SQS: JSON protocol; the queue (and its owner) come from the QueueUrl; batches need the single action
    ("sqs", "send_message", {"QueueUrl": QUEUE_URL, "MessageBody": "m"},
     [("sqs:SendMessage", f"arn:aws:sqs:{REGION}:{OTHER}:jobs")]),
    ("sqs", "send_message_batch", {"QueueUrl": QUEUE_URL, "Entries": [{"Id": "1", "MessageBody": "m"}]},
     [("sqs:SendMessage", f"arn:aws:sqs:{REGION}:{OTHER}:jobs")]),
    ("sqs", "receive_message", {"QueueUrl": QUEUE_URL}, [("sqs:ReceiveMessage", f"arn:aws:sqs:{REGION}:{OTHER}:jobs")]),
    ("sqs", "delete_message_batch", {"QueueUrl": QUEUE_URL, "Entries": [{"Id": "1", "ReceiptHandle": "r"}]},
     [("sqs:DeleteMessage", f"arn:aws:sqs:{REGION}:{OTHER}:jobs")]),
    ("sqs", "create_queue", {"QueueName": "q"}, [("sqs:CreateQueue", f"arn:aws:sqs:{REGION}:{ACCOUNT}:q")]),
    ("sqs", "get_queue_url", {"QueueName": "q"}, [("sqs:GetQueueUrl", f"arn:aws:sqs:{REGION}:{ACCOUNT}:q")]),
    ("sqs", "list_queues", {}, [("sqs:ListQueues", "*")]),
    # SNS: query protocol; the topic ARN is a parameter
    ("sns", "publish", {"TopicArn": TOPIC, "Message": "m"}, [("sns:Publish", TOPIC)]),
    ("sns", "publish_batch", {"TopicArn": TOPIC, "PublishBatchRequestEntries": [{"Id": "1", "Message": "m"}]},
     [("sns:Publish", TOPIC)]),
    ("sns", "create_topic", {"Name": "news"}, [("sns:CreateTopic", TOPIC)]),
    ("sns", "subscribe", {"TopicArn": TOPIC, "Protocol": "sqs", "Endpoint": "arn:aws:sqs:x"},
     [("sns:Subscribe", TOPIC)]),
    ("sns", "list_topics", {}, [("sns:ListTopics", "*")]),
    # DynamoDB: one call per table for batches and transactions; an index is its own resource
    ("dynamodb", "put_item", {"TableName": "T", "Item": {"id": {"S": "1"}}}, [("dynamodb:PutItem", f"{TABLE}T")]),
    ("dynamodb", "query", {"TableName": "T", "IndexName": "byDate"}, [("dynamodb:Query", f"{TABLE}T/index/byDate")]),
    ("dynamodb", "batch_get_item", {"RequestItems": {"A": {"Keys": [{"id": {"S": "1"}}]},
                                                     "B": {"Keys": [{"id": {"S": "1"}}]}}},
     [("dynamodb:BatchGetItem", f"{TABLE}A"), ("dynamodb:BatchGetItem", f"{TABLE}B")]),
    ("dynamodb", "transact_write_items", {"TransactItems": [
        {"Put": {"TableName": "A", "Item": {"id": {"S": "1"}}}},
        {"Delete": {"TableName": "B", "Key": {"id": {"S": "1"}}}}]},
     [("dynamodb:PutItem", f"{TABLE}A"), ("dynamodb:DeleteItem", f"{TABLE}B")]),
    ("dynamodb", "list_tables", {}, [("dynamodb:ListTables", "*")]),
    # CloudWatch Logs: the log-stream ARN, empty stream part for group-level calls
    ("logs", "put_log_events", {"logGroupName": "/aws/lambda/f", "logStreamName": "s1",
                                "logEvents": [{"timestamp": 1, "message": "m"}]},
     [("logs:PutLogEvents", f"{LOGS}/aws/lambda/f:log-stream:s1")]),
    ("logs", "create_log_group", {"logGroupName": "g"}, [("logs:CreateLogGroup", f"{LOGS}g:log-stream:")]),
    ("logs", "describe_log_groups", {}, [("logs:DescribeLogGroups", f"{LOGS}:log-stream:")]),
    # CloudWatch metrics: signed "monitoring", IAM prefix "cloudwatch"
    ("cloudwatch", "put_metric_data", {"Namespace": "App", "MetricData": [{"MetricName": "m", "Value": 1.0}]},
     [("cloudwatch:PutMetricData", "*")]),
    ("cloudwatch", "get_metric_statistics", {"Namespace": "N", "MetricName": "m", "StartTime": 0, "EndTime": 1,
                                             "Period": 60, "Statistics": ["Sum"]},
     [("cloudwatch:GetMetricStatistics", "*")]),
    ("cloudwatch", "delete_alarms", {"AlarmNames": ["a1", "a2"]},
     [("cloudwatch:DeleteAlarms", f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:a1"),
      ("cloudwatch:DeleteAlarms", f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:a2")]),
    # EC2: its own query dialect; calls on instances act on each instance
    ("ec2", "stop_instances", {"InstanceIds": ["i-1", "i-2"]},
     [("ec2:StopInstances", f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-1"),
      ("ec2:StopInstances", f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-2")]),
    ("ec2", "start_instances", {"InstanceIds": ["i-1"]},
     [("ec2:StartInstances", f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-1")]),
    ("ec2", "describe_instances", {}, [("ec2:DescribeInstances", "*")]),
    ("ec2", "create_tags", {"Resources": ["vol-1"], "Tags": [{"Key": "k", "Value": "v"}]},
     [("ec2:CreateTags", f"arn:aws:ec2:{REGION}:{ACCOUNT}:volume/vol-1")]),
    # EventBridge: rules and buses
    ("events", "put_rule", {"Name": "nightly", "ScheduleExpression": "rate(1 day)"},
     [("events:PutRule", f"arn:aws:events:{REGION}:{ACCOUNT}:rule/nightly")]),
    ("events", "put_targets", {"Rule": "r", "EventBusName": "orders", "Targets": [{"Id": "1", "Arn": "arn:x"}]},
     [("events:PutTargets", f"arn:aws:events:{REGION}:{ACCOUNT}:rule/orders/r")]),
    ("events", "put_events", {"Entries": [{"Source": "s", "DetailType": "d", "Detail": "{}"},
                                          {"Source": "s", "DetailType": "d", "Detail": "{}", "EventBusName": "x"}]},
     [("events:PutEvents", f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"),
      ("events:PutEvents", f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/x")]),
    # Step Functions
    ("stepfunctions", "start_execution", {"stateMachineArn": MACHINE, "name": "run"},
     [("states:StartExecution", MACHINE)]),
    ("stepfunctions", "create_state_machine", {"name": "flow", "definition": "{}", "roleArn": "arn:r"},
     [("states:CreateStateMachine", MACHINE)]),
    ("stepfunctions", "describe_execution", {"executionArn": "arn:aws:states:x:1:execution:flow:run"},
     [("states:DescribeExecution", "arn:aws:states:x:1:execution:flow:run")]),
    # STS and IAM: global ARNs without a region
    ("sts", "get_caller_identity", {}, []),
    ("sts", "assume_role", {"RoleArn": f"arn:aws:iam::{OTHER}:role/r", "RoleSessionName": "ses"},
     [("sts:AssumeRole", f"arn:aws:iam::{OTHER}:role/r")]),
    ("iam", "create_role", {"RoleName": "r", "AssumeRolePolicyDocument": "{}", "Path": "/svc/"},
     [("iam:CreateRole", f"arn:aws:iam::{ACCOUNT}:role/svc/r")]),
    ("iam", "put_role_policy", {"RoleName": "r", "PolicyName": "p", "PolicyDocument": "{}"},
     [("iam:PutRolePolicy", f"arn:aws:iam::{ACCOUNT}:role/r")]),
    ("iam", "add_user_to_group", {"GroupName": "g", "UserName": "u"},
     [("iam:AddUserToGroup", f"arn:aws:iam::{ACCOUNT}:group/g")]),
    ("iam", "create_user", {"UserName": "alice"}, [("iam:CreateUser", f"arn:aws:iam::{ACCOUNT}:user/alice")]),
    ("iam", "create_policy", {"PolicyName": "p", "PolicyDocument": "{}"},
     [("iam:CreatePolicy", f"arn:aws:iam::{ACCOUNT}:policy/p")]),
    ("iam", "get_policy", {"PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
     [("iam:GetPolicy", "arn:aws:iam::aws:policy/ReadOnlyAccess")]),
    ("iam", "list_roles", {}, [("iam:ListRoles", "*")]),
]


@pytest.mark.parametrize(("service", "operation", "params", "expected"), CASES,
                         ids=[f"{c[0]}.{c[1]}-{i}" for i, c in enumerate(CASES)])
def test_each_operation_needs_the_actions_the_service_authorization_reference_lists(service, operation, params,
                                                                                   expected):
    assert pairs(service, operation, **params) == expected


def test_boto3_sends_cloudwatch_metrics_as_json_signed_for_monitoring():
    sent = wire("cloudwatch", "put_metric_data", Namespace="App", MetricData=[{"MetricName": "m", "Value": 1.0}])
    assert sent["service"] == "monitoring"
    assert sent["headers"]["X-Amz-Target"] == "GraniteServiceVersion20100801.PutMetricData"


def test_the_requested_region_is_always_known_and_us_east_1_for_iam():
    assert calls("sqs", "list_queues")[0].context == {"aws:RequestedRegion": REGION}
    assert calls("iam", "list_roles")[0].context == {"aws:RequestedRegion": "us-east-1"}


def test_listing_a_bucket_brings_the_list_condition_keys_only_when_sent():
    listed = calls("s3", "list_objects_v2", Bucket="b", Prefix="home/alice/", Delimiter="/", MaxKeys=100)[0]
    assert listed.context == {"aws:RequestedRegion": REGION, "s3:prefix": "home/alice/", "s3:delimiter": "/",
                              "s3:max-keys": 100}
    assert "s3:prefix" not in calls("s3", "list_objects_v2", Bucket="b")[0].context


def test_s3_request_headers_and_versions_become_condition_keys():
    put = calls("s3", "put_object", Bucket="b", Key="k", Body=b"x", ACL="public-read", ServerSideEncryption="AES256")
    assert put[0].context["s3:x-amz-acl"] == "public-read"
    assert put[0].context["s3:x-amz-server-side-encryption"] == "AES256"
    assert calls("s3", "get_object", Bucket="b", Key="k", VersionId="v1")[0].context["s3:versionid"] == "v1"
    copy = calls("s3", "copy_object", Bucket="b", Key="k", CopySource="src/a b")
    assert copy[0].context["s3:x-amz-copy-source"] == "src/a b"


def test_metric_namespace_assumed_role_session_and_attached_policy_are_condition_keys():
    assert calls("cloudwatch", "put_metric_data", Namespace="App",
                 MetricData=[{"MetricName": "m", "Value": 1.0}])[0].context["cloudwatch:namespace"] == "App"
    assumed = calls("sts", "assume_role", RoleArn="arn:aws:iam::1:role/r", RoleSessionName="ses", ExternalId="x-1")[0]
    assert assumed.context["sts:RoleSessionName"] == "ses" and assumed.context["sts:ExternalId"] == "x-1"
    attached = calls("iam", "attach_role_policy", RoleName="r", PolicyArn="arn:aws:iam::aws:policy/P")[0]
    assert (attached.resource, attached.context["iam:PolicyARN"]) == \
        (f"arn:aws:iam::{ACCOUNT}:role/r", "arn:aws:iam::aws:policy/P")


def test_sqs_over_the_query_protocol_and_lowercase_header_names_are_understood():
    body = f"Action=SendMessage&QueueUrl={QUEUE_URL}&MessageBody=m".encode()
    found = describe("sqs", "POST", "/", "", {"content-type": "application/x-www-form-urlencoded"}, body,
                     REGION, ACCOUNT)
    assert [(c.action, c.resource) for c in found] == [("sqs:SendMessage", f"arn:aws:sqs:{REGION}:{OTHER}:jobs")]
    found = describe("dynamodb", "POST", "/", "", {"x-amz-target": "DynamoDB_20120810.GetItem"},
                     b'{"TableName": "T"}', REGION, ACCOUNT)
    assert [(c.action, c.resource) for c in found] == [("dynamodb:GetItem", f"{TABLE}T")]


def test_an_operation_without_a_rule_is_its_own_name_on_any_resource():
    assert pairs("sns", "list_subscriptions") == [("sns:ListSubscriptions", "*")]
    assert pairs("ec2", "describe_regions") == [("ec2:DescribeRegions", "*")]
    found = describe("logs", "POST", "/", "", {"X-Amz-Target": "Logs_20140328.SomethingNew"}, b"{}", REGION, ACCOUNT)
    assert [(c.action, c.resource) for c in found] == [("logs:SomethingNew", "*")]


def test_a_request_with_no_recognisable_operation_asks_for_nothing():
    assert describe("sns", "GET", "/", "", {}, b"", REGION, ACCOUNT) == []
