"""Invoke: the three invocation types, log tails, client context and the payload limits."""

from __future__ import annotations

import base64
import json
import uuid

import pytest
from botocore.exceptions import ClientError
from deploy import ROLE
from gate import WAIT_AT_GATE, Gate
from test_functions_api import error_of

from lambdalab import zip_files

ECHO = """
def handler(event, context):
    return {"event": event, "arn": context.invoked_function_arn, "request_id": context.aws_request_id,
            "client": context.client_context.custom if context.client_context else None}
"""


def test_request_response_returns_payload_and_headers(fn):
    name = fn.create(ECHO)
    out = fn.invoke(name, {"hello": "world"})
    assert out["StatusCode"] == 200 and "FunctionError" not in out
    assert out["ExecutedVersion"] == "$LATEST"
    assert out["Payload"]["event"] == {"hello": "world"}
    assert out["Payload"]["arn"] == f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
    assert out["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"] == out["Payload"]["request_id"]


def test_empty_payload_is_an_empty_event(fn, lam):
    name = fn.create(ECHO)
    out = json.loads(lam.invoke(FunctionName=name)["Payload"].read())
    assert out["event"] == {}


def test_tail_is_the_last_4_kb_of_this_invocation_log(fn):
    name = fn.create("def handler(e, c):\n    print('x' * 100 * e['n'])\n    return 1\n")
    short = base64.b64decode(fn.invoke(name, {"n": 1}, LogType="Tail")["LogResult"]).decode()
    lines = short.splitlines()
    assert lines[0].startswith("INIT_START") or lines[0].startswith("START")
    assert "x" * 100 in short and lines[-1].startswith("REPORT RequestId: ")
    long = base64.b64decode(fn.invoke(name, {"n": 100}, LogType="Tail")["LogResult"])
    assert len(long) == 4096 and long.decode().splitlines()[-1].startswith("REPORT")


def test_client_context_reaches_the_handler(fn):
    name = fn.create(ECHO)
    ctx = base64.b64encode(json.dumps({"custom": {"user": "ada"}, "env": {}, "client": {}}).encode()).decode()
    assert fn.invoke(name, ClientContext=ctx)["Payload"]["client"] == {"user": "ada"}


def test_bad_client_context_is_refused(fn):
    name = fn.create(ECHO)
    with pytest.raises(ClientError) as e:
        fn.invoke(name, ClientContext="not base64 json!")
    assert error_of(e)[0] == "InvalidRequestContentException"


def test_dry_run_checks_without_running(fn, lam):
    name = fn.create(ECHO)
    before = len(fn.records(name))
    out = lam.invoke(FunctionName=name, InvocationType="DryRun")
    assert out["StatusCode"] == 204
    assert len(fn.records(name)) == before


def test_event_returns_202_and_runs_in_the_background(fn, lam, cloud):
    name = fn.create(WAIT_AT_GATE + "def handler(e, c):\n    wait_at_gate(e['gate'])\n    print('ran', e['k'])\n",
                     Timeout=60)
    with Gate() as gate:
        out = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"k": "v", "gate": gate.port}))
        assert out["StatusCode"] == 202
        gate.wait_inside(1)
        assert len(fn.records(name)) == 0  # the handler is held at the gate: the 202 did not wait for it
    request_id = out["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    record = fn.records_when(name, 1).iloc[0]
    assert (record["request_id"], record["invocation_type"], record["status"]) == (request_id, "Event", "success")


def test_unknown_function_for_invoke_names_latest(lam):
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="no-such-function")
    assert error_of(e) == ("ResourceNotFoundException", "Function not found: "
                           "arn:aws:lambda:us-east-1:123456789012:function:no-such-function:$LATEST", 404)


def test_sync_payload_over_6_mb_is_413(fn, lam):
    name = fn.create(ECHO)
    payload = json.dumps({"d": "x" * (6 * 1024 * 1024)})
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName=name, Payload=payload)
    assert error_of(e) == ("RequestEntityTooLargeException",
                           "Request must be smaller than 6291456 bytes for the InvokeFunction operation", 413)


def test_async_payload_over_1_mb_is_413(fn, lam):
    name = fn.create(ECHO)
    payload = json.dumps({"d": "x" * (1024 * 1024)})
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName=name, Payload=payload, InvocationType="Event")
    assert error_of(e) == ("RequestEntityTooLargeException", f"{len(payload)} byte payload is too large for the "
                           "Event invocation type (limit 1048576 bytes)", 413)


def test_payload_must_be_json(fn, lam):
    name = fn.create(ECHO)
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName=name, Payload=b"{not json")
    code, message, status = error_of(e)
    assert (code, status) == ("InvalidRequestContentException", 400)
    assert message.startswith("Could not parse request body into json: Could not parse payload into json")


def test_response_over_6_mb_is_function_response_size_too_large(fn):
    name = fn.create("def handler(e, c):\n    return 'x' * (7 * 1024 * 1024)\n", MemorySize=512)
    out = fn.invoke(name)
    assert out["FunctionError"] == "Unhandled"
    assert out["Payload"]["errorType"] == "Function.ResponseSizeTooLarge"
    # AWS's words name the limit, not the response's size (tests/fidelity/cases/inv-response-too-large.json)
    assert out["Payload"]["errorMessage"] == \
        "Response payload size exceeded maximum allowed payload size (6291556 bytes)."
    assert fn.invoke(name)["Payload"]["errorType"] == "Function.ResponseSizeTooLarge"  # the environment survives


def test_aws_cli_invokes_through_the_same_endpoint(fn, cloud, tmp_path):
    import os
    import subprocess
    import sys

    name = fn.create(ECHO)
    out = tmp_path / "out.json"
    result = subprocess.run([sys.executable, "-m", "awscli", "lambda", "invoke", "--function-name", name,
                             "--payload", '{"via": "cli"}', str(out)],
                            env={**os.environ, **cloud.environ()}, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["StatusCode"] == 200
    assert json.loads(out.read_text())["event"] == {"via": "cli"}


def test_an_exec_wrapper_starts_the_runtime_with_its_arguments(fn, lam):
    """AWS_LAMBDA_EXEC_WRAPPER: the wrapper (here in the package, at /var/task) runs first and execs the runtime."""
    wrapper = "#!/bin/sh\nexport WRAPPED=\"yes, with $# arguments\"\nexec \"$@\"\n"
    source = "import os\n\ndef handler(event, context):\n    return os.environ.get('WRAPPED')\n"
    name = f"fn-{uuid.uuid4().hex[:10]}"
    package = zip_files({"app.py": source, "wrapper.sh": wrapper}, executable=("wrapper.sh",))
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": package},
                        Environment={"Variables": {"AWS_LAMBDA_EXEC_WRAPPER": "/var/task/wrapper.sh"}})
    try:
        out = fn.invoke(name)
        assert "FunctionError" not in out, out["Payload"]
        assert out["Payload"].startswith("yes, with ") and out["Payload"] != "yes, with 0 arguments"
    finally:
        lam.delete_function(FunctionName=name)
