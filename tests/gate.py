"""A gate on loopback for tests that need invocations in flight: a handler calls in and waits until let go.

The test sees each invocation arrive inside its handler (an accepted connection), so it knows
what runs without sleeping, and ends them when it chooses (one byte each).  ``GATED`` is a handler
that passes the gate named in its event (``{"gate": port}``), then returns the environment's
``AWS_LAMBDA_INITIALIZATION_TYPE``.
"""

from __future__ import annotations

import socket

GATED = """import os, socket

def handler(event, context):
    if event.get("gate"):
        with socket.create_connection(("127.0.0.1", event["gate"])) as gate:
            gate.recv(1)
    return os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"]
"""


class Gate:
    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(30)
        self.port = self._server.getsockname()[1]
        self._waiting: list[socket.socket] = []

    @property
    def event(self) -> dict:
        return {"gate": self.port}

    def arrive(self, n: int = 1) -> None:
        """Wait until ``n`` more invocations are inside their handlers (30 s each at most)."""
        for _ in range(n):
            conn, _ = self._server.accept()
            self._waiting.append(conn)

    def release(self, n: int | None = None) -> None:
        """Let ``n`` of the waiting invocations finish (all of them by default), first come first."""
        n = len(self._waiting) if n is None else n
        for conn in self._waiting[:n]:
            conn.sendall(b"!")
            conn.close()
        del self._waiting[:n]

    def close(self) -> None:
        self.release()
        self._server.close()

    def __enter__(self) -> Gate:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
