"""The floor of a warm invoke: boto3 calling a server that does nothing but answer Invoke.

Whatever a local Lambda does, a synchronous invoke through boto3 costs at least this: botocore
building, signing and parsing the call, and one HTTP round trip on a kept-alive loopback
connection. The warm-invoke budget is a ratio to it, measured in the same run, call by call
beside lambdalab's, so that the machine's speed and load cancel out.

The server answers ``POST /2015-03-31/functions/<name>/invocations`` with a constant 200 and the
headers Lambda's Invoke returns (the botocore model's output members in ``X-Amz-*`` headers, and
the request id); anything else gets a 404. Like lambdalab's endpoint it runs in the caller's
process, with a named thread per connection, keeps connections alive and sets TCP_NODELAY; it
reads only what HTTP/1.1 framing needs (the head, then Content-Length bytes).
"""

from __future__ import annotations

import itertools
import socket
import threading
import uuid
from email.utils import formatdate

BODY = b'{"floor":1}'
_INVOKE = b"POST /2015-03-31/functions/"


class FloorServer:
    """A no-op Lambda endpoint on 127.0.0.1: ``floor = FloorServer().start()``, ``floor.url``, ``floor.close()``."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0), backlog=16)
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self._numbers = itertools.count()
        self._accepting = threading.Thread(target=self._accept, name="bench-floor", daemon=True)

    def start(self) -> FloorServer:
        self._accepting.start()
        return self

    def close(self) -> None:
        self._socket.close()  # connection threads end when their client closes (boto3's pool, at exit)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._socket.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._serve, args=(conn,), name=f"bench-floor-{next(self._numbers)}",
                             daemon=True).start()

    @staticmethod
    def _serve(conn: socket.socket) -> None:
        buffer = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in buffer:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(buffer) < length:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                buffer = buffer[length:]
                conn.sendall(_response(head.startswith(_INVOKE) and b"/invocations " in head.split(b"\r\n", 1)[0]))


def _response(invoke: bool) -> bytes:
    body = BODY if invoke else b'{"Type":"User","message":"Not found"}'
    status = "200 OK" if invoke else "404 Not Found"
    return (f"HTTP/1.1 {status}\r\nDate: {formatdate(usegmt=True)}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\nx-amzn-RequestId: {uuid.uuid4()}\r\n"
            f"X-Amz-Executed-Version: $LATEST\r\n\r\n").encode() + body
