"""Where an asynchronous event ends up: its invocation record at a destination, the event itself in a
dead-letter queue, each delivered through the target's own API as the function's execution role.
Event source mappings send what they give up to their on-failure destination the same way
(:meth:`Destinations.send`, from ``poll/onfailure.py``).

Deliveries are real requests: signed by botocore with a session of the execution role (the session
an environment of the function would get) and sent to the cloud's endpoint, so the endpoint checks
the signature, IAM judges the role as it judges any caller (the decision is in
``cloud.decisions()``), moto stores the message, and the learner reads it with the ordinary
clients.  A role that may not send gets no delivery: the queue counts ``DestinationDeliveryFailures``
or ``DeadLetterErrors``, as Lambda does.  One path for handlers and for Lambda itself means one set
of rules; the price is one local HTTP request (a millisecond or two) per delivery.

When a destination or dead-letter queue is configured, Lambda checks it first, as AWS does:
whether it exists and whether the role may send to it, judged by IAM without a request
(:meth:`Destinations.check`, :meth:`Destinations.check_dead_letter`).

Formats, as AWS sends them (LocalStack's AWS-validated ``test_lambda_destinations.py`` snapshots,
November 2025, and the "Capturing records of Lambda asynchronous invocations" page):

* The record: ``version``, ``timestamp``, ``requestContext`` (``requestId``, ``functionArn``
  qualified, ``condition``, ``approximateInvokeCount``), ``requestPayload``, ``responseContext``
  (``statusCode``, ``executedVersion``, ``functionError`` when it failed), ``responsePayload``; the
  SQS message body, the SNS message, the Lambda payload, or the EventBridge event's ``detail`` with
  ``source`` "lambda" and ``detail-type`` "Lambda Function Invocation Result - Success" (or
  "- Failure"), ``resources`` the bus and the function; an S3 object named
  ``aws/lambda/async/<function>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<uuid>``.
* The dead letter: the event itself, with the attributes ``RequestID`` (String), ``ErrorCode``
  (Number: the invocation's status, 200 for a function error) and ``ErrorMessage`` (String, the
  first 1 KB of the error message).
* An SQS message carries the event's X-Ray trace header as its ``AWSTraceHeader`` attribute.

Assumed where no recording says: ``functionArn`` names what was invoked (an alias, a version, or
``$LATEST`` for an unqualified name); an event that never ran (throttled until its age ran out) has
``approximateInvokeCount`` 0, ``responseContext`` ``{"statusCode": 429}``, no ``responsePayload``,
and a dead letter with ErrorCode 429 and the throttle's message; the refusal messages for Lambda,
EventBridge and S3 destinations follow the one quoted for SNS ("The function's execution role does
not have permissions to call Publish on ARN").

``_lock`` guards the cache of sessions and clients; a client is made under it, from the process's
one session (``memory.client``: each service model parsed once), which only deliveries wait for,
never an invocation.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from botocore.config import Config

from .. import memory
from ..arns import parse_arn
from ..iam.authorizer import Authorizer
from ..iam.principals import Directory
from ..iam.resources import resource_side
from ..service.errors import InvalidParameterValueException
from ..service.event_invoke import destination_service
from ..service.models import Function

Credentials = Callable[[str, str, str], dict[str, str]]  # (role ARN, session name, region) -> the three variables
CLIENT_CONFIG = Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=30)
SESSION_RENEW_S = 3600.0  # machine seconds a delivery session is used before a new one is taken
# What the execution role must be allowed, per destination service, and the name AWS's refusal gives it.
SEND = {"sqs": ("sqs:SendMessage", "SendMessage"), "sns": ("sns:Publish", "Publish"),
        "lambda": ("lambda:InvokeFunction", "InvokeFunction"), "events": ("events:PutEvents", "PutEvents"),
        "s3": ("s3:PutObject", "PutObject")}
DETAIL_TYPE = "Lambda Function Invocation Result - {}"


@dataclass(frozen=True)
class Outcome:
    """How one attempt (the last one) ended, as a record and a dead letter describe it."""

    status: int  # 200 when the function ran (whatever it answered), 429 when it never could
    executed_version: str | None
    response: bytes | None  # the function's answer; None when it never ran
    function_error: str | None  # "Unhandled" when the function failed
    error_message: str  # for the dead letter: the function's errorMessage, or the throttle's message


def invocation_record(request_id: str, function_arn: str, condition: str, invoke_count: int, payload: bytes,
                      outcome: Outcome, at: datetime) -> dict[str, Any]:
    """The invocation record Lambda sends to a destination, keys in AWS's order."""
    response: dict[str, Any] = {"statusCode": outcome.status}
    if outcome.executed_version is not None:
        response["executedVersion"] = outcome.executed_version
    if outcome.function_error:
        response["functionError"] = outcome.function_error
    record: dict[str, Any] = {
        "version": "1.0", "timestamp": _iso(at),
        "requestContext": {"requestId": request_id, "functionArn": function_arn, "condition": condition,
                           "approximateInvokeCount": invoke_count},
        "requestPayload": _json_or_text(payload), "responseContext": response}
    if outcome.response is not None:
        record["responsePayload"] = _json_or_text(outcome.response)
    return record


@dataclass
class _Session:
    credentials: dict[str, str]
    made: float  # time.monotonic() when it was taken
    clients: dict[tuple[str, str], Any] = field(default_factory=dict)  # (service, region) -> botocore client


class Destinations:
    """Checks destinations and dead-letter queues when they are configured, and delivers to them."""

    def __init__(self, endpoint_url: str, directory: Directory, authorizer: Authorizer,
                 credentials: Credentials) -> None:
        self.endpoint_url = endpoint_url
        self._directory, self._authorizer, self._credentials = directory, authorizer, credentials
        self._sessions: dict[tuple[str, str], _Session] = {}  # (role ARN, function name) -> its delivery session
        self._lock = threading.Lock()

    # -- when configured -------------------------------------------------------------------------
    def check(self, function: Function, arn: str) -> None:
        """Refuse a destination that does not exist or that the execution role may not send to."""
        service = destination_service(arn, on_failure=True)
        if service != "lambda" and not _exists(service, arn):
            raise InvalidParameterValueException(f"The destination ARN {arn} is invalid.")
        action, name = SEND[service]
        if not self._may(function.role, action, _resource(service, arn, function.name)) or \
                (service == "s3" and not self._may(function.role, "s3:ListBucket", arn)):
            raise InvalidParameterValueException(f"The function's execution role does not have permissions to call "
                                                 f"{name} on {arn}")

    def check_dead_letter(self, role: str, arn: str, region: str) -> None:
        """Refuse a DeadLetterConfig.TargetArn as CreateFunction and UpdateFunctionConfiguration do."""
        parsed = parse_arn(arn)
        if parsed is None or parsed.service not in ("sqs", "sns"):
            raise InvalidParameterValueException("Invalid dead letter queue ARN: The service specified by the "
                                                 "TargetArn is not supported for dead letter configuration.")
        if parsed.region != region:
            raise InvalidParameterValueException(
                "Invalid dead letter queue ARN: The resource specified by the TargetArn must be in the same region "
                "as the Lambda function it's associated with.")
        if parsed.service == "sqs" and parsed.resource.endswith(".fifo"):
            raise InvalidParameterValueException("Invalid dead letter queue ARN: FIFO SQS queue is not supported "
                                                 "for dead letter configuration")
        action, name = SEND[parsed.service]
        if not self._may(role, action, arn):
            raise InvalidParameterValueException(f"The provided execution role does not have permissions to call "
                                                 f"{name} on {parsed.service.upper()}")

    # -- when an event ends ----------------------------------------------------------------------
    def send_record(self, function: Function, arn: str, record: dict[str, Any], success: bool, at: datetime,
                    trace_id: str | None) -> str | None:
        """Deliver an invocation record made ``at`` (cloud time); None when delivered, else why not."""
        service = destination_service(arn, on_failure=True)
        body = json.dumps(record, separators=(",", ":"))
        if service not in ("lambda", "events"):
            return self.send(function, arn, body, key=_object_key(function.name, at), trace_id=trace_id)

        def send(client) -> str | None:
            if service == "lambda":
                client.invoke(FunctionName=arn, InvocationType="Event", Payload=body.encode())
                return None
            entry = {"Source": "lambda", "DetailType": DETAIL_TYPE.format("Success" if success else "Failure"),
                     "Detail": body, "EventBusName": arn, "Time": at,
                     "Resources": [arn, record["requestContext"]["functionArn"]]}
            answer = client.put_events(Entries=[entry])
            if answer.get("FailedEntryCount"):
                return answer["Entries"][0].get("ErrorMessage", "PutEvents refused the event")
            return None

        return self._deliver(function, service, parse_arn(arn).region, send)

    def send_dead_letter(self, function: Function, arn: str, payload: bytes, request_id: str, error_code: int,
                         error_message: str, trace_id: str | None) -> str | None:
        """Deliver the event to the dead-letter queue (or topic); None when delivered, else why not."""
        attributes = {"RequestID": {"DataType": "String", "StringValue": request_id},
                      "ErrorCode": {"DataType": "Number", "StringValue": str(error_code)},
                      "ErrorMessage": {"DataType": "String", "StringValue": error_message}}
        return self.send(function, arn, payload.decode("utf-8", "replace"), attributes=attributes, trace_id=trace_id)

    def send(self, function: Function, arn: str, body: str, key: str | None = None,
             attributes: dict[str, Any] | None = None, trace_id: str | None = None) -> str | None:
        """Send ``body`` as the function's execution role to an SQS queue, an SNS topic (with message
        ``attributes``) or an S3 bucket (as the object ``key``); None when delivered, else why not.

        Asynchronous invocations' destinations and dead letters and event source mappings' on-failure
        destinations all deliver through this."""
        target = parse_arn(arn)
        if target is None or target.service not in ("sqs", "sns", "s3"):
            return f"unsupported destination {arn}"

        def send(client) -> None:
            extra = {"MessageAttributes": attributes} if attributes else {}
            if target.service == "sqs":
                client.send_message(QueueUrl=self._queue_url(arn), MessageBody=body, **extra, **_traced(trace_id))
            elif target.service == "sns":
                client.publish(TopicArn=arn, Message=body, **extra)
            else:
                client.put_object(Bucket=target.resource, Key=key, Body=body.encode())

        return self._deliver(function, target.service, target.region or _region(function), send)

    # -- helpers ---------------------------------------------------------------------------------
    def _may(self, role: str, action: str, resource: str) -> bool:
        caller = self._directory.for_arn(role)
        if caller is None:  # the role is gone: its sessions may do nothing
            return False
        account, policy = resource_side(action, resource, caller.account)
        return self._authorizer.simulate(caller, action, resource, None, policy, account).allowed

    def _deliver(self, function: Function, service: str, region: str, send: Callable[[Any], str | None]) -> str | None:
        try:
            return send(self._client(function, service, region))
        except Exception as e:  # botocore's errors, refused requests, a target that went away: a failed delivery
            return f"{type(e).__name__}: {e}"

    def _client(self, function: Function, service: str, region: str):
        """A botocore client acting as a session of the function's execution role (made once, kept)."""
        key = (function.role, function.name)
        with self._lock:
            session = self._sessions.get(key)
            if session is None or time.monotonic() - session.made > SESSION_RENEW_S:
                session = self._sessions[key] = _Session(self._credentials(function.role, function.name, region),
                                                         time.monotonic())
            client = session.clients.get((service, region))
            if client is None:
                creds = session.credentials
                client = session.clients[(service, region)] = memory.client(  # the process's models, parsed once
                    service, region_name=region, endpoint_url=self.endpoint_url, config=CLIENT_CONFIG,
                    aws_access_key_id=creds["AWS_ACCESS_KEY_ID"], aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
                    aws_session_token=creds["AWS_SESSION_TOKEN"])
        return client

    def _queue_url(self, arn: str) -> str:
        target = parse_arn(arn)
        return f"{self.endpoint_url}/{target.account}/{target.resource}"


def _traced(trace_id: str | None) -> dict[str, Any]:
    """The event's X-Ray trace header, passed on to an SQS message as AWS does (its ``AWSTraceHeader``)."""
    return {"MessageSystemAttributes": {"AWSTraceHeader": {"DataType": "String", "StringValue": trace_id}}} \
        if trace_id else {}


def _exists(service: str, arn: str) -> bool:
    """Whether the queue, topic, event bus or bucket an ARN names exists (in moto)."""
    target = parse_arn(arn)
    if service == "s3":
        from moto.s3.models import s3_backends

        return target.resource in s3_backends.bucket_accounts
    backends = _backends(service)
    if target.account not in backends:
        return False
    backend = backends[target.account][target.region]
    if service == "sqs":
        return target.resource in backend.queues
    if service == "sns":
        return arn in backend.topics
    return target.resource.removeprefix("event-bus/") in backend.event_buses


def _backends(service: str):
    if service == "sqs":
        from moto.sqs.models import sqs_backends

        return sqs_backends
    if service == "sns":
        from moto.sns.models import sns_backends

        return sns_backends
    from moto.events.models import events_backends

    return events_backends


def _resource(service: str, arn: str, function_name: str) -> str:
    """What a delivery acts on, for IAM: the destination itself, or for S3 the objects Lambda writes."""
    return f"{arn}/aws/lambda/async/{function_name}/" if service == "s3" else arn


def _region(function: Function) -> str:
    return parse_arn(function.arn).region


def _object_key(function_name: str, at: datetime) -> str:
    """``aws/lambda/async/<function>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<uuid>``, as Lambda names its S3 records."""
    at = at.astimezone(timezone.utc)
    return f"aws/lambda/async/{function_name}/{at:%Y/%m/%d}/{at:%Y-%m-%dT%H.%M.%S}-{uuid.uuid4()}"


def _iso(at: datetime) -> str:
    """``2019-11-14T18:16:05.568Z``: UTC with milliseconds, as the record's timestamp."""
    at = at.astimezone(timezone.utc)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def _json_or_text(raw: bytes) -> Any:
    """A payload as the record holds it: the JSON value, or the text when it is not JSON."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")
