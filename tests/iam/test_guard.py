"""IAM at the endpoint: callers known by their access keys, moto's services judged by lambdalab."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from iam_helpers import document, role_with, statement, unique, user_with
from signing import send


def error(call) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"], caught.value.response["Error"].get("Message", "")


def test_an_access_key_the_cloud_never_issued_is_refused_as_each_service_refuses_it(cloud):
    fake = {"AccessKeyId": "AKIAIOSFODNN7EXAMPLE", "SecretAccessKey": "x"}
    assert error(lambda: cloud.client("s3", credentials=fake).list_buckets())[0] == "InvalidAccessKeyId"
    assert error(lambda: cloud.client("sts", credentials=fake).get_caller_identity())[0] == "InvalidClientTokenId"
    assert error(lambda: cloud.client("dynamodb", credentials=fake).list_tables())[0] == \
        "UnrecognizedClientException"


def test_a_user_without_policies_is_denied_and_told_why(cloud):
    name, key = user_with(cloud)
    code, message = error(lambda: cloud.client("s3", credentials=key).list_buckets())
    assert code == "AccessDenied"
    assert message == (f"User: arn:aws:iam::123456789012:user/{name} is not authorized to perform: "
                       's3:ListAllMyBuckets on resource: "arn:aws:s3:::*" because no identity-based policy allows '
                       "the s3:ListAllMyBuckets action")


def test_resource_scoping_allows_one_bucket_and_not_another(cloud):
    mine, other = unique("mine"), unique("other")
    for bucket in (mine, other):
        cloud.client("s3").create_bucket(Bucket=bucket)
        cloud.client("s3").put_object(Bucket=bucket, Key="k", Body=b"v")
    _, key = user_with(cloud, statement("s3:GetObject", f"arn:aws:s3:::{mine}/*"))
    s3 = cloud.client("s3", credentials=key)
    assert s3.get_object(Bucket=mine, Key="k")["Body"].read() == b"v"
    assert error(lambda: s3.get_object(Bucket=other, Key="k"))[0] == "AccessDenied"


def test_a_missing_key_is_403_to_whoever_may_not_list_the_bucket_and_404_to_whoever_may(cloud):
    """S3 tells a caller that a key does not exist only if it may list the bucket (GetObject's and HeadObject's
    documented permissions); anyone else gets Access Denied, for the s3:ListBucket it lacks."""
    bucket = unique("listing")
    cloud.client("s3").create_bucket(Bucket=bucket)
    cloud.client("s3").put_object(Bucket=bucket, Key="there", Body=b"v")
    name, key = user_with(cloud, statement("s3:GetObject", f"arn:aws:s3:::{bucket}/*"))
    reader = cloud.client("s3", credentials=key)
    assert reader.get_object(Bucket=bucket, Key="there")["Body"].read() == b"v"
    assert error(lambda: reader.get_object(Bucket=bucket, Key="missing")) == ("AccessDenied", (
        f"User: arn:aws:iam::123456789012:user/{name} is not authorized to perform: s3:ListBucket on resource: "
        f'"arn:aws:s3:::{bucket}" because no identity-based policy allows the s3:ListBucket action'))
    assert error(lambda: reader.head_object(Bucket=bucket, Key="missing"))[0] == "403"
    _, anywhere = user_with(cloud, statement("s3:GetObject"))
    assert error(lambda: cloud.client("s3", credentials=anywhere).get_object(
        Bucket=unique("no-such-bucket"), Key="k"))[0] == "NoSuchBucket"  # no bucket: nothing to list
    _, lister = user_with(cloud, statement("s3:GetObject", f"arn:aws:s3:::{bucket}/*"),
                          statement("s3:ListBucket", f"arn:aws:s3:::{bucket}"))
    s3 = cloud.client("s3", credentials=lister)
    assert error(lambda: s3.get_object(Bucket=bucket, Key="missing"))[0] == "NoSuchKey"
    assert error(lambda: s3.head_object(Bucket=bucket, Key="missing"))[0] == "404"
    assert error(lambda: cloud.client("s3").get_object(Bucket=bucket, Key="missing"))[0] == "NoSuchKey"  # root


def test_writing_an_object_with_an_acl_or_tags_needs_their_permissions_too(cloud):
    bucket = unique("acl")
    cloud.client("s3").create_bucket(Bucket=bucket)
    name, key = user_with(cloud, statement("s3:PutObject", f"arn:aws:s3:::{bucket}/*"))
    s3 = cloud.client("s3", credentials=key)
    s3.put_object(Bucket=bucket, Key="plain", Body=b"x")
    code, message = error(lambda: s3.put_object(Bucket=bucket, Key="shared", Body=b"x", ACL="public-read"))
    assert (code, message) == ("AccessDenied", f"User: arn:aws:iam::123456789012:user/{name} is not authorized to "
                               f'perform: s3:PutObjectAcl on resource: "arn:aws:s3:::{bucket}/shared" because no '
                               "identity-based policy allows the s3:PutObjectAcl action")
    assert error(lambda: s3.put_object(Bucket=bucket, Key="tagged", Body=b"x", Tagging="team=a"))[0] == "AccessDenied"
    assert [o["Key"] for o in cloud.client("s3").list_objects_v2(Bucket=bucket)["Contents"]] == ["plain"]


def test_an_anonymous_reader_of_a_public_bucket_is_denied_a_missing_key(cloud):
    bucket = unique("public")
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="index.html", Body=b"<p>hi</p>")
    s3.put_bucket_policy(Bucket=bucket, Policy=document(statement(
        "s3:GetObject", f"arn:aws:s3:::{bucket}/*", Principal="*")))
    status, _, body = send(cloud, "GET", f"/{bucket}/index.html")
    assert (status, body) == (200, b"<p>hi</p>")
    status, _, body = send(cloud, "GET", f"/{bucket}/missing.html")
    assert status == 403 and b"<Code>AccessDenied</Code><Message>Access Denied</Message>" in body


def test_an_explicit_deny_in_a_group_beats_the_users_allow(cloud):
    iam = cloud.client("iam")
    name, key = user_with(cloud, statement("dynamodb:*"))
    group = unique("group")
    iam.create_group(GroupName=group)
    iam.put_group_policy(GroupName=group, PolicyName="no-delete",
                         PolicyDocument=document(statement("dynamodb:DeleteTable", effect="Deny")))
    iam.add_user_to_group(GroupName=group, UserName=name)
    db = cloud.client("dynamodb", credentials=key)
    table = unique("t")
    db.create_table(TableName=table, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                    AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                    BillingMode="PAY_PER_REQUEST")
    code, message = error(lambda: db.delete_table(TableName=table))
    assert code == "AccessDeniedException"
    assert message.endswith("with an explicit deny in an identity-based policy")
    decisions = cloud.decisions()
    last = decisions[decisions["action"] == "dynamodb:DeleteTable"].iloc[-1]
    assert last["reason"] == "explicit deny" and last["policy"] == f'inline policy "no-delete" of group {group}'
    assert decisions["statement"].dtype == "Int64" and last["statement"] == 0  # an index, <NA> where none decided


def test_a_condition_on_the_prefix_lets_each_user_list_only_their_home(cloud):
    bucket = unique("homes")
    cloud.client("s3").create_bucket(Bucket=bucket)
    name, key = user_with(cloud, statement("s3:ListBucket", f"arn:aws:s3:::{bucket}",
                                           Condition={"StringLike": {"s3:prefix": "home/${aws:username}/*"}}))
    s3 = cloud.client("s3", credentials=key)
    s3.list_objects_v2(Bucket=bucket, Prefix=f"home/{name}/")
    assert error(lambda: s3.list_objects_v2(Bucket=bucket, Prefix="home/someone-else/"))[0] == "AccessDenied"
    assert error(lambda: s3.list_objects_v2(Bucket=bucket))[0] == "AccessDenied"  # no prefix: key absent


def test_sns_and_sqs_deny_with_their_own_errors(cloud):
    topic = cloud.client("sns").create_topic(Name=unique("topic"))["TopicArn"]
    queue = cloud.client("sqs").create_queue(QueueName=unique("queue"))["QueueUrl"]
    _, key = user_with(cloud)
    assert error(lambda: cloud.client("sns", credentials=key).publish(TopicArn=topic, Message="m"))[0] == \
        "AuthorizationError"
    code, _ = error(lambda: cloud.client("sqs", credentials=key).send_message(QueueUrl=queue, MessageBody="m"))
    assert code in ("AccessDenied", "AccessDeniedException")


def test_a_deleted_access_key_stops_working(cloud):
    name, key = user_with(cloud, statement("sts:*"))
    sts = cloud.client("sts", credentials=key)
    assert sts.get_caller_identity()["Arn"] == f"arn:aws:iam::123456789012:user/{name}"
    cloud.client("iam").delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    assert error(sts.get_caller_identity)[0] == "InvalidClientTokenId"


def test_root_users_are_who_aws_says_they_are(cloud):
    for account in (cloud.account, cloud.other_account):
        me = cloud.client("sts", account=account).get_caller_identity()
        assert (me["Arn"], me["UserId"], me["Account"]) == (f"arn:aws:iam::{account}:root", account, account)


def test_the_other_accounts_root_user_works_in_its_own_account(cloud):
    bucket = unique("elsewhere")
    cloud.client("s3", account=cloud.other_account).create_bucket(Bucket=bucket)
    names = [b["Name"] for b in cloud.client("s3").list_buckets()["Buckets"]]
    assert bucket not in names  # each account has its own buckets


def test_assume_role_needs_the_roles_trust_and_the_session_acts_as_the_role(cloud):
    iam = cloud.client("iam")
    bucket = unique("assumed")
    cloud.client("s3").create_bucket(Bucket=bucket)
    trusting_account = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{cloud.account}:root"}, "Action": "sts:AssumeRole"}]}
    lister = iam.create_role(RoleName=unique("lister"), AssumeRolePolicyDocument=json.dumps(trusting_account))["Role"]
    iam.put_role_policy(RoleName=lister["RoleName"], PolicyName="list",
                        PolicyDocument=document(statement("s3:ListBucket", f"arn:aws:s3:::{bucket}")))
    lambda_only = role_with(cloud)
    _, key = user_with(cloud, statement("sts:AssumeRole", "*"))
    sts = cloud.client("sts", credentials=key)

    code, message = error(lambda: sts.assume_role(RoleArn=lambda_only, RoleSessionName="denied"))
    assert code == "AccessDenied" and message.endswith(
        "because no resource-based policy allows the sts:AssumeRole action")
    session = sts.assume_role(RoleArn=lister["Arn"], RoleSessionName="audit")["Credentials"]
    as_role = cloud.client("s3", credentials=session)
    assert as_role.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    assert cloud.client("sts", credentials=session).get_caller_identity()["Arn"] == \
        f"arn:aws:sts::{cloud.account}:assumed-role/{lister['RoleName']}/audit"
    assert error(lambda: as_role.list_buckets())[0] == "AccessDenied"  # the role's permissions, not the user's


def bucket_policy(bucket: str, *statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"], **s} for s in statements]})


def test_another_accounts_bucket_needs_its_bucket_policy(cloud):
    bucket = unique("shared")
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="report.csv", Body=b"a,b")
    theirs = cloud.client("s3", account=cloud.other_account)
    code, message = error(lambda: theirs.get_object(Bucket=bucket, Key="report.csv"))
    assert code == "AccessDenied" and message.endswith("because no resource-based policy allows the s3:GetObject "
                                                       "action")
    s3.put_bucket_policy(Bucket=bucket, Policy=bucket_policy(bucket, {
        "Effect": "Allow", "Principal": {"AWS": cloud.other_account}, "Action": "s3:GetObject"}))
    assert theirs.get_object(Bucket=bucket, Key="report.csv")["Body"].read() == b"a,b"
    assert error(lambda: theirs.put_object(Bucket=bucket, Key="x", Body=b""))[0] == "AccessDenied"


def test_a_bucket_policy_alone_lets_a_user_of_the_account_in_and_its_deny_binds_even_root(cloud):
    bucket = unique("team")
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    name, key = user_with(cloud)  # no identity-based policy at all
    s3.put_bucket_policy(Bucket=bucket, Policy=bucket_policy(
        bucket, {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{cloud.account}:user/{name}"},
                 "Action": "s3:GetObject"},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject"}))
    assert cloud.client("s3", credentials=key).get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"
    code, message = error(lambda: s3.delete_object(Bucket=bucket, Key="k"))
    assert code == "AccessDenied" and message.endswith("with an explicit deny in a resource-based policy")
    s3.delete_bucket_policy(Bucket=bucket)  # the root user may always mend the bucket's policy
    s3.delete_object(Bucket=bucket, Key="k")


def test_another_accounts_queue_takes_messages_once_its_queue_policy_allows(cloud):
    sqs = cloud.client("sqs")
    url = sqs.create_queue(QueueName=unique("inbox"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    theirs = cloud.client("sqs", account=cloud.other_account)
    assert error(lambda: theirs.send_message(QueueUrl=url, MessageBody="hello"))[0] in (
        "AccessDenied", "AccessDeniedException")
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{cloud.other_account}:root"},
         "Action": "sqs:SendMessage", "Resource": arn}]})})
    theirs.send_message(QueueUrl=url, MessageBody="hello")
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url)["Messages"]] == ["hello"]  # in our queue


def test_aws_managed_policies_belong_to_no_other_account(cloud):
    _, key = user_with(cloud, statement("iam:GetPolicy"))
    arn = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    for iam in (cloud.client("iam"), cloud.client("iam", credentials=key)):
        assert iam.get_policy(PolicyArn=arn)["Policy"]["Arn"] == arn
