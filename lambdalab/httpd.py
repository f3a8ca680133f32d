"""A small threaded HTTP/1.1 server for WSGI apps, with keep-alive.

The cloud's endpoint serves SDK clients that keep their connections open: werkzeug's
development server closes every connection (a TCP handshake and a new thread per request,
which alone costs about a millisecond), so the gateway uses this instead.  Each connection gets
a named thread that serves its requests in turn; responses are buffered so every one carries a
Content-Length, and ``Expect: 100-continue`` (botocore's large uploads) is answered.
"""

from __future__ import annotations

import io
import logging
import socket
import sys
import threading
from collections.abc import Callable, Iterable
from urllib.parse import unquote

log = logging.getLogger(__name__)
WSGIApp = Callable[[dict, Callable], Iterable[bytes]]
MAX_HEADER_BYTES = 65536


class HTTPServer:
    def __init__(self, app: WSGIApp, host: str = "127.0.0.1", port: int = 0, name: str = "lambdalab-http",
                 listener: socket.socket | None = None) -> None:
        self.app, self.name = app, name
        self.socket = listener or socket.create_server((host, port), backlog=128)  # or one bound by the caller
        self.host, self.port = self.socket.getsockname()[:2]
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stopped = False
        self._thread = threading.Thread(target=self._accept, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting, close every open connection and wait for their threads."""
        self._stopped = True
        try:
            self.socket.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.socket.close()
        self._thread.join(timeout=5)
        with self._lock:
            conns = list(self._connections)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _accept(self) -> None:
        while not self._stopped:
            try:
                conn, peer = self.socket.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms Nagle stalls on loopback
            with self._lock:
                self._connections.add(conn)
            threading.Thread(target=self._serve, args=(conn, peer), name=f"{self.name}-{peer[1]}",
                             daemon=True).start()

    def _serve(self, conn: socket.socket, peer: tuple) -> None:
        reader = conn.makefile("rb", buffering=65536)
        try:
            while not self._stopped and self._handle(conn, reader, peer):
                pass
        except (OSError, ValueError):
            pass  # the client went away
        finally:
            with self._lock:
                self._connections.discard(conn)
            reader.close()
            conn.close()

    def _handle(self, conn: socket.socket, reader, peer: tuple) -> bool:
        """Serve one request; False when the connection should close."""
        line = reader.readline(MAX_HEADER_BYTES)
        if not line:
            return False
        method, target, version = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
        headers: list[tuple[str, str]] = []
        while (raw := reader.readline(MAX_HEADER_BYTES)) not in (b"\r\n", b"\n", b""):
            name, _, value = raw.decode("latin-1").partition(":")
            headers.append((name.strip(), value.strip()))
        lowered = {k.lower(): v for k, v in headers}
        if lowered.get("expect", "").lower() == "100-continue":
            conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        if lowered.get("transfer-encoding", "").lower() == "chunked":
            body = _read_chunked(reader)
        else:
            body = reader.read(int(lowered.get("content-length") or 0))
        path, _, query = target.partition("?")
        environ = {
            "REQUEST_METHOD": method, "SCRIPT_NAME": "", "PATH_INFO": unquote(path, "latin-1"),
            "QUERY_STRING": query, "RAW_URI": target, "REQUEST_URI": target, "SERVER_PROTOCOL": version,
            "SERVER_NAME": self.host, "SERVER_PORT": str(self.port), "REMOTE_ADDR": peer[0],
            "REMOTE_PORT": str(peer[1]), "CONTENT_LENGTH": str(len(body)),
            "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
        }
        for name, value in headers:
            key = name.upper().replace("-", "_")
            if key == "CONTENT_TYPE":
                environ["CONTENT_TYPE"] = value
            elif key not in ("CONTENT_LENGTH", "TRANSFER_ENCODING"):
                key = "HTTP_" + key
                environ[key] = f"{environ[key]},{value}" if key in environ else value
        status, response_headers, chunks = self._call(environ)
        payload = b"".join(chunks)
        declared = next((v for k, v in response_headers if k.lower() == "content-length"), None)
        keep = version == "HTTP/1.1" and lowered.get("connection", "").lower() != "close"
        head = [f"HTTP/1.1 {status}"]
        head += [f"{k}: {v}" for k, v in response_headers if k.lower() not in ("content-length", "connection")]
        code = int(status[:3])
        if method == "HEAD":  # the length of what a GET would return, and no body
            head.append(f"Content-Length: {declared if declared is not None else len(payload)}")
            payload = b""
        elif not (100 <= code < 200 or code in (204, 304)):
            head.append(f"Content-Length: {len(payload)}")
        head.append("Connection: keep-alive" if keep else "Connection: close")
        conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload)
        return keep

    def _call(self, environ: dict) -> tuple[str, list[tuple[str, str]], list[bytes]]:
        started: list = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info=None):
            started[:] = [status, headers]
            return lambda data: chunks.append(data)

        chunks: list[bytes] = []
        try:
            result = self.app(environ, start_response)
            try:
                chunks.extend(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
        except Exception:
            log.exception("unhandled error serving %s %s", environ["REQUEST_METHOD"], environ["RAW_URI"])
            return "500 Internal Server Error", [("Content-Type", "text/plain")], [b"Internal Server Error"]
        return started[0], started[1], chunks


def _read_chunked(reader) -> bytes:
    body = bytearray()
    while True:
        size = int(reader.readline(MAX_HEADER_BYTES).split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while reader.readline(MAX_HEADER_BYTES) not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return bytes(body)
        body += reader.read(size)
        reader.readline(MAX_HEADER_BYTES)
