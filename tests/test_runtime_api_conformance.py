"""The Runtime API is AWS's, not only our runtime's: other conforming runtime clients work against it.

Custom runtimes (``provided.al2023``) start the package's own ``bootstrap``, which here runs
AWS's official Python runtime interface client (awslambdaric) or a hand-written loop like the
one in AWS's custom-runtime tutorial.
"""

from __future__ import annotations

import base64
import sys

from lambdalab import zip_files

HANDLER = """
def handler(event, context):
    if event.get("fail"):
        raise RuntimeError("custom runtime saw a failure")
    return {"got": event, "remaining": context.get_remaining_time_in_millis() > 0}
"""

TUTORIAL_LOOP = f"""#!{sys.executable}
import json, os, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
while True:
    with urllib.request.urlopen(api + "next") as r:
        request_id = r.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(r.read())
    body = json.dumps({{"echo": event, "handler": os.environ["_HANDLER"]}}).encode()
    urllib.request.urlopen(urllib.request.Request(api + request_id + "/response", data=body, method="POST")).read()
"""


def create_custom(fn, files: dict[str, str], handler: str = "app.handler") -> str:
    import uuid

    name = f"custom-{uuid.uuid4().hex[:8]}"
    fn.lam.create_function(FunctionName=name, Runtime="provided.al2023",
                           Role="arn:aws:iam::123456789012:role/lambda-role", Handler=handler,
                           Code={"ZipFile": zip_files(files)}, Timeout=30)
    return name


def test_awslambdaric_runs_against_the_runtime_api(fn):
    name = create_custom(fn, {"bootstrap": f"#!/bin/sh\nexec {sys.executable} -m awslambdaric \"$_HANDLER\"\n",
                              "app.py": HANDLER})
    ok = fn.invoke(name, {"k": 1}, LogType="Tail")
    assert ok["Payload"] == {"got": {"k": 1}, "remaining": True} and "FunctionError" not in ok
    assert base64.b64decode(ok["LogResult"]).decode().splitlines()[-1].startswith("REPORT RequestId: ")
    failed = fn.invoke(name, {"fail": True})
    assert failed["FunctionError"] == "Unhandled"
    assert failed["Payload"]["errorType"] == "RuntimeError"
    assert failed["Payload"]["errorMessage"] == "custom runtime saw a failure"
    assert fn.records(name)["cold"].tolist() == [True, False]


def test_a_tutorial_style_bootstrap_runs(fn):
    name = create_custom(fn, {"bootstrap": TUTORIAL_LOOP}, handler="function.handler")
    assert fn.invoke(name, {"a": 1})["Payload"] == {"echo": {"a": 1}, "handler": "function.handler"}
    assert fn.invoke(name, {"a": 2})["Payload"]["echo"] == {"a": 2}


def test_no_os_only_runtime_gets_aws_execution_env(fn):
    probe = f"#!{sys.executable}\n" + TUTORIAL_LOOP.split("\n", 1)[1].replace(
        '{"echo": event, "handler": os.environ["_HANDLER"]}', '{"exec_env": os.environ.get("AWS_EXECUTION_ENV")}')
    assert fn.invoke(create_custom(fn, {"bootstrap": probe}))["Payload"] == {"exec_env": None}


def test_missing_bootstrap_is_runtime_invalid_entrypoint(fn):
    out = fn.invoke(create_custom(fn, {"app.py": HANDLER}))
    assert out["FunctionError"] == "Unhandled"
    assert out["Payload"]["errorType"] == "Runtime.InvalidEntrypoint"
    assert out["Payload"]["errorMessage"].endswith(
        "Error: Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]")


def test_bootstrap_that_is_not_executable_is_runtime_invalid_entrypoint(fn):
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o644 << 16
        archive.writestr(info, TUTORIAL_LOOP)
    fn.lam.create_function(FunctionName="not-executable", Runtime="provided.al2023", Handler="x.y",
                           Role="arn:aws:iam::123456789012:role/lambda-role", Code={"ZipFile": buffer.getvalue()})
    out = fn.invoke("not-executable")
    assert out["Payload"]["errorType"] == "Runtime.InvalidEntrypoint"
    assert "permission denied" in out["Payload"]["errorMessage"]
