"""The one endpoint: routing by SigV4 scope, keep-alive HTTP/1.1, and moto behind it unchanged."""

from __future__ import annotations

import http.client
import json
import urllib.request

import pytest
from botocore.exceptions import ClientError
from signing import send, sign


def test_one_connection_serves_many_requests(cloud, fn):
    name = fn.create("def handler(e, c):\n    return e\n")
    path = f"/2015-03-31/functions/{name}/invocations"
    conn = http.client.HTTPConnection("127.0.0.1", cloud.gateway.port)
    for i in range(5):
        body = json.dumps({"i": i}).encode()
        conn.request("POST", path, body, sign(cloud, "POST", path, body))
        response = conn.getresponse()
        assert json.loads(response.read()) == {"i": i}
        assert response.getheader("Connection") == "keep-alive"
    assert conn.sock is not None  # never reconnected
    conn.close()


def test_chunked_request_bodies_are_read(cloud, fn):
    name = fn.create("def handler(e, c):\n    return e\n")
    path = f"/2015-03-31/functions/{name}/invocations"
    conn = http.client.HTTPConnection("127.0.0.1", cloud.gateway.port)
    headers = sign(cloud, "POST", path, b'{"chunked": true}')
    conn.request("POST", path, iter([b'{"chun', b'ked": true}']), {**headers, "Transfer-Encoding": "chunked"},
                 encode_chunked=True)
    assert json.loads(conn.getresponse().read()) == {"chunked": True}


def test_moto_sees_large_uploads_and_head_lengths(cloud):
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket="gateway-check")
    body = b"x" * (8 * 1024 * 1024)  # large enough for botocore to send Expect: 100-continue
    s3.put_object(Bucket="gateway-check", Key="big", Body=body)
    assert s3.head_object(Bucket="gateway-check", Key="big")["ContentLength"] == len(body)
    assert s3.get_object(Bucket="gateway-check", Key="big")["Body"].read() == body
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "gateway-check", "Key": "big"})
    with urllib.request.urlopen(url) as response:
        assert len(response.read()) == len(body)


def test_a_head_of_a_missing_key_or_bucket_is_s3s_404(cloud):
    """S3 answers HEAD for what does not exist with a bare 404, which boto3's waiters and existence checks
    read; moto's answer carries no page to tell it from a path it has no route for, and is S3's."""
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket="gateway-head")
    for call in (lambda: s3.head_object(Bucket="gateway-head", Key="missing"),
                 lambda: s3.head_object(Bucket="gateway-no-such-bucket", Key="k"),
                 lambda: s3.head_bucket(Bucket="gateway-no-such-bucket")):
        with pytest.raises(ClientError) as caught:
            call()
        assert caught.value.response["Error"]["Code"] == "404"
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    s3.get_waiter("object_not_exists").wait(Bucket="gateway-head", Key="missing", WaiterConfig={"MaxAttempts": 1})
    s3.put_object(Bucket="gateway-head", Key="there", Body=b"x")
    s3.get_waiter("object_exists").wait(Bucket="gateway-head", Key="there", WaiterConfig={"MaxAttempts": 1})


def test_moto_admin_api_is_not_reachable(cloud):
    """/moto-api/ is moto's, not AWS's: unsigned it is an anonymous S3 request for a bucket that does not
    exist, and signed for any service it is that service's path, never moto's state or its reset."""
    status, _, body = send(cloud, "GET", "/moto-api/data.json")
    assert status == 404 and b"<Code>NoSuchBucket</Code>" in body and b"iam" not in body
    status, _, body = send(cloud, "POST", "/moto-api/reset")
    assert 400 <= status < 500 and body.startswith(b"<?xml") and b"<Error><Code>" in body
    for service in ("iam", "sqs", "dynamodb", "s3"):
        headers = sign(cloud, "POST", "/moto-api/reset", service=service)
        status, _, body = send(cloud, "POST", "/moto-api/reset", headers=headers)
        assert status >= 400 and b'"status": "ok"' not in body, service
    assert cloud.client("iam").get_role(RoleName="lambda-role")  # nothing was reset
