"""IAM at the front door: every request is tied to its caller and, for moto's services, judged.

Authentication, as AWS does it: the access key in a request's SigV4 signature names the caller,
and the signature must be the one its secret makes for this very request, in time (``sigv4``); an
STS session's key must come with its own, unexpired session token.  A key the cloud never issued, a
wrong signature, a skewed clock or an expired URL each get the service's own error.  An unsigned
request is anonymous: S3 judges it against the bucket's policy (only ``"Principal": "*"`` lets it
in), every other service refuses it for its missing authentication, and the Lambda API answers it
as Lambda does.  ``verify=False`` (``lambdalab.start(verify_signatures=False)``) skips the signature
and session-token checks, for tools that cannot sign; the access key still names the caller.

Authorization: requests for Lambda go on with their caller attached and are judged operation by
operation in the Lambda API; requests for the other services are judged here, per action and
resource, with the resource's own policy where it has one (a bucket's, a queue's, a topic's, a
role's trust policy), and refused with the error that service sends - moto only sees allowed calls.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from datetime import datetime, timezone

from ..clock import Clock
from ..httpd import HEADERS, WSGIApp, answer, reason, request_body
from ..invoke.recursion import INCOMING
from . import actions, denials, documents, sigv4
from .authorizer import Authorizer
from .denials import Refused
from .principals import ANONYMOUS, Caller, Directory
from .resources import resource_side

# A bucket policy can lock out everyone but the account's root user, who may always mend it.
_ROOT_ALWAYS = {"s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"}
MALFORMED = "The request could not be processed: a parameter is missing, malformed or of the wrong type."
CALLER = "lambdalab.caller"  # the WSGI environ key under which a request's Caller travels on
# The caller of the request moto is serving on this thread: what moto does on its behalf (an S3 event) names it.
SERVING: ContextVar[Caller | None] = ContextVar("lambdalab.serving", default=None)


class Guard:
    def __init__(self, directory: Directory, authorizer: Authorizer, clock: Clock, verify: bool = True) -> None:
        self.directory, self.authorizer, self.clock, self.verify = directory, authorizer, clock, verify

    def __call__(self, service: str, environ: dict, app: WSGIApp, start_response: Callable) -> Iterable[bytes]:
        """Pass the request to ``app`` (Lambda's API or moto's app for ``service``) if its caller may make it;
        while it is served, its trace header is the one invocations it causes continue."""
        token = INCOMING.set(environ.get("HTTP_X_AMZN_TRACE_ID"))
        try:
            return self._judged(service, environ, app, start_response)
        finally:
            INCOMING.reset(token)

    def _judged(self, service: str, environ: dict, app: WSGIApp, start_response: Callable) -> Iterable[bytes]:
        sig: sigv4.Signature | None = environ.get(sigv4.SIGNATURE)
        try:
            caller = self._authenticate(sig, environ) if sig else None
        except Refused as refused:
            return send(start_response, denials.respond(service, headers_of(environ), refused))
        if service == "lambda":  # the Lambda API judges per operation (and answers the unsigned)
            if caller is not None:
                environ[CALLER] = caller
            return app(environ, start_response)
        if caller is None and service != "s3":
            return send(start_response, denials.respond(service, headers_of(environ), Refused("missing-auth")))
        return self._authorize(caller or ANONYMOUS, service, sig, environ, app, start_response)

    def _authenticate(self, sig: sigv4.Signature, environ: dict) -> Caller:
        found = self.directory.lookup(sig.access_key)
        if found is None:
            raise Refused("invalid-key", fields=(("AWSAccessKeyId", sig.access_key),))
        caller, secret = found
        if self.verify:
            if secret.token != sig.token:  # a session's key needs its token; a long-term key must carry none
                raise Refused("invalid-token", fields=(("AWSAccessKeyId", sig.access_key),))
            if secret.expires is not None and secret.expires < datetime.now(timezone.utc).replace(tzinfo=None):
                raise Refused("expired-token")
            sigv4.verify(sig, environ, secret.key, sigv4.Now(self.clock.time(), time.time(), self.clock.offset_at))
        return caller

    def _authorize(self, caller: Caller, service: str, sig: sigv4.Signature | None, environ: dict, app: WSGIApp,
                   start_response: Callable) -> Iterable[bytes]:
        headers = headers_of(environ)
        body = request_body(environ)
        query = environ.get("QUERY_STRING", "")
        if sig and sig.presigned:
            query = sigv4.without_auth(query)
        region = sig.region if sig else self.authorizer.region
        home = caller.account or None
        if caller.is_root and service == "sts" and \
                actions.operation({k.lower(): v for k, v in headers.items()}, query, body)[0] == "GetCallerIdentity":
            return send(start_response, _root_identity(caller))  # moto knows no root user to say who it is
        try:
            calls = actions.describe(service, environ["REQUEST_METHOD"], environ.get("PATH_INFO", "/"), query,
                                     headers, body, region, caller.account)
        except actions.UnreadableBody as e:  # AWS's front end refuses it before anything else looks at it
            return send(start_response, denials.respond(service, headers, Refused("malformed-input", str(e))))
        except (ValueError, LookupError, TypeError, AttributeError):  # AWS reads the input before it authorizes
            return send(start_response, denials.respond(service, headers, Refused("malformed-input", MALFORMED)))
        owners = set()
        for call in calls:
            if caller.is_anonymous and call.action != "s3:CreateBucket" and _no_such_bucket(call.resource):
                continue  # S3 answers NoSuchBucket to anyone
            account, denied = self._refusal(caller, call, service)
            if denied:
                return send(start_response, denials.access_denied(service, headers, denied))
            owners.add(account)
        if problem := documents.malformed(service, headers, query, body):  # IAM reads the policy it is given
            return send(start_response, denials.respond(service, headers, Refused("malformed-policy", problem)))
        if len(owners) == 1:  # allowed on another account's queue, topic or bucket: moto serves that account
            home = owners.pop()
        if home:
            environ["HTTP_X_MOTO_ACCOUNT_ID"] = home  # moto serves the caller's own account
        token = SERVING.set(caller)
        try:
            if service == "s3" and environ["REQUEST_METHOD"] in ("GET", "HEAD") and _reads_an_object(calls):
                return self._unlisted_missing_key(caller, calls[0], app, environ, start_response)
            return app(environ, start_response)
        finally:
            SERVING.reset(token)

    def _refusal(self, caller: Caller, call: actions.Call, service: str) -> tuple[str, str | None]:
        """(the account that owns the call's resource, AWS's message refusing the call or None if allowed)."""
        account, policy = resource_side(call.action, call.resource, caller.account)
        if caller.is_root and account == caller.account and (policy is None or call.action in _ROOT_ALWAYS):
            return account, None  # a root user may do anything at home, unless a resource policy of its own denies it
        decision = self.authorizer.decide(caller, call.action, call.resource, call.context, policy, account)
        if decision.allowed:
            return account, None
        return account, "Access Denied" if caller.is_anonymous else denials.denial_message(
            caller.arn, call.action, call.resource, decision.denial_phrase(), service)

    def _unlisted_missing_key(self, caller: Caller, call: actions.Call, app: WSGIApp, environ: dict,
                              start_response: Callable) -> Iterable[bytes]:
        """GetObject or HeadObject as S3 answers it for a key that does not exist: 404 to a caller who may list
        the bucket (s3:ListBucket), 403 to any other, who may not learn which keys exist."""
        status, headers, chunks = answer(app, environ)
        body = b"".join(chunks)
        if status.startswith("404") and (environ["REQUEST_METHOD"] == "HEAD" or b"<Code>NoSuchKey</Code>" in body) \
                and not _no_such_bucket(call.resource):
            bucket = call.resource.split("/", 1)[0]
            _, denied = self._refusal(caller, actions.Call("s3:ListBucket", bucket, call.context), "s3")
            if denied:
                return send(start_response, denials.access_denied("s3", headers_of(environ), denied))
        start_response(status, headers)
        return [body]


def headers_of(environ: dict) -> dict[str, str]:
    """The request's headers, named as they arrived (repeated ones joined with commas)."""
    headers: dict[str, str] = {}
    for name, value in environ.get(HEADERS, ()):
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    return headers


def send(start_response: Callable, response: tuple[int, list[tuple[str, str]], bytes]) -> list[bytes]:
    status, headers, body = response
    start_response(f"{status} {reason(status)}", [*headers, ("Content-Length", str(len(body)))])
    return [body]


def _reads_an_object(calls: list[actions.Call]) -> bool:
    """Is this GetObject or HeadObject (of a version, too): the one object read S3 answers by its ListBucket rule?"""
    return len(calls) == 1 and calls[0].action in ("s3:GetObject", "s3:GetObjectVersion") and "/" in calls[0].resource


def _no_such_bucket(arn: str) -> bool:
    """Does ``arn`` name a bucket (or an object in one) that does not exist?"""
    from moto.s3.models import s3_backends

    bucket = arn.removeprefix("arn:aws:s3:::").split("/", 1)[0] if arn.startswith("arn:aws:s3:::") else "*"
    return bucket != "*" and bucket not in s3_backends.bucket_accounts


def _root_identity(caller: Caller) -> tuple[int, list[tuple[str, str]], bytes]:
    """STS GetCallerIdentity as AWS answers a root user: the account's ARN ``...:root``, the account as UserId."""
    request_id = str(uuid.uuid4())
    xml = (f'<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>'
           f"<Arn>{caller.arn}</Arn><UserId>{caller.userid}</UserId><Account>{caller.account}</Account>"
           f"</GetCallerIdentityResult><ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
           "</GetCallerIdentityResponse>")
    return 200, [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], xml.encode()
