"""SNS → Lambda: a Publish invokes every function subscribed with protocol ``lambda``, as SNS does.

What a function received is read from its OnSuccess destination's record (``requestPayload``)."""

from __future__ import annotations

import base64
import json
import re
import uuid
from urllib.parse import urlsplit

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from deploy import ACCOUNT, judged, open_queue_to
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
    assert re.fullmatch(rf"https://sns\.{cloud.region}\.amazonaws\.com/SimpleNotificationService-[0-9a-f]{{32}}\.pem",
                        message["SigningCertUrl"]), message["SigningCertUrl"]


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
    here from the endpoint with the URL's path, unsigned: it is public), and the fields Message, MessageId,
    Subject (when there is one), Timestamp, TopicArn, Type, each name and value on a line of its own."""
    pem = requests.get(sns.meta.endpoint_url + urlsplit(message["SigningCertUrl"]).path, timeout=10)
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


def test_one_certificate_signs_a_regions_messages_and_anyone_may_fetch_it(cloud, fn, lam, sns, sqs, role):
    """As in AWS, every topic of a Region is signed with the Region's one certificate, which is public: fetched
    unsigned, signed for SNS or signed for another service, the endpoint answers it; an unknown one is 404."""
    name, function_arn, url = reporting_function(fn, lam, sqs, role)
    for n, topic_arn in enumerate((topic(sns), topic(sns))):
        lam.add_permission(FunctionName=name, StatementId=f"sns-{n}", Action="lambda:InvokeFunction",
                           Principal="sns.amazonaws.com", SourceArn=topic_arn, SourceAccount=ACCOUNT)
        subscribe(lam, sns, topic_arn, name, function_arn, allow=False)
        sns.publish(TopicArn=topic_arn, Message="signed")
    urls = {r["requestPayload"]["Records"][0]["Sns"]["SigningCertUrl"] for r in records(sqs, url, 2)}
    assert len(urls) == 1, urls
    path = urlsplit(urls.pop()).path
    unsigned = requests.get(sns.meta.endpoint_url + path, timeout=10)
    assert unsigned.status_code == 200 and unsigned.content.startswith(b"-----BEGIN CERTIFICATE-----")
    x509.load_pem_x509_certificate(unsigned.content)
    for client in (sns, sqs):  # signed requests for the path get the same certificate
        request = AWSRequest("GET", sns.meta.endpoint_url + path)
        SigV4Auth(client._request_signer._credentials, client.meta.service_model.signing_name,
                  client.meta.region_name).add_auth(request)
        assert requests.get(request.url, headers=dict(request.headers), timeout=10).content == unsigned.content
    unknown = requests.get(sns.meta.endpoint_url + "/SimpleNotificationService-" + "0" * 32 + ".pem", timeout=10)
    assert unknown.status_code == 404


@pytest.mark.parametrize("topic_version, algorithm", [(None, hashes.SHA1()), ("2", hashes.SHA256())])
def test_an_sqs_subscription_receives_the_notification_signed_with_the_topics_version(sns, sqs, topic_version,
                                                                                      algorithm):
    # the body an SQS subscriber reads, as in LocalStack's AWS-validated test_publish_sqs_verify_signature[1]
    # and [2] (test_sns.snapshot.json): its fields in AWS's order, SignatureVersion the topic's,
    # MessageAttributes as Type and Value
    topic_arn = sns.create_topic(Name=f"t-{uuid.uuid4().hex[:10]}",
                                 Attributes={"SignatureVersion": topic_version} if topic_version else {})["TopicArn"]
    queue_url = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:10]}")["QueueUrl"]
    queue_arn = open_queue_to(sqs, queue_url, "sns.amazonaws.com", topic_arn)
    subscription = sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn,
                                 ReturnSubscriptionArn=True)["SubscriptionArn"]
    sns.publish(TopicArn=topic_arn, Message="with attributes", MessageAttributes={
        "attr1": {"DataType": "Number", "StringValue": "1"}})
    sns.publish(TopicArn=topic_arn, Message="with a subject", Subject="Hello")
    got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)["Messages"]
    bodies = sorted((json.loads(m["Body"]) for m in got), key=lambda b: b["Message"])
    assert [list(b) for b in bodies] == [  # "with a subject", then "with attributes"
        ["Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp", "SignatureVersion", "Signature",
         "SigningCertURL", "UnsubscribeURL"],
        ["Type", "MessageId", "TopicArn", "Message", "Timestamp", "SignatureVersion", "Signature", "SigningCertURL",
         "UnsubscribeURL", "MessageAttributes"]]
    for body in bodies:
        assert body["SignatureVersion"] == (topic_version or "1")
        assert body["UnsubscribeURL"] == (f"https://sns.{sns.meta.region_name}.amazonaws.com/?Action=Unsubscribe"
                                          f"&SubscriptionArn={subscription}")
        _verify(sns, {**body, "SigningCertUrl": body["SigningCertURL"]}, algorithm)
    assert bodies[1]["MessageAttributes"] == {"attr1": {"Type": "Number", "Value": "1"}}


def test_queues_receive_what_their_filter_policy_and_the_message_structure_say_raw_or_enveloped(sns, sqs):
    topic_arn = topic(sns)
    queues = {}
    for kind, attributes in (("enveloped", {"FilterPolicy": json.dumps({"colour": ["red"]})}),
                             ("raw", {"RawMessageDelivery": "true"})):
        url = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:10]}")["QueueUrl"]
        arn = open_queue_to(sqs, url, "sns.amazonaws.com", topic_arn)
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn, Attributes=attributes)
        queues[kind] = url
    for colour in ("blue", "red"):
        sns.publish(TopicArn=topic_arn, MessageStructure="json",
                    Message=json.dumps({"default": f"{colour} for everyone", "sqs": f"{colour} for queues"}),
                    MessageAttributes={"colour": {"DataType": "String", "StringValue": colour}})

    def bodies(url):
        return sorted(m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                                              WaitTimeSeconds=1).get("Messages", []))

    [envelope] = [json.loads(body) for body in bodies(queues["enveloped"])]
    assert envelope["Message"] == "red for queues" and envelope["Type"] == "Notification"
    assert bodies(queues["raw"]) == ["blue for queues", "red for queues"]


def test_a_queue_receives_nothing_from_a_topic_its_policy_does_not_let_in(cloud, sns, sqs):
    # AWS drops what SNS sends a queue whose policy does not let sns.amazonaws.com send for that topic, raw or
    # enveloped: a permission for another topic does not do (aws:SourceArn), and the decision log says why
    topic_arn, other_topic = topic(sns), topic(sns)
    queues = {}
    for kind, attributes in (("enveloped", {}), ("raw", {"RawMessageDelivery": "true"})):
        url = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:10]}")["QueueUrl"]
        arn = open_queue_to(sqs, url, "sns.amazonaws.com", other_topic)
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn, Attributes=attributes)
        queues[kind] = url, arn
    sns.publish(TopicArn=topic_arn, Message="lost")
    for url, arn in queues.values():
        assert "Messages" not in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
        assert judged(cloud, "sns.amazonaws.com", arn) == [("sqs:SendMessage", False)]
    for url, _ in queues.values():
        open_queue_to(sqs, url, "sns.amazonaws.com", topic_arn)
    sns.publish(TopicArn=topic_arn, Message="found")
    [raw] = sqs.receive_message(QueueUrl=queues["raw"][0], MaxNumberOfMessages=10)["Messages"]
    [enveloped] = sqs.receive_message(QueueUrl=queues["enveloped"][0], MaxNumberOfMessages=10)["Messages"]
    assert raw["Body"] == "found" and json.loads(enveloped["Body"])["Message"] == "found"


@pytest.mark.parametrize("content_based", [True, False])
def test_a_fifo_topic_numbers_its_notifications_and_deduplicates_them_as_aws_does(sns, sqs, content_based):
    # LocalStack's AWS-validated test_message_to_fifo_sqs[True] and [False] (test_sns.snapshot.json): the
    # envelope has a SequenceNumber and no signature; the queue's deduplication id is the one given, else
    # the SHA-256 of the message, so the same message published again is not delivered again
    name = f"t-{uuid.uuid4().hex[:10]}"
    topic_arn = sns.create_topic(Name=f"{name}.fifo", Attributes={
        "FifoTopic": "true", **({"ContentBasedDeduplication": "true"} if content_based else {})})["TopicArn"]
    queue_url = sqs.create_queue(QueueName=f"{name}.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    queue_arn = open_queue_to(sqs, queue_url, "sns.amazonaws.com", topic_arn)
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    given = {} if content_based else {"MessageDeduplicationId": "message-deduplication-id-1"}
    for _ in range(2):
        sns.publish(TopicArn=topic_arn, Message="Test", MessageGroupId="message-group-id-1", **given)
    got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                              AttributeNames=["All"])["Messages"]
    assert len(got) == 1
    body = json.loads(got[0]["Body"])
    assert list(body) == ["Type", "MessageId", "SequenceNumber", "TopicArn", "Message", "Timestamp", "UnsubscribeURL"]
    assert body["Message"] == "Test" and body["SequenceNumber"].isdigit() and len(body["SequenceNumber"]) == 20
    assert got[0]["Attributes"]["MessageGroupId"] == "message-group-id-1"
    assert got[0]["Attributes"]["MessageDeduplicationId"] == (
        "532eaabd9574880dbf76b9b8cc00832c20a6ec113d682299550d7a6e0f345e25" if content_based  # SHA-256 of "Test"
        else "message-deduplication-id-1")


def test_every_queue_of_a_fifo_topic_receives_a_message_with_its_one_sequence_number(sns, sqs):
    name = f"t-{uuid.uuid4().hex[:10]}"
    topic_arn = sns.create_topic(Name=f"{name}.fifo", Attributes={
        "FifoTopic": "true", "ContentBasedDeduplication": "true"})["TopicArn"]
    urls = []
    for queue in ("a", "b"):
        url = sqs.create_queue(QueueName=f"{name}-{queue}.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
        arn = open_queue_to(sqs, url, "sns.amazonaws.com", topic_arn)
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)
        urls.append(url)
    answered = {message: sns.publish(TopicArn=topic_arn, Message=message, MessageGroupId="orders")["SequenceNumber"]
                for message in ("first", "second")}
    numbers = [{json.loads(m["Body"])["Message"]: json.loads(m["Body"])["SequenceNumber"]
                for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)["Messages"]}
               for url in urls]
    assert numbers[0] == numbers[1] == answered  # one number per message: Publish answers it, each queue receives it
    assert int(numbers[0]["first"]) < int(numbers[0]["second"])


def test_publish_answers_a_fifo_topics_message_with_its_sequence_number_and_a_standard_topics_without(sns):
    name = f"t-{uuid.uuid4().hex[:10]}"
    fifo = sns.create_topic(Name=f"{name}.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    standard = sns.create_topic(Name=name)["TopicArn"]
    one = sns.publish(TopicArn=fifo, Message="m", MessageGroupId="g", MessageDeduplicationId="d1")
    batch = sns.publish_batch(TopicArn=fifo, PublishBatchRequestEntries=[
        {"Id": f"e{i}", "Message": "m", "MessageGroupId": "g", "MessageDeduplicationId": f"d{i + 2}"}
        for i in range(2)])
    numbers = [one["SequenceNumber"]] + [entry["SequenceNumber"] for entry in batch["Successful"]]
    assert all(len(n) == 20 and n.isdigit() for n in numbers) and numbers == sorted(numbers, key=int)
    assert len(set(numbers)) == 3
    assert "SequenceNumber" not in sns.publish(TopicArn=standard, Message="m")
    assert all("SequenceNumber" not in entry for entry in sns.publish_batch(
        TopicArn=standard, PublishBatchRequestEntries=[{"Id": "e", "Message": "m"}])["Successful"])
