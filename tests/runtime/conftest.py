"""A fake Lambda Runtime API and a harness that runs the real Python runtime against it.

The runtime is started exactly as the engine starts it (``<python> bootstrap.py``, cwd =
task root, a clean environment with the Lambda variables). Its stdout+stderr pipe is read
only when the runtime POSTs something (and at exit), so every result records what the
runtime had already written to the pipe at that moment.
"""

from __future__ import annotations

import json
import os
import select
import socketserver
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

RUNTIME_DIR = Path(__file__).resolve().parents[2] / "lambdalab" / "runtimes" / "python"
BOOTSTRAP = RUNTIME_DIR / "bootstrap.py"
PYTHON = os.environ.get("LAMBDALAB_TEST_RUNTIME_PYTHON", sys.executable)  # to try other Python versions
ARN = "arn:aws:lambda:us-east-1:123456789012:function:fn"


@dataclass
class Posted:
    """A response or error the runtime POSTed."""

    kind: str  # "response" or "error"
    body: bytes
    headers: dict[str, str]
    log: str  # everything the runtime had written to its stdout/stderr pipe when it POSTed

    def json(self):
        return json.loads(self.body)


class FakeRuntimeAPI:
    """Serves queued events on GET /next and records what the runtime POSTs back."""

    def __init__(self) -> None:
        self.events: list[tuple[str, bytes, dict[str, str]]] = []
        self.posted: dict[str, Posted] = {}
        self.init_error: Posted | None = None
        self.next_requests = 0  # GET /next received
        self.connections = 0
        self.chunked_events = False  # send event bodies with Transfer-Encoding: chunked
        self.unframed_events = False  # send event bodies without length, ended by closing the connection
        self.close_connections = False  # answer every request with Connection: close
        self.response_status = 202
        self.closed = False
        self.cond = threading.Condition()
        self.read_pipe = lambda: None

        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with api.cond:
                    api.connections += 1

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                assert self.path == "/2018-06-01/runtime/invocation/next", self.path
                with api.cond:
                    api.next_requests += 1
                    api.cond.notify_all()
                    api.cond.wait_for(lambda: api.events or api.closed)
                    if api.closed:
                        return
                    request_id, body, headers = api.events.pop(0)
                self.send_response(200)
                headers = {"Lambda-Runtime-Aws-Request-Id": request_id, **headers}
                for name, value in headers.items():
                    if value is not None:
                        self.send_header(name, value)
                self._finish(body, event=True)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                log = api.read_pipe()
                parts = self.path.removeprefix("/2018-06-01/runtime/").split("/")
                posted = Posted(parts[-1], body, {k.lower(): v for k, v in self.headers.items()}, log)
                status = 202
                with api.cond:
                    if parts == ["init", "error"]:
                        api.init_error = posted
                    else:
                        api.posted[parts[1]] = posted
                        status = api.response_status if posted.kind == "response" else 202
                    api.cond.notify_all()
                self.send_response(status)
                self._finish(b'{"status":"OK"}')

            def _finish(self, body: bytes, event: bool = False) -> None:
                unframed = event and api.unframed_events
                if api.close_connections or unframed:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                if unframed:
                    self.end_headers()
                    self.wfile.write(body)
                elif event and api.chunked_events:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for i in range(0, len(body), 1000):
                        piece = body[i : i + 1000]
                        self.wfile.write(b"%x;ext=1\r\n%s\r\n" % (len(piece), piece))
                    self.wfile.write(b"0\r\nX-Trailer: t\r\n\r\n")
                else:
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, address: None  # a killed runtime breaks its connection
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def queue(self, event=None, *, body: bytes | None = None, content_type: str | None = "application/json",
              deadline_ms: int | None = None, headers: dict[str, str] | None = None) -> str:
        request_id = str(uuid.uuid4())
        if body is None:
            body = json.dumps({} if event is None else event).encode()
        deadline_ms = deadline_ms or int(time.time() * 1000) + 30_000
        all_headers = {"Lambda-Runtime-Deadline-Ms": str(deadline_ms), "Lambda-Runtime-Invoked-Function-Arn": ARN,
                       "Content-Type": content_type, **(headers or {})}
        with self.cond:
            self.events.append((request_id, body, all_headers))
            self.cond.notify_all()
        return request_id

    def wait(self, request_id: str, timeout: float = 60) -> Posted:
        """What the runtime posted for ``request_id``. The timeout is only reached when the runtime is
        broken: a busy machine can take many seconds to start an interpreter, so it is generous."""
        with self.cond:
            assert self.cond.wait_for(lambda: request_id in self.posted, timeout), f"no result for {request_id}"
            return self.posted[request_id]

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()
        self.server.shutdown()
        self.server.server_close()


class Runtime:
    """The real runtime process plus its fake Runtime API."""

    def __init__(self, task_root: Path, tmp_root: Path, handler: str, env: dict[str, str]) -> None:
        self.api = FakeRuntimeAPI()
        self.task_root, self.tmp_root = task_root, tmp_root
        self._log = bytearray()
        self._lock = threading.Lock()
        environ = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "_HANDLER": handler,
            "LAMBDA_TASK_ROOT": str(task_root),
            "LAMBDA_RUNTIME_DIR": str(RUNTIME_DIR),
            "AWS_LAMBDA_RUNTIME_API": self.api.address,
            "AWS_LAMBDA_FUNCTION_NAME": "fn",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/fn",
            "AWS_LAMBDA_LOG_STREAM_NAME": "2024/01/01/[$LATEST]abc",
            "AWS_REGION": "us-east-1",
            "TMPDIR": str(self.tmp_root),
            "LAMBDALAB_TMP_ROOT": str(self.tmp_root),
            **env,
        }
        self.python = PYTHON
        self.proc = subprocess.Popen([PYTHON, str(BOOTSTRAP)], cwd=task_root, env=environ,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.api.read_pipe = self.read_pipe

    def read_pipe(self) -> str:
        """Everything written to the pipe so far (non-blocking)."""
        with self._lock:
            while select.select([self.proc.stdout], [], [], 0)[0]:
                try:
                    chunk = os.read(self.proc.stdout.fileno(), 65536)
                except BlockingIOError:
                    break
                if not chunk:
                    break
                self._log += chunk
            return self._log.decode("utf-8", "replace")

    def invoke(self, event=None, **kwargs) -> Posted:
        return self.api.wait(self.api.queue(event, **kwargs))

    def wait_exit(self, timeout: float = 60) -> int:
        code = self.proc.wait(timeout)
        self.read_pipe()
        return code

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.api.close()


@pytest.fixture(scope="session")
def runtime_version() -> str:
    """The Python version (``3.12``) the runtime runs on in these tests."""
    return subprocess.run([PYTHON, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                          capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def start_runtime(tmp_path):
    """``start_runtime({"app.py": source}, handler="app.handler", **env) -> Runtime``."""
    runtimes: list[Runtime] = []

    def start(files: dict[str, str] | str, handler: str = "app.handler", **env: str) -> Runtime:
        task_root, tmp_root = tmp_path / f"task{len(runtimes)}", tmp_path / f"tmp{len(runtimes)}"
        tmp_root.mkdir()
        for name, source in ({"app.py": files} if isinstance(files, str) else files).items():
            path = task_root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(source))
        runtimes.append(Runtime(task_root, tmp_root, handler, env))
        return runtimes[-1]

    yield start
    for runtime in runtimes:
        runtime.stop()
