"""Recursive loop detection: a chain of invocations caused by one event is stopped after 16.

AWS follows an event through the X-Ray trace header: the SDKs inside a function send the
invocation's ``_X_AMZN_TRACE_ID`` with every request (botocore does), the services that support
detection carry it to the invocation they cause, and Lambda counts, in the header's ``Lineage``,
how many times the chain has invoked each function.  Past 16, Lambda stops: a synchronous caller
gets ``RecursiveInvocationException``, an asynchronous event is dropped by the queue (it says why in
``cloud.async_events()``), a poller's batch returns to its queue, and the function's
``RecursiveInvocationsDropped`` metric counts each, unless the function's recursion configuration is
``Allow``.  Here the header arrives with the request that causes the invocation (Invoke itself, or
an S3 PutObject, an SNS Publish or an EventBridge PutEvents a function made, whose events are
delivered while that request is served): the guard keeps it in :data:`INCOMING` (botocore sends it
URL-quoted).  SQS keeps it with the message, as its ``AWSTraceHeader`` system attribute
(:func:`install` makes moto do so), and the poller continues the chain of a batch's first message.
"""

from __future__ import annotations

import functools
import hashlib
import os
import time
from contextvars import ContextVar
from urllib.parse import unquote

from ..service.recursion_config import TERMINATE

INCOMING: ContextVar[str | None] = ContextVar("lambdalab.trace_header", default=None)
LIMIT = 16  # invocations of one function in one chain; the next is dropped
MESSAGE = ("Lambda has detected your function being invoked in a recursive loop with other AWS resources and "
           "stopped your function's invocation.")


def header(function_arn: str, parent: str | None = None) -> str:
    """The trace header of a new invocation of ``function_arn``: a new trace, or ``parent``'s continued with
    this function's count in the chain grown by one."""
    root, counts = _read(parent)
    key = _key(function_arn)
    counts[key] = counts.get(key, 0) + 1
    lineage = "|".join(f"{k}:{v}" for k, v in counts.items())
    return f"Root={root or _new_root()};Parent={os.urandom(8).hex()};Sampled=0;Lineage={lineage}"


def stopped(service, function, trace: str | None) -> bool:
    """Is the invocation of ``function`` (a version of ``service``) that carries ``trace`` one Lambda stops:
    past the 16th of that function in its chain, unless the function allows loops?"""
    return _read(trace)[1].get(_key(function.arn), 0) > LIMIT and \
        service.recursion.setting(function.name) == TERMINATE


def _read(trace: str | None) -> tuple[str | None, dict[str, int]]:
    """A trace header's Root, and its Lineage as counts per function key."""
    fields = dict(part.split("=", 1) for part in unquote(trace or "").split(";") if "=" in part)
    counts = {}
    for entry in fields.get("Lineage", "").split("|"):
        key, _, count = entry.partition(":")
        if key and count.isdigit():
            counts[key] = int(count)
    return fields.get("Root"), counts


def _key(function_arn: str) -> str:
    return hashlib.sha256(function_arn.encode()).hexdigest()[:8]


def _new_root() -> str:
    return f"1-{int(time.time()):08x}-{os.urandom(12).hex()}"


def install() -> None:
    """moto's SQS keeps the trace header of the request that sent a message, as SQS does."""
    from moto.sqs.models import SQSBackend

    if getattr(SQSBackend.send_message, "lambdalab", False):
        return
    moto_send = SQSBackend.send_message

    @functools.wraps(moto_send)
    def send_message(backend, queue_name, message_body, message_attributes=None, delay_seconds=None,
                     deduplication_id=None, group_id=None, system_attributes=None, validate_group_id=True):
        incoming = INCOMING.get()
        if incoming and not (system_attributes or {}).get("AWSTraceHeader"):
            system_attributes = {**(system_attributes or {}),
                                 "AWSTraceHeader": {"DataType": "String", "StringValue": unquote(incoming)}}
        return moto_send(backend, queue_name, message_body, message_attributes, delay_seconds, deduplication_id,
                         group_id, system_attributes, validate_group_id)

    send_message.lambdalab = True
    SQSBackend.send_message = send_message
