"""The Python runtime (lambdalab/runtimes/python) against a fake Runtime API.

Expected values follow awslambdaric, the runtime interface client AWS runs for Python.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest

RUNTIME_DIR = Path(__file__).resolve().parents[2] / "lambdalab" / "runtimes" / "python"
TIMESTAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
NBSP = "\u00a0"


def frame(line_no: int, function: str, code: str) -> str:
    """One traceback.format_list entry for app.py, at the path AWS shows (/var/task)."""
    return f'  File "/var/task/app.py", line {line_no}, in {function}\n    {code}\n'


def lines(log: str) -> list[str]:
    """Log lines as the engine splits them: on "\\n" only ("\\r" stays inside a record)."""
    return log.split("\n")[:-1]


def nbsp(line: str) -> str:
    """A log line's indentation as awslambdaric writes it: NO-BREAK SPACEs."""
    stripped = line.lstrip(" ")
    return NBSP * (len(line) - len(stripped)) + stripped


def line_of(source: str, text: str) -> int:
    return next(i for i, line in enumerate(source.splitlines(), 1) if text in line)


# --- responses ------------------------------------------------------------------------

RESULTS = """\
import decimal

def handler(event, context):
    return {
        "dict": {"a": [1, 2.5, None, True], "é": "ü"},
        "str": "hello",
        "bytes": b"\\x00\\xffraw",
        "none": None,
        "nested_bytes": {"b": b"text"},
        "decimal": [decimal.Decimal("1.10"), decimal.Decimal("12345678901234567890.123456789"), decimal.Decimal("NaN")],
        "tuple": (1, "x"),
    }[event["kind"]]
"""


@pytest.mark.parametrize(("kind", "body", "content_type"), [
    ("dict", b'{"a": [1, 2.5, null, true], "\\u00e9": "\\u00fc"}', "application/json"),
    ("str", b'"hello"', "application/json"),
    ("bytes", b"\x00\xffraw", "application/unknown"),
    ("none", b"null", "application/json"),
    ("nested_bytes", b'{"b": "text"}', "application/json"),  # simplejson encodes bytes as UTF-8 text
    ("decimal", b"[1.10, 12345678901234567890.123456789, NaN]", "application/json"),  # exact digits
    ("tuple", b'[1, "x"]', "application/json"),
])
def test_response_marshalling(start_runtime, kind, body, content_type):
    rt = start_runtime(RESULTS)
    posted = rt.invoke({"kind": kind})
    assert (posted.kind, posted.body, posted.headers["content-type"]) == ("response", body, content_type)


def test_python312_does_not_escape_non_ascii(start_runtime):
    rt = start_runtime(RESULTS, AWS_EXECUTION_ENV="AWS_Lambda_python3.12")
    assert rt.invoke({"kind": "dict"}).body == '{"a": [1, 2.5, null, true], "é": "ü"}'.encode()


@pytest.mark.parametrize(("result", "reason"), [
    ("{1, 2}", "Object of type set is not JSON serializable"),
    ("bytearray(b'x')", "Object of type bytearray is not JSON serializable"),  # only bytes pass through
    ("[b'\\xff']", "'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"),
    ("CIRCULAR", "Circular reference detected"),
])
def test_marshal_error(start_runtime, result, reason):
    rt = start_runtime(f"""\
        CIRCULAR = []
        CIRCULAR.append(CIRCULAR)

        def handler(event, context):
            return {result} if event.get("bad") else "ok"
        """)
    request_id = rt.api.queue({"bad": True})
    posted = rt.api.wait(request_id)
    assert posted.kind == "error"
    assert posted.json() == {"errorMessage": f"Unable to marshal response: {reason}",
                             "errorType": "Runtime.MarshalError", "requestId": request_id, "stackTrace": []}
    assert posted.headers["lambda-runtime-function-error-type"] == "Runtime.MarshalError"
    assert rt.invoke({}).body == b'"ok"'  # and the runtime goes on


# --- events ---------------------------------------------------------------------------

ECHO = """\
def handler(event, context):
    return {"type": type(event).__name__, "event": event.decode("latin-1") if isinstance(event, bytes) else event}
"""


@pytest.mark.parametrize(("body", "content_type", "expected"), [
    (b' {"k": ["v", 1.5, -2, true]} \n', "application/json", {"type": "dict", "event": {"k": ["v", 1.5, -2, True]}}),
    ('{"k": "\u00fc"}'.encode("utf-16"), "application/json", {"type": "dict", "event": {"k": "\u00fc"}}),
    (b'"just a string"', "application/json", {"type": "str", "event": "just a string"}),
    (b'{"not": "decoded"}', "application/octet-stream", {"type": "bytes", "event": '{"not": "decoded"}'}),
    (b'{"not": "decoded"}', "application/json; charset=utf-8", {"type": "bytes", "event": '{"not": "decoded"}'}),
    (b"raw \xff", None, {"type": "bytes", "event": "raw \xff"}),  # no Content-Type: raw bytes
])
def test_event_decoding(start_runtime, body, content_type, expected):
    rt = start_runtime(ECHO)
    assert rt.invoke(body=body, content_type=content_type).json() == expected


@pytest.mark.parametrize("body", [b"", b"{not json", b'{"a": 1} trailing', b"\xff\xfe\x00"])
def test_unmarshal_error(start_runtime, body):
    with pytest.raises(ValueError) as json_error:
        json.loads(body)
    rt = start_runtime(ECHO)
    request_id = rt.api.queue(body=body)
    assert rt.api.wait(request_id).json() == {
        "errorMessage": f"Unable to unmarshal input: {json_error.value}", "errorType": "Runtime.UnmarshalError",
        "requestId": request_id, "stackTrace": []}


# --- errors raised by the handler -----------------------------------------------------

FAILING = """\
import sys

class QuietError(Exception):
    pass

def helper(x):
    raise ValueError(f"bad {x}")

def handler(event, context):
    print("before the error")
    sys.stdout.buffer.write(b"buffered bytes\\n")
    if event.get("quiet"):
        raise QuietError()
    if event.get("missing_tmp"):
        open("/tmp/lambdalab-no-such-dir/x.txt")
    return helper(event["x"])
"""


def test_handler_exception(start_runtime):
    rt = start_runtime(FAILING)
    request_id = rt.api.queue({"x": 1})
    posted = rt.api.wait(request_id)
    trace = [frame(line_of(FAILING, "return helper"), "handler", 'return helper(event["x"])'),
             frame(line_of(FAILING, "raise ValueError"), "helper", 'raise ValueError(f"bad {x}")')]
    assert posted.kind == "error"
    assert posted.headers["lambda-runtime-function-error-type"] == "ValueError"
    assert posted.json() == {"errorMessage": "bad 1", "errorType": "ValueError", "requestId": request_id,
                             "stackTrace": trace}
    # Logged as AWS does: one record, lines joined by \r, indentation as NO-BREAK SPACEs.
    expected_log = "\r".join(["[ERROR] ValueError: bad 1", "Traceback (most recent call last):",
                              *(nbsp(line) for entry in trace for line in entry.splitlines())])
    assert lines(posted.log) == ["before the error", "buffered bytes", expected_log]
    assert rt.invoke({"x": 2}).json()["errorMessage"] == "bad 2"  # the environment lives on


def test_exception_without_message(start_runtime):
    rt = start_runtime(FAILING)
    posted = rt.invoke({"quiet": True})
    assert posted.json()["errorType"] == "QuietError"
    assert posted.json()["errorMessage"] == ""
    assert lines(posted.log)[-1].startswith("[ERROR] QuietError\rTraceback (most recent call last):\r")


def test_tmp_errors_name_the_tmp_path_and_hide_the_shim(start_runtime):
    rt = start_runtime(FAILING)
    error = rt.invoke({"missing_tmp": True}).json()
    assert error["errorType"] == "FileNotFoundError"
    assert error["errorMessage"] == "[Errno 2] No such file or directory: '/tmp/lambdalab-no-such-dir/x.txt'"
    assert error["stackTrace"] == [frame(line_of(FAILING, "open("), "handler",
                                         'open("/tmp/lambdalab-no-such-dir/x.txt")')]


def test_sys_exit_ends_the_process(start_runtime):
    rt = start_runtime("""\
        import sys

        def handler(event, context):
            print("exiting")
            sys.exit(3)
        """)
    rt.api.queue({})
    assert rt.wait_exit() == 3
    assert rt.api.posted == {}
    assert rt.read_pipe() == "exiting\n"


# --- init errors ----------------------------------------------------------------------

SYNTAX_ERROR = "def handler(event, context):\n    return (\n\nx = 1\n"


def syntax_error(path):
    """The error for SYNTAX_ERROR at ``path`` (the real file: its text comes from it), named as AWS does."""
    try:
        compile(SYNTAX_ERROR, str(path), "exec")
    except SyntaxError as e:
        return (f"Syntax error in module 'app': {e}", [f'  File "/var/task/app.py" Line {e.lineno}\n    {e.text}'])


@pytest.mark.parametrize(("files", "handler", "error_type", "message"), [
    ("def handler(e, c): pass", "app", "Runtime.MalformedHandlerName",
     "Bad handler 'app': not enough values to unpack (expected 2, got 1)"),
    ("def handler(e, c): pass", "sys.handler", "Runtime.BuiltInModuleConflict",
     "Cannot use built-in module sys as a handler module"),
    ("def handler(e, c): pass", "missing.handler", "Runtime.ImportModuleError",
     "Unable to import module 'missing': No module named 'missing'"),
    ("import not_installed_dep\n", "app.handler", "Runtime.ImportModuleError",
     "Unable to import module 'app': No module named 'not_installed_dep'"),
    ({"pkg/mod.py": "x = 1\n"}, "pkg/mod.nope", "Runtime.HandlerNotFound",
     "Handler 'nope' missing on module 'pkg/mod'"),
    ("def other(e, c): pass", "app.handler", "Runtime.HandlerNotFound", "Handler 'handler' missing on module 'app'"),
    (SYNTAX_ERROR, "app.handler", "Runtime.UserCodeSyntaxError", None),
])
def test_init_error(start_runtime, files, handler, error_type, message):
    rt = start_runtime(files, handler)
    assert rt.wait_exit() == 1
    stack_trace = []
    if message is None:
        message, stack_trace = syntax_error(rt.task_root / "app.py")
    posted = rt.api.init_error
    assert posted.json() == {"errorMessage": message, "errorType": error_type, "requestId": "",
                             "stackTrace": stack_trace}
    assert posted.headers["lambda-runtime-function-error-type"] == error_type
    assert rt.api.next_requests == 0
    warning, error = lines(rt.read_pipe())
    assert re.fullmatch(rf"\[WARNING\]\t{TIMESTAMP}\t\tLAMBDA_WARNING: Unhandled exception\. .*\r", warning)
    trace_lines = [nbsp(line) for entry in stack_trace for line in entry.splitlines()]
    assert error == "\r".join([f"[ERROR] {error_type}: {message}", "Traceback (most recent call last):", *trace_lines])


def test_exception_at_import_keeps_its_type_and_importlib_frames(start_runtime, runtime_version):
    source = "import os\nraise RuntimeError('no config')\n"
    rt = start_runtime(source)
    assert rt.wait_exit() == 1
    error = rt.api.init_error.json()
    assert (error["errorType"], error["errorMessage"], error["requestId"]) == ("RuntimeError", "no config", "")
    trace = error["stackTrace"]
    lang = f"/var/lang/lib/python{runtime_version}"
    assert trace[0].startswith(f'  File "{lang}/importlib/__init__.py", line ') and "in import_module" in trace[0]
    assert trace[-1] == frame(2, "<module>", "raise RuntimeError('no config')")
    assert not any(str(RUNTIME_DIR) in entry for entry in trace)
    assert rt.api.init_error.headers["lambda-runtime-function-error-type"] == "RuntimeError"


def test_handler_path_and_user_module_names(start_runtime):
    rt = start_runtime({"a/b/mod.py": "def func(e, c):\n    return __name__\n"}, "a/b/mod.func")
    assert rt.invoke({}).json() == "a.b.mod"
    rt2 = start_runtime({"bootstrap.py": "def handler(e, c):\n    return NAME\nNAME = 'user bootstrap'\n"},
                        "bootstrap.handler")
    assert rt2.invoke({}).json() == "user bootstrap"  # the task root comes before the runtime's directory


# --- context --------------------------------------------------------------------------

CONTEXT = """\
import os

def handler(event, context):
    cc = context.client_context
    return {
        "repr": repr(context),
        "attrs": {name: getattr(context, name) for name in (
            "aws_request_id", "function_name", "function_version", "invoked_function_arn", "memory_limit_in_mb",
            "log_group_name", "log_stream_name", "tenant_id")},
        "identity": [context.identity.cognito_identity_id, context.identity.cognito_identity_pool_id],
        "client_context": cc and {"custom": cc.custom, "env": cc.env, "client": cc.client and {
            name: getattr(cc.client, name) for name in (
                "installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name")}},
        "w3c": context.w3c(),
        "remaining": context.get_remaining_time_in_millis(),
        "trace": os.environ.get("_X_AMZN_TRACE_ID"),
    }
"""


def test_context(start_runtime):
    rt = start_runtime(CONTEXT)
    client = {"installation_id": "inst", "app_title": "title", "app_version_name": "1.0",
              "app_version_code": "10", "app_package_name": "pkg"}
    client_context = {"custom": {"k": "v"}, "env": {"platform": "x"}, "client": client,
                      "w3c": {"traceparent": "00-abc-01", "baggage": 5, "other": "dropped"}}
    deadline = int(time.time() * 1000) + 600_000
    request_id = rt.api.queue({}, deadline_ms=deadline, headers={
        "Lambda-Runtime-Client-Context": json.dumps(client_context),
        "Lambda-Runtime-Cognito-Identity": json.dumps({"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool"}),
        "Lambda-Runtime-Aws-Tenant-Id": "tenant-7",
        "Lambda-Runtime-Trace-Id": "Root=1-abc;Parent=def;Sampled=1"})
    result = rt.api.wait(request_id).json()
    assert result["attrs"] == {
        "aws_request_id": request_id, "function_name": "fn", "function_version": "$LATEST",
        "invoked_function_arn": "arn:aws:lambda:us-east-1:123456789012:function:fn",
        "memory_limit_in_mb": "256", "log_group_name": "/aws/lambda/fn",
        "log_stream_name": "2024/01/01/[$LATEST]abc", "tenant_id": "tenant-7"}
    assert result["identity"] == ["id-1", "pool"]
    assert result["client_context"] == {"custom": {"k": "v"}, "env": {"platform": "x"}, "client": client}
    assert result["w3c"] == {"traceparent": "00-abc-01"}
    assert 300_000 < result["remaining"] <= 600_000  # counted from the header's deadline, however slow the start
    assert result["trace"] == "Root=1-abc;Parent=def;Sampled=1"
    assert result["repr"].startswith(f"LambdaContext([aws_request_id={request_id},log_group_name=/aws/lambda/fn,")
    assert "identity=CognitoIdentity([cognito_identity_id=id-1,cognito_identity_pool_id=pool])" in result["repr"]

    # Without the optional headers; a deadline already past.
    result = rt.invoke({}, deadline_ms=int(time.time() * 1000) - 5000).json()
    assert result["identity"] == [None, None]
    assert (result["client_context"], result["attrs"]["tenant_id"], result["trace"]) == (None, None, None)
    assert (result["w3c"], result["remaining"]) == ({}, 0)


def test_bad_client_context(start_runtime):
    rt = start_runtime(CONTEXT)
    request_id = rt.api.queue({}, headers={"Lambda-Runtime-Client-Context": "{bad"})
    assert rt.api.wait(request_id).json() == {
        "errorMessage": "Unable to parse Client Context JSON: "
                        "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        "errorType": "Runtime.LambdaContextUnmarshalError", "requestId": request_id, "stackTrace": []}


# --- logs -----------------------------------------------------------------------------

LOGGING = """\
import logging

logger = logging.getLogger()
logger.warning("at import")
logging.basicConfig(level=logging.DEBUG, format="%(message)s")  # a no-op in Lambda: root has a handler

def handler(event, context):
    logger.info("info record")
    logger.warning("multi\\nline")
    logging.getLogger("child").error("child error")
    context.log("via context")
    print("plain print")
    return {"level": logger.level, "handlers": [type(h).__name__ for h in logger.handlers]}
"""


@pytest.mark.parametrize("level", [None, "DEBUG", "trace"])
def test_logging_text_format(start_runtime, level):
    rt = start_runtime(LOGGING, **({"AWS_LAMBDA_LOG_LEVEL": level} if level else {}))
    request_id = rt.api.queue({})
    posted = rt.api.wait(request_id)
    levels = {None: 30, "DEBUG": 10, "trace": 30}  # awslambdaric maps TRACE (upper case only) to DEBUG
    assert posted.json()["level"] == levels[level]
    assert posted.json()["handlers"] == ["LambdaLoggerHandler"]
    expected = [
        (r"\[WARNING\]", "", "at import"),
        *([(r"\[INFO\]", request_id, "info record")] if level == "DEBUG" else []),
        (r"\[WARNING\]", request_id, "multi\rline"),  # one record, one line
        (r"\[ERROR\]", request_id, "child error"),
    ]
    logged = lines(posted.log)
    assert logged[len(expected):] == ["via context", "plain print"]
    for line, (level_name, rid, message) in zip(logged, expected, strict=False):
        assert re.fullmatch(rf"{level_name}\t({TIMESTAMP})\t{rid}\t{re.escape(message)}", line), line
        stamp = datetime.strptime(line.split("\t")[1], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
        assert abs(stamp.timestamp() - time.time()) < 60  # UTC


def test_logging_json_format(start_runtime):
    rt = start_runtime("""\
        import logging

        def handler(event, context):
            if event.get("fail"):
                raise KeyError("k")
            logging.getLogger("app").warning("hello %s", "you", extra={"k": "v"})
            return {}
        """, AWS_LAMBDA_LOG_FORMAT="JSON")
    request_id = rt.api.queue({})
    record = json.loads(lines(rt.api.wait(request_id).log)[-1])
    assert re.fullmatch(TIMESTAMP, record.pop("timestamp"))
    assert record == {"level": "WARNING", "message": "hello you", "logger": "app", "requestId": request_id, "k": "v"}

    request_id = rt.api.queue({"fail": True})
    error = rt.api.wait(request_id)
    record = json.loads(lines(error.log)[-1])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", record.pop("timestamp"))
    assert record == {"level": "ERROR", **error.json()}
    assert list(record) == ["level", "errorMessage", "errorType", "requestId", "stackTrace"]


def test_context_log_and_print_without_logging(start_runtime):
    rt = start_runtime("""\
        import sys

        def handler(event, context):
            context.log("two\\nlines")
            context.log("no newline")
            print("printed\\nacross lines")
            sys.stderr.buffer.write(b"stderr bytes\\n")
            return "logging" in sys.modules
        """)
    posted = rt.invoke({})
    assert posted.json() is False
    assert lines(posted.log) == ["two\rlines", "no newline", "printed", "across lines", "stderr bytes"]


# --- /tmp -----------------------------------------------------------------------------

TMP = """\
import os
import pathlib
import shutil
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

def handler(event, context):
    d = "/tmp/" + event["dir"]
    if event["step"] == "write":
        os.makedirs(d + "/sub")
        with open(d + "/a.txt", "w") as f:
            f.write("from open")
        pathlib.Path(d, "b.txt").write_text("from pathlib")
        shutil.copy(d + "/a.txt", d + "/sub/c.txt")
        os.rename(d + "/sub/c.txt", d + "/c.txt")
        fd, name = tempfile.mkstemp(dir="/tmp", prefix=event["dir"])
        os.close(fd)
        os.remove(name)
        return {"own_file": open(os.path.join(HERE, "data.txt")).read(), "tmpname": name}
    p = pathlib.Path(d)
    result = {
        "read": [open(d + "/a.txt").read(), (p / "b.txt").read_text(), (p / "c.txt").read_text()],
        "exists": [os.path.exists(d), p.exists(), p.is_dir(), os.path.isfile(d + "/a.txt")],
        "listdir": sorted(os.listdir(d)),
        "iterdir": sorted(x.name for x in p.iterdir()),
        "tmp_listing": event["dir"] in os.listdir("/tmp"),
        "size": os.stat(d + "/a.txt").st_size,
    }
    (p / "b.txt").unlink()
    shutil.rmtree(d + "/sub")
    return result
"""


def test_tmp_paths_are_private_to_the_environment(start_runtime):
    name = f"lambdalab-test-{uuid.uuid4().hex[:8]}"
    rt = start_runtime({"app.py": TMP, "data.txt": "task data"})
    written = rt.invoke({"dir": name, "step": "write"}).json()
    # pytest's tmp_path, hence the task root and tmp root, are normally under /tmp themselves:
    # those host paths are not rewritten, so the handler still reads its own files.
    assert written == {"own_file": "task data", "tmpname": written["tmpname"]}
    assert written["tmpname"].startswith(f"/tmp/{name}")
    assert (rt.tmp_root / name / "a.txt").read_text() == "from open"
    assert not os.path.exists(f"/tmp/{name}")

    result = rt.invoke({"dir": name, "step": "read"}).json()
    assert result == {"read": ["from open", "from pathlib", "from open"], "exists": [True] * 4,
                      "listdir": ["a.txt", "b.txt", "c.txt", "sub"], "iterdir": ["a.txt", "b.txt", "c.txt", "sub"],
                      "tmp_listing": True, "size": 9}
    assert sorted(p.name for p in (rt.tmp_root / name).iterdir()) == ["a.txt", "c.txt"]
    assert not os.path.exists(f"/tmp/{name}")


# --- the runtime process itself -------------------------------------------------------

MODULES = """\
import sys

def handler(event, context):
    if event.get("import_logging"):
        import logging
    return sorted(sys.modules)
"""

# traceback is not here: awslambdaric imports it at start, so a first error is not billed for it.
FORBIDDEN = {"http", "urllib", "email", "boto3", "botocore", "logging", "json", "socket", "ssl"}


def test_runtime_imports_stay_lean(start_runtime):
    rt = start_runtime(MODULES)
    baseline = subprocess.run([rt.python, "-c", "import sys; print(' '.join(sys.modules))"], env={},
                              capture_output=True, text=True, check=True).stdout.split()
    loaded = {name.split(".")[0] for name in set(rt.invoke({}).json()) - set(baseline)}
    assert loaded & FORBIDDEN == set()
    assert "logging" in rt.invoke({"import_logging": True}).json()


def test_keep_alive_connection(start_runtime):
    rt = start_runtime(ECHO)
    for i in range(3):
        assert rt.invoke({"i": i}).json()["event"] == {"i": i}
    assert rt.api.connections == 1


def test_server_closing_connections_and_chunked_events(start_runtime):
    rt = start_runtime(ECHO)
    rt.api.close_connections = rt.api.chunked_events = True
    big = {"data": "x" * 200_000, "u": "\u00fc"}
    assert rt.invoke(big).json()["event"] == big
    assert rt.invoke({"i": 2}).json()["event"] == {"i": 2}
    assert rt.api.connections >= 4


def test_event_body_ended_by_connection_close(start_runtime):
    rt = start_runtime(ECHO)
    rt.api.unframed_events = True
    assert rt.invoke({"i": 1}).json()["event"] == {"i": 1}
    assert rt.invoke({"i": 2}).json()["event"] == {"i": 2}


def test_response_too_large_goes_on_to_next_invocation(start_runtime):
    rt = start_runtime(ECHO)
    rt.api.response_status = 413
    assert rt.invoke({"i": 1}).kind == "response"
    rt.api.response_status = 202
    assert rt.invoke({"i": 2}).json()["event"] == {"i": 2}
    assert rt.proc.poll() is None


def test_error_reports_show_paths_as_aws_does(start_runtime, tmp_path, runtime_version):
    """/var/task, /var/lang/lib/pythonX.Y and /tmp in messages and traces, not lambdalab's directories;
    a path that only starts like the task root is left alone."""
    rt = start_runtime({"app.py": """\
        import json, os
        def handler(event, context):
            if event["where"] == "task":
                open(os.path.join(os.environ["LAMBDA_TASK_ROOT"], "missing.json"))
            if event["where"] == "similar":
                raise ValueError(os.environ["LAMBDA_TASK_ROOT"] + "-other/x")
            json.loads("{")
        """})
    task = rt.invoke({"where": "task"}).json()
    assert task["errorMessage"] == "[Errno 2] No such file or directory: '/var/task/missing.json'"
    assert rt.invoke({"where": "similar"}).json()["errorMessage"] == f"{rt.task_root}-other/x"
    trace = rt.invoke({"where": "stdlib"}).json()["stackTrace"]
    lang = f"/var/lang/lib/python{runtime_version}"
    assert [entry.split(",")[0] for entry in trace] == ['  File "/var/task/app.py"'] + \
        [f'  File "{lang}/json/{name}.py"' for name in ("__init__", "decoder", "decoder")]
    assert str(tmp_path) not in json.dumps(trace)


def test_handler_code_is_compiled_at_the_path_aws_shows(start_runtime):
    """Tracebacks the handler formats itself, warnings and inspect name /var/task/app.py and show its source
    lines, as in AWS; ``__file__`` stays the real file, which the handler can open."""
    source = """\
        import inspect, traceback, warnings
        from lib import helper

        def handler(event, context):
            warnings.warn("careful")
            try:
                helper()
            except ValueError:
                text = traceback.format_exc()
            return {"trace": text, "source": inspect.getsource(handler).splitlines()[0],
                    "file": __file__, "readable": open(__file__).read().startswith("import inspect")}
        """
    rt = start_runtime({"app.py": source, "lib.py": "def helper():\n    raise ValueError('deep')\n"})
    out = rt.invoke().json()
    carets = re.compile(r"^ *[~^]+\n", re.MULTILINE)  # Python 3.13 marks the call's position
    assert carets.sub("", out["trace"]) == ("Traceback (most recent call last):\n"
                            '  File "/var/task/app.py", line 7, in handler\n    helper()\n'
                            '  File "/var/task/lib.py", line 2, in helper\n    raise ValueError(\'deep\')\n'
                            "ValueError: deep\n")
    assert out["source"] == "def handler(event, context):"
    assert out["file"] == str(rt.task_root / "app.py") and out["readable"]
    assert not (rt.task_root / "__pycache__").exists()  # none written: /var/task is read-only in AWS
    assert '/var/task/app.py:5: UserWarning: careful\n  warnings.warn("careful")\n' in rt.read_pipe()
