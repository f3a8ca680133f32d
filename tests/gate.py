"""A gate that handlers wait at, so that "these invocations overlapped" is an event, not a guess.

A test that needs N invocations running at the same time used to give each handler a
``time.sleep(0.3)`` and hope the others started meanwhile; on a loaded machine they may not.
Here each handler connects to a TCP listener on loopback (as any handler may open a connection)
and blocks until the test opens the gate. The test sees each handler arrive, so it knows how
many are inside at once, however slow the machine is.

    with Gate() as gate:
        results = gate.run(lambda: fn.invoke(name, {"gate": gate.port}), times=3)

and in the handler (``WAIT_AT_GATE`` is that source)::

    if "gate" in event:
        wait_at_gate(event["gate"])

Give such a function a long Timeout: the first handler in waits there for the others' cold starts.
"""

from __future__ import annotations

import random
import socket
import threading
from collections.abc import Callable

# Handlers may connect only to the ports their isolation allows (Landlock): the tests' clouds allow
# these too (``TEST_ISOLATION``), and the tests' own listeners take one of them.
TEST_PORTS = (20000, 20999)
TEST_ISOLATION = {"tcp_ports": ((1, 1023), TEST_PORTS)}


def listener() -> socket.socket:
    """A loopback listening socket on a free port of ``TEST_PORTS``."""
    for port in random.sample(range(TEST_PORTS[0], TEST_PORTS[1] + 1), 200):
        try:
            return socket.create_server(("127.0.0.1", port))
        except OSError:
            continue
    raise RuntimeError(f"no free port in {TEST_PORTS}")

# A generous limit for handlers to arrive: it only runs out when the behaviour under test is broken.
ARRIVAL_TIMEOUT_S = 60.0

WAIT_AT_GATE = """
def wait_at_gate(port):
    import socket
    with socket.create_connection(("127.0.0.1", port)) as gate:
        gate.sendall(b"in")
        gate.recv(1)
"""


class Gate:
    """Handlers that connect are held until :meth:`open`; :meth:`wait_inside` counts them in."""

    def __init__(self) -> None:
        self._server = listener()
        self.port: int = self._server.getsockname()[1]
        self._inside: list[socket.socket] = []

    def wait_inside(self, count: int, timeout: float = ARRIVAL_TIMEOUT_S) -> None:
        """Return once ``count`` handlers in all are waiting at the gate; fail if they do not come."""
        self._server.settimeout(timeout)
        while len(self._inside) < count:
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                raise AssertionError(f"{len(self._inside)} of {count} handlers reached the gate "
                                     f"within {timeout:.0f} s") from None
            conn.settimeout(timeout)
            if conn.recv(2) != b"in":
                raise AssertionError("a connection to the gate that is not a waiting handler")
            self._inside.append(conn)

    def open(self) -> None:
        """Let every handler inside go on; one that arrives later cannot connect, and fails at once."""
        for conn in self._inside:
            try:
                conn.sendall(b"!")
            except OSError:  # that handler was killed meanwhile
                pass
            conn.close()
        self._inside.clear()
        self._server.close()

    def run(self, call: Callable[[], object], times: int) -> list:
        """Run ``call`` on ``times`` threads; open the gate once all of their handlers are inside at once."""
        results: list = []
        threads = [threading.Thread(target=lambda: results.append(call()), name=f"test-gate-caller-{i}")
                   for i in range(times)]
        for thread in threads:
            thread.start()
        try:
            self.wait_inside(times)
        finally:
            self.open()
            for thread in threads:
                thread.join()
        return results

    def __enter__(self) -> Gate:
        return self

    def __exit__(self, *exc: object) -> None:
        self.open()
