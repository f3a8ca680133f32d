"""Who gets through the endpoint: signatures verified as AWS verifies them, for every client style,
and each attack a handler could try refused with the service's own error (the cloud stays healthy)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import datetime, timedelta

import boto3
import botocore.auth
import pytest
from botocore import UNSIGNED
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from signing import healthy, send, sign

import lambdalab
from lambdalab.cloud import LocalCloud

ATTACKS = r'''
import json, os, urllib.request, urllib.error
import boto3
from botocore import UNSIGNED
from botocore.config import Config

ENDPOINT = os.environ["AWS_ENDPOINT_URL"]

def outcome(call):
    try:
        call()
        return "allowed"
    except urllib.error.HTTPError as e:
        return f"{e.code} {e.read().decode()[:400]}"
    except Exception as e:
        return f"{type(e).__name__}: {e}"[:400]

def handler(event, context):
    bucket, code = event["bucket"], event["code_path"]
    return {
        "root's old fixed key": outcome(lambda: boto3.client("iam", aws_access_key_id="test",
                                                             aws_secret_access_key="anything").list_users()),
        "moto's state": outcome(lambda: urllib.request.urlopen(ENDPOINT + "/moto-api/data.json").read()),
        "moto's reset": outcome(lambda: urllib.request.urlopen(urllib.request.Request(
            ENDPOINT + "/moto-api/reset", data=b"", method="POST")).read()),
        "unsigned GetObject": outcome(lambda: boto3.client("s3", config=Config(signature_version=UNSIGNED))
                                      .get_object(Bucket=bucket, Key="secret")),
        "guessed code URL": outcome(lambda: urllib.request.urlopen(ENDPOINT + code).read()),
        "own session": boto3.client("sts").get_caller_identity()["Arn"],
    }
'''


def code_of(call) -> tuple[str, int, dict]:
    """(error code, HTTP status, the whole Error) of a call that must fail."""
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]


def client(cloud, service: str, key: str, secret: str, **config):
    return boto3.client(service, endpoint_url=cloud.endpoint_url, region_name=cloud.region, aws_access_key_id=key,
                        aws_secret_access_key=secret, config=Config(retries={"max_attempts": 1}, **config))


def unsigned(cloud, service: str):
    return boto3.client(service, endpoint_url=cloud.endpoint_url, region_name=cloud.region,
                        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))


# -- the root user's keys ------------------------------------------------------------------------------------
def test_root_keys_are_random_per_cloud_and_shaped_like_aws_keys():
    first, second = LocalCloud(), LocalCloud()
    for cloud in (first, second):
        for account in (cloud.account, cloud.other_account):
            key = cloud._roots[account]
            assert re.fullmatch(r"AKIA[A-Z2-7]{16}", key["AccessKeyId"]), key["AccessKeyId"]
            assert len(key["SecretAccessKey"]) == 40
            assert key["AccessKeyId"] != account
    assert first.credentials != second.credentials
    assert first.credentials["AccessKeyId"] not in (first._roots[first.other_account]["AccessKeyId"], "test")


def test_the_clouds_environ_and_session_carry_the_root_keys(cloud):
    environ = cloud.environ()
    assert (environ["AWS_ACCESS_KEY_ID"], environ["AWS_SECRET_ACCESS_KEY"]) == \
        (cloud.credentials["AccessKeyId"], cloud.credentials["SecretAccessKey"])
    frozen = cloud.session.get_credentials().get_frozen_credentials()
    assert (frozen.access_key, frozen.secret_key) == (environ["AWS_ACCESS_KEY_ID"], environ["AWS_SECRET_ACCESS_KEY"])
    other = cloud.client("sts", account=cloud.other_account).get_caller_identity()
    assert other["Arn"] == f"arn:aws:iam::{cloud.other_account}:root"


# -- attacks from inside a handler that has the log-only role ------------------------------------------------
def test_a_handler_with_the_log_only_role_gets_nothing_it_was_not_given(cloud, fn):
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket="endpoint-private")
    s3.put_object(Bucket="endpoint-private", Key="secret", Body=b"root's data")
    victim = fn.create("def handler(e, c):\n    return 'secret code'\n")
    name = fn.create(ATTACKS, Timeout=30)
    result = fn.invoke(name, {"bucket": "endpoint-private", "code_path": f"/_lambdalab/code/{victim}.zip"})["Payload"]
    assert result["own session"].endswith(f":assumed-role/lambda-role/{name}")
    assert "InvalidClientTokenId" in result["root's old fixed key"]
    assert result["moto's state"].startswith("404 ") and "NoSuchBucket" in result["moto's state"]
    assert result["moto's reset"].startswith("4") and '"status": "ok"' not in result["moto's reset"]
    assert "AccessDenied" in result["unsigned GetObject"]
    assert result["guessed code URL"].startswith("403 ") and "<Code>AccessDenied</Code>" in result["guessed code URL"]
    assert cloud.client("iam").get_role(RoleName="lambda-role")  # moto was not reset
    assert s3.get_object(Bucket="endpoint-private", Key="secret")["Body"].read() == b"root's data"
    healthy(cloud)


# -- a key the cloud never issued, or the right key with a wrong secret ---------------------------------------
def test_the_old_fixed_key_is_unknown_to_every_service(cloud):
    assert code_of(lambda: client(cloud, "iam", "test", "test").list_users())[:2] == ("InvalidClientTokenId", 403)
    assert code_of(lambda: client(cloud, "dynamodb", "test", "test").list_tables())[:2] == \
        ("UnrecognizedClientException", 400)
    assert code_of(lambda: client(cloud, "lambda", "test", "test").list_functions())[:2] == \
        ("UnrecognizedClientException", 403)
    code, status, error = code_of(lambda: client(cloud, "s3", "test", "test").list_buckets())
    assert (code, status, error["AWSAccessKeyId"]) == ("InvalidAccessKeyId", 403, "test")
    healthy(cloud)


def test_a_wrong_secret_gets_each_services_signature_error(cloud):
    key = cloud.credentials["AccessKeyId"]
    wrong = "x" * 40
    for service, call, expected in [
        ("iam", lambda c: c.list_users(), ("SignatureDoesNotMatch", 403)),
        ("sts", lambda c: c.get_caller_identity(), ("SignatureDoesNotMatch", 403)),
        ("sns", lambda c: c.list_topics(), ("SignatureDoesNotMatch", 403)),
        ("dynamodb", lambda c: c.list_tables(), ("InvalidSignatureException", 400)),
        ("lambda", lambda c: c.list_functions(), ("InvalidSignatureException", 403)),
        ("sqs", lambda c: c.list_queues(), ("SignatureDoesNotMatch", 403)),
        ("ec2", lambda c: c.describe_instances(), ("AuthFailure", 401)),
    ]:
        assert code_of(lambda: call(client(cloud, service, key, wrong)))[:2] == expected, service  # noqa: B023
    code, status, error = code_of(lambda: client(cloud, "s3", key, wrong).list_buckets())
    assert (code, status) == ("SignatureDoesNotMatch", 403)
    assert error["AWSAccessKeyId"] == key and error["SignatureProvided"]
    assert error["StringToSign"].startswith("AWS4-HMAC-SHA256\n") and error["CanonicalRequest"].startswith("GET\n/\n")
    healthy(cloud)


def test_a_tampered_body_or_header_is_refused(cloud, fn):
    name = fn.create("def handler(e, c):\n    return e\n")
    path = f"/2015-03-31/functions/{name}/invocations"
    headers = sign(cloud, "POST", path, b'{"amount": 1}')
    assert send(cloud, "POST", path, b'{"amount": 1}', headers)[0] == 200
    status, response_headers, body = send(cloud, "POST", path, b'{"amount": 1000}', headers)
    assert (status, response_headers["x-amzn-errortype"]) == (403, "InvalidSignatureException")
    assert json.loads(body)["message"].startswith("The request signature we calculated does not match")
    headers = sign(cloud, "POST", "/", b"{}", {"X-Amz-Target": "DynamoDB_20120810.ListTables",
                                             "Content-Type": "application/x-amz-json-1.0"}, service="dynamodb")
    assert send(cloud, "POST", "/", b"{}", headers)[0] == 200
    status, _, body = send(cloud, "POST", "/", b"{}", {**headers, "X-Amz-Target": "DynamoDB_20120810.DescribeLimits"})
    assert status == 400 and b"InvalidSignatureException" in body
    healthy(cloud)


@pytest.mark.parametrize(("method", "path", "headers", "body", "expected"), [
    ("POST", "/", {"X-Amz-Target": "DynamoDB_20120810.ListTables", "Content-Type": "application/x-amz-json-1.0"},
     b"{}", (400, b'"__type": "com.amazon.coral.service#IncompleteSignatureException"')),
    ("POST", "/", {"Content-Type": "application/x-www-form-urlencoded"}, b"Action=ListUsers",
     (400, b"<Code>IncompleteSignature</Code>")),
    ("GET", "/2015-03-31/functions/", {}, b"", (403, b'{"message": "Authorization header requires')),
    ("GET", "/some-bucket/key", {}, b"", (400, b"<Code>InvalidRequest</Code><Message>The authorization mechanism")),
])
def test_a_garbage_authorization_header_gets_the_services_4xx(cloud, method, path, headers, body, expected):
    status, _, answer = send(cloud, method, path, body, {**headers, "Authorization": "garbage"})
    assert status == expected[0] and expected[1] in answer, answer
    healthy(cloud)


def test_a_scope_naming_a_service_nobody_serves_gets_a_clean_4xx(cloud):
    for service in ("nosuchservice", "motoapi"):
        headers = sign(cloud, "POST", "/", b"{}", {"X-Amz-Target": "X.Y"}, service=service)
        status, _, body = send(cloud, "POST", "/", b"{}", headers)
        assert status == 400 and b"UnknownOperationException" in body and b"Traceback" not in body
    healthy(cloud)


def test_unsigned_requests_are_anonymous(cloud):
    assert code_of(lambda: unsigned(cloud, "iam").list_users())[:2] == ("MissingAuthenticationToken", 403)
    assert code_of(lambda: unsigned(cloud, "sts").get_caller_identity())[:2] == ("MissingAuthenticationToken", 403)
    assert code_of(lambda: unsigned(cloud, "dynamodb").list_tables())[:2] == \
        ("MissingAuthenticationTokenException", 400)
    code, status, error = code_of(lambda: unsigned(cloud, "lambda").list_functions())
    assert (code, status, error["Message"]) == ("MissingAuthenticationTokenException", 403,
                                                 "Missing Authentication Token")
    healthy(cloud)


def test_anonymous_s3_is_judged_against_the_bucket_policy(cloud):
    s3, anonymous = cloud.client("s3"), unsigned(cloud, "s3")
    s3.create_bucket(Bucket="endpoint-public")
    s3.put_object(Bucket="endpoint-public", Key="site/index.html", Body=b"<h1>hi</h1>")
    s3.put_object(Bucket="endpoint-public", Key="private/key", Body=b"no")
    assert code_of(lambda: anonymous.get_object(Bucket="endpoint-public", Key="site/index.html"))[:2] == \
        ("AccessDenied", 403)
    s3.put_bucket_policy(Bucket="endpoint-public", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::endpoint-public/site/*"}]}))
    assert anonymous.get_object(Bucket="endpoint-public", Key="site/index.html")["Body"].read() == b"<h1>hi</h1>"
    for call in (lambda: anonymous.get_object(Bucket="endpoint-public", Key="private/key"),
                 lambda: anonymous.put_object(Bucket="endpoint-public", Key="site/x", Body=b"defaced"),
                 lambda: anonymous.list_objects_v2(Bucket="endpoint-public"),
                 lambda: anonymous.list_buckets(),
                 lambda: anonymous.create_bucket(Bucket="endpoint-anonymous")):
        code, status, error = code_of(call)
        assert (code, status, error["Message"]) == ("AccessDenied", 403, "Access Denied")
    assert "endpoint-anonymous" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert code_of(lambda: anonymous.get_object(Bucket="endpoint-nowhere", Key="k"))[:2] == ("NoSuchBucket", 404)
    last = cloud.decisions().iloc[-1]
    assert (last["principal"], last["allowed"]) == ("anonymous", False)
    healthy(cloud)


def test_an_sts_sessions_key_needs_its_own_unexpired_token(cloud):
    role = cloud.client("iam").create_role(RoleName="endpoint-session", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": cloud.account},
                                                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    cloud.client("iam").put_role_policy(RoleName="endpoint-session", PolicyName="read", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                                                "Resource": "arn:aws:s3:::endpoint-session/*"}]}))
    cloud.client("s3").create_bucket(Bucket="endpoint-session")
    cloud.client("s3").put_object(Bucket="endpoint-session", Key="k", Body=b"for the session")
    session = cloud.client("sts").assume_role(RoleArn=role, RoleSessionName="s1")["Credentials"]
    assert cloud.client("sts", credentials=session).get_caller_identity()["Arn"].endswith("endpoint-session/s1")
    for version in ("s3", "s3v4"):  # presigned URLs carry the session token in their query
        signer = cloud.client("s3", credentials=session, config=Config(signature_version=version))
        url = signer.generate_presigned_url("get_object", Params={"Bucket": "endpoint-session", "Key": "k"})
        assert "ecurity-" in url and urllib.request.urlopen(url).read() == b"for the session"
    without = {k: v for k, v in session.items() if k != "SessionToken"}
    assert code_of(lambda: cloud.client("sts", credentials=without).get_caller_identity())[:2] == \
        ("InvalidClientTokenId", 403)
    wrong = {**session, "SessionToken": session["SessionToken"][:-4] + "AAAA"}
    assert code_of(lambda: cloud.client("sts", credentials=wrong).get_caller_identity())[0] == "InvalidClientTokenId"
    assert code_of(lambda: cloud.client("s3", credentials=wrong).list_buckets())[:2] == ("InvalidToken", 400)
    from moto.sts.models import sts_backends

    moto_session = sts_backends[cloud.account]["aws"].get_assumed_role_from_access_key(session["AccessKeyId"])
    moto_session.expiration = datetime.utcnow() - timedelta(seconds=1)  # the session's hour has passed
    assert code_of(lambda: cloud.client("sts", credentials=session).get_caller_identity())[:2] == \
        ("ExpiredToken", 403)
    assert code_of(lambda: cloud.client("dynamodb", credentials=session).list_tables())[:2] == \
        ("ExpiredTokenException", 400)
    healthy(cloud)


# -- every client style -------------------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["plain", "with space+plus=&~", "ünïcödé/päth/ä.txt", "a//double/./dot/../x"])
def test_boto3_s3_put_get_and_presigned_urls_of_both_signature_versions(cloud, key):
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket="endpoint-styles")
    s3.put_object(Bucket="endpoint-styles", Key=key, Body=b"payload of " + key.encode())
    assert s3.get_object(Bucket="endpoint-styles", Key=key)["Body"].read() == b"payload of " + key.encode()
    assert s3.list_objects_v2(Bucket="endpoint-styles", Prefix=key)["KeyCount"] == 1
    v4 = cloud.client("s3", config=Config(signature_version="s3v4"))
    for signer in (s3, v4):  # boto3 presigns with SigV2 in us-east-1 unless told s3v4
        url = signer.generate_presigned_url("get_object", Params={"Bucket": "endpoint-styles", "Key": key})
        with urllib.request.urlopen(url) as response:
            assert response.read() == b"payload of " + key.encode()
    put = v4.generate_presigned_url("put_object", Params={"Bucket": "endpoint-styles", "Key": key + ".up"})
    urllib.request.urlopen(urllib.request.Request(put, data=b"uploaded", method="PUT",
                                                  headers={"Content-Type": "text/plain"})).close()
    assert s3.get_object(Bucket="endpoint-styles", Key=key + ".up")["Body"].read() == b"uploaded"


def test_multipart_uploads_and_the_streaming_trailer_botocore_sends_over_tls(cloud):
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket="endpoint-multipart")
    s3.upload_fileobj(__import__("io").BytesIO(b"m" * (9 * 1024 * 1024)), "endpoint-multipart", "big",
                      Config=boto3.s3.transfer.TransferConfig(multipart_threshold=5 * 1024 * 1024))
    assert s3.head_object(Bucket="endpoint-multipart", Key="big")["ContentLength"] == 9 * 1024 * 1024

    def trailer(params, **_):  # what botocore does over https: an unsigned aws-chunked body, checksum trailing
        params["context"]["checksum"]["request_algorithm"]["in"] = "trailer"

    sent = {}
    s3.meta.events.register("before-call.s3.PutObject", trailer)
    s3.meta.events.register("before-send.s3.PutObject", lambda request, **_: sent.update(request.headers))
    s3.put_object(Bucket="endpoint-multipart", Key="trailing", Body=b"t" * 100_000, ChecksumAlgorithm="CRC32")
    assert sent["X-Amz-Content-SHA256"] == b"STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    assert s3.get_object(Bucket="endpoint-multipart", Key="trailing")["Body"].read() == b"t" * 100_000


def chunk_signed(cloud, path: str, data: bytes, chunk: int) -> tuple[dict[str, str], bytes]:
    """A PUT with a STREAMING-AWS4-HMAC-SHA256-PAYLOAD body as the AWS CLI v2 and the Java SDK send one:
    the seed signed by botocore's S3SigV4Auth, each chunk signed in a chain from it (S3 API Reference,
    "Transferring Payload in Multiple Chunks")."""
    pieces = [data[i:i + chunk] for i in range(0, len(data), chunk)] + [b""]
    length = sum(len(f"{len(p):x};chunk-signature=".encode()) + 64 + 2 + len(p) + 2 for p in pieces)
    stamp = datetime.utcnow().strftime("%Y%m%dT%H%M%SZ")
    request = AWSRequest(method="PUT", url=f"{cloud.endpoint_url}{path}", headers={
        "Content-Encoding": "aws-chunked", "X-Amz-Decoded-Content-Length": str(len(data)),
        "Content-Length": str(length), "X-Amz-Content-SHA256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "X-Amz-Date": stamp})
    request.context["timestamp"] = stamp
    key = cloud.credentials
    auth = S3SigV4Auth(Credentials(key["AccessKeyId"], key["SecretAccessKey"]), "s3", cloud.region)
    previous = auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)
    request.headers["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={auth.scope(request)}, SignedHeaders="
                                        f"{auth.signed_headers(auth.headers_to_sign(request))}, Signature={previous}")
    body = b""
    for piece in pieces:
        previous = auth.signature("\n".join(["AWS4-HMAC-SHA256-PAYLOAD", stamp, auth.credential_scope(request),
                                             previous, hashlib.sha256(b"").hexdigest(),
                                             hashlib.sha256(piece).hexdigest()]), request)
        body += f"{len(piece):x};chunk-signature={previous}\r\n".encode() + piece + b"\r\n"
    assert len(body) == length
    return dict(request.headers.items()), body


def test_chunk_signed_and_unsigned_payload_uploads(cloud):
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket="endpoint-chunks")
    data = bytes(range(256)) * 500
    headers, body = chunk_signed(cloud, "/endpoint-chunks/chunked", data, 8192)
    status, _, answer = send(cloud, "PUT", "/endpoint-chunks/chunked", body, headers)
    assert status == 200, answer
    assert s3.get_object(Bucket="endpoint-chunks", Key="chunked")["Body"].read() == data
    tampered = bytearray(body)
    tampered[-100] ^= 1  # one byte of the last data chunk
    status, _, answer = send(cloud, "PUT", "/endpoint-chunks/chunked", bytes(tampered), headers)
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in answer
    unsigned_payload = cloud.client("s3", config=Config(s3={"payload_signing_enabled": False}))
    sent = {}
    unsigned_payload.meta.events.register("before-send.s3.PutObject", lambda request, **_: sent.update(request.headers))
    unsigned_payload.put_object(Bucket="endpoint-chunks", Key="unsigned", Body=b"not hashed")
    assert sent["X-Amz-Content-SHA256"] == b"UNSIGNED-PAYLOAD"
    assert s3.get_object(Bucket="endpoint-chunks", Key="unsigned")["Body"].read() == b"not hashed"


def test_botocore_clients_of_several_services_are_verified(cloud):
    assert cloud.client("iam").get_role(RoleName="lambda-role")["Role"]["RoleName"] == "lambda-role"
    queue = cloud.client("sqs").create_queue(QueueName="endpoint-q")["QueueUrl"]
    cloud.client("sqs").send_message(QueueUrl=queue, MessageBody="m")
    topic = cloud.client("sns").create_topic(Name="endpoint-t")["TopicArn"]
    cloud.client("sns").publish(TopicArn=topic, Message="m")
    cloud.client("logs").describe_log_groups()
    cloud.client("events").list_rules()
    cloud.client("dynamodb").list_tables()
    cloud.client("cloudwatch").list_metrics()
    assert cloud.client("lambda").get_account_settings()["AccountLimit"]


def test_the_aws_cli_is_verified(cloud, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(cloud.environ(), AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "x"))

    def aws(*args: str) -> str:
        result = subprocess.run([sys.executable, "-m", "awscli", *args], env=env, capture_output=True, text=True,
                                timeout=120, cwd=tmp_path)
        assert result.returncode == 0, f"aws {' '.join(args)}: {result.stderr}"
        return result.stdout

    assert json.loads(aws("sts", "get-caller-identity"))["Arn"] == f"arn:aws:iam::{cloud.account}:root"
    aws("s3", "mb", "s3://endpoint-cli")
    (tmp_path / "big.bin").write_bytes(os.urandom(10 * 1024 * 1024))  # the CLI uploads it in parts
    aws("s3", "cp", str(tmp_path / "big.bin"), "s3://endpoint-cli/dir/big file.bin")
    aws("s3", "cp", "s3://endpoint-cli/dir/big file.bin", str(tmp_path / "back.bin"))
    assert (tmp_path / "back.bin").read_bytes() == (tmp_path / "big.bin").read_bytes()
    with urllib.request.urlopen(aws("s3", "presign", "s3://endpoint-cli/dir/big file.bin").strip()) as response:
        assert response.read() == (tmp_path / "big.bin").read_bytes()
    assert "TableNames" in json.loads(aws("dynamodb", "list-tables"))
    env["AWS_SECRET_ACCESS_KEY"] = "wrong" * 8
    result = subprocess.run([sys.executable, "-m", "awscli", "iam", "list-users"], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode != 0 and "SignatureDoesNotMatch" in result.stderr


# -- time ----------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def own_cloud():
    """A cloud of these tests' own, whose clock they may move far ahead."""
    with lambdalab.start() as cloud:
        yield cloud


@pytest.mark.parametrize("minutes", [-20, 20])
def test_a_request_signed_20_minutes_off_is_refused(own_cloud, monkeypatch, minutes):
    when = datetime.utcnow() + timedelta(minutes=minutes)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: when)
    code, status, error = code_of(lambda: own_cloud.client("sts").get_caller_identity())
    assert (code, status) == ("SignatureDoesNotMatch", 403)
    assert error["Message"].startswith("Signature expired" if minutes < 0 else "Signature not yet current")
    code, status, error = code_of(lambda: own_cloud.client("s3").list_buckets())
    assert (code, status, error["MaxAllowedSkewMilliseconds"]) == ("RequestTimeTooSkewed", 403, "900000")
    assert code_of(lambda: own_cloud.client("lambda").list_functions())[:2] == ("InvalidSignatureException", 403)
    monkeypatch.undo()
    healthy(own_cloud)


def test_presigned_urls_expire_on_the_clouds_clock(own_cloud, monkeypatch):
    s3 = own_cloud.client("s3", config=Config(signature_version="s3v4"))
    s3.create_bucket(Bucket="endpoint-clock")
    s3.put_object(Bucket="endpoint-clock", Key="k", Body=b"v")
    params = {"Bucket": "endpoint-clock", "Key": "k"}
    url = s3.generate_presigned_url("get_object", Params=params, ExpiresIn=600)
    v2 = own_cloud.client("s3").generate_presigned_url("get_object", Params=params, ExpiresIn=600)
    assert urllib.request.urlopen(url).read() == b"v"
    own_cloud.clock.advance(601)
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(url)
    body = caught.value.read().decode()
    assert caught.value.code == 403 and "<Message>Request has expired</Message>" in body
    assert "<X-Amz-Expires>600</X-Amz-Expires>" in body and "<ServerTime>" in body and "<Expires>" in body
    # SigV2 URLs carry their end in machine time and not when they were made: the machine's clock decides
    assert urllib.request.urlopen(v2).read() == b"v"
    later = datetime.utcnow() + timedelta(seconds=2)  # X-Amz-Date counts whole seconds: made in a later one
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: later)
    for fresh in (s3.generate_presigned_url("get_object", Params=params, ExpiresIn=60),
                  own_cloud.client("s3").generate_presigned_url("get_object", Params=params, ExpiresIn=60)):
        assert urllib.request.urlopen(fresh).read() == b"v"  # made after the clock moved: valid
    monkeypatch.undo()
    assert s3.get_object(Bucket="endpoint-clock", Key="k")["Body"].read() == b"v"  # SDKs still sign on time


def test_code_locations_are_presigned_for_ten_minutes(own_cloud):
    fn = __import__("deploy").Deployer(own_cloud)
    name = fn.create("def handler(e, c):\n    return 1\n")
    location = own_cloud.client("lambda").get_function(FunctionName=name)["Code"]["Location"]
    assert re.search(r"\?X-Amz-Date=\d{8}T\d{6}Z&X-Amz-Expires=600&X-Amz-Signature=[0-9a-f]{64}$", location)
    assert urllib.request.urlopen(location).read()[:2] == b"PK"
    for forged in (location.split("?")[0], location[:-1] + ("0" if location[-1] != "0" else "1"),
                   location.replace(name, name + "x")):
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(forged)
        assert caught.value.code == 403 and "<Code>AccessDenied</Code>" in caught.value.read().decode()
    own_cloud.client("lambda").delete_function(FunctionName=name)
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(location)
    assert caught.value.code == 404 and "<Code>NoSuchKey</Code>" in caught.value.read().decode()
    name = fn.create("def handler(e, c):\n    return 1\n")
    location = own_cloud.client("lambda").get_function(FunctionName=name)["Code"]["Location"]
    own_cloud.clock.advance(601)
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(location)
    body = caught.value.read().decode()
    assert caught.value.code == 403 and "Request has expired" in body and "<X-Amz-Expires>600<" in body


# -- verification off ---------------------------------------------------------------------------------------
def test_verification_can_be_turned_off_for_tools_that_cannot_sign():
    with lambdalab.start(verify_signatures=False) as cloud:
        key = cloud.credentials["AccessKeyId"]
        assert client(cloud, "sts", key, "whatever").get_caller_identity()["Arn"].endswith(":root")
        assert code_of(lambda: client(cloud, "sts", "AKIANEVERISSUED00000", "x").get_caller_identity())[0] == \
            "InvalidClientTokenId"
        assert code_of(lambda: unsigned(cloud, "iam").list_users())[0] == "MissingAuthenticationToken"
