"""A refused request answered as the service answers it: status, error code, message and wire format.

Each protocol carries errors its own way and the SDKs read them accordingly: S3 an ``<Error>``
document (with extra fields such as ``AWSAccessKeyId`` or ``StringToSign``), EC2
``<Response><Errors>``, query services (SNS, STS, IAM) an ``<ErrorResponse>``, JSON services a
``__type``, REST-JSON services (Lambda) an ``x-amzn-ErrorType`` header.  SQS and CloudWatch moved
from query to JSON but still report their old query error codes in the ``x-amzn-query-error``
header, which botocore prefers over ``__type``; when such a service is called over the query
protocol it answers in query XML.

A :class:`Refused` names what went wrong in terms every protocol shares (``kind``); ``_ERRORS``
gives each service family's status, code and message for it, as AWS sends them:

* AWS's "Common Errors" of its API references (IncompleteSignature, InvalidClientTokenId,
  MissingAuthenticationToken, RequestExpired, ...; Lambda's with 403s);
* S3's RequestTimeTooSkewed with RequestTime, ServerTime and MaxAllowedSkewMilliseconds (900000),
  as S3 answered in aws/aws-sdk-php#612 and versity/versitygw#1514;
* "Signature expired: ... is now earlier than ... (... - 15 min.)" with InvalidSignatureException
  (JSON services, 400: aws/aws-sdk-js#254) or SignatureDoesNotMatch (query services: aws/aws-cli#6676);
* S3's presigned-URL and signature errors as recorded against AWS in LocalStack's
  tests/aws/services/s3/test_s3.snapshot.json (SignatureDoesNotMatch with StringToSign and
  CanonicalRequest, "Request has expired" with X-Amz-Expires/Expires/ServerTime,
  AuthorizationQueryParametersError, HeadersNotSigned);
* "Missing Authentication Token" with MissingAuthenticationTokenException (REST APIs, as
  recorded in LocalStack's tests/aws/services/apigateway/test_apigateway_common.snapshot.json);
  "Request is missing Authentication Token", MissingAuthenticationTokenException, 400 from DynamoDB
  (amazon-archives/aws-dynamodb-session-tomcat#42), MissingAuthenticationToken (403) for query services.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from xml.sax.saxutils import escape

Response = tuple[int, list[tuple[str, str]], bytes]
Entry = tuple[int, str, str]  # status, code, message ("" for the Refused's own)

INVALID_TOKEN = "The security token included in the request is invalid."
EXPIRED_TOKEN = "The security token included in the request is expired"
SIGNATURE = ("The request signature we calculated does not match the signature you provided. Check your AWS Secret "
             "Access Key and signing method. Consult the service documentation for details.")
S3_SIGNATURE = ("The request signature we calculated does not match the signature you provided. Check your key and "
                "signing method.")
MISSING_TOKEN = "Request is missing Authentication Token"
EC2_AUTH = "AWS was not able to validate the provided access credentials"
S3_NOT_SUPPORTED = "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."

# kind -> service or family -> (status, code, message); a family missing from a kind uses _FALLBACK's kind
_ERRORS: dict[str, dict[str, Entry]] = {
    "denied": {"s3": (403, "AccessDenied", ""), "ec2": (403, "UnauthorizedOperation", ""),
               "sns": (403, "AuthorizationError", ""), "query": (403, "AccessDenied", ""),
               "json": (400, "AccessDeniedException", ""), "rest-json": (403, "AccessDeniedException", "")},
    "invalid-key": {
        "s3": (403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."),
        "ec2": (401, "AuthFailure", EC2_AUTH), "query": (403, "InvalidClientTokenId", INVALID_TOKEN),
        "json": (400, "UnrecognizedClientException", INVALID_TOKEN),
        "rest-json": (403, "UnrecognizedClientException", INVALID_TOKEN)},
    "invalid-token": {"s3": (400, "InvalidToken", "The provided token is malformed or otherwise invalid.")},
    "expired-token": {"s3": (400, "ExpiredToken", "The provided token has expired."),
                      "ec2": (400, "ExpiredToken", EXPIRED_TOKEN), "query": (403, "ExpiredToken", EXPIRED_TOKEN),
                      "json": (400, "ExpiredTokenException", EXPIRED_TOKEN),
                      "rest-json": (403, "ExpiredTokenException", EXPIRED_TOKEN)},
    "bad-signature": {"s3": (403, "SignatureDoesNotMatch", S3_SIGNATURE), "ec2": (401, "AuthFailure", EC2_AUTH),
                      "query": (403, "SignatureDoesNotMatch", SIGNATURE),
                      "json": (400, "InvalidSignatureException", SIGNATURE),
                      "rest-json": (403, "InvalidSignatureException", SIGNATURE)},
    "skewed": {"s3": (403, "RequestTimeTooSkewed",
                      "The difference between the request time and the current time is too large."),
               "ec2": (400, "RequestExpired", "Request has expired."), "query": (403, "SignatureDoesNotMatch", ""),
               "json": (400, "InvalidSignatureException", ""), "rest-json": (403, "InvalidSignatureException", "")},
    "presign-expired": {"s3": (403, "AccessDenied", "Request has expired"),
                        "query": (400, "RequestExpired", "Request has expired."),
                        "json": (400, "RequestExpired", "Request has expired."),
                        "rest-json": (400, "RequestExpired", "Request has expired."),
                        "ec2": (400, "RequestExpired", "Request has expired.")},
    "presign-early": {"s3": (403, "AccessDenied", "Request is not valid yet")},
    "missing-auth": {"s3": (403, "AccessDenied", "Access Denied"), "ec2": (401, "AuthFailure", EC2_AUTH),
                     "query": (403, "MissingAuthenticationToken", MISSING_TOKEN),
                     "json": (400, "MissingAuthenticationTokenException", MISSING_TOKEN),
                     "rest-json": (403, "MissingAuthenticationTokenException", "Missing Authentication Token")},
    "incomplete": {"s3": (400, "AuthorizationHeaderMalformed", ""), "ec2": (400, "IncompleteSignature", ""),
                   "query": (400, "IncompleteSignature", ""), "json": (400, "IncompleteSignatureException", ""),
                   "rest-json": (403, "IncompleteSignatureException", "")},
    "header-malformed": {"s3": (400, "AuthorizationHeaderMalformed", "")},
    "query-malformed": {"s3": (400, "AuthorizationQueryParametersError", "")},
    "auth-argument": {"s3": (400, "InvalidArgument", "")},
    "v2-query-malformed": {"s3": (403, "AccessDenied", "")},
    "v2-no-date": {"s3": (403, "AccessDenied", "")},
    "unsupported-auth": {"s3": (400, "InvalidRequest", S3_NOT_SUPPORTED)},
    "missing-content-sha256": {"s3": (400, "InvalidRequest", "")},
    "bad-content-sha256": {"s3": (400, "InvalidArgument", "")},
    "content-sha256": {"s3": (400, "XAmzContentSHA256Mismatch",
                              "The provided 'x-amz-content-sha256' header does not match what was computed.")},
    "unsigned-headers": {"s3": (403, "AccessDenied",
                                "There were headers present in the request which were not signed")},
    "malformed-chunks": {"s3": (400, "InvalidRequest", "")},
    "incomplete-body": {"s3": (400, "IncompleteBody", "The request body terminated unexpectedly")},
    "bad-digest": {"s3": (400, "BadDigest", "")},
    "unknown-service": {"s3": (400, "InvalidRequest", ""), "ec2": (400, "InvalidAction", ""),
                        "query": (400, "InvalidAction", ""), "json": (400, "UnknownOperationException", ""),
                        "rest-json": (404, "UnknownOperationException", "")},
    "malformed-input": {"s3": (400, "MalformedXML", "The XML you provided was not well-formed or did not validate "
                                                    "against our published schema"),
                        "ec2": (400, "InvalidParameterValue", ""), "query": (400, "ValidationError", ""),
                        "json": (400, "SerializationException", ""), "rest-json": (400, "SerializationException", "")},
    "invalid-argument": {"s3": (400, "InvalidArgument", "")},
    "no-such-key": {"s3": (404, "NoSuchKey", "The specified key does not exist.")},
    "malformed-policy": {"query": (400, "MalformedPolicyDocument", "")},
    "internal": {"s3": (500, "InternalError", "We encountered an internal error. Please try again."),
                 "ec2": (500, "InternalError", ""), "query": (500, "InternalFailure", ""),
                 "json": (500, "InternalFailure", ""), "rest-json": (500, "InternalFailure", "")},
}
_FALLBACK = {"invalid-token": "invalid-key", "presign-early": "skewed", "header-malformed": "incomplete",
             "query-malformed": "incomplete", "auth-argument": "incomplete",
             "v2-query-malformed": "incomplete", "v2-no-date": "incomplete", "unsupported-auth": "incomplete",
             "missing-content-sha256": "incomplete", "bad-content-sha256": "incomplete",
             "content-sha256": "bad-signature", "unsigned-headers": "bad-signature", "malformed-chunks": "incomplete",
             "incomplete-body": "malformed-input", "bad-digest": "malformed-input",
             "invalid-argument": "malformed-input", "malformed-policy": "malformed-input"}
_QUERY_SERVICES = {"iam", "sts", "sns", "sqs", "monitoring", "cloudformation", "autoscaling", "elasticloadbalancing",
                   "rds", "redshift", "ses", "elasticache", "elasticbeanstalk", "sdb"}
_QUERY_COMPATIBLE = {"sqs", "monitoring"}  # JSON now, query error codes in x-amzn-query-error
_NAMESPACES = {"sns": "http://sns.amazonaws.com/doc/2010-03-31/", "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
               "iam": "https://iam.amazonaws.com/doc/2010-05-08/", "sqs": "http://queue.amazonaws.com/doc/2012-11-05/",
               "monitoring": "http://monitoring.amazonaws.com/doc/2010-08-01/"}


class Refused(Exception):
    """A request refused before it reaches the service: ``kind`` (a key of ``_ERRORS``) picks each
    service's code; ``message`` fills the entries that have none; ``s3_message`` replaces S3's
    (whose words often differ); ``fields`` are the extra elements of S3's ``<Error>``."""

    def __init__(self, kind: str, message: str = "", *, s3_message: str | None = None,
                 fields: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind, self.message, self.s3_message, self.fields = kind, message, s3_message, fields


def denial_message(principal_arn: str, action: str, resource: str, phrase: str, service: str) -> str:
    """AWS's text for a refusal, e.g. ``User: arn:... is not authorized to perform: s3:GetObject on resource:
    "arn:aws:s3:::b/k" because no identity-based policy allows the s3:GetObject action``.

    ``phrase`` is the reason as the policy engine words it ("because no identity-based policy allows
    the ... action", "with an explicit deny in ..."). Services differ in small ways that learners see:
    S3 quotes the resource, SQS lowercases the action, SNS writes its prefix ``SNS:``, EC2 prefixes its
    own sentence (the "Encoded authorization failure message" that follows it on AWS is omitted here),
    and an unscoped action ("*") names no resource.
    """
    shown = action
    if service == "sqs":
        shown = action.lower()
    elif service == "sns":
        shown = "SNS:" + action.split(":", 1)[-1]
    phrase = phrase.replace(action, shown)
    on = "" if resource == "*" else f' on resource: "{resource}"' if service == "s3" else f" on resource: {resource}"
    text = f"User: {principal_arn} is not authorized to perform: {shown}{on} {phrase}"
    return f"You are not authorized to perform this operation. {text}" if service == "ec2" else text


def access_denied(service: str, headers: Mapping[str, str], message: str) -> Response:
    """The response ``service`` sends when IAM refuses the call; ``message`` from :func:`denial_message`."""
    return respond(service, headers, Refused("denied", message))


def invalid_credentials(service: str, headers: Mapping[str, str], access_key: str) -> Response:
    """The response ``service`` sends for an access key id the cloud never issued (or that was deleted)."""
    return respond(service, headers, Refused("invalid-key", fields=(("AWSAccessKeyId", access_key),)))


def family(service: str, headers: Mapping[str, str]) -> str:
    """The wire format ``service`` answers in: s3, ec2, json, query or rest-json (``headers`` in lower case)."""
    if service in ("s3", "ec2"):
        return service
    if "x-amz-target" in headers:
        return "json"
    if service in _QUERY_SERVICES or "x-www-form-urlencoded" in headers.get("content-type", ""):
        return "query"
    return "rest-json"


def respond(service: str, headers: Mapping[str, str], refused: Refused) -> Response:
    """``refused`` answered as ``service`` (a SigV4 signing name, "" when unknown) answers it."""
    lower = {k.lower(): v for k, v in headers.items()}
    kind, wire = refused.kind, family(service, lower)
    status, code, text = _entry(kind, service, wire)
    message = (refused.s3_message if wire == "s3" and refused.s3_message is not None else None) \
        or text or refused.message
    request_id = str(uuid.uuid4())
    if wire == "json":
        head = [("Content-Type", lower.get("content-type", "application/x-amz-json-1.1")),
                ("x-amzn-RequestId", request_id)]
        if service in _QUERY_COMPATIBLE:
            status, query_code, _ = _entry(kind, service, "query")
            head.append(("x-amzn-query-error", f"{query_code};Sender"))
        body = json.dumps({"__type": f"com.amazon.coral.service#{code}", "message": message})
        return status, head, body.encode()
    if wire == "rest-json":
        head = [("Content-Type", "application/json"), ("x-amzn-ErrorType", code), ("x-amzn-RequestId", request_id)]
        return status, head, json.dumps({"message": message}).encode()
    if wire == "s3":
        extra = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in refused.fields)
        xml = f"<Error><Code>{code}</Code><Message>{escape(message)}</Message>{extra}" \
              f"<RequestId>{request_id}</RequestId><HostId>{request_id}</HostId></Error>"
        head = [("x-amz-request-id", request_id)]
    elif wire == "ec2":
        xml = f"<Response><Errors><Error><Code>{code}</Code><Message>{escape(message)}</Message></Error></Errors>" \
              f"<RequestID>{request_id}</RequestID></Response>"
        head = []
    else:
        xml = f'<ErrorResponse xmlns="{_NAMESPACES.get(service, "")}"><Error><Type>Sender</Type><Code>{code}</Code>' \
              f"<Message>{escape(message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        head = [("x-amzn-RequestId", request_id)]
    return status, [("Content-Type", "text/xml"), *head], f'<?xml version="1.0" encoding="UTF-8"?>\n{xml}'.encode()


def _entry(kind: str, service: str, wire: str) -> Entry:
    while True:
        table = _ERRORS[kind]
        found = table.get(service) or table.get(wire)
        if found is not None:
            return found
        kind = _FALLBACK[kind]
