"""A seeded fuzz of the endpoint: a few hundred malformed requests to the Lambda API and to moto's
services (random garbage, truncations, broken headers, valid requests with mutated bodies signed
afresh so that they reach the service, and signed requests mutated afterwards).

Each must be answered (or its connection closed) within a bound, never with a 500 or a Python
traceback, and the cloud must work afterwards."""

from __future__ import annotations

import base64
import http.client
import json
import random
import socket
import time

import pytest
from signing import healthy, sign

from lambdalab.packaging import zip_files

SEED = 20261204
ROUNDS = 360
BOUND_S = 5.0
ROLE = "arn:aws:iam::123456789012:role/lambda-role"
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


def json_call(target: str, version: str = "1.0") -> dict[str, str]:
    return {"X-Amz-Target": target, "Content-Type": f"application/x-amz-json-{version}"}


def templates(function: str) -> list[tuple[str, str, str, bytes, dict[str, str]]]:
    """(service, method, path, body, headers): one well-formed request per kind of input."""
    package = base64.b64encode(zip_files("def handler(e, c):\n    return e\n")).decode()
    return [
        ("lambda", "GET", "/2015-03-31/functions/?MaxItems=3", b"", {}),
        ("lambda", "POST", f"/2015-03-31/functions/{function}/invocations", b'{"k": [1, 2, {"x": null}]}', {}),
        ("lambda", "POST", "/2015-03-31/functions", json.dumps(
            {"FunctionName": "fuzzed", "Runtime": "python3.12", "Role": ROLE, "Handler": "app.handler",
             "Code": {"ZipFile": package}, "Timeout": 3}).encode(), {"Content-Type": "application/json"}),
        ("lambda", "PUT", f"/2015-03-31/functions/{function}/configuration",
         b'{"Timeout": 5, "Environment": {"Variables": {"A": "b"}}}', {"Content-Type": "application/json"}),
        ("lambda", "POST", f"/2015-03-31/functions/{function}/policy",
         b'{"StatementId": "s", "Action": "lambda:InvokeFunction", "Principal": "s3.amazonaws.com"}',
         {"Content-Type": "application/json"}),
        ("dynamodb", "POST", "/", json.dumps({"TableName": "fuzz", "KeySchema": [{"AttributeName": "id", "KeyType":
                                                                                 "HASH"}],
                                              "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
                                              "BillingMode": "PAY_PER_REQUEST"}).encode(),
         json_call("DynamoDB_20120810.CreateTable")),
        ("dynamodb", "POST", "/", b'{"TableName": "fuzz", "Item": {"id": {"S": "1"}, "n": {"N": "2"}}}',
         json_call("DynamoDB_20120810.PutItem")),
        ("sqs", "POST", "/", b'{"QueueName": "fuzz", "Attributes": {"DelaySeconds": "1"}}',
         json_call("AmazonSQS.CreateQueue")),
        ("logs", "POST", "/", b'{"logGroupName": "/fuzz", "tags": {"a": "b"}}',
         json_call("Logs_20140328.CreateLogGroup", "1.1")),
        ("events", "POST", "/", b'{"Entries": [{"Source": "s", "DetailType": "d", "Detail": "{}"}]}',
         json_call("AWSEvents.PutEvents", "1.1")),
        ("sns", "POST", "/", b"Action=CreateTopic&Name=fuzz&Version=2010-03-31", FORM),
        ("sns", "POST", "/", b"Action=Publish&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A123456789012%3Afuzz"
                             b"&Message=m&Version=2010-03-31", FORM),
        ("iam", "POST", "/", b"Action=CreateUser&UserName=fuzz&Version=2010-05-08", FORM),
        ("iam", "POST", "/", b"Action=PutUserPolicy&UserName=fuzz&PolicyName=p&PolicyDocument=%7B%7D"
                             b"&Version=2010-05-08", FORM),
        ("sts", "POST", "/", b"Action=AssumeRole&RoleArn=" + ROLE.replace(":", "%3A").encode() +
         b"&RoleSessionName=fuzz&Version=2011-06-15", FORM),
        ("s3", "PUT", "/fuzz-bucket", b"", {}),
        ("s3", "PUT", "/fuzz-bucket?tagging",
         b"<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>", {}),
        ("s3", "POST", "/fuzz-bucket?delete", b"<Delete><Object><Key>a</Key></Object></Delete>", {}),
        ("s3", "PUT", "/fuzz-bucket/some/key", b"object data", {"x-amz-meta-a": "b"}),
        ("s3", "GET", "/fuzz-bucket?list-type=2&max-keys=2", b"", {}),
    ]


def mutate_body(rng: random.Random, body: bytes) -> bytes:
    choice = rng.randrange(6)
    if not body or choice == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
    if choice == 1:
        return body[:rng.randrange(len(body))]
    if choice == 2:
        i = rng.randrange(len(body))
        return body[:i] + bytes([rng.randrange(256)]) + body[i + 1:]
    if choice == 3:
        return body.replace(b"}", b"", 1).replace(b"</", b"<", 1).replace(b"=", b"", 1)
    if choice == 4 and body.startswith(b"{"):
        document = json.loads(body)
        key = rng.choice(list(document))
        document[key] = rng.choice([None, 7, -1.5, [], {}, "x" * 300, [1, "a"], {"S": []}, True])
        return json.dumps(document).encode()
    return body + rng.choice([b"\x00", b"\xff\xfe", b"&Action=DeleteUser", b"<x>", b'"', "é".encode()])


def request(cloud, rng: random.Random, template) -> bytes:
    """A malformed request, as bytes."""
    service, method, path, body, headers = template
    kind = rng.randrange(6)
    if kind == 0:  # garbage
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
    if kind in (1, 2):  # the body mutated, then signed: the service itself sees the bad input
        body = mutate_body(rng, body)
        signed = sign(cloud, method, path, body, headers, service=service)
    else:
        signed = sign(cloud, method, path, body, headers, service=service)
    lines = [f"{name}: {value.decode() if isinstance(value, bytes) else value}" for name, value in signed.items()]
    if kind == 3:  # signed, then changed
        body = mutate_body(rng, body)
    if kind == 4:  # headers broken
        damage = rng.randrange(5)
        if damage == 0:
            lines.append(f"Content-Length: {rng.choice(['-1', 'x', '99999999999', '1 2', str(len(body) + 5)])}")
        elif damage == 1:
            lines.append(f"Transfer-Encoding: {rng.choice(['chunked', 'gzip', 'chunked, chunked'])}")
        elif damage == 2:
            lines[rng.randrange(len(lines))] = rng.choice(["garbage", " folded", "Authorization: garbage", ":"])
        elif damage == 3:
            dropped = rng.choice(["Authorization", "X-Amz-Date", "X-Amz"])
            lines = [line for line in lines if not line.startswith(dropped)]
        else:
            lines.append("X-Amz-Target: " + rng.choice(["", ".", "Nope.Nope", "DynamoDB_20120810."]))
    if not any(line.lower().startswith(("content-length", "transfer-encoding")) for line in lines):
        lines.append(f"Content-Length: {len(body)}")
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{cloud.gateway.port}\r\n" + "\r\n".join(lines)
    data = head.encode("utf-8", "replace") + b"\r\n\r\n" + body
    return data[:rng.randrange(1, len(data))] if kind == 5 else data  # kind 5: cut short


def exchange(port: int, data: bytes) -> tuple[int | None, bytes, float]:
    """Send ``data`` and end the stream (so a request that promised more is truncated, not slow):
    (status or None if the server closed without answering, body, seconds taken)."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=BOUND_S) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except OSError:  # the server already refused and closed
            pass
        response = http.client.HTTPResponse(sock, method="GET")
        try:
            response.begin()
            body = response.read()
        except (http.client.RemoteDisconnected, ConnectionResetError, http.client.IncompleteRead):
            return None, b"", time.monotonic() - started
        return response.status, body, time.monotonic() - started


@pytest.fixture(scope="module")
def echo(cloud):
    from deploy import Deployer

    return Deployer(cloud).create("def handler(e, c):\n    return e\n")


def test_a_seeded_fuzz_gets_no_500_no_traceback_and_leaves_the_cloud_healthy(cloud, echo):
    rng = random.Random(SEED)
    shapes = templates(echo)
    outcomes: dict[str, int] = {}
    started = time.monotonic()
    for i in range(ROUNDS):
        template = shapes[i % len(shapes)]
        data = request(cloud, rng, template)
        status, body, took = exchange(cloud.gateway.port, data)
        where = f"round {i} ({template[0]} {template[1]} {template[2]}): {data[:300]!r} -> {status} {body[:300]!r}"
        assert took < BOUND_S, where
        assert status is None or status < 500 or status in (501, 505), where
        assert b"Traceback" not in body and b'File "' not in body, where
        outcomes[str(status)] = outcomes.get(str(status), 0) + 1
    assert time.monotonic() - started < 120
    assert len(outcomes) > 4, outcomes  # the fuzz reached many different answers, not one refusal
    healthy(cloud)
    assert cloud.client("lambda").invoke(FunctionName=echo, Payload=b'{"after": "fuzz"}')["StatusCode"] == 200
    assert cloud.client("dynamodb").list_tables()["TableNames"] is not None
    cloud.client("s3").list_buckets()
