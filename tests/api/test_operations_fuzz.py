"""Every operation lambdalab serves, driven with random valid and invalid members: never a 5xx, never a traceback.

Values are drawn (seeded, so a failure replays) from botocore's own input shapes: members of the
right type taken from a pool that names real resources (so calls reach deep into the service) and
edge values (empty, too long, wrong case, traversal, other accounts), plus members of the wrong
type.  Each call goes once through boto3 with parameter validation off, and once as raw HTTP
with its body, path, query and headers mangled.  Every answer must be below 500, carry no
traceback and parse in botocore as the operation's output or as an error.
"""

from __future__ import annotations

import http.client
import io
import json
import random
import zipfile
from typing import Any
from urllib.parse import urlsplit

import botocore.parsers
import botocore.serialize
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.model import OperationModel, Shape
from deploy import ACCOUNT, REGION, ROLE

from lambdalab.api import OPERATIONS

SEED = 20261204
ROUNDS = 20  # calls per operation and per way of sending
AUTHORIZATION = ("AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/lambda/aws4_request, "
                 "SignedHeaders=host, Signature=0")
TARGET, ALIAS, LAYER = "fuzz-target", "live", "fuzz-layer"


def package(source: str = "def handler(event, context):\n    return event\n") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("app.py", source)
    return buffer.getvalue()


STRINGS = [
    TARGET, f"{TARGET}:{ALIAS}", f"{TARGET}:1", f"{TARGET}:$LATEST", ALIAS, "1", "$LATEST", "2", "0", "-1",
    f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{TARGET}", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{TARGET}:1",
    f"arn:aws:lambda:{REGION}:210987654321:function:{TARGET}", f"{ACCOUNT}:function:{TARGET}",
    f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:{LAYER}", f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:{LAYER}:1",
    f"arn:aws:lambda:eu-west-1:{ACCOUNT}:layer:{LAYER}:1", LAYER, ROLE, "arn:aws:iam::123456789012:role/none",
    "python3.12", "provided.al2023", "nodejs", "app.handler", "lambda:InvokeFunction", "lambda:*",
    "s3.amazonaws.com", "*", ACCOUNT, "arn:aws:s3:::bucket", "Active", "ALL", "x86_64", "Zip", "Image",
    "RequestResponse", "Event", "DryRun", "Tail", "None", "PassThrough", "JSON", "Text",
    "", " ", "a" * 300, "é∂ƒ", "../../etc/passwd", "%2F%00", "arn:", "arn:aws:lambda", ":::::", "\x00", "{}", "null",
    "fuzz-new", "fuzz-new-2", "sid", "team",
]
NUMBERS = [0, 1, -1, 3, 128, 1769, 10240, 10241, 900, 901, 2**31, 2**63, 1.5]


def draw(shape: Shape, rng: random.Random, depth: int = 0) -> Any:
    """A value for ``shape``: usually of its type, sometimes of another (what validation must refuse)."""
    if rng.random() < 0.03:
        return rng.choice([None, 7, "text", [1], {"k": "v"}, True, -1.5])
    kind = shape.type_name
    if kind == "string":
        return rng.choice(shape.enum or STRINGS) if rng.random() < 0.7 else rng.choice(STRINGS)
    if kind in ("integer", "long"):
        return rng.choice(NUMBERS[:-1])
    if kind in ("double", "float"):
        return rng.choice([0.0, 0.1, 0.5, 1.0, 2.0, -0.1, 1e300])
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "timestamp":
        return rng.choice([0, 1700000000, "2026-01-01T00:00:00Z"])
    if kind == "blob":
        return rng.choice([package(), b"", b"not a zip", json.dumps({"a": 1}).encode(), b"[" * 3000, b"\xff\xfe"])
    if kind == "list":
        return [draw(shape.member, rng, depth + 1) for _ in range(rng.choice([0, 1, 2, 6]))] if depth < 4 else []
    if kind == "map":
        return {rng.choice(STRINGS)[:40] or "k": draw(shape.value, rng, depth + 1)
                for _ in range(rng.choice([0, 1, 3]))} if depth < 4 else {}
    if kind == "structure":
        if depth >= 4:
            return {}
        return {name: rng.choice(STRINGS[:20]) if member.serialization.get("location") == "uri" and rng.random() < 0.9
                else draw(member, rng, depth + 1) for name, member in shape.members.items()
                if (name in shape.required_members and rng.random() < 0.95) or rng.random() < 0.3}
    return None


@pytest.fixture(scope="module")
def target(cloud):
    lam = cloud.client("lambda")
    lam.create_function(FunctionName=TARGET, Runtime="python3.12", Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": package()})
    lam.publish_version(FunctionName=TARGET)
    lam.create_alias(FunctionName=TARGET, Name=ALIAS, FunctionVersion="1")
    lam.publish_layer_version(LayerName=LAYER, Content={"ZipFile": package()})
    return cloud


def operations(lam) -> list[OperationModel]:
    return [lam.meta.service_model.operation_model(name) for name in sorted(OPERATIONS)]


def check_answer(operation: OperationModel, status: int, headers: dict, body: bytes) -> None:
    """Below 500, no traceback, and botocore parses it as this operation's output or as an error."""
    assert status < 500, f"{operation.name}: {status} {body[:300]!r}"
    assert b"Traceback" not in body, f"{operation.name}: {body[:300]!r}"
    parser = botocore.parsers.create_parser("rest-json")
    parsed = parser.parse({"status_code": status, "headers": headers, "body": body}, operation.output_shape)
    if status >= 300:
        assert parsed["Error"]["Code"], f"{operation.name}: an error without a code: {body[:300]!r}"


def test_every_operation_through_boto3_without_validation(target):
    lam = target.client("lambda", config=Config(parameter_validation=False, retries={"max_attempts": 0}))
    sent: list[bool] = []
    lam.meta.events.register("before-send.lambda", lambda **kwargs: sent.append(True))
    rng = random.Random(SEED)
    for operation in operations(lam):
        method = getattr(lam, _python_name(lam, operation.name))
        for _ in range(ROUNDS):
            params = draw(operation.input_shape, rng) if operation.input_shape else {}
            sent.clear()
            try:
                response = method(**(params if isinstance(params, dict) else {}))
            except ClientError as e:
                status = e.response["ResponseMetadata"]["HTTPStatusCode"]
                assert status < 500, f"{operation.name}({params!r:.300}): {e}"
                assert "Traceback" not in str(e)
            except Exception as e:  # botocore could not even build the request: nothing was sent
                assert not sent, f"{operation.name}({params!r:.300}): the answer did not parse: {e!r}"
            else:
                assert response["ResponseMetadata"]["HTTPStatusCode"] < 300


def _python_name(lam, operation: str) -> str:
    return next(py for py, api in lam.meta.method_to_api_mapping.items() if api == operation)


MANGLERS = ("none", "body", "json-types", "truncate", "query", "headers", "path", "content-type")


def mangle(request: dict, rng: random.Random) -> dict:
    """One way of breaking a well-formed request, as a hand-written client or an attacker might."""
    how = rng.choice(MANGLERS)
    body = request["body"]
    body = body if isinstance(body, bytes) else str(body).encode()  # botocore passes a wrong-typed payload through
    headers = dict(request["headers"])
    path, _, query = request["url_path"].partition("?")
    query = "&".join(filter(None, [query, request.get("query_string_text", "")]))
    if how == "body":
        body = rng.choice([b"{", b"[]", b"null", b"\"x\"", b"{\"a\":" * 2000, rng.randbytes(64),
                           b"{\"FunctionName\": {\"$ref\": 1}}", json.dumps({"Code": {"ZipFile": "!!"}}).encode()])
    elif how == "json-types" and body.startswith(b"{"):
        document = json.loads(body)
        for key in list(document)[:3]:
            document[key] = rng.choice([None, 1e308, -1, "x" * 5000, [], {}, True, {"nested": [None]}])
        body = json.dumps(document).encode()
    elif how == "truncate" and body:
        body = body[: rng.randrange(len(body))]
    elif how == "query":
        query = "&".join(filter(None, [query, rng.choice(["Qualifier=%FF", "MaxItems=abc", "MaxItems=-5",
                                                          "Marker=" + "m" * 2000, "FunctionVersion=NONE",
                                                          "find=LayerVersion", "%%%", "a=b=c"])]))
    elif how == "headers":
        headers[rng.choice(["X-Amz-Invocation-Type", "X-Amz-Log-Type", "X-Amz-Client-Context",
                            "X-Amz-Tenant-Id"])] = rng.choice(["Bogus", "", "é", "!!" * 2000, "RequestResponse"])
    elif how == "path":
        path = rng.choice([path + "/extra", path.replace(TARGET, "%ZZ"), path.replace(TARGET, "a%2F..%2F..b"),
                           path + "%00", path.rstrip("/") + "//", "/2015-03-31/functions/" + "x" * 3000])
    elif how == "content-type":
        headers["Content-Type"] = rng.choice(["text/plain", "application/x-www-form-urlencoded", "", "a/b; c=d"])
    return {"method": request["method"], "path": path + ("?" + query if query else ""), "headers": headers,
            "body": body}


def test_every_operation_as_raw_http(target, lam):
    serializer = botocore.serialize.create_serializer("rest-json", include_validation=False)
    rng = random.Random(SEED + 1)
    url = urlsplit(target.endpoint_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    try:
        for operation in operations(lam):
            for _ in range(ROUNDS):
                params = draw(operation.input_shape, rng) if operation.input_shape else {}
                params = params if isinstance(params, dict) else {}
                labels = [name for name, member in (operation.input_shape.members.items() if params or
                                                    operation.input_shape else ())
                          if member.serialization.get("location") == "uri"]
                for name in labels:  # a path needs its labels: keep the drawn one if it is text
                    if not isinstance(params.get(name), (str, int)) or params[name] in ("", 0):
                        params[name] = rng.choice([TARGET, LAYER, "1", "x"])
                try:
                    request = serializer.serialize_to_request(params, operation)
                except Exception:  # a value botocore cannot encode: send the labels alone
                    request = serializer.serialize_to_request({n: params[n] for n in labels}, operation)
                raw = mangle(request, rng)
                headers = {k: v.encode() if isinstance(v, str) else v for k, v in raw["headers"].items()
                           if k.lower() != "content-length"}  # values as UTF-8 bytes, as a raw client may send
                headers["Authorization"] = AUTHORIZATION
                try:
                    conn.request(raw["method"], raw["path"], body=raw["body"], headers=headers)
                    response = conn.getresponse()
                except (http.client.HTTPException, OSError):  # refused at the protocol level: reconnect
                    conn.close()
                    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
                    continue
                body = response.read()
                check_answer(operation, response.status, {k.lower(): v for k, v in response.getheaders()}, body)
    finally:
        conn.close()
