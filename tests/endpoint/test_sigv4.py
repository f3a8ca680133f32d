"""SigV4 parsing and verification, on AWS's own published examples and on requests botocore signs.

The chunked-upload vectors are the AWS documentation's ("Signature Calculations for the
Authorization Header: Transferring Payload in Multiple Chunks" and "... Including Trailing
Headers", Amazon S3 API Reference): the example key, 20130524T000000Z, 66,560 bytes of ``a`` sent
as 65,536 + 1,024 + 0 bytes, with the seed, chunk and trailer signatures printed there.
"""

from __future__ import annotations

import calendar
import hashlib

import pytest
from botocore.auth import S3SigV4Auth, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from lambdalab.httpd import environ_for
from lambdalab.iam import sigv4
from lambdalab.iam.denials import Refused

KEY, SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
DOC_TIME = calendar.timegm((2013, 5, 24, 0, 0, 0))
DATA = b"a" * 66560
CHUNKS = ("ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
          "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
          "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9")
TRAILER_CHUNKS = ("b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
                  "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
                  "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992")
TRAILER = (b"x-amz-checksum-crc32c:sOO8/Q==\r\n"
           b"x-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n")


def framed(signatures: tuple[str, str, str], trailer: bytes = b"") -> bytes:
    return (f"10000;chunk-signature={signatures[0]}\r\n".encode() + DATA[:65536] +
            f"\r\n400;chunk-signature={signatures[1]}\r\n".encode() + DATA[65536:] +
            f"\r\n0;chunk-signature={signatures[2]}\r\n".encode() + trailer + b"\r\n")


def doc_request(payload: str, signed: str, seed: str, extra: list[tuple[str, str]], body: bytes) -> dict:
    authorization = (f"AWS4-HMAC-SHA256 Credential={KEY}/20130524/us-east-1/s3/aws4_request,"
                     f"SignedHeaders={signed},Signature={seed}")
    headers = [("Host", "s3.amazonaws.com"), ("x-amz-date", "20130524T000000Z"),
               ("x-amz-storage-class", "REDUCED_REDUNDANCY"), ("Authorization", authorization),
               ("x-amz-content-sha256", payload), ("Content-Encoding", "aws-chunked"),
               ("x-amz-decoded-content-length", "66560"), *extra]
    return environ_for("PUT", "/examplebucket/chunkObject.txt", headers, body)


def check(environ: dict, now: float = DOC_TIME) -> None:
    sig = sigv4.parse(environ)
    sigv4.verify(sig, environ, SECRET, sigv4.Now(now, now))


def chunked_doc(body: bytes) -> dict:
    return doc_request("STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
                       "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
                       "x-amz-decoded-content-length;x-amz-storage-class",
                       "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
                       [("Content-Length", str(len(body)))], body)


def trailer_doc(body: bytes) -> dict:
    return doc_request("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
                       "content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;"
                       "x-amz-storage-class;x-amz-trailer",
                       "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e",
                       [("x-amz-trailer", "x-amz-checksum-crc32c"), ("Content-Length", str(len(body)))], body)


def test_the_documented_chunk_signed_upload_verifies_seed_and_every_chunk():
    body = framed(CHUNKS)
    assert len(body) == 66824  # the documented Content-Length
    check(chunked_doc(body))


@pytest.mark.parametrize("chunk", [0, 1, 2])
def test_a_changed_chunk_signature_is_refused(chunk):
    signatures = list(CHUNKS)
    signatures[chunk] = signatures[chunk][:-1] + ("0" if signatures[chunk][-1] != "0" else "1")
    with pytest.raises(Refused) as refused:
        check(chunked_doc(framed(tuple(signatures))))
    assert refused.value.kind == "bad-signature"


def test_a_changed_byte_in_a_chunk_is_refused():
    body = bytearray(framed(CHUNKS))
    body[5000] = ord("b")
    with pytest.raises(Refused) as refused:
        check(chunked_doc(bytes(body)))
    assert refused.value.kind == "bad-signature"


def test_a_chunked_body_cut_short_is_incomplete():
    """The trailer example does not sign Content-Length: the cut is found by the decoder, not the seed."""
    body = framed(TRAILER_CHUNKS, TRAILER)
    for cut in (40000, 65600, len(body) - 10):
        with pytest.raises(Refused) as refused:
            check(trailer_doc(body[:cut]))
        assert refused.value.kind == "incomplete-body", cut
    with pytest.raises(Refused) as refused:  # ends after its last chunk, without the trailer it signed
        check(trailer_doc(body[:len(body) - len(TRAILER) - 2]))
    assert refused.value.kind == "bad-signature"


def test_the_documented_upload_with_a_signed_trailer_verifies():
    check(trailer_doc(framed(TRAILER_CHUNKS, TRAILER)))


def test_a_changed_trailer_is_refused():
    with pytest.raises(Refused) as refused:
        check(trailer_doc(framed(TRAILER_CHUNKS, TRAILER.replace(b"sOO8/Q==", b"sOO8/A=="))))
    assert refused.value.kind == "bad-signature"


# -- botocore-signed requests ----------------------------------------------------------------------------
def botocore_request(signer, method: str, url: str, body: bytes = b"", headers: dict | None = None,
                     token: str | None = None, when: str | None = None) -> tuple[dict, float]:
    """A request signed by ``signer`` (a botocore class), as the endpoint receives it: (environ, signing time)."""
    request = AWSRequest(method=method, url=f"http://127.0.0.1:4566{url}", data=body, headers=dict(headers or {}))
    signer.add_auth(request)
    target = request.url.removeprefix("http://127.0.0.1:4566")
    arrived = [("Host", "127.0.0.1:4566"), *((k, v.decode() if isinstance(v, bytes) else v)
                                             for k, v in request.headers.items())]
    stamp = request.context["timestamp"]
    return environ_for(method, target, arrived, body), calendar.timegm(
        (int(stamp[:4]), int(stamp[4:6]), int(stamp[6:8]), int(stamp[9:11]), int(stamp[11:13]), int(stamp[13:15])))


CREDENTIALS = Credentials(KEY, SECRET)


@pytest.mark.parametrize(("service", "method", "url", "body", "headers"), [
    ("lambda", "POST", "/2015-03-31/functions/my-fn%3Alive/invocations", b'{"a": 1}', {}),
    ("lambda", "GET", "/2015-03-31/functions/?MaxItems=5&Marker=a%2Fb%20c", b"", {}),
    ("sts", "POST", "/", b"Action=GetCallerIdentity&Version=2011-06-15",
     {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}),
    ("dynamodb", "POST", "/", b"{}", {"X-Amz-Target": "DynamoDB_20120810.ListTables",
                                      "Content-Type": "application/x-amz-json-1.0"}),
    ("s3", "PUT", "/bucket/a%20key/with%2B./..%2Fodd%20path", b"body", {"x-amz-meta-Colour": "  blue   sky "}),
    ("s3", "GET", "/bucket?list-type=2&prefix=a%2Fb&encoding-type=url", b"", {}),
])
def test_botocore_signed_requests_verify_and_any_change_is_refused(service, method, url, body, headers):
    signer = (S3SigV4Auth if service == "s3" else SigV4Auth)(CREDENTIALS, service, "us-east-1")
    environ, signed_at = botocore_request(signer, method, url, body, headers)
    check(environ, signed_at)
    sig = sigv4.parse(environ)
    assert (sig.access_key, sig.service, sig.region, sig.presigned) == (KEY, service, "us-east-1", False)
    with pytest.raises(Refused):
        sigv4.verify(sig, environ, "not the secret", sigv4.Now(signed_at, signed_at))
    if body:
        tampered = environ_for(method, environ["RAW_URI"], environ["lambdalab.headers"], body + b" ")
        with pytest.raises(Refused) as refused:
            check(tampered, signed_at)
        assert refused.value.kind in ("bad-signature", "content-sha256")
    moved = environ_for(method, environ["RAW_URI"] + ("&" if "?" in url else "?") + "extra=1",
                        environ["lambdalab.headers"], body)
    with pytest.raises(Refused):
        check(moved, signed_at)


def test_a_changed_signed_header_is_refused():
    environ, signed_at = botocore_request(SigV4Auth(CREDENTIALS, "dynamodb", "us-east-1"), "POST", "/", b"{}",
                                          {"X-Amz-Target": "DynamoDB_20120810.ListTables"})
    headers = [(k, "DynamoDB_20120810.DeleteTable" if k == "X-Amz-Target" else v)
               for k, v in environ["lambdalab.headers"]]
    with pytest.raises(Refused) as refused:
        check(environ_for("POST", "/", headers, b"{}"), signed_at)
    assert refused.value.kind == "bad-signature"


def test_a_session_token_is_part_of_the_signature():
    signer = SigV4Auth(Credentials(KEY, SECRET, "the-token"), "sts", "us-east-1")
    environ, signed_at = botocore_request(signer, "POST", "/", b"Action=GetCallerIdentity")
    assert sigv4.parse(environ).token == "the-token"
    check(environ, signed_at)


def test_presigned_urls_verify_until_they_expire():
    signer = SigV4QueryAuth(CREDENTIALS, "sts", "us-east-1", expires=60)
    environ, signed_at = botocore_request(signer, "GET", "/?Action=GetCallerIdentity&Version=2011-06-15")
    sig = sigv4.parse(environ)
    assert sig.presigned and sig.expires == 60
    sigv4.verify(sig, environ, SECRET, sigv4.Now(signed_at + 59, signed_at + 59))
    with pytest.raises(Refused) as refused:
        sigv4.verify(sig, environ, SECRET, sigv4.Now(signed_at + 61, signed_at + 61))
    assert refused.value.kind == "presign-expired"
    advanced_before = sigv4.Now(signed_at + 3600 + 10, signed_at + 10, lambda moment: 3600.0)
    sigv4.verify(sig, environ, SECRET, advanced_before)  # made after the clock moved: valid for its minute
    advanced_after = sigv4.Now(signed_at + 3600 + 10, signed_at + 10, lambda moment: 0.0 if moment <= signed_at + 5
                               else 3600.0)
    with pytest.raises(Refused):  # made before the clock moved an hour: expired
        sigv4.verify(sig, environ, SECRET, advanced_after)


@pytest.mark.parametrize(("offset", "words"), [(-16 * 60, "Signature expired"), (16 * 60, "Signature not yet current")])
def test_a_request_signed_more_than_15_minutes_off_is_refused(offset, words):
    environ, signed_at = botocore_request(SigV4Auth(CREDENTIALS, "sts", "us-east-1"), "POST", "/",
                                          b"Action=GetCallerIdentity")
    check(environ, signed_at + 14 * 60)
    with pytest.raises(Refused) as refused:
        check(environ, signed_at - offset)
    assert refused.value.kind == "skewed" and refused.value.message.startswith(words)
    assert " 15 min.)" in refused.value.message


def test_the_window_spans_the_machines_clock_and_the_clouds_advanced_one():
    """SDKs sign on the machine's clock; ``cloud.clock.advance()`` moves only the cloud's."""
    environ, signed_at = botocore_request(SigV4Auth(CREDENTIALS, "sts", "us-east-1"), "POST", "/", b"Action=X")
    sig = sigv4.parse(environ)
    sigv4.verify(sig, environ, SECRET, sigv4.Now(cloud=signed_at + 2 * 86400, machine=signed_at))
    with pytest.raises(Refused):
        sigv4.verify(sig, environ, SECRET, sigv4.Now(cloud=signed_at + 2 * 86400, machine=signed_at + 16 * 60))


# -- parsing -------------------------------------------------------------------------------------------
def parse(headers: list[tuple[str, str]], target: str = "/") -> sigv4.Signature | None:
    return sigv4.parse(environ_for("GET", target, headers, b""))


def test_an_unsigned_request_has_no_signature():
    assert parse([("Host", "x")]) is None


@pytest.mark.parametrize(("authorization", "kind", "words"), [
    ("garbage", "unsupported-auth", "Authorization=garbage"),
    ("AWS4-HMAC-SHA256", "header-malformed", "requires 'Credential' parameter"),
    ("AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=host, Signature=0", "header-malformed", "exactly 5"),
    ("AWS4-HMAC-SHA256 Credential=a/20240101/us east/s3/aws4_request, SignedHeaders=host, Signature=0",
     "header-malformed", "valid region"),
    ("AWS garbage", "auth-argument", "Expected AwsAccessKeyId:signature"),
])
def test_a_malformed_authorization_header_is_refused_with_what_is_wrong(authorization, kind, words):
    with pytest.raises(Refused) as refused:
        parse([("Authorization", authorization), ("X-Amz-Date", "20240101T000000Z")])
    assert refused.value.kind == kind and words in refused.value.message


def test_a_missing_date_is_named():
    with pytest.raises(Refused) as refused:
        parse([("Authorization", "AWS4-HMAC-SHA256 Credential=a/20240101/us-east-1/s3/aws4_request, "
                                 "SignedHeaders=host, Signature=0")])
    assert "either a 'X-Amz-Date' or a 'Date' header" in refused.value.message


@pytest.mark.parametrize(("query", "words"), [
    ("X-Amz-Algorithm=AWS4-HMAC-SHA256", "requires the X-Amz-Algorithm"),
    ("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a%2F20240101%2Fus-east-1%2Fs3%2Faws4_request"
     "&X-Amz-Date=20240101T000000Z&X-Amz-Expires=604801&X-Amz-SignedHeaders=host&X-Amz-Signature=0",
     "less than a week"),
    ("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a%2F20240101%2Fus-east-1%2Fs3%2Faws4_request"
     "&X-Amz-Date=20240101T000000Z&X-Amz-Expires=soon&X-Amz-SignedHeaders=host&X-Amz-Signature=0",
     "should be a number"),
])
def test_a_malformed_presigned_url_is_refused(query, words):
    with pytest.raises(Refused) as refused:
        parse([], f"/b/k?{query}")
    assert refused.value.kind == "query-malformed" and words in refused.value.message


def test_the_scope_is_parsed_once_into_one_record():
    sig = parse([("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240102/eu-west-1/sqs/aws4_request, "
                                   "SignedHeaders=host;X-Amz-Date, Signature=abc"),
                 ("X-Amz-Date", "20240102T030405Z"), ("X-Amz-Security-Token", "tok")])
    assert sig == sigv4.Signature("AKIDEXAMPLE", "20240102", "eu-west-1", "sqs", ("host", "x-amz-date"), "abc",
                                  False, "20240102T030405Z", token="tok")
    assert sig.scope == "20240102/eu-west-1/sqs/aws4_request"
    assert sig.signed_at == calendar.timegm((2024, 1, 2, 3, 4, 5))


def test_payload_hashes_are_checked_against_the_body():
    body = b"the body"
    headers = {"x-amz-content-sha256": hashlib.sha256(b"another body").hexdigest()}
    environ, signed_at = botocore_request(SigV4Auth(CREDENTIALS, "lambda", "us-east-1"), "POST",
                                          "/2015-03-31/functions/f/invocations", body, headers)
    with pytest.raises(Refused) as refused:
        check(environ, signed_at)
    assert refused.value.kind == "content-sha256"


def test_the_clock_says_how_far_ahead_it_was_at_any_past_moment():
    import time

    from lambdalab.clock import Clock

    clock = Clock()
    before = time.time()
    clock.advance(60)
    between = time.time()
    clock.advance(3600)
    try:
        assert clock.offset_at(before - 1) == 0.0
        assert clock.offset_at(between) == 60.0
        assert clock.offset_at(time.time() + 1) == 3660.0 == clock.offset
    finally:
        clock.stop()
