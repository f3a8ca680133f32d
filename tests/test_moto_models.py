"""moto answers from the clients' shared models plus its own additions to them; the clients keep AWS's.

moto merges files of its own into some service models (``service-2.moto-extras.json``: EC2's
``DryRunOperation`` error, SQS's query protocol and its result wrappers, S3's result wrappers).
Sharing the parsed models with moto (``memory.share_models_with_moto``) must not lose them, nor
give them to the clients.
"""

from __future__ import annotations

import urllib.parse
import xml.etree.ElementTree as ET

import botocore.session
import pytest
from botocore.exceptions import ClientError
from signing import send, sign

from lambdalab import service_models

SQS_NS = "{http://queue.amazonaws.com/doc/2012-11-05/}"


def test_ec2_answers_a_dry_run_with_412_as_aws_does(cloud):
    with pytest.raises(ClientError) as caught:
        cloud.client("ec2").describe_instances(DryRun=True)
    assert caught.value.response["Error"] == {
        "Code": "DryRunOperation", "Message": "Request would have succeeded, but DryRun flag is set."}
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412


def sqs_query(cloud, **params: str) -> tuple[int, ET.Element]:
    body = urllib.parse.urlencode({**params, "Version": "2012-11-05"}).encode()
    headers = sign(cloud, "POST", "/", body, {"Content-Type": "application/x-www-form-urlencoded"}, service="sqs")
    status, _, answer = send(cloud, "POST", "/", body, headers)
    return status, ET.fromstring(answer)


def test_sqs_answers_its_query_protocol_too(cloud):
    """Older SDKs and hand-made requests speak SQS's query protocol, which AWS still serves."""
    url = cloud.client("sqs").create_queue(QueueName="moto-models-query")["QueueUrl"]
    status, root = sqs_query(cloud, Action="GetQueueUrl", QueueName="moto-models-query")
    assert status == 200, ET.tostring(root)
    assert root.findtext(f"{SQS_NS}GetQueueUrlResult/{SQS_NS}QueueUrl") == url
    status, root = sqs_query(cloud, Action="SendMessage", QueueUrl=url, MessageBody="hello")
    assert status == 200, ET.tostring(root)
    assert root.findtext(f"{SQS_NS}SendMessageResult/{SQS_NS}MD5OfMessageBody") == "5d41402abc4b2a76b9719d911017c592"
    status, root = sqs_query(cloud, Action="GetQueueUrl", QueueName="moto-models-no-such-queue")
    assert status == 400
    assert root.findtext(f"{SQS_NS}Error/{SQS_NS}Code") == "AWS.SimpleQueueService.NonExistentQueue"


def test_the_clients_models_are_botocores_own(cloud):
    cloud.client("ec2").describe_instances(DryRun=False)  # moto has read its models by now
    cloud.client("sqs").list_queues()
    plain = botocore.session.get_session()
    for service, operation in (("ec2", "DescribeInstances"), ("sqs", "GetQueueUrl"), ("s3", "CopyObject")):
        ours, botocores = cloud.client(service).meta.service_model, plain.get_service_model(service)
        assert ours.metadata == botocores.metadata
        assert list(ours.operation_names) == list(botocores.operation_names)
        assert list(ours.shape_names) == list(botocores.shape_names)
        assert ours.operation_model(operation).output_shape.serialization == \
            botocores.operation_model(operation).output_shape.serialization


def test_a_model_with_extras_is_a_copy_and_the_model_is_unchanged(tmp_path):
    (tmp_path / "service-2.json").write_text(
        '{"metadata": {"protocols": ["json"]}, "operations": {"Get": {"name": "Get", "output": {"shape": "Out"}}},'
        ' "shapes": {"Out": {"type": "structure", "members": {}}}}')
    model = service_models._LeanJSONFileLoader().load_file(str(tmp_path / "service-2"))
    assert isinstance(model["shapes"], service_models.PackedMembers)
    extras = {"merge": {"metadata": {"protocols": ["json", "query"]},
                        "operations": {"Get": {"output": {"resultWrapper": "GetResult"}}},
                        "shapes": {"Oops": {"type": "structure", "members": {}, "error": {"httpStatusCode": 412}}}}}
    merged = service_models.with_extras(model, [extras])
    assert merged["metadata"] == {"protocols": ["json", "query"]}
    assert merged["operations"]["Get"] == {"name": "Get", "output": {"shape": "Out", "resultWrapper": "GetResult"}}
    assert list(merged["shapes"]) == ["Out", "Oops"] and merged["shapes"]["Oops"]["error"] == {"httpStatusCode": 412}
    assert model["metadata"] == {"protocols": ["json"]}
    assert model["operations"]["Get"] == {"name": "Get", "output": {"shape": "Out"}}
    assert list(model["shapes"]) == ["Out"]
