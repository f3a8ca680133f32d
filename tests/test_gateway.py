"""The one endpoint: routing by SigV4 scope, keep-alive HTTP/1.1, and moto behind it unchanged."""

from __future__ import annotations

import http.client
import json

from lambdalab.gateway import signed_service

LAMBDA_AUTH = ("AWS4-HMAC-SHA256 Credential=test/20261122/us-east-1/lambda/aws4_request, "
               "SignedHeaders=host, Signature=0")


def test_signed_service_comes_from_the_credential_scope():
    assert signed_service({"HTTP_AUTHORIZATION": LAMBDA_AUTH}) == "lambda"
    presigned = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=test%2F20261122%2Fus-east-1%2Fs3%2Faws4_request"
    assert signed_service({"QUERY_STRING": presigned}) == "s3"
    assert signed_service({}) is None


def test_one_connection_serves_many_requests(cloud, fn):
    name = fn.create("def handler(e, c):\n    return e\n")
    conn = http.client.HTTPConnection("127.0.0.1", cloud.gateway.port)
    for i in range(5):
        conn.request("POST", f"/2015-03-31/functions/{name}/invocations", json.dumps({"i": i}),
                     {"Authorization": LAMBDA_AUTH})
        response = conn.getresponse()
        assert json.loads(response.read()) == {"i": i}
        assert response.getheader("Connection") == "keep-alive"
    assert conn.sock is not None  # never reconnected
    conn.close()


def test_chunked_request_bodies_are_read(cloud, fn):
    name = fn.create("def handler(e, c):\n    return e\n")
    conn = http.client.HTTPConnection("127.0.0.1", cloud.gateway.port)
    conn.request("POST", f"/2015-03-31/functions/{name}/invocations", iter([b'{"chun', b'ked": true}']),
                 {"Authorization": LAMBDA_AUTH, "Transfer-Encoding": "chunked"}, encode_chunked=True)
    assert json.loads(conn.getresponse().read()) == {"chunked": True}


def test_moto_sees_large_uploads_and_head_lengths(cloud):
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket="gateway-check")
    body = b"x" * (8 * 1024 * 1024)  # large enough for botocore to send Expect: 100-continue
    s3.put_object(Bucket="gateway-check", Key="big", Body=body)
    assert s3.head_object(Bucket="gateway-check", Key="big")["ContentLength"] == len(body)
    assert s3.get_object(Bucket="gateway-check", Key="big")["Body"].read() == body
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "gateway-check", "Key": "big"})
    import urllib.request

    with urllib.request.urlopen(url) as response:
        assert len(response.read()) == len(body)


def test_unsigned_requests_go_to_moto(cloud):
    conn = http.client.HTTPConnection("127.0.0.1", cloud.gateway.port)
    conn.request("GET", "/moto-api/")  # moto's own dashboard, which no signature names a service for
    response = conn.getresponse()
    assert response.status == 200
    assert "<title>Moto" in response.read().decode()
