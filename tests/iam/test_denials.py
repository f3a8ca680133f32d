"""Refusals as boto3 sees them: each response goes through botocore's own parser for that service."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import botocore.parsers
import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from lambdalab.iam import denials

USER = "arn:aws:iam::123456789012:user/alice"
KEY = "AKIAIOSFODNN7EXAMPLE"
Respond = Callable[[str, dict[str, str]], tuple[int, list[tuple[str, str]], bytes]]


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any):
        yield self.body


def refused(service: str, operation: str, respond: Respond, **params: Any) -> tuple[int, dict[str, Any]]:
    """(HTTP status, ClientError.response["Error"]) for ``operation`` answered by ``respond``."""
    client = boto3.client(service, region_name="us-east-1", endpoint_url="http://127.0.0.1:9",
                          aws_access_key_id=KEY, aws_secret_access_key="secret")
    scope = client.meta.service_model.signing_name

    def answer(request: Any, **_: Any) -> AWSResponse:
        headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
        status, head, body = respond(scope, headers)
        return AWSResponse(request.url, status, dict(head), _Raw(body))

    client.meta.events.register("before-send", answer)
    with pytest.raises(ClientError) as caught:
        getattr(client, operation)(**params)
    return caught.value.response["ResponseMetadata"]["HTTPStatusCode"], caught.value.response["Error"]


def deny(message: str) -> Respond:
    return lambda service, headers: denials.access_denied(service, headers, message)


def unknown_key(service: str, headers: dict[str, str]) -> tuple[int, list[tuple[str, str]], bytes]:
    return denials.invalid_credentials(service, headers, KEY)


CALLS = {  # one ordinary call per service, as a learner would make it
    "s3": ("get_object", {"Bucket": "b", "Key": "k"}),
    "sqs": ("send_message", {"QueueUrl": "http://127.0.0.1:9/123456789012/q", "MessageBody": "m"}),
    "sns": ("publish", {"TopicArn": "arn:aws:sns:us-east-1:123456789012:t", "Message": "m"}),
    "dynamodb": ("put_item", {"TableName": "T", "Item": {"id": {"S": "1"}}}),
    "logs": ("create_log_group", {"logGroupName": "g"}),
    "events": ("put_events", {"Entries": [{"Source": "s", "DetailType": "d", "Detail": "{}"}]}),
    "stepfunctions": ("start_execution", {"stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:m"}),
    "cloudwatch": ("put_metric_data", {"Namespace": "N", "MetricData": [{"MetricName": "m", "Value": 1.0}]}),
    "ec2": ("stop_instances", {"InstanceIds": ["i-1"]}),
    "iam": ("create_role", {"RoleName": "r", "AssumeRolePolicyDocument": "{}"}),
    "sts": ("assume_role", {"RoleArn": "arn:aws:iam::123456789012:role/r", "RoleSessionName": "session"}),
    "lambda": ("get_function", {"FunctionName": "f"}),
}
DENIED = [("s3", 403, "AccessDenied"), ("sqs", 403, "AccessDenied"), ("sns", 403, "AuthorizationError"),
          ("dynamodb", 400, "AccessDeniedException"), ("logs", 400, "AccessDeniedException"),
          ("events", 400, "AccessDeniedException"), ("stepfunctions", 400, "AccessDeniedException"),
          ("cloudwatch", 403, "AccessDenied"), ("ec2", 403, "UnauthorizedOperation"),
          ("iam", 403, "AccessDenied"), ("sts", 403, "AccessDenied"), ("lambda", 403, "AccessDeniedException")]
INVALID = [("s3", 403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."),
           ("sts", 403, "InvalidClientTokenId", denials.INVALID_TOKEN),
           ("iam", 403, "InvalidClientTokenId", denials.INVALID_TOKEN),
           ("sns", 403, "InvalidClientTokenId", denials.INVALID_TOKEN),
           ("sqs", 403, "InvalidClientTokenId", denials.INVALID_TOKEN),
           ("dynamodb", 400, "UnrecognizedClientException", denials.INVALID_TOKEN),
           ("logs", 400, "UnrecognizedClientException", denials.INVALID_TOKEN),
           ("lambda", 403, "UnrecognizedClientException", denials.INVALID_TOKEN),
           ("ec2", 401, "AuthFailure", "AWS was not able to validate the provided access credentials")]


@pytest.mark.parametrize(("service", "status", "code"), DENIED, ids=[d[0] for d in DENIED])
def test_a_refusal_reaches_boto3_with_the_code_and_message_the_service_sends(service, status, code):
    operation, params = CALLS[service]
    message = f"User: {USER} is not authorized to perform: x:Y because no identity-based policy allows the x:Y action"
    expected = {"Code": code, "Message": message, **_typed(service)}
    assert refused(service, operation, deny(message), **params) == (status, expected)


@pytest.mark.parametrize(("service", "status", "code", "message"), INVALID, ids=[i[0] for i in INVALID])
def test_an_access_key_never_issued_is_refused_as_each_service_refuses_it(service, status, code, message):
    operation, params = CALLS[service]
    got_status, error = refused(service, operation, unknown_key, **params)
    assert (got_status, error["Code"], error["Message"]) == (status, code, message)


def test_s3_names_the_unknown_access_key():
    _, error = refused("s3", "get_object", unknown_key, Bucket="b", Key="k")
    assert error["AWSAccessKeyId"] == KEY


def test_sqs_called_over_the_query_protocol_is_answered_in_query_xml():
    status, headers, body = denials.access_denied("sqs", {"Content-Type": "application/x-www-form-urlencoded"}, "no")
    model = botocore.session.get_session().get_service_model("sqs").operation_model("SendMessage")
    parsed = botocore.parsers.create_parser("query").parse(
        {"status_code": status, "headers": dict(headers), "body": body}, model.output_shape)
    assert (status, parsed["Error"]) == (403, {"Type": "Sender", "Code": "AccessDenied", "Message": "no"})


@pytest.mark.parametrize(("service", "action", "resource", "phrase", "expected"), [
    ("s3", "s3:GetObject", "arn:aws:s3:::b/k", "because no identity-based policy allows the s3:GetObject action",
     f'User: {USER} is not authorized to perform: s3:GetObject on resource: "arn:aws:s3:::b/k" because no '
     "identity-based policy allows the s3:GetObject action"),
    ("dynamodb", "dynamodb:PutItem", "arn:aws:dynamodb:us-east-1:123456789012:table/T",
     "because no identity-based policy allows the dynamodb:PutItem action",
     f"User: {USER} is not authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:us-east-1:"
     "123456789012:table/T because no identity-based policy allows the dynamodb:PutItem action"),
    ("sqs", "sqs:SendMessage", "arn:aws:sqs:us-west-2:123456789012:test",
     "because no identity-based policy allows the sqs:SendMessage action",
     f"User: {USER} is not authorized to perform: sqs:sendmessage on resource: arn:aws:sqs:us-west-2:123456789012:"
     "test because no identity-based policy allows the sqs:sendmessage action"),
    ("sns", "sns:Publish", "arn:aws:sns:eu-west-2:123456789012:t",
     "because no identity-based policy allows the sns:Publish action",
     f"User: {USER} is not authorized to perform: SNS:Publish on resource: arn:aws:sns:eu-west-2:123456789012:t "
     "because no identity-based policy allows the SNS:Publish action"),
    ("monitoring", "cloudwatch:GetMetricData", "*", "with an explicit deny in an identity-based policy",
     f"User: {USER} is not authorized to perform: cloudwatch:GetMetricData with an explicit deny in an "
     "identity-based policy"),
    ("ec2", "ec2:StopInstances", "arn:aws:ec2:us-east-1:123456789012:instance/i-1",
     "because no identity-based policy allows the ec2:StopInstances action",
     f"You are not authorized to perform this operation. User: {USER} is not authorized to perform: "
     "ec2:StopInstances on resource: arn:aws:ec2:us-east-1:123456789012:instance/i-1 because no identity-based "
     "policy allows the ec2:StopInstances action"),
])
def test_the_denial_message_is_worded_as_each_service_words_it(service, action, resource, phrase, expected):
    assert denials.denial_message(USER, action, resource, phrase, service) == expected


def _typed(service: str) -> dict[str, str]:
    """What botocore adds beside Code and Message: the query Type, and the JSON code SQS/CloudWatch replaced."""
    if service in ("sns", "iam", "sts"):
        return {"Type": "Sender"}
    if service in ("sqs", "cloudwatch"):
        return {"Type": "Sender", "QueryErrorCode": "AccessDeniedException"}
    return {}
