"""Hostile input at the HTTP layer: every malformed, oversized, slow or truncated request ends in a
4xx/5xx or a closed connection within a bounded time, threads stay bounded, and the server goes on."""

from __future__ import annotations

import http.client
import re
import socket
import threading
import time

import pytest
from signing import healthy, raw, send, sign, status_of

from lambdalab.httpd import BadRequest, Chunked, HTTPServer, reason

HEAD_TIMEOUT = BODY_TIMEOUT = 0.5


def echo(environ, start_response):
    body = environ["wsgi.input"].read()
    text = f"{environ['REQUEST_METHOD']} {environ['RAW_URI']} {len(body)}".encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [text]


@pytest.fixture
def server():
    srv = HTTPServer(echo, name="test-httpd", max_connections=4, max_body=1000, idle_timeout=1.0,
                     head_timeout=HEAD_TIMEOUT, body_timeout=BODY_TIMEOUT, min_body_rate=1e9)
    srv.start()
    yield srv
    srv.stop()


def ask(server: HTTPServer, data: bytes, **kwargs) -> tuple[int | None, bytes, float]:
    response, took = raw(server.port, data, **kwargs)
    return status_of(response), response, took


def works(server: HTTPServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("POST", "/after", body=b"abc")
    assert conn.getresponse().read() == b"POST /after 3"
    conn.close()


@pytest.mark.parametrize(("request_bytes", "status"), [
    (b"\x00\x01\x02 garbage\r\n\r\n", 400),
    (b"GET\r\n\r\n", 400),
    (b"GET / HTTP/1.1 extra\r\n\r\n", 400),
    (b"GET http://elsewhere/ HTTP/1.1\r\n\r\n", 400),
    (b"GET / HTTP/2.0\r\n\r\n", 505),
    (b"GET / HTTP/1.1\r\nno colon here\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\n folded: header\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nContent-Length: 1e3\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc", 400),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXX0\r\n\r\n", 400),
    (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", 414),
    (b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n", 431),
    (b"GET / HTTP/1.1\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(101)) + b"\r\n", 431),
    (b"POST / HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n", 413),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n" + b"x" * 2048 + b"\r\n0\r\n\r\n", 413),
])
def test_a_malformed_request_is_refused_and_the_connection_closed(server, request_bytes, status):
    got, response, took = ask(server, request_bytes)
    assert got == status, response[:200]
    assert reason(status).encode() in response.split(b"\r\n", 1)[0]
    assert b"Connection: close" in response and took < 3
    works(server)


def test_a_body_shorter_than_its_content_length_ends_within_the_body_timeout(server):
    got, _, took = ask(server, b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n0123456789")
    assert got == 408 and BODY_TIMEOUT <= took < BODY_TIMEOUT + 2
    got, response, took = ask(server, b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n0123456789", close_write=True)
    assert got is None and response == b"" and took < 2  # the client gave up first: nothing to answer
    works(server)


def test_a_slow_loris_is_cut_off_even_while_bytes_keep_trickling_in(server):
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        closed = False
        for byte in b"GET / HTTP/1.1\r\nX-Slow: " + b"a" * 100:
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                closed = True
                break
            time.sleep(0.05)
            if time.monotonic() - started > 3:
                break
        response = b"" if closed else sock.recv(65536)
    assert closed or status_of(response) == 408
    assert time.monotonic() - started < HEAD_TIMEOUT + 2
    works(server)


def test_an_idle_keep_alive_connection_is_closed(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", "/one")
    assert conn.getresponse().read() == b"GET /one 0"
    started = time.monotonic()
    assert conn.sock.recv(1) == b""  # the server closed it
    assert time.monotonic() - started < 3
    conn.close()


def test_pipelined_requests_are_answered_in_order(server):
    response, _ = raw(server.port, b"GET /a HTTP/1.1\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 2\r\n\r\nxy"
                                   b"GET /c HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert re.findall(rb"(?:GET|POST) /\w \d", response) == [b"GET /a 0", b"POST /b 2", b"GET /c 0"]
    assert response.count(b"HTTP/1.1 200 OK") == 3


def test_connections_are_capped_the_idle_longest_evicted_and_busy_ones_never(server):
    threads_before = threading.active_count()
    idle = []
    for i in range(4):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        conn.request("GET", f"/{i}")
        conn.getresponse().read()
        idle.append(conn)
    works(server)  # a fifth connection: the oldest idle one made room
    assert idle[0].sock.recv(1) == b""
    assert server.connections() <= 4
    many = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(40)]
    works(server)  # accepted after all forty: each of them was admitted or refused by now
    assert server.connections() <= 4
    deadline = time.monotonic() + 5  # the evicted connections' threads are on their way out
    while threading.active_count() > threads_before + 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() <= threads_before + 5
    for sock in many:
        sock.close()
    for conn in idle:
        conn.close()
    works(server)


def test_when_every_connection_is_busy_a_new_one_gets_503():
    release = threading.Event()
    entered = threading.Semaphore(0)

    def blocking(environ, start_response):
        entered.release()
        release.wait(10)
        start_response("200 OK", [])
        return [b"done"]

    srv = HTTPServer(blocking, name="test-busy", max_connections=2)
    srv.start()
    try:
        busy = [threading.Thread(target=raw, args=(srv.port, b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n"))
                for _ in range(2)]
        for thread in busy:
            thread.start()
        for _ in busy:
            assert entered.acquire(timeout=5)
        response, took = raw(srv.port, b"GET / HTTP/1.1\r\n\r\n")
        assert status_of(response) == 503 and took < 3
        release.set()
        for thread in busy:
            thread.join(5)
        response, _ = raw(srv.port, b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
        assert status_of(response) == 200
    finally:
        release.set()
        srv.stop()


# -- the chunked decoder the endpoint, the Runtime API and aws-chunked uploads share -------------------------
ENCODED = b"5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nx-trailer: t\r\n\r\nNEXT"


def test_a_chunked_body_decodes_however_it_is_split():
    for step in (1, 2, 3, 7, len(ENCODED)):
        decoder, buffer = Chunked(keep=100), bytearray()
        for i in range(0, len(ENCODED), step):
            buffer += ENCODED[i:i + step]
            done = decoder.feed(buffer)
        assert done and bytes(decoder.body) == b"hello, world" and bytes(buffer) == b"NEXT"
        assert decoder.chunks == [(b"ext=1", 0, 5), (b"", 5, 12), (b"", 12, 12)]
        assert decoder.trailers == [b"x-trailer: t"]


def test_an_oversized_chunked_body_is_counted_not_kept():
    decoder, buffer = Chunked(keep=4), bytearray(ENCODED)
    assert decoder.feed(buffer) and decoder.too_large and decoder.size == 12 and len(decoder.body) <= 4


@pytest.mark.parametrize("bad", [b"zz\r\n", b"-1\r\n", b"1234567890abcdef0\r\n", b"3\r\nabcXY", b"a" * 9000])
def test_a_malformed_chunked_body_is_a_bad_request(bad):
    with pytest.raises(BadRequest) as refused:
        Chunked(keep=100).feed(bytearray(bad))
    assert refused.value.status == 400


# -- the cloud's own endpoint and its Runtime API --------------------------------------------------------------
@pytest.mark.parametrize(("request_bytes", "status"), [
    (b"Authorization: garbage\r\n\r\n", 400),
    (b"POST /2015-03-31/functions HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nX: " + b"a" * 70000 + b"\r\n\r\n", 431),
    (b"PUT /b/k HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\n", 413),
])
def test_the_clouds_endpoint_refuses_malformed_http_and_stays_healthy(cloud, request_bytes, status):
    response, took = raw(cloud.gateway.port, request_bytes)
    assert status_of(response) == status and took < 5
    healthy(cloud)


RUNTIME_ATTACK = r'''
import os, socket

def handler(event, context):
    host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
    answers = []
    for garbage in (b"garbage\r\n\r\n", b"POST /x HTTP/1.1\r\nContent-Length: lots\r\n\r\n",
                    b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"):
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(garbage)
            answers.append(sock.recv(65536).split(b"\r\n")[0].decode())
    return answers
'''


def test_garbage_sent_to_the_runtime_api_is_refused_and_the_invocation_completes(fn):
    name = fn.create(RUNTIME_ATTACK, Timeout=10)
    assert fn.invoke(name)["Payload"] == ["HTTP/1.1 400 Bad Request"] * 3
    assert fn.invoke(name)["StatusCode"] == 200  # the environment still works


@pytest.mark.parametrize("service, body, headers, code", [
    ("iam", b"Action=C&Version=2010-05-08", {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
     b"<Code>InvalidAction</Code>"),
    ("sqs", b"{}", {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AmazonSQS.NoSuchThing"},
     b"UnknownOperation"),
])
def test_an_action_the_service_does_not_have_is_its_own_400(cloud, service, body, headers, code):
    status, _, answer = send(cloud, "POST", "/", body, sign(cloud, "POST", "/", body, headers, service=service))
    assert status == 400 and code in answer and b"Traceback" not in answer
    healthy(cloud)
