"""The codec is checked against botocore itself: requests come from botocore's serializer,
responses go through botocore's parser, so both directions match what real SDKs do."""

import io
import json
from datetime import datetime, timezone
from urllib.parse import urlsplit

import botocore.awsrequest
import botocore.loaders
import botocore.parsers
import botocore.serialize
import pytest
from botocore.awsrequest import HeadersDict
from botocore.response import StreamingBody

from lambdalab.api.wire import LambdaWire, Request, WireError, _java_regex
from lambdalab.jackson import load_json

ARN = "arn:aws:lambda:us-east-1:123456789012:function:my-fn"
ROLE = "arn:aws:iam::123456789012:role/lambda-role"


@pytest.fixture(scope="module")
def wire() -> LambdaWire:
    return LambdaWire()


def send(wire: LambdaWire, operation: str, params: dict) -> Request:
    """Serialize with botocore exactly as a client would put it on the wire, then parse it."""
    model = wire.model.operation_model(operation)
    request = botocore.serialize.create_serializer("rest-json").serialize_to_request(params, model)
    botocore.awsrequest.prepare_request_dict(request, "https://lambda.us-east-1.amazonaws.com")
    url = urlsplit(request["url"])
    body = request["body"].encode() if isinstance(request["body"], str) else request["body"]
    return wire.parse(request["method"], url.path, url.query, request["headers"], body)


def parse_reply(wire: LambdaWire, operation: str, reply: tuple, shape=None) -> dict:
    """Parse as botocore's endpoint does: case-insensitive headers, blob payloads as streams."""
    status, headers, body = reply
    model = wire.model.operation_model(operation)
    if model.has_streaming_output and status < 300:
        body = StreamingBody(io.BytesIO(body), len(body))
    response = {"status_code": status, "headers": HeadersDict(headers), "body": body}
    return botocore.parsers.create_parser("rest-json").parse(response, shape or model.output_shape)


@pytest.mark.parametrize("operation,params", [
    ("CreateFunction", {"FunctionName": "my-fn", "Role": ROLE, "Runtime": "python3.12", "Handler": "app.h",
                        "Code": {"ZipFile": b"PK\x03\x04\x00\xff"}, "MemorySize": 256, "Publish": True,
                        "Environment": {"Variables": {"STAGE": "dev", "DEBUG": "1"}},
                        "VpcConfig": {"SubnetIds": ["subnet-1", "subnet-2"]}, "Tags": {"team": "x"}}),
    ("Invoke", {"FunctionName": "my-fn", "Payload": b'{"k": [1, 2]}', "InvocationType": "RequestResponse",
                "LogType": "Tail", "ClientContext": "eyJjdXN0b20iOnt9fQ==", "Qualifier": "$LATEST"}),
    ("Invoke", {"FunctionName": ARN + ":prod"}),
    ("ListFunctions", {"Marker": "next-page", "MaxItems": 50}),
    ("GetFunction", {"FunctionName": ARN, "Qualifier": "7"}),
    ("UpdateFunctionConfiguration", {"FunctionName": "my-fn", "Timeout": 30, "MemorySize": 1024,
                                     "Environment": {"Variables": {}}, "Layers": [], "Description": ""}),
    ("UpdateFunctionCode", {"FunctionName": ARN, "ZipFile": b"\x00\x01zip", "Publish": True, "DryRun": False}),
    ("DeleteFunction", {"FunctionName": "my-fn", "Qualifier": "3"}),
    ("GetAccountSettings", {}),
    ("GetLayerVersionByArn", {"Arn": "arn:aws:lambda:us-east-1:123456789012:layer:lib:3"}),
    ("ListLayers", {"CompatibleRuntime": "python3.12"}),
    ("ListProvisionedConcurrencyConfigs", {"FunctionName": "my-fn", "MaxItems": 3}),
    ("GetProvisionedConcurrencyConfig", {"FunctionName": "my-fn", "Qualifier": "live"}),
    ("UntagResource", {"Resource": ARN, "TagKeys": ["a", "b c"]}),
    ("ListDurableExecutionsByFunction", {"FunctionName": "my-fn", "Statuses": ["RUNNING", "FAILED"],
                                         "StartedAfter": datetime(2024, 5, 1, 12, 30, tzinfo=timezone.utc),
                                         "ReverseOrder": True}),
])
def test_round_trip(wire, operation, params):
    assert send(wire, operation, params) == Request(operation, params)


def minimal(shape):
    """Small params that botocore's client-side validation accepts (required members only)."""
    kind, low = shape.type_name, shape.metadata.get("min", 1)
    if kind == "structure":
        return {name: minimal(shape.members[name]) for name in shape.required_members}
    if kind == "string":
        return shape.metadata.get("enum", ["v" * max(low, 1)])[0]
    if kind == "list":
        return [minimal(shape.member)] * max(low, 1)
    if kind == "map":
        return {"k": minimal(shape.value)}
    return {"integer": low, "long": low, "boolean": True, "blob": b"x" * max(low, 1), "double": 0.5,
            "float": 0.5, "timestamp": datetime(2024, 1, 1, tzinfo=timezone.utc)}[kind]


def test_every_operation_routes_to_itself(wire):
    for operation in wire.model.operation_names:
        shape = wire.model.operation_model(operation).input_shape
        params = minimal(shape) if shape else {}
        request = send(wire, operation, params)
        assert request == Request(operation, params), operation
        try:  # placeholder values may break patterns; validation must still answer like AWS, never crash
            wire.validate(request)
        except WireError as err:
            assert err.code == "ValidationException"


def test_every_model_pattern_is_enforced(wire):
    shapes = botocore.loaders.Loader().load_service_model("lambda", "service-2")["shapes"].values()
    patterns = {shape["pattern"] for shape in shapes if "pattern" in shape}
    assert patterns and all(_java_regex(p) is not None for p in patterns)


def test_route_tolerates_trailing_slash_and_rejects_unknown(wire):
    assert wire.parse("GET", "/2015-03-31/functions/", "", {}, b"").operation == "ListFunctions"
    with pytest.raises(WireError) as err:
        wire.parse("GET", "/2015-03-31/nope", "", {}, b"")
    assert (err.value.code, err.value.status) == ("UnknownOperationException", 404)
    with pytest.raises(WireError):
        wire.parse("PATCH", "/2015-03-31/functions/f", "", {}, b"")


def test_malformed_input(wire):
    with pytest.raises(WireError) as err:
        wire.parse("POST", "/2015-03-31/functions", "", {}, b"{not json")
    assert err.value.code == "InvalidRequestContentException"
    assert err.value.message.startswith("Could not parse request body into json: ")
    with pytest.raises(WireError) as err:
        wire.parse("POST", "/2015-03-31/functions", "", {}, b'{"MemorySize": "big"}')
    assert err.value.code == "InvalidRequestContentException"
    with pytest.raises(WireError):
        wire.parse("GET", "/2015-03-31/functions", "MaxItems=ten", {}, b"")


def test_invoke_response(wire):
    reply = wire.respond("Invoke", {"StatusCode": 200, "Payload": b'{"ok":true}', "FunctionError": "Unhandled",
                                    "LogResult": "U1RBUlQ=", "ExecutedVersion": "$LATEST"})
    status, headers, body = reply
    assert (status, body) == (200, b'{"ok":true}')
    assert ("Content-Type", "application/json") in headers and "x-amzn-RequestId" in dict(headers)
    parsed = parse_reply(wire, "Invoke", reply)
    assert parsed["Payload"].read() == b'{"ok":true}'
    assert {k: parsed[k] for k in ("StatusCode", "FunctionError", "LogResult", "ExecutedVersion")} == {
        "StatusCode": 200, "FunctionError": "Unhandled", "LogResult": "U1RBUlQ=", "ExecutedVersion": "$LATEST"}
    assert wire.respond("Invoke", {"StatusCode": 202, "Payload": b""})[0] == 202


def test_create_function_response(wire):
    config = {"FunctionName": "my-fn", "FunctionArn": ARN, "MemorySize": 128, "Handler": None,
              "LastModified": "2024-05-01T12:00:00.000+0000", "Environment": {"Variables": {"A": "b"}},
              "Layers": [{"Arn": "arn:l:1", "CodeSize": 5}]}
    reply = wire.respond("CreateFunction", config)
    assert reply[0] == 201
    parsed = parse_reply(wire, "CreateFunction", reply)
    parsed.pop("ResponseMetadata")
    assert parsed == {k: v for k, v in config.items() if v is not None}


def test_empty_and_status_member_responses(wire):
    assert wire.respond("DeleteAlias", {})[::2] == (204, b"")
    assert wire.respond("DeleteFunction", {"StatusCode": 204})[::2] == (204, b"")
    assert wire.respond("GetAccountSettings", {"AccountLimit": {"TotalCodeSize": 80}})[2] == \
        b'{"AccountLimit":{"TotalCodeSize":80}}'


def test_stream_response_passes_frames_through(wire):
    status, headers, body = wire.respond("InvokeWithResponseStream", {"StatusCode": 200, "EventStream": b"frames",
                                                                      "ResponseStreamContentType": "text/plain"})
    assert (status, body) == (200, b"frames")
    assert [v for k, v in headers if k.lower() == "content-type"] == ["text/plain"]
    assert wire.respond("InvokeWithResponseStream", {"EventStream": b""})[1][0] == (
        "Content-Type", "application/vnd.amazon.eventstream")


def test_errors_parse_in_botocore(wire):
    reply = wire.error("ResourceNotFoundException", f"Function not found: {ARN}", 404)
    assert reply[2] == json.dumps({"Message": f"Function not found: {ARN}", "Type": "User"},
                                  separators=(",", ":")).encode()
    parsed = parse_reply(wire, "GetFunction", reply)
    assert parsed["Error"] == {"Code": "ResourceNotFoundException", "Message": f"Function not found: {ARN}"}
    assert parsed["ResponseMetadata"]["HTTPStatusCode"] == 404

    reply = wire.error("TooManyRequestsException", "Rate exceeded", 429,
                       extra={"Reason": "CallerRateLimitExceeded", "retryAfterSeconds": "2"})
    assert reply[2] == b'{"Reason":"CallerRateLimitExceeded","Type":"User","message":"Rate exceeded"}'
    assert ("Retry-After", "2") in reply[1]
    generic = parse_reply(wire, "Invoke", reply)["Error"]
    assert generic == {"Code": "TooManyRequestsException", "Message": "Rate exceeded"}
    modeled = parse_reply(wire, "Invoke", reply, wire.model.shape_for("TooManyRequestsException"))
    assert modeled == {"Reason": "CallerRateLimitExceeded", "Type": "User", "message": "Rate exceeded",
                       "retryAfterSeconds": "2"}

    status, headers, body = wire.error("ValidationException", "1 validation error detected: x", 400,
                                       headers={"X-Extra": "1"})
    assert (status, body) == (400, b'{"message":"1 validation error detected: x"}')
    assert ("x-amzn-ErrorType", "ValidationException") in headers and ("X-Extra", "1") in headers
    assert wire.error("ServiceException", "boom", 500)[2] == b'{"Message":"boom","Type":"Service"}'


def message(wire, operation, params, limits=None):
    with pytest.raises(WireError) as err:
        wire.validate(Request(operation, params), limits)
    assert (err.value.code, err.value.status) == ("ValidationException", 400)
    return err.value.message


CREATE = {"FunctionName": "my-fn", "Role": ROLE, "Code": {"ZipFile": b"zip"}}


def test_validation_messages(wire):
    wire.validate(Request("CreateFunction", dict(CREATE, MemorySize=10240)), {"MemorySize": (128, 10240)})
    assert message(wire, "CreateFunction", dict(CREATE, MemorySize=20000), {"MemorySize": (128, 10240)}) == (
        "1 validation error detected: Value '20000' at 'memorySize' failed to satisfy constraint: "
        "Member must have value less than or equal to 10240")
    assert message(wire, "CreateFunction", {"FunctionName": "my-fn", "Role": ROLE}) == (
        "1 validation error detected: Value null at 'code' failed to satisfy constraint: Member must not be null")
    assert message(wire, "Invoke", {"FunctionName": "my-fn", "InvocationType": "Bogus"}) == (
        "1 validation error detected: Value 'Bogus' at 'invocationType' failed to satisfy constraint: "
        "Member must satisfy enum value set: [Event, RequestResponse, DryRun]")
    assert message(wire, "CreateFunction", dict(CREATE, Environment={"Variables": {"1BAD": "x"}})) == (
        "1 validation error detected: Value at 'environment.variables' failed to satisfy constraint: "
        "Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]")
    assert message(wire, "UpdateFunctionConfiguration", {"FunctionName": "my-fn", "Timeout": 0, "MemorySize": 64}) == (
        "2 validation errors detected: "
        "Value '64' at 'memorySize' failed to satisfy constraint: Member must have value greater than or equal to 128; "
        "Value '0' at 'timeout' failed to satisfy constraint: Member must have value greater than or equal to 1")


def test_validation_of_nested_and_collection_members(wire):
    assert message(wire, "UpdateFunctionConfiguration", {"FunctionName": "f", "Layers": [""]}) == (
        "1 validation error detected: Value '[]' at 'layers' failed to satisfy constraint: Member must satisfy "
        "constraint: [Member must have length less than or equal to 2048, Member must have length greater than or "
        "equal to 1, Member must satisfy regular expression pattern: " + wire.model.shape_for("LayerVersionArn")
        .metadata["pattern"] + ", Member must not be null]")
    assert message(wire, "CreateFunction", dict(CREATE, FunctionName="bad name!", Timeout=901),
                   {"Timeout": (None, 900)}).startswith(
        "2 validation errors detected: Value 'bad name!' at 'functionName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: ")
    efs = "arn:aws:elasticfilesystem:us-east-1:123456789012:access-point/fsap-0123456789abcdef0"
    assert message(wire, "CreateFunction", dict(CREATE, FileSystemConfigs=[{"Arn": efs}])) == (
        "1 validation error detected: Value null at 'fileSystemConfigs.1.member.localMountPath' "
        "failed to satisfy constraint: Member must not be null")
    assert message(wire, "CreateFunction", dict(CREATE, EphemeralStorage={"Size": 20000}),
                   {"EphemeralStorage.Size": (512, 10240)}) == (
        "1 validation error detected: Value '20000' at 'ephemeralStorage.size' failed to satisfy constraint: "
        "Member must have value less than or equal to 10240")
    # Java's \p{L} classes are honoured: TagKey allows letters from any script, not "!".
    wire.validate(Request("TagResource", {"Resource": ARN, "Tags": {"éq_1 x": "v"}}))
    assert "Map keys must satisfy constraint" in message(wire, "TagResource", {"Resource": ARN, "Tags": {"a!": "v"}})


@pytest.mark.parametrize(("data", "words", "line", "column"), [
    (bytes.fromhex("6e87729ee9b5d749ee9b6d74"), "Invalid UTF-8 start byte 0x87", 1, 3),  # as AWS answered
    (b'{"a": "\xc3\x28"}', "Invalid UTF-8 middle byte 0x28", 1, 10),  # the column after the bad byte
    (b'{\n "a": "\xff"}', "Invalid UTF-8 start byte 0xff", 2, 9),
])
def test_bytes_that_are_not_utf8_are_refused_in_jacksons_words(data, words, line, column):
    with pytest.raises(ValueError) as caught:
        load_json(data)
    assert str(caught.value) == (f"{words}\n at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` "
                                 f"disabled); line: {line}, column: {column}]")


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_non_numeric_numbers_are_not_json(token):
    with pytest.raises(ValueError) as caught:
        load_json(f'{{"a": {token}}}')
    assert str(caught.value) == (f"Non-standard token '{token}': enable `JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` "
                                 "to allow")
