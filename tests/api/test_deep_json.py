"""Deeply nested JSON, as a request body and as an Invoke payload: AWS's 400, never a RecursionError."""

from __future__ import annotations

import base64
import json

import pytest
from botocore.exceptions import ClientError
from deploy import error_of
from signing import send, sign

from lambdalab.jackson import TOO_DEEP, load_json


def raw(cloud, method: str, path: str, body: bytes, headers: dict[str, str] | None = None):
    """One request to the Lambda API as raw HTTP, signed as botocore signs it."""
    headers = {"Content-Type": "application/json", **(headers or {})}
    status, answer_headers, answer = send(cloud, method, path, body, sign(cloud, method, path, body, headers))
    return status, {k.lower(): v for k, v in answer_headers.items()}, answer


@pytest.mark.parametrize("depth", [1001, 100_000])
def test_a_deep_request_body_is_invalid_request_content(cloud, depth):
    status, headers, body = raw(cloud, "POST", "/2015-03-31/functions", b"[" * depth)
    assert status == 400 and headers["x-amzn-errortype"] == "InvalidRequestContentException"
    assert json.loads(body)["message"] == f"Could not parse request body into json: {TOO_DEEP}"


@pytest.mark.parametrize("payload", [b"[" * 100_000, b"{\"a\":" * 5000, b"[" * 1001 + b"]" * 1001])
def test_a_deep_invoke_payload_is_invalid_request_content(fn, lam, payload):
    name = fn.create("def handler(event, context):\n    return 1\n")
    for kind in ("RequestResponse", "Event", "DryRun"):
        with pytest.raises(ClientError) as e:
            lam.invoke(FunctionName=name, Payload=payload, InvocationType=kind)
        assert error_of(e) == ("InvalidRequestContentException", "Could not parse request body into json: "
                               f"Could not parse payload into json: {TOO_DEEP}", 400)


def test_a_payload_as_deep_as_jackson_allows_is_delivered(fn, lam):
    name = fn.create("def handler(event, context):\n    return str(event)[:3]\n")
    deep = b"[" * 900 + b"]" * 900  # deep, within the limit and within what Python parses on every version
    assert fn.invoke(name, json.loads(deep))["Payload"] == "[[["
    brackets_in_strings = json.dumps(["[" * 5000, {"k": "{" * 5000}]).encode()
    response = lam.invoke(FunctionName=name, Payload=brackets_in_strings)
    assert json.loads(response["Payload"].read()) == "['["


def test_a_deep_client_context_is_refused_as_not_json(fn, lam):
    name = fn.create("def handler(event, context):\n    return 1\n")
    context = base64.b64encode(b"{\"a\":" + b"[" * 2000).decode()
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName=name, ClientContext=context)
    assert error_of(e) == ("InvalidRequestContentException",
                           "Client context must be a valid Base64-encoded JSON object.", 400)


def test_depth_is_measured_outside_strings():
    assert load_json(b'["[[[", "\\"[[", {"a": "]]]"}]') == ["[[[", "\"[[", {"a": "]]]"}]
    with pytest.raises(ValueError, match="nesting depth"):
        load_json('["' + "]" * 2000 + '", ' + "[" * 1001 + "]" * 1001 + "]")



def test_a_document_too_deep_never_reaches_the_parser(monkeypatch):
    """Python's parser recurses to the interpreter's limit on ``"[" * 100000``, where code the garbage
    collector runs (a weakref's callback) fails, lost as an unraisable exception (it failed this
    suite once): the depth is measured before anything is parsed."""
    from lambdalab import jackson

    parsed, loads = [], json.loads
    monkeypatch.setattr(jackson.json, "loads", lambda data, **kw: parsed.append(data) or loads(data, **kw))
    for deep in (b"[" * 100_000, "[" * 1001 + "]" * 1001, b'{"a":' * 5000):
        with pytest.raises(ValueError, match="nesting depth"):
            load_json(deep)
    assert parsed == []
    assert load_json(b"[" * 900 + b"]" * 900) and len(parsed) == 1
