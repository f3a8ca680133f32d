"""The Lambda Runtime API (2018-06-01) as one environment's runtime sees it: HTTP/1.1 on loopback.

This module only speaks the protocol: it accepts connections, parses requests (Content-Length
or chunked bodies, keep-alive) and writes responses.  What a request *means* is decided by
:class:`~lambdalab.sandbox.environment.ExecutionEnvironment`, whose thread drives this server
together with the runtime's output pipe in one ``selectors`` loop, so a request costs no thread
hand-off.  Bodies over ``max_body`` are read and dropped, never buffered.
"""

from __future__ import annotations

import json
import selectors
import socket
from dataclasses import dataclass, field

PREFIX = "/2018-06-01"
_REASONS = {200: "OK", 202: "Accepted", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
            413: "Request Entity Too Large", 500: "Internal Server Error"}


@dataclass
class Request:
    conn: Connection
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    too_large: bool = False
    size: int = 0  # body length as sent (kept when an oversized body was dropped)


@dataclass(eq=False)  # connections are compared (and hashed) by identity
class Connection:
    sock: socket.socket
    buffer: bytearray = field(default_factory=bytearray)
    discard: int = 0  # body bytes still to drop for an oversized request
    pending: Request | None = None  # the oversized request, answered once its body is drained

    def respond(self, status: int, body: bytes | dict = b"", headers: dict[str, str] | None = None) -> None:
        if isinstance(body, dict):
            body = json.dumps(body).encode()
        head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}", f"Content-Length: {len(body)}"]
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
        while not conn.discard and (request := self._parse(conn)) is not None:
            if conn.discard:
                conn.pending = request
                break
            requests.append(request)
        return requests

    def _parse(self, conn: Connection) -> Request | None:
        buf = conn.buffer
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return None
        lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
        method, path, *_ = [*lines[0].split(" "), "", ""]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        start = end + 4
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body, consumed = _dechunk(buf, start)
            if body is None:
                return None
            del buf[:consumed]
            too_large = len(body) > self.max_body
            return Request(conn, method, path, headers, b"" if too_large else body, too_large, len(body))
        length = int(headers.get("content-length") or 0)
        if length > self.max_body:
            available = min(len(buf) - start, length)
            del buf[:start + available]
            conn.discard = length - available
            return Request(conn, method, path, headers, b"", too_large=True, size=length)
        if len(buf) - start < length:
            return None
        body = bytes(buf[start:start + length])
        del buf[:start + length]
        return Request(conn, method, path, headers, body, size=length)

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


def _dechunk(buf: bytearray, pos: int) -> tuple[bytes | None, int]:
    """Decode a complete chunked body starting at ``pos``; (None, 0) while it is incomplete."""
    body = bytearray()
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None, 0
        size = int(bytes(buf[pos:eol]).split(b";")[0] or b"0", 16)
        pos = eol + 2
        if size == 0:
            end = buf.find(b"\r\n", pos)  # trailers (ignored) end with an empty line
            while end > pos:
                pos = end + 2
                end = buf.find(b"\r\n", pos)
            return (bytes(body), end + 2) if end >= 0 else (None, 0)
        if len(buf) < pos + size + 2:
            return None, 0
        body += buf[pos:pos + size]
        pos += size + 2
