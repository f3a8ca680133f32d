"""SigV4 at the endpoint: a request's signature parsed once, then checked the way AWS checks it.

:func:`parse` reads the Authorization header (``AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
Signature=...``) or a presigned URL's ``X-Amz-*`` query parameters into a :class:`Signature`, which
travels in the WSGI environ under :data:`SIGNATURE`: the gateway routes by its service and the
guard looks up its access key (the Lambda API gets the caller the guard found).  :func:`verify` recomputes the
signature with botocore's own signers (``SigV4Auth``, ``S3SigV4Auth`` and their presigned-URL
variants) over the request as it arrived, so canonicalization is botocore's, not a second
implementation: the headers the client listed as signed, the path as sent (normalized and encoded
again for every service but S3), the query re-encoded in canonical form, and the payload hash.

What AWS checks besides the signature is checked too: the 15-minute clock skew of a header-signed
request, a presigned URL's ``X-Amz-Expires`` (at most a week), an STS session's token (the guard),
S3's ``x-amz-content-sha256`` against the body, and the chunk signatures, decoded length and
trailing checksum of ``aws-chunked`` uploads.  Reference vectors: the AWS documentation's
"Signature Calculations for the Authorization Header: Transferring Payload in Multiple Chunks" and
"... Including Trailing Headers" examples (tests/endpoint/test_sigv4.py).

S3 also takes Signature Version 2 (``Authorization: AWS key:signature`` and presigned URLs with
``AWSAccessKeyId``/``Signature``/``Expires``), which botocore still uses by default to presign S3
URLs in the regions that accept it (us-east-1 among them); botocore's ``HmacV1Auth`` checks those.

Time (:class:`Now`): SDKs sign on the machine's clock (botocore corrects no skew), while
``cloud.clock.advance()`` moves the cloud's clock ahead of it.  A header-signed request is on time
when it was signed between 15 minutes before the machine's time and 15 minutes after the cloud's.
A SigV4 presigned URL expires on the cloud's clock: its X-Amz-Date is read as the cloud time it
was then, so advancing the clock expires the URLs made before (X-Amz-Date counts whole seconds: one
made in the same second as an advance counts as made before it).  A SigV2
URL carries only its end (``Expires``), not when it was made, so it expires on the machine's clock.
"""

from __future__ import annotations

import base64
import calendar
import functools
import hashlib
import hmac
import re
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, unquote_to_bytes, urlsplit

from botocore.auth import HmacV1Auth, S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

from ..httpd import HEADERS, BadRequest, Chunked, request_body
from .denials import Refused

SIGNATURE = "lambdalab.signature"  # WSGI environ key: the request's Signature, None when it is unsigned
ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW_S = 15 * 60
MAX_EXPIRES_S = 7 * 24 * 3600
UNSIGNED = "UNSIGNED-PAYLOAD"
STREAMING = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_STAMP = re.compile(r"\d{8}T\d{6}Z")
_DATE = re.compile(r"\d{8}")
_NAME = re.compile(r"[a-z0-9-]{1,64}")  # a region or a service's signing name
_HEX64 = re.compile(r"[0-9a-f]{64}")
_QUERY_AUTH = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature")
_QUERY_AUTH_V2 = ("AWSAccessKeyId", "Signature")
_CREDENTIAL_FORM = 'expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'
_CHECKSUMS = {"crc32": lambda data: zlib.crc32(data).to_bytes(4, "big"),
              "sha1": lambda data: hashlib.sha1(data).digest(), "sha256": lambda data: hashlib.sha256(data).digest()}


@dataclass(frozen=True)
class Signature:
    """A request's SigV4 signature and credential scope, as the client sent them."""

    access_key: str
    date: str  # the scope's YYYYMMDD
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    presigned: bool
    timestamp: str  # X-Amz-Date (YYYYMMDDTHHMMSSZ): when the request was signed
    expires: int | None = None  # a presigned URL's X-Amz-Expires (SigV2: its Expires, seconds since the epoch)
    token: str | None = None  # X-Amz-Security-Token: an STS session's token
    version: int = 4  # 2: S3's Signature Version 2

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"

    @property
    def signed_at(self) -> float:
        t = self.timestamp
        return calendar.timegm((int(t[:4]), int(t[4:6]), int(t[6:8]), int(t[9:11]), int(t[11:13]), int(t[13:15])))


@dataclass(frozen=True)
class Now:
    """The moment a request is checked: the cloud's time, the machine's, and how far the cloud's clock
    was ahead of the machine's at a past machine time (``Clock.offset_at``)."""

    cloud: float
    machine: float
    offset_at: Callable[[float], float] = lambda moment: 0.0


def parse(environ: dict) -> Signature | None:
    """The request's signature, or None when it is unsigned; raises :class:`Refused` for a malformed one."""
    header = environ.get("HTTP_AUTHORIZATION")
    query = environ.get("QUERY_STRING", "")
    params = dict(query_pairs(query)) if "X-Amz-" in query or "Signature=" in query else {}
    presigned = any(name in params for name in _QUERY_AUTH)
    v2 = not presigned and any(name in params for name in _QUERY_AUTH_V2)
    if header is not None and (presigned or v2):
        raise Refused("auth-argument", "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
                                       "Signature query string parameter or the Authorization header should be "
                                       "specified")
    if presigned:
        return _presigned(params)
    if v2:
        return _presigned_v2(params)
    if header is None:
        return None
    if header.startswith("AWS "):
        return _header_v2(header, environ)
    return _header(header, environ)


def _header(header: str, environ: dict) -> Signature:
    algorithm, _, rest = header.strip().partition(" ")
    fields = {}
    for part in rest.split(","):
        name, equals, value = part.strip().partition("=")
        if equals:
            fields[name] = value
    stamp = environ.get("HTTP_X_AMZ_DATE") or _from_http_date(environ.get("HTTP_DATE"))
    missing = [name for name in ("Credential", "Signature", "SignedHeaders") if not fields.get(name)]
    if algorithm != ALGORITHM:
        raise Refused("unsupported-auth", _incomplete(header, missing, stamp is not None))
    if missing or stamp is None:
        raise Refused("header-malformed", _incomplete(header, missing, stamp is not None))
    if not _STAMP.fullmatch(stamp):
        raise Refused("header-malformed", f"Date must be in ISO-8601 'basic format'. Got '{stamp}'. "
                                          "See http://en.wikipedia.org/wiki/ISO_8601")
    key, date, region, service = _credential(fields["Credential"], "header-malformed",
                                             "The authorization header is malformed; the Credential is mal-formed; ")
    return Signature(key, date, region, service, _signed(fields["SignedHeaders"]), fields["Signature"], False, stamp,
                     token=environ.get("HTTP_X_AMZ_SECURITY_TOKEN"))


def _presigned(params: dict[str, str]) -> Signature:
    required = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date", "X-Amz-SignedHeaders",
                "X-Amz-Expires")
    if any(not params.get(name) for name in required):
        raise Refused("query-malformed", "Query-string authentication version 4 requires the X-Amz-Algorithm, "
                                         "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and "
                                         "X-Amz-Expires parameters.")
    if params["X-Amz-Algorithm"] != ALGORITHM:
        raise Refused("query-malformed", f'X-Amz-Algorithm only supports "{ALGORITHM}"')
    if not _STAMP.fullmatch(params["X-Amz-Date"]):
        raise Refused("query-malformed", "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
    expires = params["X-Amz-Expires"]
    if not (expires.isascii() and expires.isdigit()):
        raise Refused("query-malformed", "X-Amz-Expires should be a number")
    if int(expires) > MAX_EXPIRES_S:
        raise Refused("query-malformed", f"X-Amz-Expires must be less than a week (in seconds) that is {MAX_EXPIRES_S}")
    key, date, region, service = _credential(params["X-Amz-Credential"], "query-malformed",
                                             "Error parsing the X-Amz-Credential parameter; the Credential is "
                                             "mal-formed; ")
    return Signature(key, date, region, service, _signed(params["X-Amz-SignedHeaders"]), params["X-Amz-Signature"],
                     True, params["X-Amz-Date"], int(expires), params.get("X-Amz-Security-Token"))


def _presigned_v2(params: dict[str, str]) -> Signature:
    if any(not params.get(name) for name in ("AWSAccessKeyId", "Signature", "Expires")) or \
            not params["Expires"].isdigit():
        raise Refused("v2-query-malformed", "Query-string authentication requires the Signature, Expires and "
                                            "AWSAccessKeyId parameters")
    return Signature(params["AWSAccessKeyId"], "", "us-east-1", "s3", (), params["Signature"], True, "",
                     int(params["Expires"]), params.get("x-amz-security-token"), version=2)


def _header_v2(header: str, environ: dict) -> Signature:
    key, colon, signature = header[4:].strip().rpartition(":")
    if not colon or not key or not signature:
        raise Refused("auth-argument", "AWS authorization header is invalid.  Expected AwsAccessKeyId:signature")
    stamp = _from_http_date(environ.get("HTTP_X_AMZ_DATE") or environ.get("HTTP_DATE"))
    if stamp is None or not _STAMP.fullmatch(stamp):
        raise Refused("v2-no-date", "AWS authentication requires a valid Date or x-amz-date header")
    return Signature(key, "", "us-east-1", "s3", (), signature, False, stamp,
                     token=environ.get("HTTP_X_AMZ_SECURITY_TOKEN"), version=2)


def _credential(credential: str, kind: str, s3_prefix: str) -> tuple[str, str, str, str]:
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not _DATE.fullmatch(parts[1]) or not parts[0] or \
            not _NAME.fullmatch(parts[3]):
        raise Refused(kind, "Credential must have exactly 5 slash-delimited elements, e.g. "
                            f"keyid/date/region/service/term, got '{credential}'",
                      s3_message=s3_prefix + _CREDENTIAL_FORM)
    if not _NAME.fullmatch(parts[2]):
        raise Refused(kind, f"Credential should be scoped to a valid region, not '{parts[2]}'. ",
                      s3_message=f"{s3_prefix}the region '{parts[2]}' is wrong.")
    return parts[0], parts[1], parts[2], parts[3]


def _signed(names: str) -> tuple[str, ...]:
    return tuple(name.strip().lower() for name in names.split(";"))


def _incomplete(header: str, missing: list[str], dated: bool) -> str:
    """AWS's IncompleteSignature message: what the Authorization header lacks, then the header itself."""
    text = "".join(f"Authorization header requires '{name}' parameter. " for name in missing)
    if not dated:
        text += "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
    return f"{text}Authorization={header}"


def _from_http_date(value: str | None) -> str | None:
    """A ``Date`` header (RFC 7231) as a SigV4 timestamp, which SigV4 allows in place of X-Amz-Date."""
    if not value:
        return None
    from email.utils import parsedate_tz

    if _STAMP.fullmatch(value):
        return value
    parsed = parsedate_tz(value)
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(calendar.timegm(parsed[:9]) - (parsed[9] or 0))) \
        if parsed else value


_AUTH_PARAMS = {"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders",
                "X-Amz-Signature", "X-Amz-Security-Token", "AWSAccessKeyId", "Signature", "Expires",
                "x-amz-security-token"}


def without_auth(query: str) -> str:
    """A presigned URL's query string without its authentication parameters: what the request asks for."""
    return "&".join(pair for pair in query.split("&") if unquote(pair.partition("=")[0]) not in _AUTH_PARAMS)


def query_pairs(query: str) -> list[tuple[str, str]]:
    """The query string's (name, value) pairs, percent-decoded as UTF-8 (``+`` stays ``+``, as in SigV4)."""
    return [(unquote(name), unquote(value)) for name, _, value in
            (pair.partition("=") for pair in query.split("&") if pair)]


# -- verification ------------------------------------------------------------------------------------------
def verify(sig: Signature, environ: dict, secret: str, now: Now) -> None:
    """Raise :class:`Refused` unless ``sig`` is a valid, timely signature of this request by ``secret``."""
    _on_time(sig, now)
    if sig.version == 2:
        return _verify_v2(sig, environ, secret)
    s3 = sig.service == "s3"
    headers = _signed_values(sig, environ)
    body = request_body(environ)
    content = headers.get("x-amz-content-sha256") or _arrived(environ, "x-amz-content-sha256")
    if s3 and not sig.presigned:
        _check_content_header(content)
    request = _request(sig, environ, headers, body, content)
    auth = _SIGNERS[s3, sig.presigned](Credentials(sig.access_key, secret, sig.token), sig.service, sig.region)
    auth.signed = sig.signed_headers
    canonical = auth.canonical_request(request)
    string_to_sign = auth.string_to_sign(request, canonical)
    if not _same(auth.signature(string_to_sign, request), sig.signature):
        raise Refused("bad-signature", fields=_mismatch_fields(sig, canonical, string_to_sign))
    if s3:
        _check_unsigned_headers(sig, environ)
    if content and _HEX64.fullmatch(content) and not _same(content, _sha256(body)):
        raise Refused("content-sha256", fields=(("ClientComputedContentSHA256", content),
                                                ("S3ComputedContentSHA256", _sha256(body))))
    if content in (STREAMING, STREAMING_TRAILER, UNSIGNED_TRAILER) and not sig.presigned:
        _check_chunks(sig, environ, body, content, auth, request)


def _on_time(sig: Signature, now: Now) -> None:
    if sig.presigned:
        if sig.version == 2:  # Expires, machine time: shown in cloud time
            ends, signed_at = sig.expires + now.cloud - now.machine, None
        else:
            signed_at = sig.signed_at + now.offset_at(sig.signed_at)
            ends = signed_at + sig.expires
        if now.cloud > ends:
            given = (("X-Amz-Expires", str(sig.expires)),) if sig.version == 4 else ()
            raise Refused("presign-expired", fields=(*given, ("Expires", _iso(ends)), ("ServerTime", _iso(now.cloud))))
        if signed_at is not None and signed_at > now.cloud + MAX_SKEW_S:
            raise Refused("presign-early")
        return
    signed_at = sig.signed_at
    if now.machine - MAX_SKEW_S <= signed_at <= now.cloud + MAX_SKEW_S:
        return
    fields = (("RequestTime", sig.timestamp), ("ServerTime", _iso(now.cloud)),
              ("MaxAllowedSkewMilliseconds", "900000"))
    if signed_at < now.machine - MAX_SKEW_S:
        raise Refused("skewed", f"Signature expired: {sig.timestamp} is now earlier than "
                                f"{_stamp(now.machine - MAX_SKEW_S)} ({_stamp(now.machine)} - 15 min.)",
                      fields=fields)
    raise Refused("skewed", f"Signature not yet current: {sig.timestamp} is still later than "
                            f"{_stamp(now.cloud + MAX_SKEW_S)} ({_stamp(now.cloud)} + 15 min.)", fields=fields)


def _verify_v2(sig: Signature, environ: dict, secret: str) -> None:
    """S3's Signature Version 2, recomputed by botocore's HmacV1Auth over the request as it arrived."""
    headers = HTTPHeaders()
    for name, value in environ[HEADERS]:
        headers[name] = value
    if sig.presigned:  # the x-amz-* headers a presigned URL was signed with travel in its query
        for name, value in query_pairs(environ.get("QUERY_STRING", "")):
            if name.lower().startswith("x-amz-") or name.lower() in ("content-type", "content-md5"):
                headers[name] = value
        date = str(sig.expires)
    else:
        date = "" if "x-amz-date" in headers else headers.get("Date", "")
    auth = _V2Auth(Credentials(sig.access_key, secret, sig.token), date)
    string_to_sign = auth.canonical_string(environ["REQUEST_METHOD"], urlsplit(environ["RAW_URI"]), headers)
    if not _same(auth.sign_string(string_to_sign), sig.signature):
        raise Refused("bad-signature", fields=(("AWSAccessKeyId", sig.access_key), ("StringToSign", string_to_sign),
                                               ("SignatureProvided", sig.signature),
                                               ("StringToSignBytes", _spaced_hex(string_to_sign))))


class _V2Auth(HmacV1Auth):
    """HmacV1Auth with the date the client signed (its Date header, or a presigned URL's Expires)."""

    def __init__(self, credentials: Credentials, date: str) -> None:
        super().__init__(credentials)
        self._date = date

    def _get_date(self) -> str:
        return self._date


def _signed_values(sig: Signature, environ: dict) -> dict[str, str]:
    """The value of each signed header as it arrived (repeated headers joined with commas, as SigV4 does)."""
    wanted = set(sig.signed_headers)
    values: dict[str, str] = {}
    for name, value in environ[HEADERS]:
        key = name.lower()
        if key in wanted:
            values[key] = f"{values[key]},{value}" if key in values else value
    return values


def _arrived(environ: dict, name: str) -> str | None:
    return next((v for k, v in environ[HEADERS] if k.lower() == name), None)


def _request(sig: Signature, environ: dict, headers: dict[str, str], body: bytes, content: str | None) -> AWSRequest:
    """The request as botocore would have built it before signing: only what the signature covers."""
    path, _, query = environ["RAW_URI"].partition("?")
    request = AWSRequest(method=environ["REQUEST_METHOD"], url=path, headers=headers)
    if content is None and not (sig.presigned and sig.service == "s3"):
        request.headers["X-Amz-Content-SHA256"] = _sha256(body)  # the payload hash botocore would compute
    pairs = [(name, value) for name, value in _raw_pairs(query) if not (sig.presigned and name == "X-Amz-Signature")]
    try:
        request.params = [(unquote_to_bytes(n).decode(), unquote_to_bytes(v).decode()) for n, v in pairs]
    except UnicodeDecodeError:  # not UTF-8: canonicalize the pairs as they were sent
        request.url = f"{path}?{'&'.join(f'{n}={v}' for n, v in pairs)}"
    request.context["timestamp"] = sig.timestamp
    return request


def _raw_pairs(query: str) -> list[tuple[str, str]]:
    return [(name, value) for name, _, value in (pair.partition("=") for pair in query.split("&") if pair)]


class _Exact:
    """The server's side of SigV4: canonicalize exactly the headers the client listed as signed, and
    sign with a derived key kept per (secret, day, region, service), as botocore derives it."""

    signed: tuple[str, ...] = ()

    def headers_to_sign(self, request: AWSRequest) -> _Headers:
        chosen = _Headers()
        for name in self.signed:
            value = request.headers.get(name)
            if value is not None:
                chosen[name] = value
        return chosen

    def signature(self, string_to_sign: str, request: AWSRequest) -> str:
        key = _signing_key(self.credentials.secret_key, request.context["timestamp"][:8], self._region_name,
                           self._service_name)
        return self._sign(key, string_to_sign, hex=True)


class _Headers(dict):
    """What botocore's canonicalization reads of the signed headers (each already joined, one value)."""

    def get_all(self, name: str) -> list[str]:
        return [self[name]]


@functools.lru_cache(maxsize=256)
def _signing_key(secret: str, day: str, region: str, service: str) -> bytes:
    """SigV4's signing key (botocore's derivation: HMAC of day, region, service and "aws4_request");
    it changes once a day per key, so the four HMACs run once, not per request."""
    key = SigV4Auth._sign(None, f"AWS4{secret}".encode(), day)
    for part in (region, service, "aws4_request"):
        key = SigV4Auth._sign(None, key, part)
    return key


class _HeaderAuth(_Exact, SigV4Auth):
    pass


class _S3HeaderAuth(_Exact, S3SigV4Auth):
    pass


class _QueryAuth(_Exact, SigV4QueryAuth):
    pass


class _S3QueryAuth(_Exact, S3SigV4QueryAuth):
    pass


_SIGNERS = {(False, False): _HeaderAuth, (True, False): _S3HeaderAuth, (False, True): _QueryAuth,
            (True, True): _S3QueryAuth}


def _check_content_header(content: str | None) -> None:
    if content is None:
        raise Refused("missing-content-sha256", "Missing required header for this request: x-amz-content-sha256")
    if content not in (UNSIGNED, STREAMING, STREAMING_TRAILER, UNSIGNED_TRAILER) and not _HEX64.fullmatch(content):
        raise Refused("bad-content-sha256", "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, "
                                            "STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, "
                                            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, or a valid sha256 value.")


def _check_unsigned_headers(sig: Signature, environ: dict) -> None:
    """S3 refuses ``x-amz-*`` headers that the signature does not cover: they could change what is stored."""
    signed = set(sig.signed_headers)
    extra = sorted({name.lower() for name, _ in environ[HEADERS]
                    if name.lower().startswith("x-amz-") and name.lower() not in signed
                    and name.lower() not in ("x-amz-content-sha256", "x-amz-security-token")} - signed)
    if extra:
        raise Refused("unsigned-headers", fields=(("HeadersNotSigned", ", ".join(extra)),))


def _mismatch_fields(sig: Signature, canonical: str, string_to_sign: str) -> tuple[tuple[str, str], ...]:
    """What S3 puts in a SignatureDoesNotMatch error so the client can see where its signing went astray."""
    return (("AWSAccessKeyId", sig.access_key), ("StringToSign", string_to_sign),
            ("SignatureProvided", sig.signature), ("StringToSignBytes", _spaced_hex(string_to_sign)),
            ("CanonicalRequest", canonical), ("CanonicalRequestBytes", _spaced_hex(canonical)))


def _check_chunks(sig: Signature, environ: dict, body: bytes, content: str, auth: SigV4Auth,
                  request: AWSRequest) -> None:
    """An ``aws-chunked`` upload: every chunk signed in a chain from the seed signature (unless the
    payload is unsigned), the decoded length as declared, and a trailing checksum that matches."""
    decoder = Chunked(keep=len(body))
    buffer = bytearray(body)
    try:
        complete = decoder.feed(buffer)
    except BadRequest:
        raise Refused("malformed-chunks", "The aws-chunked body is malformed.") from None
    if buffer or not (complete or (decoder.last_chunk and not decoder.trailers)):
        raise Refused("incomplete-body")
    declared = _arrived(environ, "x-amz-decoded-content-length")
    if declared is not None and declared != str(decoder.size):
        raise Refused("incomplete-body")
    previous = sig.signature
    if content != UNSIGNED_TRAILER:
        for extensions, start, end in decoder.chunks:
            provided = extensions.partition(b"chunk-signature=")[2].decode("latin-1")
            chunk = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", sig.timestamp, sig.scope, previous, EMPTY_SHA256,
                               hashlib.sha256(decoder.body[start:end]).hexdigest()])
            expected = auth.signature(chunk, request)
            if not _same(expected, provided):
                raise Refused("bad-signature", fields=(("AWSAccessKeyId", sig.access_key),
                                                       ("StringToSign", chunk), ("SignatureProvided", provided)))
            previous = expected
    trailers = dict(line.decode("latin-1").partition(":")[::2] for line in decoder.trailers)
    signature = trailers.pop("x-amz-trailer-signature", None)
    if content == STREAMING_TRAILER:
        canonical = "".join(f"{name}:{value.strip()}\n" for name, value in sorted(trailers.items()))
        trailer = "\n".join(["AWS4-HMAC-SHA256-TRAILER", sig.timestamp, sig.scope, previous,
                             _sha256(canonical.encode())])
        if signature is None or not _same(auth.signature(trailer, request), signature.strip()):
            raise Refused("bad-signature", fields=(("AWSAccessKeyId", sig.access_key), ("StringToSign", trailer)))
    for name, value in trailers.items():
        algorithm = name.removeprefix("x-amz-checksum-")
        compute = _CHECKSUMS.get(algorithm)
        if compute and base64.b64encode(compute(bytes(decoder.body))).decode() != value.strip():
            raise Refused("bad-digest", f"The {algorithm.upper()} you specified did not match the calculated "
                                        "checksum.")


def _same(expected: str, provided: str) -> bool:
    """Compare in constant time (a signature is a secret the caller should not learn byte by byte)."""
    return hmac.compare_digest(expected.encode(), provided.encode("utf-8", "replace"))


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _spaced_hex(text: str) -> str:
    return " ".join(f"{b:02x}" for b in text.encode())


def _iso(moment: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))


def _stamp(moment: float) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(moment))
