"""S3 → Lambda: a bucket's notification configuration invokes a function, as S3 does in AWS.

What the function received is read where a learner would read it: the invocation record that its
OnSuccess destination (an SQS queue) receives, whose ``requestPayload`` is S3's event."""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid

import pytest
from botocore.exceptions import ClientError
from deploy import ACCOUNT, REGION, judged, open_queue_to
from reporting import SOURCE, records, reporting_function

# The keys of the record AWS sent a function for a PutObject (LocalStack's AWS-validated recording
# test_s3_notifications_lambda.snapshot.json, test_create_object_put_via_dynamodb).
RECORD_KEYS = {"eventVersion", "eventSource", "awsRegion", "eventTime", "eventName", "userIdentity",
               "requestParameters", "responseElements", "s3"}
OBJECT_KEYS = {"key", "size", "eTag", "sequencer"}


def bucket(s3) -> tuple[str, str]:
    name = f"b-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    return name, f"arn:aws:s3:::{name}"


def allow_s3(lam, name: str, bucket_arn: str) -> None:
    lam.add_permission(FunctionName=name, StatementId="s3", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceArn=bucket_arn, SourceAccount=ACCOUNT)


def notify(s3, bucket_name: str, function_arn: str, events: list[str], **filters) -> None:
    configuration = {"Id": "thumbnails", "LambdaFunctionArn": function_arn, "Events": events}
    if filters:
        configuration["Filter"] = {"Key": {"FilterRules": [{"Name": k, "Value": v} for k, v in filters.items()]}}
    s3.put_bucket_notification_configuration(Bucket=bucket_name, NotificationConfiguration={
        "LambdaFunctionConfigurations": [configuration]})


def test_a_put_object_invokes_the_function_with_s3s_record(cloud, fn, lam, s3, sqs, role):
    name, function_arn, url = reporting_function(fn, lam, sqs, role)
    bucket_name, bucket_arn = bucket(s3)
    allow_s3(lam, name, bucket_arn)
    notify(s3, bucket_name, function_arn, ["s3:ObjectCreated:*"], prefix="photos/", suffix=".jpg")
    body = b"not really a cat"
    s3.put_object(Bucket=bucket_name, Key="photos/my cat.jpg", Body=body)
    s3.put_object(Bucket=bucket_name, Key="notes/todo.txt", Body=b"filtered out")
    [record] = records(sqs, url, 1)
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["functionArn"] == function_arn + ":$LATEST"
    assert record["responsePayload"] == "seen"
    [event] = record["requestPayload"]["Records"]
    assert set(event) == RECORD_KEYS
    assert (event["eventVersion"], event["eventSource"], event["eventName"], event["awsRegion"]) == \
        ("2.1", "aws:s3", "ObjectCreated:Put", cloud.region)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", event["eventTime"])
    assert event["requestParameters"] == {"sourceIPAddress": "127.0.0.1"}
    assert set(event["responseElements"]) == {"x-amz-request-id", "x-amz-id-2"}
    # shaped as in the event AWS's Lambda guide quotes (with-s3.html): 16 upper-case hex digits, and 76
    # characters of standard base64 (56 bytes, one "=")
    assert re.fullmatch(r"[0-9A-F]{16}", event["responseElements"]["x-amz-request-id"])
    assert re.fullmatch(r"[A-Za-z0-9+/]{75}=", event["responseElements"]["x-amz-id-2"])
    s3_part = event["s3"]
    assert (s3_part["s3SchemaVersion"], s3_part["configurationId"]) == ("1.0", "thumbnails")
    assert s3_part["bucket"]["name"] == bucket_name and s3_part["bucket"]["arn"] == bucket_arn
    # the root user made the request and owns the bucket: both are the account's canonical id
    assert event["userIdentity"]["principalId"] == s3_part["bucket"]["ownerIdentity"]["principalId"]
    assert set(s3_part["object"]) == OBJECT_KEYS
    assert s3_part["object"]["key"] == "photos/my+cat.jpg"  # URL-encoded, as S3 writes keys in events
    assert (s3_part["object"]["size"], s3_part["object"]["eTag"]) == (len(body), hashlib.md5(body).hexdigest())
    assert len(fn.records(name)) == 1  # the .txt object matched no filter: one invocation only


def test_each_event_has_a_later_sequencer_and_a_removal_has_no_size(cloud, fn, lam, s3, sqs, role):
    name, function_arn, url = reporting_function(fn, lam, sqs, role)
    bucket_name, bucket_arn = bucket(s3)
    allow_s3(lam, name, bucket_arn)
    notify(s3, bucket_name, function_arn, ["s3:ObjectCreated:Put", "s3:ObjectRemoved:*"])
    s3.put_object(Bucket=bucket_name, Key="a", Body=b"1")
    [created] = [r["requestPayload"]["Records"][0] for r in records(sqs, url, 1)]
    s3.delete_object(Bucket=bucket_name, Key="a")
    [removed] = [r["requestPayload"]["Records"][0] for r in records(sqs, url, 1)]
    assert removed["eventName"] == "ObjectRemoved:Delete"
    assert set(removed["s3"]["object"]) == {"key", "sequencer"}
    assert removed["s3"]["object"]["sequencer"] > created["s3"]["object"]["sequencer"]


def test_an_iam_users_upload_names_the_user(cloud, fn, lam, s3, sqs, role):
    iam = cloud.client("iam")
    user = f"u-{uuid.uuid4().hex[:8]}"
    user_id = iam.create_user(UserName=user)["User"]["UserId"]
    iam.put_user_policy(UserName=user, PolicyName="put", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}]}))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    name, function_arn, url = reporting_function(fn, lam, sqs, role)
    bucket_name, bucket_arn = bucket(s3)
    allow_s3(lam, name, bucket_arn)
    notify(s3, bucket_name, function_arn, ["s3:ObjectCreated:*"])
    users_s3 = cloud.client("s3", credentials=key)
    users_s3.put_object(Bucket=bucket_name, Key="by-user", Body=b"x")
    [record] = records(sqs, url, 1)
    assert record["requestPayload"]["Records"][0]["userIdentity"] == {"principalId": f"AWS:{user_id}"}


def error_of(excinfo) -> dict:
    return excinfo.value.response["Error"]


def test_a_function_that_does_not_let_s3_in_is_refused_when_configured(cloud, fn, lam, s3, role):
    name = fn.create(SOURCE, Role=role)
    function_arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    bucket_name, _ = bucket(s3)
    with pytest.raises(ClientError) as refused:
        notify(s3, bucket_name, function_arn, ["s3:ObjectCreated:*"])
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error_of(refused) | {"RequestId": None, "HostId": None} == {
        "Code": "InvalidArgument", "Message": "Unable to validate the following destination configurations",
        "ArgumentName1": f"{function_arn}, null",
        "ArgumentValue1": f"Not authorized to invoke function [{function_arn}]", "RequestId": None, "HostId": None}
    # a permission for another bucket does not do either (the SourceArn condition)
    _, other_arn = bucket(s3)
    allow_s3(lam, name, other_arn)
    with pytest.raises(ClientError) as refused:
        notify(s3, bucket_name, function_arn, ["s3:ObjectCreated:*"])
    assert error_of(refused)["Code"] == "InvalidArgument"
    assert s3.get_bucket_notification_configuration(Bucket=bucket_name).get("LambdaFunctionConfigurations") is None


def test_filter_rule_names_are_prefix_or_suffix_in_any_case_and_answered_capitalized(cloud, fn, lam, s3, role):
    """As AWS answered LocalStack's AWS-validated TestS3NotificationsToSQS (test_filter_rules_case_insensitive,
    test_bucket_notification_with_invalid_filter_rules): any case, kept as Prefix and Suffix; another name is
    an InvalidArgument naming it."""
    name = fn.create(SOURCE, Role=role)
    function_arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    bucket_name, bucket_arn = bucket(s3)
    allow_s3(lam, name, bucket_arn)
    with pytest.raises(ClientError) as refused:
        notify(s3, bucket_name, function_arn, ["s3:ObjectCreated:*"], INVALID="x")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error_of(refused) | {"RequestId": None, "HostId": None} == {
        "Code": "InvalidArgument", "Message": "filter rule name must be either prefix or suffix",
        "ArgumentName": "FilterRule.Name", "ArgumentValue": "INVALID", "RequestId": None, "HostId": None}
    notify(s3, bucket_name, function_arn, ["s3:ObjectCreated:*"], PREFIX="in/", Suffix=".jpg")
    [stored] = s3.get_bucket_notification_configuration(Bucket=bucket_name)["LambdaFunctionConfigurations"]
    assert stored["Filter"]["Key"]["FilterRules"] == [{"Name": "Prefix", "Value": "in/"},
                                                      {"Name": "Suffix", "Value": ".jpg"}]
    for key in ("in/a.jpg", "in/a.png", "out/a.jpg"):
        s3.put_object(Bucket=bucket_name, Key=key, Body=b"x")
    events = cloud.async_events()  # S3 hands each matching event to Lambda's queue as the object is stored
    assert len(events[events["function"] == name]) == 1, "only in/a.jpg passes both rules"


def test_skipping_validation_stores_it_and_s3_then_cannot_invoke(cloud, fn, lam, s3, role):
    name = fn.create(SOURCE, Role=role)
    function_arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    bucket_name, _ = bucket(s3)
    s3.put_bucket_notification_configuration(
        Bucket=bucket_name, SkipDestinationValidation=True, NotificationConfiguration={
            "LambdaFunctionConfigurations": [{"LambdaFunctionArn": function_arn, "Events": ["s3:ObjectCreated:*"]}]})
    stored = s3.get_bucket_notification_configuration(Bucket=bucket_name)["LambdaFunctionConfigurations"]
    assert [c["LambdaFunctionArn"] for c in stored] == [function_arn]
    s3.put_object(Bucket=bucket_name, Key="k", Body=b"x")  # S3 is refused by the function's policy, at once
    events = cloud.async_events()
    assert events[events["function"] == name].empty and fn.records(name).empty
    denied = [j for j in cloud.authorizer.judgements() if j.principal == "s3.amazonaws.com" and j.resource.startswith(
        function_arn)]
    assert denied and not denied[-1].allowed


def test_s3_sends_the_same_record_to_a_queue(cloud, s3, sqs):
    bucket_name, bucket_arn = bucket(s3)
    url = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = open_queue_to(sqs, url, "s3.amazonaws.com", bucket_arn)
    s3.put_bucket_notification_configuration(Bucket=bucket_name, NotificationConfiguration={
        "QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}]})
    s3.put_object(Bucket=bucket_name, Key="q", Body=b"x")
    messages = []
    for _ in range(40):
        messages += [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=url).get("Messages", [])]
        if any("Records" in m for m in messages):
            break
        time.sleep(0.05)
    [event] = next(m for m in messages if "Records" in m)["Records"]
    assert set(event) == RECORD_KEYS and set(event["s3"]["object"]) == OBJECT_KEYS


def destinations(queues: list[str] = (), topics: list[str] = ()) -> dict:
    return {"QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]} for arn in queues],
            "TopicConfigurations": [{"TopicArn": arn, "Events": ["s3:ObjectCreated:*"]} for arn in topics]}


def test_queues_and_topics_s3_cannot_validate_are_refused_as_aws_refuses_them(s3, sqs, sns):
    """AWS's answers in LocalStack's AWS-validated TestS3NotificationsToSQS (test_invalid_sqs_arn,
    test_multiple_invalid_sqs_arns) and TestS3NotificationsToSns (test_invalid_topic_arn): an ARN that does not
    parse is refused even when validation is skipped; every destination that does not exist, or whose policy
    does not let S3 in for this bucket, is named in one error (a topic's words follow the queue's)."""
    bucket_name, _ = bucket(s3)
    url = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    closed_queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    closed_topic = sns.create_topic(Name=f"t-{uuid.uuid4().hex[:8]}")["TopicArn"]  # its default policy: not S3
    missing = f"arn:aws:sqs:{REGION}:{ACCOUNT}:q-missing-{uuid.uuid4().hex[:8]}"
    for skip in (False, True):
        for configuration, kind, text in ((destinations(queues=["invalid-queue"]), "Queue", "invalid-queue"),
                                          (destinations(topics=["invalid-topic"]), "Topic", "invalid-topic")):
            with pytest.raises(ClientError) as refused:
                s3.put_bucket_notification_configuration(Bucket=bucket_name, SkipDestinationValidation=skip,
                                                         NotificationConfiguration=configuration)
            assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
            assert error_of(refused) | {"RequestId": None, "HostId": None} == {
                "Code": "InvalidArgument", "Message": "The ARN could not be parsed", "ArgumentName": kind,
                "ArgumentValue": text, "RequestId": None, "HostId": None}
    with pytest.raises(ClientError) as refused:
        s3.put_bucket_notification_configuration(Bucket=bucket_name, NotificationConfiguration=destinations(
            queues=[missing, closed_queue], topics=[closed_topic]))
    permissions = "Permissions on the destination {} do not allow S3 to publish notifications from this bucket"
    assert error_of(refused) | {"RequestId": None, "HostId": None} == {
        "Code": "InvalidArgument", "Message": "Unable to validate the following destination configurations",
        "ArgumentName1": missing, "ArgumentValue1": "The destination queue does not exist",
        "ArgumentName2": closed_queue, "ArgumentValue2": permissions.format("queue"),
        "ArgumentName3": closed_topic, "ArgumentValue3": permissions.format("topic"),
        "RequestId": None, "HostId": None}
    assert "QueueConfigurations" not in s3.get_bucket_notification_configuration(Bucket=bucket_name)
    s3.put_bucket_notification_configuration(Bucket=bucket_name, SkipDestinationValidation=True,
                                             NotificationConfiguration=destinations(queues=[missing]))
    [stored] = s3.get_bucket_notification_configuration(Bucket=bucket_name)["QueueConfigurations"]
    assert stored["QueueArn"] == missing


def test_a_queue_and_a_topic_receive_s3s_messages_while_their_policies_let_s3_in(cloud, s3, sqs, sns):
    bucket_name, bucket_arn = bucket(s3)
    queue_url = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = open_queue_to(sqs, queue_url, "s3.amazonaws.com", bucket_arn)
    topic_arn = sns.create_topic(Name=f"t-{uuid.uuid4().hex[:8]}")["TopicArn"]
    sns.set_topic_attributes(TopicArn=topic_arn, AttributeName="Policy", AttributeValue=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sns:Publish",
            "Resource": topic_arn, "Condition": {"ArnEquals": {"aws:SourceArn": bucket_arn}}}]}))
    heard_url = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=open_queue_to(sqs, heard_url, "sns.amazonaws.com",
                                                                            topic_arn))

    def received(url: str) -> list[dict]:
        return [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
            "Messages", [])]

    s3.put_bucket_notification_configuration(Bucket=bucket_name, NotificationConfiguration=destinations(
        queues=[queue_arn], topics=[topic_arn]))
    [test_event] = received(queue_url)  # S3 tests each destination it has validated
    assert (test_event["Event"], test_event["Bucket"]) == ("s3:TestEvent", bucket_name)
    [published] = received(heard_url)
    assert published["Subject"] == "Amazon S3 Notification"  # LocalStack's AWS-validated test_object_created_put
    assert json.loads(published["Message"])["Event"] == "s3:TestEvent"
    s3.put_object(Bucket=bucket_name, Key="a", Body=b"x")
    [record] = received(queue_url)[0]["Records"]
    [published] = received(heard_url)
    assert record["s3"]["object"]["key"] == "a" and published["Subject"] == "Amazon S3 Notification"
    assert json.loads(published["Message"])["Records"][0]["s3"]["object"]["key"] == "a"
    # the queue's policy taken away: S3's next record is dropped, and the decision log says why
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": ""})
    s3.put_object(Bucket=bucket_name, Key="b", Body=b"x")
    assert received(queue_url) == [] and len(received(heard_url)) == 1
    assert judged(cloud, "s3.amazonaws.com", queue_arn)[-2:] == [("sqs:SendMessage", True), ("sqs:SendMessage", False)]


def test_a_queue_of_another_account_receives_s3s_record_when_its_policy_lets_the_bucket_in(cloud, s3):
    bucket_name, bucket_arn = bucket(s3)
    partner = cloud.client("sqs", account=cloud.other_account)
    name = f"q-{uuid.uuid4().hex[:8]}"
    url = partner.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = open_queue_to(partner, url, "s3.amazonaws.com", bucket_arn)
    home = cloud.client("sqs")  # a queue of the same name at home, which S3 must not confuse with it
    home_url = home.create_queue(QueueName=name)["QueueUrl"]
    open_queue_to(home, home_url, "s3.amazonaws.com", bucket_arn)
    s3.put_bucket_notification_configuration(Bucket=bucket_name, NotificationConfiguration=destinations(
        queues=[queue_arn]))
    s3.put_object(Bucket=bucket_name, Key="far", Body=b"x")
    got = [json.loads(m["Body"]) for m in partner.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]]
    assert [m.get("Event") or m["Records"][0]["s3"]["object"]["key"] for m in got] == ["s3:TestEvent", "far"]
    assert "Messages" not in home.receive_message(QueueUrl=home_url, MaxNumberOfMessages=10)
