"""lambdalab's Python runtime: the in-environment half of Lambda, like AWS's awslambdaric.

It imports the handler named by ``_HANDLER``, then loops on the Runtime API: GET the
next invocation, call the handler, POST its response or error. Error types, messages,
stack traces, log formats, the context object and JSON marshalling follow awslambdaric
(bootstrap.py, lambda_context.py, lambda_runtime_marshaller.py) so handlers behave as
they do in AWS.

It runs on every cold start, so it imports almost nothing: a small HTTP/1.1 client
over ``_socket`` instead of http.client, the C codec ``_json`` instead of json (which
drags in re), logging only once user code imports it. traceback is imported at start, as
awslambdaric does: loaded lazily, a function's first error would pay (and be billed) for it
inside the invocation, under its CPU share.

Module names are ``_lambdalab_runtime*`` so they cannot collide with user modules.
"""

import _json
import _socket
import os
import sys
import time
import traceback

import _lambdalab_runtime_paths

_RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__))
_PATHS_SHIM = _lambdalab_runtime_paths.__file__
_USER_AGENT = "aws-lambda-python/{}.{}.{}-lambdalab".format(*sys.version_info[:3])
_DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S"
_JSON_LOGS = (os.environ.get("AWS_LAMBDA_LOG_FORMAT") or "").upper() == "JSON"
_ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"

# awslambdaric's lambda_literals.lambda_unhandled_exception_warning_message, logged on init failures.
_UNHANDLED_WARNING = (
    "LAMBDA_WARNING: Unhandled exception. The most likely cause is an issue in the function code. "
    "However, in rare cases, a Lambda runtime update can cause unexpected function behavior. "
    "For functions using managed runtimes, runtime updates can be triggered by a function change, "
    "or can be applied automatically. To determine if the runtime has been updated, check the "
    "runtime version in the INIT_START log entry. If this error correlates with a change in the "
    "runtime version, you may be able to mitigate this error by temporarily rolling back to the "
    "previous runtime version. For more information, see "
    "https://docs.aws.amazon.com/lambda/latest/dg/runtimes-update.html\r"
)


class _Fault(Exception):
    """An error the runtime itself reports, with a ``Runtime.*`` type (awslambdaric's FaultException)."""

    MARSHAL_ERROR = "Runtime.MarshalError"
    UNMARSHAL_ERROR = "Runtime.UnmarshalError"
    USER_CODE_SYNTAX_ERROR = "Runtime.UserCodeSyntaxError"
    HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
    IMPORT_MODULE_ERROR = "Runtime.ImportModuleError"
    BUILT_IN_MODULE_CONFLICT = "Runtime.BuiltInModuleConflict"
    MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"
    LAMBDA_CONTEXT_UNMARSHAL_ERROR = "Runtime.LambdaContextUnmarshalError"

    def __init__(self, error_type: str, msg: str, trace: list | None = None) -> None:
        super().__init__(msg)
        self.error_type, self.msg, self.trace = error_type, msg, trace


class _Invocation:
    """What log records need to know about the invocation in progress."""

    request_id: str | None = None
    tenant_id: str | None = None


# --- JSON -----------------------------------------------------------------------------
# json.loads/dumps are thin Python layers over _json; importing json costs ~7 ms (re).


class _ScanContext:
    """The attributes _json.make_scanner reads, set as json.JSONDecoder() sets them."""

    strict = True
    object_hook = object_pairs_hook = None
    parse_float, parse_int = float, int
    parse_constant = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}.__getitem__


_scan = _json.make_scanner(_ScanContext)
_WHITESPACE = " \t\n\r"  # json.decoder.WHITESPACE


def _loads(data: bytes | str):
    """json.loads(data); json itself is imported only to raise the exact error for bad input."""
    # json.loads detects UTF-16/32 and BOMs from the first bytes: take the fast path only
    # when that detection would pick UTF-8 (first byte ASCII and non-NUL, second non-NUL).
    if isinstance(data, str) or (data and 0 < data[0] < 0x80 and (len(data) < 2 or data[1])):
        try:
            text = data if isinstance(data, str) else data.decode("utf-8", "surrogatepass")
            obj, end = _scan(text, len(text) - len(text.lstrip(_WHITESPACE)))
            if not text[end:].strip(_WHITESPACE):
                return obj
        except Exception:  # _json cannot build its error without json.decoder (SystemError)
            pass
    import json

    return json.loads(data)


_ENCODE_STR = (
    _json.encode_basestring
    if os.environ.get("AWS_EXECUTION_ENV") == "AWS_Lambda_python3.12"  # awslambdaric: ensure_ascii=False there
    else _json.encode_basestring_ascii
)
_RAW_MARK = "\ue000lambdalab-raw-json-" + os.urandom(8).hex() + "\ue000"
_ENCODED_RAW_MARK = _ENCODE_STR(_RAW_MARK)


def _dumps(obj) -> str:
    """Serialize like awslambdaric's simplejson Encoder, on the stdlib's C encoder.

    Reproduced simplejson behaviour: bytes inside the result are written as UTF-8 text;
    decimal.Decimal as its exact digits (RawJSON), NaN as NaN. Output is otherwise
    json.dumps(obj) (same separators, NaN/Infinity allowed, circular check).
    """
    raw: list[str] = []

    def default(o):
        if isinstance(o, bytes):
            return o.decode("utf-8")
        decimal = sys.modules.get("decimal")  # no Decimal can exist unless something imported it
        if decimal is not None and isinstance(o, decimal.Decimal):
            if o.is_nan():
                return float("nan")
            raw.append(str(o))
            return _RAW_MARK
        raise TypeError(f"Object of type {o.__class__.__name__} is not JSON serializable")

    # A fresh encoder each time: after an error the old one's circular-check markers are stale.
    encode = _json.make_encoder({}, default, _ENCODE_STR, None, ": ", ", ", False, False, True)
    text = "".join(encode(obj, 0))
    if raw:
        parts = text.split(_ENCODED_RAW_MARK)
        text = parts[0] + "".join(r + p for r, p in zip(raw, parts[1:], strict=True))
    return text


# --- Runtime API ----------------------------------------------------------------------


class _RuntimeAPI:
    """Minimal HTTP/1.1 client for the Runtime API, on one keep-alive connection.

    http.client costs ~25 ms of imports here (email, socket...). There are no timeouts:
    GET /next blocks until the next invocation, and the process is frozen (SIGSTOP) in
    between. TCP_NODELAY matters: with Nagle, a small request written in two pieces stalls
    for the delayed ACK (40 ms).
    """

    def __init__(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        self._address = address
        self._host, self._port = host.strip("[]").encode(), int(port)  # bytes: str would import encodings.idna
        self._sock = None
        self._buf = bytearray()
        self._received = False

    def request(self, method: str, path: str, body: bytes | None = None, headers: str = ""):
        """Send one request, return (status, headers with lower-case names, body)."""
        head = f"{method} /2018-06-01{path} HTTP/1.1\r\nHost: {self._address}\r\nUser-Agent: {_USER_AGENT}\r\n"
        if body is not None:
            head += f"Content-Length: {len(body)}\r\n"
        data = (head + headers + "\r\n").encode()
        while True:
            reused = self._sock is not None
            if not reused:
                self._connect()
            self._received = False
            try:
                if body is not None and len(body) <= 65536:
                    self._sock.sendall(data + body)
                else:
                    self._sock.sendall(data)
                    if body:
                        self._sock.sendall(body)
                return self._read_response()
            except OSError:
                self._close()
                # Retry only a kept-alive connection the server dropped while we were idle
                # or frozen: nothing came back, so the request was not processed.
                if not reused or self._received:
                    raise

    def _connect(self) -> None:
        family, kind, proto, _, addr = _socket.getaddrinfo(self._host, self._port, 0, _socket.SOCK_STREAM)[0]
        sock = _socket.socket(family, kind, proto)
        sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        sock.connect(addr)
        self._sock = sock
        self._buf.clear()

    def _close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _fill(self) -> None:
        chunk = self._sock.recv(65536)
        if not chunk:
            raise ConnectionResetError("the Runtime API closed the connection")
        self._received = True
        self._buf += chunk

    def _read_until(self, delimiter: bytes) -> bytes:
        start = 0
        while (end := self._buf.find(delimiter, start)) < 0:
            start = max(0, len(self._buf) - len(delimiter) + 1)
            self._fill()
        out = bytes(self._buf[:end])
        del self._buf[: end + len(delimiter)]
        return out

    def _read_exact(self, size: int) -> bytes:
        have = len(self._buf)
        if have >= size:
            out = bytes(self._buf[:size])
            del self._buf[:size]
            return out
        out = bytearray(size)
        out[:have] = self._buf
        self._buf.clear()
        view = memoryview(out)
        while have < size:
            n = self._sock.recv_into(view[have:])
            if not n:
                raise ConnectionResetError("the Runtime API closed the connection")
            self._received = True
            have += n
        return bytes(out)

    def _read_response(self):
        status_line, *lines = self._read_until(b"\r\n\r\n").decode("utf-8", "replace").split("\r\n")
        version, status = status_line.split(" ", 2)[:2]
        status = int(status)
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        connection = headers.get("connection", "").lower()
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = bytearray()
            while size := int(self._read_until(b"\r\n").split(b";", 1)[0], 16):
                body += self._read_exact(size)
                self._read_exact(2)
            while self._read_until(b"\r\n"):  # trailers
                pass
            body = bytes(body)
        elif "content-length" in headers:
            body = self._read_exact(int(headers["content-length"]))
        elif status in (204, 304):
            body = b""
        else:  # delimited by the server closing the connection
            while chunk := self._sock.recv(65536):
                self._buf += chunk
            body, connection = bytes(self._buf), "close"
        if connection == "close" or (version == "HTTP/1.0" and connection != "keep-alive"):
            self._close()
        return status, headers, body


# --- Logs -----------------------------------------------------------------------------


class _Unbuffered:
    """Flush after every write, as awslambdaric wraps sys.stdout and sys.stderr."""

    def __init__(self, stream) -> None:
        self.stream = stream

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        pass

    def __getattr__(self, attr):
        return getattr(self.stream, attr)

    def write(self, msg):
        result = self.stream.write(msg)
        self.stream.flush()
        return result

    def writelines(self, msgs) -> None:
        self.stream.writelines(msgs)
        self.stream.flush()


class _LogSink:
    """Where log records go: one record = one line on stdout.

    In AWS, awslambdaric writes each record as one frame to the telemetry fd, so a
    multi-line record is one CloudWatch event. Here stdout is a pipe the engine splits on
    "\\n", so newlines inside a record become "\\r" (awslambdaric's own no-telemetry-fd rule
    for error records).
    """

    def __init__(self, stream) -> None:
        self._stream = stream  # the real stdout, like the telemetry fd: redirect_stdout does not capture logs

    def log(self, msg: str) -> None:
        if msg.endswith("\n"):
            msg = msg[:-1]
        self._stream.write(msg.replace("\n", "\r") + "\n")

    def log_error(self, message_lines: list[str]) -> None:
        self.log("\r".join(message_lines))


def _log_error(error: dict, sink: _LogSink) -> None:
    """Log an error result as awslambdaric's log_error does."""
    if _JSON_LOGS:
        timestamp = time.strftime(_DATETIME_FORMAT, time.gmtime())
        sink.log_error([_dumps({"timestamp": timestamp, "level": "ERROR", **error})])
        return
    description = "[ERROR]"
    if error["errorType"]:
        description += " " + error["errorType"]
    if error["errorMessage"]:
        if error["errorType"]:
            description += ":"
        description += " " + error["errorMessage"]
    lines = [description, "Traceback (most recent call last):"]
    for element in error["stackTrace"]:
        if element == "":
            lines.append("")
            continue
        for line in element.splitlines():  # indentation as NO-BREAK SPACEs, like awslambdaric
            stripped = line.lstrip(" ")
            lines.append("\u00a0" * (len(line) - len(stripped)) + stripped)
    sink.log_error(lines)


class _LoggingHook:
    """Meta-path finder: set up the root logger the moment `logging` is first imported.

    awslambdaric configures logging before importing the handler (so basicConfig() is a
    no-op in Lambda); importing logging costs ~12 ms, so we wait until user code does.
    """

    sink: _LogSink
    invocation: _Invocation

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name != "logging":
            return None
        sys.meta_path.remove(cls)
        for finder in sys.meta_path:
            spec = finder.find_spec(name, path, target) if hasattr(finder, "find_spec") else None
            if spec is not None:
                spec.loader = _LoggingLoader(spec.loader)
                return spec
        return None

    @classmethod
    def install(cls, sink: _LogSink, invocation: _Invocation) -> None:
        cls.sink, cls.invocation = sink, invocation
        if "logging" in sys.modules:
            cls.setup_logging()
        else:
            sys.meta_path.insert(0, cls)

    @classmethod
    def setup_logging(cls) -> None:
        dont_write_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, False  # ours: see bootstrap.py
        import _lambdalab_runtime_logging

        sys.dont_write_bytecode = dont_write_bytecode
        _lambdalab_runtime_logging.install(cls.sink, cls.invocation, _JSON_LOGS)


class _LoggingLoader:
    """Runs the real loader for `logging`, then the Lambda logging setup."""

    def __init__(self, loader) -> None:
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        module.__loader__ = module.__spec__.loader = self.loader
        self.loader.exec_module(module)
        _LoggingHook.setup_logging()


# --- Context --------------------------------------------------------------------------


class LambdaContext:
    """The handler's second argument, as awslambdaric's lambda_context.LambdaContext."""

    def __init__(self, invoke_id, client_context, cognito_identity, epoch_deadline_time_in_ms,
                 invoked_function_arn=None, tenant_id=None, log_sink=None) -> None:
        self.aws_request_id = invoke_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = invoked_function_arn
        self.tenant_id = tenant_id
        # clientContext.w3c is taken out of client_context and exposed through w3c() only.
        w3c = client_context.pop("w3c", None) if isinstance(client_context, dict) else None
        w3c = w3c if isinstance(w3c, dict) else {}
        self._w3c_fields = {key: w3c[key] for key in ("traceparent", "tracestate", "baggage")
                            if isinstance(w3c.get(key), str)}
        self.client_context = _from_dict(ClientContext, client_context)
        if self.client_context is not None:
            self.client_context.client = _from_dict(Client, self.client_context.client)
        self.identity = _from_dict(CognitoIdentity, {})
        if cognito_identity is not None:
            self.identity.cognito_identity_id = cognito_identity.get("cognitoIdentityId")
            self.identity.cognito_identity_pool_id = cognito_identity.get("cognitoIdentityPoolId")
        self._epoch_deadline_time_in_ms = epoch_deadline_time_in_ms
        self._log_sink = log_sink

    def get_remaining_time_in_millis(self) -> int:
        delta_ms = self._epoch_deadline_time_in_ms - int(time.time() * 1000)
        return delta_ms if delta_ms > 0 else 0

    def w3c(self) -> dict:
        """The W3C trace-context fields the invoker passed in clientContext.w3c."""
        return dict(self._w3c_fields)

    def log(self, msg) -> None:
        # awslambdaric writes through the root logger's Lambda handler, or to stdout when
        # user code removed it. Without `logging` imported, the handler is still "there".
        logging = sys.modules.get("logging")
        if logging is not None:
            for handler in logging.getLogger().handlers:
                if hasattr(handler, "log_sink"):
                    handler.log_sink.log(str(msg))
                    return
            sys.stdout.write(str(msg))
        else:
            self._log_sink.log(str(msg))

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}([aws_request_id={self.aws_request_id},"
            f"log_group_name={self.log_group_name},log_stream_name={self.log_stream_name},"
            f"function_name={self.function_name},memory_limit_in_mb={self.memory_limit_in_mb},"
            f"function_version={self.function_version},invoked_function_arn={self.invoked_function_arn},"
            f"client_context={self.client_context},identity={self.identity},tenant_id={self.tenant_id}])"
        )


class _SlotsRepr:
    """repr() in awslambdaric's format, fields in __slots__ order."""

    __slots__ = ()

    def __repr__(self) -> str:
        fields = ",".join(f"{name}={getattr(self, name)}" for name in self.__slots__)
        return f"{self.__class__.__name__}([{fields}])"


class CognitoIdentity(_SlotsRepr):
    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")


class Client(_SlotsRepr):
    __slots__ = ("installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name")  # noqa: RUF023


class ClientContext(_SlotsRepr):
    __slots__ = ("custom", "env", "client")  # noqa: RUF023


def _from_dict(cls, values):
    if values is None:
        return None
    obj = cls()
    for name in cls.__slots__:
        setattr(obj, name, values.get(name))
    return obj


def _parse_json_header(value: str, name: str):
    try:
        return _loads(value)
    except Exception as e:
        raise _Fault(_Fault.LAMBDA_CONTEXT_UNMARSHAL_ERROR, f"Unable to parse {name} JSON: {e}") from None


# --- Handler --------------------------------------------------------------------------


def _get_handler(handler: str):
    """Import the handler function, raising the _Fault awslambdaric raises for each failure."""
    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as e:
        raise _Fault(_Fault.MALFORMED_HANDLER_NAME, f"Bad handler '{handler}': {e}") from None
    try:
        if modname.split(".")[0] in sys.builtin_module_names:
            raise _Fault(_Fault.BUILT_IN_MODULE_CONFLICT, f"Cannot use built-in module {modname} as a handler module")
        import importlib  # import_module, not __import__: its frames appear in init stack traces in AWS

        module = importlib.import_module(modname.replace("/", "."))
    except ImportError as e:
        raise _Fault(_Fault.IMPORT_MODULE_ERROR, f"Unable to import module '{modname}': {e}") from None
    except SyntaxError as e:
        trace = [f'  File "{_aws(e.filename)}" Line {e.lineno}\n    {e.text}']
        raise _Fault(_Fault.USER_CODE_SYNTAX_ERROR, f"Syntax error in module '{modname}': {e}", trace) from None
    try:
        return getattr(module, fname)
    except AttributeError:
        raise _Fault(_Fault.HANDLER_NOT_FOUND, f"Handler '{fname}' missing on module '{modname}'") from None


_AWS_NAMES: list = []  # host directories and the paths AWS shows for them, set once by main()


def _aws(text: str) -> str:
    return _lambdalab_runtime_paths.rename(text, _AWS_NAMES)


def _make_error(message, error_type, stack_trace, request_id=None) -> dict:
    """An error result as AWS reports it, its paths shown as AWS names them (/var/task, /opt, ...)."""
    return {
        "errorMessage": _aws(message or ""),
        "errorType": error_type or "",
        "requestId": request_id if request_id is not None else "",
        "stackTrace": [_aws(entry) for entry in stack_trace or []],
    }


def _exception_error(exc: BaseException, request_id=None) -> dict:
    """The error result for an exception from user code, with the user's frames only."""
    frames = [(f.filename, f.lineno, f.name, f.line) for f in traceback.extract_tb(exc.__traceback__)]
    # As awslambdaric: drop the runtime's own leading frames (all kept if nothing else is there).
    for i, frame in enumerate(frames):
        if os.path.dirname(frame[0]) != _RUNTIME_DIR:
            frames = frames[i:]
            break
    # The /tmp and /opt shim stands in for C functions: AWS shows no frame for it.
    frames = [frame for frame in frames if frame[0] != _PATHS_SHIM]
    return _make_error(str(exc), type(exc).__name__, traceback.format_list(frames), request_id)


# --- Main loop ------------------------------------------------------------------------


def _flush() -> None:
    """Flush what user code wrote, bypassing our unbuffered wrappers (e.g. sys.stdout.buffer)."""
    sys.__stdout__.flush()
    sys.__stderr__.flush()


def _invoke(api: _RuntimeAPI, handler, request_id: str, headers: dict, body: bytes, sink: _LogSink) -> None:
    error = None
    try:
        client_context = headers.get("lambda-runtime-client-context") or None
        cognito_identity = headers.get("lambda-runtime-cognito-identity") or None
        context = LambdaContext(
            request_id,
            client_context and _parse_json_header(client_context, "Client Context"),
            cognito_identity and _parse_json_header(cognito_identity, "Cognito Identity"),
            int(headers.get("lambda-runtime-deadline-ms") or 0),
            headers.get("lambda-runtime-invoked-function-arn"),
            headers.get("lambda-runtime-aws-tenant-id") or None,
            sink,
        )
        if headers.get("content-type") == "application/json":
            try:
                event = _loads(body)
            except Exception as e:
                raise _Fault(_Fault.UNMARSHAL_ERROR, f"Unable to unmarshal input: {e}") from None
        else:
            event = body
        response = handler(event, context)
        if isinstance(response, bytes):
            result, content_type = response, "application/unknown"
        else:
            try:
                result, content_type = _dumps(response), "application/json"
            except Exception as e:
                raise _Fault(_Fault.MARSHAL_ERROR, f"Unable to marshal response: {e}") from None
    except _Fault as e:
        error = _make_error(e.msg, e.error_type, e.trace, request_id)
    except Exception as e:
        error = _exception_error(e, request_id)

    if error is not None:
        _log_error(error, sink)
        _flush()
        api.request("POST", f"/runtime/invocation/{request_id}/error", _dumps(error).encode(),
                    f"{_ERROR_TYPE_HEADER}: {error['errorType']}\r\nContent-Type: application/json\r\n")
    else:
        if isinstance(result, str):
            result = result.encode("utf-8")
        _flush()
        # 202, or 413 when the response is too large: either way, on to the next invocation.
        api.request("POST", f"/runtime/invocation/{request_id}/response", result, f"Content-Type: {content_type}\r\n")


def _init_failed(api: _RuntimeAPI, error: dict, sink: _LogSink):
    import logging  # as awslambdaric, the warning goes through the root logger (our hook sets it up)

    logging.warning(_UNHANDLED_WARNING)
    _log_error(error, sink)
    _flush()
    api.request("POST", "/runtime/init/error", _dumps(error).encode(),
                f"{_ERROR_TYPE_HEADER}: {error['errorType']}\r\nContent-Type: application/json\r\n")
    sys.exit(1)


def _layer_paths(opt_root) -> list:
    """/opt/python/lib/pythonX.Y/site-packages and /opt/python, for the function's Python version."""
    if not opt_root:
        return []
    runtime = (os.environ.get("AWS_EXECUTION_ENV") or "").rpartition("_")[2]  # AWS_Lambda_python3.12
    version = runtime if runtime.startswith("python") else "python{}.{}".format(*sys.version_info[:2])
    return [os.path.join(opt_root, "python", "lib", version, "site-packages"), os.path.join(opt_root, "python")]


def main() -> None:
    task_root = os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd()
    # Where the engine keeps this environment's /tmp and the layers' /opt: the runtime's to know, not
    # the handler's (AWS's environment has no such variables).
    tmp_root, opt_root = os.environ.pop("LAMBDALAB_TMP_ROOT", None), os.environ.pop("LAMBDALAB_OPT_ROOT", None)
    sys.dont_write_bytecode = True  # /var/task is read-only in AWS: no __pycache__ beside the handler's modules
    # The interpreter put this script's directory first; user modules must win, so the task
    # root goes first, then the layers' directories (awslambdaric's order), and our directory
    # last (its modules have private names anyway). The engine's own site-packages, given as
    # arguments when this is another interpreter, come after this one's (boto3, as AWS's /var/runtime).
    first, engine_site = [task_root, *_layer_paths(opt_root)], sys.argv[1:]
    del sys.argv[1:]
    sys.path[:] = first + [p for p in sys.path if p not in (*first, _RUNTIME_DIR)] + engine_site + [_RUNTIME_DIR]

    sys.stdout = _Unbuffered(sys.stdout)
    sys.stderr = _Unbuffered(sys.stderr)
    sink = _LogSink(sys.stdout)
    invocation = _Invocation()
    api = _RuntimeAPI(os.environ["AWS_LAMBDA_RUNTIME_API"])

    mounts = {point: root for point, root in (("/tmp", tmp_root), ("/opt", opt_root)) if root}
    if mounts:
        keep = [task_root, _RUNTIME_DIR, sys.prefix, sys.base_prefix, sys.exec_prefix, *sys.path]
        _lambdalab_runtime_paths.install(mounts, keep)
    _AWS_NAMES[:] = _lambdalab_runtime_paths.aws_names(task_root, mounts)
    _lambdalab_runtime_paths.compile_as_aws([(task_root, "/var/task")] + ([(opt_root, "/opt")] if opt_root else []))
    _LoggingHook.install(sink, invocation)

    try:
        handler = _get_handler(os.environ.get("_HANDLER", ""))
    except _Fault as e:
        _init_failed(api, _make_error(e.msg, e.error_type, e.trace), sink)
    except Exception as e:
        _init_failed(api, _exception_error(e), sink)

    while True:
        status, headers, body = api.request("GET", "/runtime/invocation/next")
        if status != 200:
            raise RuntimeError(f"Failed to get next invocation: HTTP {status}: {body[:200]!r}")
        request_id = headers.get("lambda-runtime-aws-request-id")
        invocation.request_id = request_id
        invocation.tenant_id = headers.get("lambda-runtime-aws-tenant-id") or None
        trace_id = headers.get("lambda-runtime-trace-id")
        if trace_id:
            os.environ["_X_AMZN_TRACE_ID"] = trace_id
        else:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        _invoke(api, handler, request_id, headers, body, sink)
