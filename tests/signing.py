"""Raw HTTP requests to the cloud's endpoint, signed (or not) exactly as botocore signs them."""

from __future__ import annotations

import http.client
import socket
import time
from typing import Any

from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def sign(cloud, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
         service: str = "lambda", credentials: dict[str, str] | None = None, region: str | None = None) -> dict:
    """The headers botocore would send for this request, signed with ``credentials`` (default: the root user's)."""
    credentials = credentials or cloud.credentials
    request = AWSRequest(method=method, url=f"{cloud.endpoint_url}{path}", data=body, headers=dict(headers or {}))
    signer = S3SigV4Auth if service == "s3" else SigV4Auth
    signer(Credentials(credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials.get("SessionToken")),
           service, region or cloud.region).add_auth(request)
    return dict(request.headers.items())


def send(cloud, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
         timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    """One request on a new connection: (status, headers, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", cloud.gateway.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def raw(port: int, data: bytes, *, timeout: float = 10, close_write: bool = False) -> tuple[bytes, float]:
    """Send ``data`` as is on a new connection and read until the server closes it or ``timeout``
    passes: (everything the server sent, seconds until it closed)."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        if close_write:
            sock.shutdown(socket.SHUT_WR)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except (TimeoutError, ConnectionResetError):
            pass
        return received, time.monotonic() - started


def status_of(response: bytes) -> int | None:
    """The status code of the first response in ``response`` (None when there is none)."""
    if not response.startswith(b"HTTP/1.1 "):
        return None
    return int(response[9:12])


def healthy(cloud) -> Any:
    """The next ordinary calls work: the cloud survived what came before."""
    assert cloud.client("sts").get_caller_identity()["Account"] == cloud.account
    return cloud.client("lambda").list_functions()
