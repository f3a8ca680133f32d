"""The one endpoint of the local cloud: 127.0.0.1:PORT, routed by the SigV4 credential scope.

A request signed for ``lambda`` goes to lambdalab's Lambda API; every other request goes to moto,
in this process and unpatched.  Both pass the IAM guard first, which names the caller (and judges
moto's calls).  Paths under ``/_lambdalab/`` are lambdalab's own (code downloads).
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Iterable

from .httpd import HTTPServer, WSGIApp
from .iam.guard import Guard

_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/]+/([^/]+)/aws4_request")
_QUERY_SCOPE = re.compile(
    r"X-Amz-Credential=[^&]*?(?:%2F|/)\d{8}(?:%2F|/)[^&%/]+(?:%2F|/)([^&%/]+)(?:%2F|/)aws4_request")


def signed_service(environ: dict) -> str | None:
    """The service a request was signed for, from its Authorization header or presigned query."""
    match = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", "")) or \
        _QUERY_SCOPE.search(environ.get("QUERY_STRING", ""))
    return match.group(1) if match else None


class Gateway:
    def __init__(self, lambda_app: WSGIApp, moto_app: WSGIApp, own_app: WSGIApp, guard: Guard, port: int = 0,
                 listener: socket.socket | None = None) -> None:
        self._lambda, self._moto, self._own, self._guard = lambda_app, moto_app, own_app, guard
        self._server = HTTPServer(self._route, port=port, name="lambdalab-gateway", listener=listener)
        self.port = self._server.port
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop()

    def _route(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith("/_lambdalab/"):
            return self._own(environ, start_response)
        service = signed_service(environ)
        return self._guard(service, environ, self._lambda if service == "lambda" else self._moto, start_response)
