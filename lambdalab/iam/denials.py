"""A refused call answered as the service answers it: status, error code, message and wire format.

Each protocol carries errors its own way and the SDKs read them accordingly: S3 an ``<Error>``
document, EC2 ``<Response><Errors>``, query services (SNS, STS, IAM) an ``<ErrorResponse>``, JSON
services a ``__type``.  SQS and CloudWatch moved from query to JSON but still report their old query
error codes in the ``x-amzn-query-error`` header, which botocore prefers over ``__type``; when such a
service is called over the query protocol it answers in query XML.  The codes and messages are AWS's
own (AccessDenied, AuthorizationError, UnauthorizedOperation, AccessDeniedException, ...).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from xml.sax.saxutils import escape

Response = tuple[int, list[tuple[str, str]], bytes]

INVALID_TOKEN = "The security token included in the request is invalid."
Table = dict[str, tuple[int, str, str]]
# (status, code, message) by service where it has its own, else by wire family; a denial's message is the caller's
_DENIED: Table = {"s3": (403, "AccessDenied", ""), "ec2": (403, "UnauthorizedOperation", ""),
                  "sns": (403, "AuthorizationError", ""), "query": (403, "AccessDenied", ""),
                  "json": (400, "AccessDeniedException", "")}
_INVALID: Table = {
    "s3": (403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."),
    "ec2": (401, "AuthFailure", "AWS was not able to validate the provided access credentials"),
    "query": (403, "InvalidClientTokenId", INVALID_TOKEN), "json": (400, "UnrecognizedClientException", INVALID_TOKEN)}
_QUERY_COMPATIBLE = {"sqs", "monitoring"}  # JSON now, query error codes in x-amzn-query-error
_NAMESPACES = {"sns": "http://sns.amazonaws.com/doc/2010-03-31/", "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
               "iam": "https://iam.amazonaws.com/doc/2010-05-08/", "sqs": "http://queue.amazonaws.com/doc/2012-11-05/",
               "monitoring": "http://monitoring.amazonaws.com/doc/2010-08-01/"}
_KEY = re.compile(r"Credential=([^/,\s]+)/")


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
    return _respond(service, headers, _DENIED, message)


def invalid_credentials(service: str, headers: Mapping[str, str]) -> Response:
    """The response ``service`` sends for an access key id the cloud never issued."""
    return _respond(service, headers, _INVALID)


def refusal(service: str, headers: Mapping[str, str], status: int, code: str, message: str) -> Response:
    """Any other refusal, in ``service``'s wire format (IAM's MalformedPolicyDocument, a body it cannot read)."""
    return _respond(service, headers, dict.fromkeys(("s3", "ec2", "query", "json"), (status, code, message)))


def _respond(service: str, headers: Mapping[str, str], table: Table, message: str = "") -> Response:
    lower = {k.lower(): v for k, v in headers.items()}
    family = service if service in ("s3", "ec2") else "json" if "x-amz-target" in lower else "query"
    status, code, text = table.get(service) or table[family]
    message, request_id = message or text, str(uuid.uuid4())
    if family == "json":
        head = [("Content-Type", lower.get("content-type", "application/x-amz-json-1.1")),
                ("x-amzn-RequestId", request_id)]
        if service in _QUERY_COMPATIBLE:
            status, query_code, _ = table["query"]
            head.append(("x-amzn-query-error", f"{query_code};Sender"))
        body = json.dumps({"__type": f"com.amazon.coral.service#{code}", "message": message})
        return status, head, body.encode()
    if family == "s3":
        key = _KEY.search(lower.get("authorization", ""))
        extra = f"<AWSAccessKeyId>{escape(key.group(1))}</AWSAccessKeyId>" if key and table is _INVALID else ""
        xml = f"<Error><Code>{code}</Code><Message>{escape(message)}</Message>{extra}" \
              f"<RequestId>{request_id}</RequestId><HostId>{request_id}</HostId></Error>"
        head = [("x-amz-request-id", request_id)]
    elif family == "ec2":
        xml = f"<Response><Errors><Error><Code>{code}</Code><Message>{escape(message)}</Message></Error></Errors>" \
              f"<RequestID>{request_id}</RequestID></Response>"
        head = []
    else:
        xml = f'<ErrorResponse xmlns="{_NAMESPACES.get(service, "")}"><Error><Type>Sender</Type><Code>{code}</Code>' \
              f"<Message>{escape(message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        head = [("x-amzn-RequestId", request_id)]
    return status, [("Content-Type", "text/xml"), *head], f'<?xml version="1.0" encoding="UTF-8"?>\n{xml}'.encode()
