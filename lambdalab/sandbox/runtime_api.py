"""The Lambda Runtime API (2018-06-01) as one environment's runtime sees it: HTTP/1.1 on loopback.

This module only speaks the protocol: it accepts connections, parses requests (Content-Length
or chunked bodies, keep-alive) and writes responses; a request it cannot parse (the runtime is
the learner's code: a custom ``bootstrap`` may send anything) is answered 400 and its connection
closed.  What a request *means* is decided by
:class:`~lambdalab.sandbox.environment.ExecutionEnvironment`, whose thread drives this server
together with the runtime's output pipe in one ``selectors`` loop, so a request costs no thread
hand-off.  Bodies over ``max_body`` are read and dropped, never buffered.
"""

from __future__ import annotations

import json
import selectors
import socket
from dataclasses import dataclass, field

from ..httpd import MAX_HEAD_BYTES, BadRequest, Chunked, reason

PREFIX = "/2018-06-01"


@dataclass
class Request:
    conn: Connection
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    too_large: bool = False
    size: int = 0  # body length as sent (kept when an oversized body was dropped)


@dataclass
class _Head:
    """A request whose line and headers arrived, waiting for its body."""

    method: str
    path: str
    headers: dict[str, str]
    length: int = 0
    chunked: Chunked | None = None


@dataclass(eq=False)  # connections are compared (and hashed) by identity
class Connection:
    sock: socket.socket
    buffer: bytearray = field(default_factory=bytearray)
    discard: int = 0  # body bytes still to drop for an oversized request
    pending: Request | None = None  # the oversized request, answered once its body is drained
    head: _Head | None = None

    def respond(self, status: int, body: bytes | dict = b"", headers: dict[str, str] | None = None) -> None:
        if isinstance(body, dict):
            body = json.dumps(body).encode()
        head = [f"HTTP/1.1 {status} {reason(status)}", f"Content-Length: {len(body)}"]
        if body and not (headers and "Content-Type" in headers):
            head.append("Content-Type: application/json")
        head.extend(f"{k}: {v}" for k, v in (headers or {}).items())
        try:
            self.sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        except OSError:
            pass  # the runtime went away; the environment notices through its process


class RuntimeAPIServer:
    """Listening socket and connections of one environment, registered on the caller's selector."""

    def __init__(self, selector: selectors.BaseSelector, max_body: int) -> None:
        self.selector = selector
        self.max_body = max_body
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=16)
        self.listener.setblocking(False)
        self.address = f"127.0.0.1:{self.listener.getsockname()[1]}"
        selector.register(self.listener, selectors.EVENT_READ, self._accept)
        self.connections: set[Connection] = set()

    def _accept(self) -> list[Request]:
        try:
            sock, _ = self.listener.accept()
        except BlockingIOError:
            return []
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        conn = Connection(sock)
        self.connections.add(conn)
        self.selector.register(sock, selectors.EVENT_READ, lambda: self._read(conn))
        return []

    def _read(self, conn: Connection) -> list[Request]:
        try:
            data = conn.sock.recv(262144)
        except BlockingIOError:
            return []
        except OSError:
            data = b""
        if not data:
            self.drop(conn)
            return []
        if conn.discard:
            dropped = min(conn.discard, len(data))
            conn.discard -= dropped
            data = data[dropped:]
            if conn.discard:
                return []
        conn.buffer += data
        requests = [conn.pending] if conn.pending and not conn.discard else []
        conn.pending = None
        try:
            while not conn.discard and (request := self._parse(conn)) is not None:
                if conn.discard:
                    conn.pending = request
                    break
                requests.append(request)
        except BadRequest as e:
            conn.respond(e.status, {"errorMessage": e.detail, "errorType": "InvalidRequest"})
            self.drop(conn)
        return requests

    def _parse(self, conn: Connection) -> Request | None:
        """The next complete request in the connection's buffer, or None until more arrives."""
        head = conn.head = conn.head or self._head(conn.buffer)
        if head is None:
            return None
        buf = conn.buffer
        if head.chunked is not None:
            if not head.chunked.feed(buf):
                return None
            conn.head, body = None, head.chunked
            return Request(conn, head.method, head.path, head.headers, b"" if body.too_large else bytes(body.body),
                           body.too_large, body.size)
        length = head.length
        if length > self.max_body:
            conn.head, available = None, min(len(buf), length)
            del buf[:available]
            conn.discard = length - available
            return Request(conn, head.method, head.path, head.headers, b"", too_large=True, size=length)
        if len(buf) < length:
            return None
        conn.head, body = None, bytes(buf[:length])
        del buf[:length]
        return Request(conn, head.method, head.path, head.headers, body, size=length)

    def _head(self, buf: bytearray) -> _Head | None:
        """Parse (and consume) a request line and headers, once all of them are in ``buf``."""
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > MAX_HEAD_BYTES:
                raise BadRequest(431, "request header fields too large")
            return None
        lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
        del buf[:end + 4]
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[1].startswith("/") or not parts[2].startswith("HTTP/1."):
            raise BadRequest(400, "malformed request line")
        headers = {}
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon or not name or name != name.strip():
                raise BadRequest(400, "malformed header line")
            headers[name.lower()] = value.strip()
        head = _Head(parts[0], parts[1], headers)
        coding, length = headers.get("transfer-encoding"), headers.get("content-length")
        if coding is not None:
            if coding.lower() != "chunked" or length is not None:
                raise BadRequest(400, f"unsupported Transfer-Encoding {coding!r}")
            head.chunked = Chunked(keep=self.max_body)
        elif length is not None:
            if not (length.isascii() and length.isdigit()):
                raise BadRequest(400, "malformed Content-Length")
            head.length = int(length)
        return head

    def drop(self, conn: Connection) -> None:
        if conn in self.connections:
            self.connections.discard(conn)
            self.selector.unregister(conn.sock)
            conn.sock.close()

    def close(self) -> None:
        for conn in list(self.connections):
            self.drop(conn)
        self.selector.unregister(self.listener)
        self.listener.close()

