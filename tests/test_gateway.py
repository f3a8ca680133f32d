"""The one endpoint: routing by SigV4 scope, keep-alive HTTP/1.1, and moto behind it unchanged."""

from __future__ import annotations

import http.client
import json
import urllib.request

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
