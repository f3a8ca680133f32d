"""Invoke: payload checks, then RequestResponse (wait), Event (queue, 202) or DryRun (204)."""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Any

from ..invoke import recursion
from ..invoke.pool import PoolClosed
from ..jackson import load_json
from ..observe.metrics import resource_dimension
from ..sandbox.invocation import Invocation
from ..service.errors import (
    InvalidRequestContentException,
    LambdaError,
    RecursiveInvocationException,
    RequestEntityTooLargeException,
)
from .context import ApiContext


def invoke(ctx: ApiContext, p: dict[str, Any]) -> dict:
    service, quotas = ctx.service, ctx.service.quotas
    located = service.lookup(p["FunctionName"], p.get("Qualifier"), invoke=True)
    kind = p.get("InvocationType") or "RequestResponse"
    payload = p.get("Payload") or b""
    if kind == "Event" and len(payload) > quotas.async_payload_max_bytes:
        raise RequestEntityTooLargeException(f"{len(payload)} byte payload is too large for the Event invocation "
                                             f"type (limit {quotas.async_payload_max_bytes} bytes)")
    if len(payload) > quotas.sync_payload_max_bytes:
        raise RequestEntityTooLargeException(
            f"Request must be smaller than {quotas.sync_payload_max_bytes} bytes for the InvokeFunction operation")
    try:
        load_json(payload or b"{}")
    except ValueError as e:
        raise InvalidRequestContentException(
            f"Could not parse request body into json: Could not parse payload into json: {e}") from None
    client_context = _client_context(p.get("ClientContext"), quotas.client_context_max_bytes)
    if kind == "DryRun":
        return {"StatusCode": 204}
    inv = Invocation(request_id=str(uuid.uuid4()), payload=payload or b"{}", invoked_arn=located.arn,
                     invocation_type=kind, client_context=client_context,
                     trace_id=recursion.header(located.function.arn, recursion.INCOMING.get()))
    if kind == "Event":  # a looping event is accepted, then dropped by the queue, which accounts for it
        ctx.queue.submit(service, located, inv)
        return {"StatusCode": 202, "_request_id": inv.request_id}
    if recursion.stopped(service, located.function, inv.trace_id):
        ctx.invoker.metrics.function_metric("RecursiveInvocationsDropped", 1, "Count", located.function.name,
                                            resource_dimension(located.arn), service.clock.now())
        raise RecursiveInvocationException(recursion.MESSAGE)
    function = service.route(located)  # an alias: the version its weights draw for this invocation
    try:
        ctx.invoker.invoke(function, inv)
    except PoolClosed:  # stop() came first: AWS's ServiceException, not a traceback in the notebook
        raise LambdaError("The local cloud is stopping: no new invocation starts.") from None
    out: dict[str, Any] = {"StatusCode": 200, "Payload": inv.response, "ExecutedVersion": function.version,
                           "_request_id": inv.request_id}
    if inv.function_error:
        out["FunctionError"] = inv.function_error
    if p.get("LogType") == "Tail":
        text = "".join(line + "\n" for line in inv.log).encode()
        out["LogResult"] = base64.b64encode(text[-quotas.log_tail_bytes:]).decode()
    return out


def _client_context(value: str | None, limit: int) -> str | None:
    """The decoded JSON text of a base64 ClientContext (sync invocations only)."""
    if not value:
        return None
    bad = InvalidRequestContentException("Client context must be a valid Base64-encoded JSON object.")
    if len(value) > limit:
        raise InvalidRequestContentException(f"Client context must be smaller than {limit} bytes once "
                                             "Base64-encoded.")
    try:
        text = base64.b64decode(value, validate=True).decode()
        if not isinstance(load_json(text), dict):
            raise bad
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad from None
    return text


OPERATIONS = {"Invoke": invoke}
