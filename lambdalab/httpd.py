"""HTTP/1.1 for the local cloud: a bounded threaded server for WSGI apps, and the protocol pieces
(reason phrases, chunked bodies) that the Runtime API shares.

The cloud's endpoint serves SDK clients that keep their connections open: werkzeug's development
server closes every connection (a TCP handshake and a new thread per request, which alone costs
about a millisecond), so the gateway uses this instead.  Each connection gets a named thread that
serves its requests in turn; responses are buffered so every one carries a Content-Length, and
``Expect: 100-continue`` (botocore's large uploads) is answered.

Anything on this machine can talk to the endpoint, a learner's handler included, so nothing a client
sends may hold a thread or memory for long or end in a traceback:

* a request line over 8 KiB gets 414, a head over 64 KiB or 100 header lines 431, a malformed request
  line, header, Content-Length or chunk 400, a transfer coding other than ``chunked`` 501 (RFC 9112
  §6.1), a version other than HTTP/1.x 505; each of these closes the connection;
* a request head must arrive within ``head_timeout`` of its first byte and a body at
  ``min_body_rate`` bytes/s after ``body_timeout`` seconds of grace; else 408 and the connection
  closes (slow-loris clients and truncated bodies end there); an idle keep-alive connection closes
  after ``idle_timeout``;
* a body over ``max_body`` gets 413 before any of it is read.  The default, 256 MiB, is above the
  largest request the Lambda API accepts (CreateFunction's 70,167,211 bytes, which the API itself
  enforces) and far above the 8 MiB parts s3transfer uploads large files in; bodies are held in
  memory (streaming them is out of scope), so a single S3 PutObject above it is refused rather
  than risk a 1-2 GB Binder session;
* at most ``max_connections`` connections (one thread each) are open: a new one evicts the
  connection idle the longest (SDKs reconnect transparently), or, when every connection is busy or
  has just started a request, is answered 503 and closed.

Shared state: ``_connections`` (each connection's phase, for eviction), owned by the server and
guarded by ``_lock``; a connection's socket and buffer belong to its thread.
"""

from __future__ import annotations

import io
import logging
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from http import HTTPStatus
from urllib.parse import unquote

log = logging.getLogger(__name__)
WSGIApp = Callable[[dict, Callable], Iterable[bytes]]
HEADERS = "lambdalab.headers"  # WSGI environ key: the request's headers as received, [(name, value), ...]

MAX_LINE_BYTES = 8192
MAX_HEAD_BYTES = 65536
MAX_HEADER_LINES = 100
MAX_BODY_BYTES = 256 * 1024 * 1024
MAX_CONNECTIONS = 256
_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_REQUEST_LINE = re.compile(rb"(" + _TOKEN + rb") (\S+) HTTP/(\d+)\.(\d+)")
_HEADER = re.compile(rb"(" + _TOKEN + rb"):[ \t]*(.*?)[ \t]*")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,15}")
_RECV = 262144
_IDLE, _READING, _BUSY = "idle", "reading", "busy"


_REASONS = {status.value: status.phrase for status in HTTPStatus}  # looked up per response: no Enum call


def reason(status: int) -> str:
    """The reason phrase of ``status`` (``http.HTTPStatus``'s), for every server in lambdalab."""
    return _REASONS.get(status, "Unknown")


class BadRequest(Exception):
    """A request this server refuses at the protocol level: answered ``status`` and the connection closed."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


class Chunked:
    """A chunked body (RFC 9112 §7.1) decoded as it arrives, from the front of a connection's buffer.

    One decoder for every chunked body lambdalab reads: the endpoint's ``Transfer-Encoding: chunked``
    requests, the Runtime API's, and S3's ``aws-chunked`` uploads, whose chunk extensions carry the
    chunk signatures and whose trailers carry checksums (``chunks`` and ``trailers`` keep them).
    Bytes beyond ``keep`` are counted in ``size`` but dropped, so an oversized body costs no memory.
    """

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.body = bytearray()
        self.size = 0
        self.chunks: list[tuple[bytes, int, int]] = []  # (extensions after the size, start, end in body)
        self.trailers: list[bytes] = []
        self.done = False
        self._left: int | None = None  # data bytes left in the current chunk; None: a size line comes next
        self._ext = b""
        self._start = 0
        self.last_chunk = False  # the zero-size chunk was read: trailers follow

    def feed(self, buf: bytearray) -> bool:
        """Consume what ``buf`` holds of the body; True once it is complete (what follows stays in ``buf``).

        Raises :class:`BadRequest` (400) for a malformed body."""
        pos = 0
        try:
            while not self.done:
                if self._left is None:
                    eol = buf.find(b"\n", pos)
                    if eol < 0:
                        if len(buf) - pos > MAX_LINE_BYTES:
                            raise BadRequest(400, "chunk size line too long")
                        break
                    line = bytes(buf[pos:eol]).removesuffix(b"\r")
                    pos = eol + 1
                    if self.last_chunk:  # a trailer line, or the empty line that ends the body
                        if line:
                            self.trailers.append(line)
                        else:
                            self.done = True
                        continue
                    size, _, self._ext = line.partition(b";")
                    if not _HEX.fullmatch(size.strip()):
                        raise BadRequest(400, "malformed chunk size")
                    self._left, self._start = int(size, 16), self.size
                    if self._left == 0:
                        self.chunks.append((self._ext, self.size, self.size))
                        self.last_chunk, self._left = True, None
                elif self._left:
                    take = min(self._left, len(buf) - pos)
                    if not take:
                        break
                    if self.size + take <= self.keep:
                        self.body += buf[pos:pos + take]
                    self.size += take
                    self._left -= take
                    pos += take
                else:  # the CRLF that ends a chunk's data
                    if len(buf) - pos < 2:
                        break
                    if buf[pos:pos + 2] != b"\r\n":
                        raise BadRequest(400, "chunk data not followed by CRLF")
                    pos += 2
                    self.chunks.append((self._ext, self._start, self.size))
                    self._left = None
        finally:
            del buf[:pos]
        return self.done

    @property
    def too_large(self) -> bool:
        return self.size > self.keep


def request_body(environ: dict) -> bytes:
    """The request's body, left in place for the next reader (this server buffers every body)."""
    stream = environ["wsgi.input"]
    if isinstance(stream, io.BytesIO):
        return stream.getvalue()
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = stream.read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


class _Timeout(Exception):
    pass


class _Connection:
    """A client connection: its socket, bytes received but not yet parsed, and its phase (for eviction)."""

    def __init__(self, sock: socket.socket, peer: tuple) -> None:
        self.sock, self.peer = sock, peer
        self.buffer = bytearray()
        self.phase, self.since = _IDLE, time.monotonic()
        self.evicted = False

    def fill(self, deadline: float) -> None:
        """Receive more bytes before ``deadline`` (monotonic); raise _Timeout, or EOFError when the peer closed."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _Timeout
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(_RECV)
        except TimeoutError:
            raise _Timeout from None
        if not data:
            raise EOFError
        self.buffer += data

    def line(self, limit: int, deadline: float, status: int) -> bytes:
        """One line (without its line ending) of at most ``limit`` bytes, else BadRequest(``status``)."""
        while (eol := self.buffer.find(b"\n")) < 0:
            if len(self.buffer) > limit:
                raise BadRequest(status, "line too long")
            self.fill(deadline)
        if eol > limit:
            raise BadRequest(status, "line too long")
        line = bytes(self.buffer[:eol]).removesuffix(b"\r")
        del self.buffer[:eol + 1]
        return line

    def exactly(self, n: int, deadline: float) -> bytes:
        while len(self.buffer) < n:
            self.fill(deadline)
        data = bytes(self.buffer[:n])
        del self.buffer[:n]
        return data

    def send(self, data: bytes, timeout: float) -> None:
        self.sock.settimeout(timeout)
        self.sock.sendall(data)


class HTTPServer:
    def __init__(self, app: WSGIApp, host: str = "127.0.0.1", port: int = 0, name: str = "lambdalab-http", *,
                 max_connections: int = MAX_CONNECTIONS, max_body: int = MAX_BODY_BYTES,
                 idle_timeout: float = 120.0, head_timeout: float = 10.0, body_timeout: float = 10.0,
                 min_body_rate: float = 1024 * 1024, listener: socket.socket | None = None) -> None:
        self.app, self.name = app, name
        self.max_connections, self.max_body = max_connections, max_body
        self.idle_timeout, self.head_timeout = idle_timeout, head_timeout
        self.body_timeout, self.min_body_rate = body_timeout, min_body_rate
        self.socket = listener or socket.create_server((host, port), backlog=128)  # or one bound by the caller
        self.host, self.port = self.socket.getsockname()[:2]
        self._connections: set[_Connection] = set()
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
            _shutdown(conn.sock)

    def connections(self) -> int:
        """How many client connections are open (each holds one thread)."""
        with self._lock:
            return len(self._connections)

    # -- connections ------------------------------------------------------------------------------
    def _accept(self) -> None:
        while not self._stopped:
            try:
                sock, peer = self.socket.accept()
            except OSError:
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms Nagle stalls on loopback
            conn = _Connection(sock, peer)
            if not self._admit(conn):
                _refuse(conn, 503, "too many connections", linger=0)
                sock.close()
                continue
            threading.Thread(target=self._serve, args=(conn,), name=f"{self.name}-{peer[1]}", daemon=True).start()

    def _admit(self, conn: _Connection) -> bool:
        """Make room for ``conn``: evict the connection idle the longest (or a slow one, stuck reading
        a request for over a second) when at the cap; False when every connection is busy."""
        with self._lock:
            if len(self._connections) >= self.max_connections:
                now = time.monotonic()
                evictable = [c for c in self._connections if not c.evicted and
                             (c.phase == _IDLE or (c.phase == _READING and now - c.since > 1.0))]
                if not evictable:
                    return False
                victim = min(evictable, key=lambda c: (c.phase != _IDLE, c.since))
                victim.evicted = True
                _shutdown(victim.sock)  # its thread sees the end of the stream and leaves
                self._connections.discard(victim)
            self._connections.add(conn)
            return True

    def _phase(self, conn: _Connection, phase: str) -> bool:
        """Move ``conn`` to ``phase``; False when it was evicted meanwhile (then it must not go on)."""
        with self._lock:
            if conn.evicted:
                return False
            conn.phase, conn.since = phase, time.monotonic()
            return True

    def _serve(self, conn: _Connection) -> None:
        try:
            while not self._stopped and self._handle(conn):
                pass
        except (OSError, EOFError, _Timeout):
            pass  # the client went away, was evicted, or stayed idle too long
        except Exception:
            log.exception("%s: error on a connection from %s", self.name, conn.peer)
        finally:
            with self._lock:
                self._connections.discard(conn)
            conn.sock.close()

    # -- one request ------------------------------------------------------------------------------
    def _handle(self, conn: _Connection) -> bool:
        """Serve one request; False when the connection should close."""
        if not conn.buffer:
            conn.fill(time.monotonic() + self.idle_timeout)
        if not self._phase(conn, _READING):
            return False
        try:
            environ, keep = self._read(conn)
        except BadRequest as e:
            _refuse(conn, e.status, e.detail)
            return False
        except _Timeout:
            _refuse(conn, 408, "the request did not arrive in time")
            return False
        if not self._phase(conn, _BUSY):
            return False
        status, response_headers, chunks = self._call(environ)
        payload = b"".join(chunks)
        declared = next((v for k, v in response_headers if k.lower() == "content-length"), None)
        head = [f"HTTP/1.1 {status}"]
        head += [f"{k}: {v}" for k, v in response_headers if k.lower() not in ("content-length", "connection")]
        code = int(status[:3])
        if environ["REQUEST_METHOD"] == "HEAD":  # the length of what a GET would return, and no body
            head.append(f"Content-Length: {declared if declared is not None else len(payload)}")
            payload = b""
        elif not (100 <= code < 200 or code in (204, 304)):
            head.append(f"Content-Length: {len(payload)}")
        head.append("Connection: keep-alive" if keep else "Connection: close")
        conn.send(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload, self._transfer_time(len(payload)))
        return keep and self._phase(conn, _IDLE)

    def _transfer_time(self, size: int) -> float:
        return self.body_timeout + size / self.min_body_rate

    def _read(self, conn: _Connection) -> tuple[dict, bool]:
        """Parse one request from ``conn``: (WSGI environ, keep the connection open after it)."""
        deadline = time.monotonic() + self.head_timeout
        match = _REQUEST_LINE.fullmatch(conn.line(MAX_LINE_BYTES, deadline, 414))
        if match is None:
            raise BadRequest(400, "malformed request line")
        method, target = match.group(1).decode("ascii"), match.group(2).decode("latin-1")
        if match.group(3) != b"1":
            raise BadRequest(505, "only HTTP/1.x is served")
        version = f"HTTP/1.{int(match.group(4))}"
        if not target.startswith("/"):
            raise BadRequest(400, "the request target must be a path")
        headers: list[tuple[str, str]] = []
        size = len(target)
        while line := conn.line(MAX_HEAD_BYTES, deadline, 431):
            size += len(line)
            if size > MAX_HEAD_BYTES or len(headers) >= MAX_HEADER_LINES:
                raise BadRequest(431, "request header fields too large")
            field = _HEADER.fullmatch(line)
            if field is None:
                raise BadRequest(400, "malformed header line")
            headers.append((field.group(1).decode("ascii"), field.group(2).decode("latin-1")))
        lowered: dict[str, str] = {}
        for name, value in headers:
            key = name.lower()
            if key == "content-length" and lowered.get(key, value) != value:
                raise BadRequest(400, "conflicting Content-Length headers")
            lowered[key] = f"{lowered[key]},{value}" if key in lowered and key != "content-length" else value
        body = self._body(conn, lowered)
        environ = environ_for(method, target, headers, body, version=version, server=(self.host, self.port),
                              peer=conn.peer)
        keep = version == "HTTP/1.1" and lowered.get("connection", "").lower() != "close"
        return environ, keep

    def _body(self, conn: _Connection, headers: dict[str, str]) -> bytes:
        coding = headers.get("transfer-encoding")
        length = headers.get("content-length")
        if coding is not None and length is not None:
            raise BadRequest(400, "both Transfer-Encoding and Content-Length")
        if coding is not None and coding.strip().lower() != "chunked":
            raise BadRequest(501, f"unsupported transfer coding {coding!r}")
        if length is not None and not (length.isascii() and length.isdigit()):
            raise BadRequest(400, "malformed Content-Length")
        size = int(length) if length is not None else 0
        if size > self.max_body:
            raise BadRequest(413, f"the request body is larger than {self.max_body} bytes")
        if (coding or size) and headers.get("expect", "").lower() == "100-continue":
            conn.send(b"HTTP/1.1 100 Continue\r\n\r\n", self.body_timeout)
        if coding is None:
            return conn.exactly(size, time.monotonic() + self._transfer_time(size)) if size else b""
        decoder = Chunked(keep=self.max_body)
        started = time.monotonic()
        while not decoder.feed(conn.buffer):
            if decoder.too_large:
                raise BadRequest(413, f"the request body is larger than {self.max_body} bytes")
            conn.fill(started + self._transfer_time(decoder.size + len(conn.buffer)))
        if decoder.too_large:
            raise BadRequest(413, f"the request body is larger than {self.max_body} bytes")
        return bytes(decoder.body)

    def _call(self, environ: dict) -> tuple[str, list[tuple[str, str]], list[bytes]]:
        try:
            return answer(self.app, environ)
        except Exception:
            log.exception("unhandled error serving %s %s", environ["REQUEST_METHOD"], environ["RAW_URI"])
            return "500 Internal Server Error", [("Content-Type", "text/plain")], [b"Internal Server Error"]


def answer(app: WSGIApp, environ: dict) -> tuple[str, list[tuple[str, str]], list[bytes]]:
    """Run the WSGI ``app`` and hold its whole answer, (status, headers, body chunks), what it wrote through
    start_response's callable first; the app's exceptions reach the caller."""
    started: list = []
    chunks: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info=None) -> Callable[[bytes], None]:
        started[:] = [status, headers]
        return chunks.append

    result = app(environ, start_response)
    try:
        chunks.extend(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    return started[0], started[1], chunks


def environ_for(method: str, target: str, headers: list[tuple[str, str]], body: bytes, *,
                version: str = "HTTP/1.1", server: tuple[str, int] = ("127.0.0.1", 0),
                peer: tuple[str, int] = ("127.0.0.1", 0)) -> dict:
    """The WSGI environ of a parsed request.  A header spelled with underscores (``X_Foo``) never
    stands in for its dashed twin (``X-Foo``), which WSGI cannot tell apart: the dashed one wins."""
    path, _, query = target.partition("?")
    environ = {
        "REQUEST_METHOD": method, "SCRIPT_NAME": "", "PATH_INFO": unquote(path, "latin-1"),
        "QUERY_STRING": query, "RAW_URI": target, "REQUEST_URI": target, "SERVER_PROTOCOL": version,
        "SERVER_NAME": server[0], "SERVER_PORT": str(server[1]), "REMOTE_ADDR": peer[0],
        "REMOTE_PORT": str(peer[1]), "CONTENT_LENGTH": str(len(body)), HEADERS: headers,
        "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
    }
    joined: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    for name, value in sorted(joined.items(), key=lambda item: "_" in item[0]):
        key = name.upper().replace("-", "_")
        if key == "CONTENT_TYPE":
            environ.setdefault("CONTENT_TYPE", value)
        elif key not in ("CONTENT_LENGTH", "TRANSFER_ENCODING"):
            environ.setdefault("HTTP_" + key, value)
    return environ


def _refuse(conn: _Connection, status: int, detail: str, linger: float = 1.0) -> None:
    """Answer a protocol-level refusal and end the connection.

    What the client is still sending is drained for up to ``linger`` seconds (and 1 MiB) after our
    FIN: closing a socket with unread data sends a reset, which could destroy the answer before
    the client reads it."""
    body = f"{status} {reason(status)}: {detail}\n".encode()
    head = f"HTTP/1.1 {status} {reason(status)}\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n" \
           "Connection: close\r\n\r\n"
    try:
        conn.send(head.encode() + body, 1.0)
        conn.sock.shutdown(socket.SHUT_WR)
        deadline, drained = time.monotonic() + linger, 0
        while drained < 1 << 20 and (remaining := deadline - time.monotonic()) > 0:
            conn.sock.settimeout(remaining)
            data = conn.sock.recv(_RECV)
            if not data:
                break
            drained += len(data)
    except OSError:
        pass


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
