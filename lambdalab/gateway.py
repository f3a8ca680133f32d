"""The one endpoint of the local cloud: 127.0.0.1:PORT, routed by the SigV4 credential scope.

A request signed for ``lambda`` goes to lambdalab's Lambda API; every other request goes to moto,
in this process and unpatched.  Paths under ``/_lambdalab/`` are lambdalab's own (code downloads).
"""

from __future__ import annotations

import logging
import re
import socket
import threading
from collections.abc import Callable, Iterable

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]
_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/]+/([^/]+)/aws4_request")
_QUERY_SCOPE = re.compile(
    r"X-Amz-Credential=[^&]*?(?:%2F|/)\d{8}(?:%2F|/)[^&%/]+(?:%2F|/)([^&%/]+)(?:%2F|/)aws4_request")


def signed_service(environ: dict) -> str | None:
    """The service a request was signed for, from its Authorization header or presigned query."""
    match = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", "")) or \
        _QUERY_SCOPE.search(environ.get("QUERY_STRING", ""))
    return match.group(1) if match else None


class _Handler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:  # one line per request would drown the notebook
        pass


class _Server(ThreadedWSGIServer):
    daemon_threads = True

    def get_request(self):
        sock, addr = super().get_request()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms Nagle stalls on loopback
        return sock, addr

    def process_request(self, request, client_address) -> None:
        thread = threading.Thread(target=self.process_request_thread, args=(request, client_address),
                                  name=f"lambdalab-gateway-{client_address[1]}", daemon=True)
        thread.start()


class Gateway:
    def __init__(self, lambda_app: WSGIApp, moto_app: WSGIApp, own_app: WSGIApp, port: int = 0) -> None:
        self._lambda, self._moto, self._own = lambda_app, moto_app, own_app
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = _Server("127.0.0.1", port, self._route, handler=_Handler)
        self.port = self._server.socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="lambdalab-gateway", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _route(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith("/_lambdalab/"):
            return self._own(environ, start_response)
        app = self._lambda if signed_service(environ) == "lambda" else self._moto
        return app(environ, start_response)
