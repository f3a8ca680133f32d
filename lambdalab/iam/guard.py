"""IAM at the front door: every signed request is tied to its caller and, for moto's services, judged.

The access key in a request's SigV4 credential names the caller (the signature itself is not
verified: the keys never leave this machine).  A key the cloud never issued gets the service's
invalid-credentials error.  Requests for Lambda go on with their caller attached and are judged
operation by operation in the Lambda API; requests for the other services are judged here, per
action and resource, with the resource's own policy where it has one (a bucket's, a queue's, a
topic's, a role's trust policy), and refused with the error that service sends - moto only sees
allowed calls.
"""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Callable, Iterable
from http import HTTPStatus
from urllib.parse import unquote

from . import actions, denials, documents
from .authorizer import Authorizer
from .principals import Caller, Directory
from .resources import resource_side

_KEY = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/")
_QUERY_KEY = re.compile(r"X-Amz-Credential=([^&%/]+)(?:%2F|/)\d{8}(?:%2F|/)([^&%/]+)")
# A bucket policy can lock out everyone but the account's root user, who may always mend it.
_ROOT_ALWAYS = {"s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"}
CALLER = "lambdalab.caller"  # the WSGI environ key under which a request's Caller travels on
WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


def credential(environ: dict) -> tuple[str, str] | None:
    """(access key id, region) from the request's Authorization header or presigned query."""
    match = _KEY.search(environ.get("HTTP_AUTHORIZATION", "")) or \
        _QUERY_KEY.search(environ.get("QUERY_STRING", ""))
    return (unquote(match.group(1)), match.group(2)) if match else None


class Guard:
    def __init__(self, directory: Directory, authorizer: Authorizer) -> None:
        self.directory, self.authorizer = directory, authorizer

    def __call__(self, service: str | None, environ: dict, app: WSGIApp, start_response: Callable) -> Iterable[bytes]:
        found = credential(environ)
        if found is None or service is None:  # unsigned: moto answers as AWS does to anonymous calls
            return app(environ, start_response)
        key, region = found
        headers = _headers(environ)
        caller = self.directory.caller(key)
        if caller is None:
            return _send(start_response, denials.invalid_credentials(service, headers))
        environ[CALLER] = caller
        environ["HTTP_X_MOTO_ACCOUNT_ID"] = caller.account  # moto serves the caller's own account
        if service == "lambda":  # the Lambda API judges per operation
            return app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        query = environ.get("QUERY_STRING", "")
        if caller.is_root and service == "sts" and \
                actions.operation({k.lower(): v for k, v in headers.items()}, query, body)[0] == "GetCallerIdentity":
            return _send(start_response, _root_identity(caller))  # moto knows no root user to say who it is
        owners = set()
        try:
            calls = actions.describe(service, environ["REQUEST_METHOD"], environ.get("PATH_INFO", "/"), query,
                                     headers, body, region, caller.account)
        except actions.UnreadableBody as e:  # AWS's front end refuses it before anything else looks at it
            return _send(start_response, denials.refusal(service, headers, 400, "SerializationException", str(e)))
        for call in calls:
            account, policy = resource_side(call.action, call.resource, caller.account)
            if caller.is_root and account == caller.account and (policy is None or call.action in _ROOT_ALWAYS):
                continue  # a root user may do anything at home, unless a resource policy of its own denies it
            decision = self.authorizer.decide(caller, call.action, call.resource, call.context, policy, account)
            if not decision.allowed:
                return _send(start_response, denials.access_denied(service, headers, denials.denial_message(
                    caller.arn, call.action, call.resource, decision.denial_phrase(), service)))
            owners.add(account)
        if problem := documents.malformed(service, headers, query, body):  # IAM reads the policy it is given
            return _send(start_response, denials.refusal(service, headers, 400, "MalformedPolicyDocument", problem))
        if len(owners) == 1:  # allowed on another account's queue or topic: moto serves that account
            environ["HTTP_X_MOTO_ACCOUNT_ID"] = owners.pop()
        return app(environ, start_response)


def _headers(environ: dict) -> dict[str, str]:
    headers = {k[5:].replace("_", "-").title(): v for k, v in environ.items() if k.startswith("HTTP_")}
    if "CONTENT_TYPE" in environ:
        headers["Content-Type"] = environ["CONTENT_TYPE"]
    return headers


def _send(start_response: Callable, response: tuple[int, list[tuple[str, str]], bytes]) -> list[bytes]:
    status, headers, body = response
    start_response(f"{status} {HTTPStatus(status).phrase}",
                   [*headers, ("Content-Length", str(len(body)))])
    return [body]


def _root_identity(caller: Caller) -> tuple[int, list[tuple[str, str]], bytes]:
    """STS GetCallerIdentity as AWS answers a root user: the account's ARN ``...:root``, the account as UserId."""
    request_id = str(uuid.uuid4())
    xml = (f'<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>'
           f"<Arn>{caller.arn}</Arn><UserId>{caller.userid}</UserId><Account>{caller.account}</Account>"
           f"</GetCallerIdentityResult><ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
           "</GetCallerIdentityResponse>")
    return 200, [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], xml.encode()
