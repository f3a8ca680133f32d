"""SNS → Lambda: a Publish invokes every function subscribed with protocol ``lambda``, as SNS does.

What a function received is read from its OnSuccess destination's record (``requestPayload``)."""

from __future__ import annotations

import base64
import json
import uuid
from urllib.parse import urlsplit

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from deploy import ACCOUNT
from reporting import SOURCE, records, reporting_function

# The record SNS sent a subscribed function, as a real invocation record of AWS shows it
# (``requestPayload`` of a destination record; the AWS Lambda Developer Guide's sample has the same keys).
SNS_KEYS = {"Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp", "SignatureVersion", "Signature",
            "SigningCertUrl", "UnsubscribeUrl", "MessageAttributes"}


def topic(sns) -> str:
    return sns.create_topic(Name=f"t-{uuid.uuid4().hex[:10]}")["TopicArn"]


def subscribe(lam, sns, topic_arn: str, name: str, function_arn: str, allow: bool = True, **attributes) -> str:
    if allow:
        lam.add_permission(FunctionName=name, StatementId="sns", Action="lambda:InvokeFunction",
                           Principal="sns.amazonaws.com", SourceArn=topic_arn, SourceAccount=ACCOUNT)
    return sns.subscribe(TopicArn=topic_arn, Protocol="lambda", Endpoint=function_arn, Attributes=attributes,
                         ReturnSubscriptionArn=True)["SubscriptionArn"]


def test_a_publish_invokes_the_subscribed_function_with_snss_record(cloud, fn, lam, sns, sqs, role):
    name, function_arn, url = reporting_function(fn, lam, sqs, role)
    topic_arn = topic(sns)
    subscription = subscribe(lam, sns, topic_arn, name, function_arn)
    message_id = sns.publish(TopicArn=topic_arn, Message="Hello from SNS!", MessageAttributes={
        "colour": {"DataType": "String", "StringValue": "red"}})["MessageId"]
    [record] = records(sqs, url, 1)
    [event] = record["requestPayload"]["Records"]
    assert {k: event[k] for k in ("EventSource", "EventVersion", "EventSubscriptionArn")} == \
        {"EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": subscription}
    message = event["Sns"]
    assert set(message) == SNS_KEYS
    assert (message["Type"], message["MessageId"], message["TopicArn"], message["Message"]) == \
        ("Notification", message_id, topic_arn, "Hello from SNS!")
    assert message["Subject"] is None  # published without one: null, as SNS writes it
    assert message["MessageAttributes"] == {"colour": {"Type": "String", "Value": "red"}}
    assert message["UnsubscribeUrl"].endswith(f"SubscriptionArn={subscription}")
    assert message["SigningCertUrl"].startswith(f"https://sns.{cloud.region}.amazonaws.com/SimpleNotificationService-")


def test_filter_policies_decide_who_receives_what(cloud, fn, lam, sns, sqs, role):
    topic_arn = topic(sns)
    red, red_arn, red_url = reporting_function(fn, lam, sqs, role)
    big, big_arn, big_url = reporting_function(fn, lam, sqs, role)
    subscribe(lam, sns, topic_arn, red, red_arn, FilterPolicy=json.dumps({"colour": ["red"]}))
    subscribe(lam, sns, topic_arn, big, big_arn, FilterPolicyScope="MessageBody",
              FilterPolicy=json.dumps({"size": [{"numeric": [">", 10]}]}))
    for colour, size in (("red", 1), ("blue", 20), ("red", 30)):
        sns.publish(TopicArn=topic_arn, Message=json.dumps({"size": size}), Subject=f"{colour} {size}",
                    MessageAttributes={"colour": {"DataType": "String", "StringValue": colour}})
    reds = sorted(r["requestPayload"]["Records"][0]["Sns"]["Subject"] for r in records(sqs, red_url, 2))
    bigs = sorted(r["requestPayload"]["Records"][0]["Sns"]["Subject"] for r in records(sqs, big_url, 2))
    assert (reds, bigs) == (["red 1", "red 30"], ["blue 20", "red 30"])
    assert len(fn.records(red)) == 2 and len(fn.records(big)) == 2


def test_a_message_structure_sends_the_lambda_entry(cloud, fn, lam, sns, sqs, role):
    name, function_arn, url = reporting_function(fn, lam, sqs, role)
    topic_arn = topic(sns)
    subscribe(lam, sns, topic_arn, name, function_arn)
    sns.publish(TopicArn=topic_arn, MessageStructure="json",
                Message=json.dumps({"default": "for everyone", "lambda": "for functions"}))
    [record] = records(sqs, url, 1)
    assert record["requestPayload"]["Records"][0]["Sns"]["Message"] == "for functions"


def test_a_function_that_does_not_let_sns_in_is_not_invoked(cloud, fn, lam, sns):
    name = fn.create(SOURCE)
    function_arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    topic_arn = topic(sns)
    subscribe(lam, sns, topic_arn, name, function_arn, allow=False)
    sns.publish(TopicArn=topic_arn, Message="knock knock")  # judged while Publish is served
    events = cloud.async_events()
    assert events[events["function"] == name].empty and fn.records(name).empty
    denied = [j for j in cloud.authorizer.judgements()
              if j.principal == "sns.amazonaws.com" and j.resource.startswith(function_arn)]
    assert denied and not denied[-1].allowed


def _verify(sns, message: dict, algorithm) -> None:
    """Check ``Signature`` as AWS says a subscriber should: the certificate at ``SigningCertUrl`` (fetched
    here through the endpoint, signed for SNS), and the fields Message, MessageId, Subject (when there is
    one), Timestamp, TopicArn, Type, each name and value on a line of its own."""
    request = AWSRequest("GET", sns.meta.endpoint_url + urlsplit(message["SigningCertUrl"]).path)
    SigV4Auth(sns._request_signer._credentials, "sns", sns.meta.region_name).add_auth(request)
    pem = requests.get(request.url, headers=dict(request.headers), timeout=10)
    assert pem.ok, pem.text
    fields = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
    signed = "".join(f"{field}\n{message[field]}\n" for field in fields if message.get(field) is not None)
    x509.load_pem_x509_certificate(pem.content).public_key().verify(
        base64.b64decode(message["Signature"]), signed.encode(), padding.PKCS1v15(), algorithm)


@pytest.mark.parametrize("topic_version, algorithm", [(None, hashes.SHA1()), ("2", hashes.SHA256())])
def test_the_record_says_signature_version_1_and_the_topics_algorithm_signs_it(cloud, fn, lam, sns, sqs, role,
                                                                                topic_version, algorithm):
    # AWS writes SignatureVersion "1" in what it sends Lambda even for a topic whose SignatureVersion is 2,
    # and signs with that topic's SHA256 all the same (LocalStack's AWS-validated
    # test_publish_lambda_verify_signature[1] and [2], test_sns.snapshot.json)
    name, function_arn, url = reporting_function(fn, lam, sqs, role)
    topic_arn = sns.create_topic(Name=f"t-{uuid.uuid4().hex[:10]}",
                                 Attributes={"SignatureVersion": topic_version} if topic_version else {})["TopicArn"]
    subscribe(lam, sns, topic_arn, name, function_arn)
    sns.publish(TopicArn=topic_arn, Subject="Test subject", Message="Hello world.")
    sns.publish(TopicArn=topic_arn, Message="No subject")
    messages = sorted((r["requestPayload"]["Records"][0]["Sns"] for r in records(sqs, url, 2)),
                      key=lambda m: m["Message"])
    for message in messages:
        assert message["SignatureVersion"] == "1"
        _verify(sns, message, algorithm)
