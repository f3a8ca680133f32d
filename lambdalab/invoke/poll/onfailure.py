"""A stream mapping's on-failure destination: what Lambda sends when it gives a batch up, and sending it.

When a Kinesis or DynamoDB Streams batch is given up (its retries exhausted, or its records too old),
Lambda sends the destination a record of the batch, not the records themselves: ``requestContext``
(the last request id, the mapping's FunctionArn, the condition ``RetryAttemptsExhausted`` or
``RecordAgeExceeded``, ``approximateInvokeCount``), ``responseContext`` (status 200, the version
that ran, ``functionError`` "Unhandled", or null when the function reported its failures itself;
absent for ``RecordAgeExceeded``), ``version``, ``timestamp`` and ``KinesisBatchInfo`` /
``DDBStreamBatchInfo`` (shard, first and last sequence numbers and arrival times, batch size,
stream).  An SQS queue gets it as the message body, an SNS topic as the message; an S3 bucket gets
it with the batch itself (``payload``) as an object keyed
``aws/lambda/<mapping UUID>/<shard>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<uuid>``.  Shapes from LocalStack's
AWS-validated recordings (``test_kinesis_event_source_mapping_with_on_failure_destination_config``,
``..._with_sns_...``, ``..._with_s3_on_failure_destination``, ``test_kinesis_maximum_record_age_exceeded``
and their DynamoDB twins).

Delivery is the asynchronous invocations' (``Destinations.send``): a request signed as the
function's execution role, as AWS's is; a role that may not send (sqs:SendMessage, sns:Publish,
s3:PutObject) gets no delivery and a ``DestinationDeliveryFailures`` datapoint.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime, timezone
from typing import Any

from ...arns import parse_arn
from ...observe.metrics import resource_dimension
from ...service.errors import LambdaError
from ...service.mappings import KINESIS, EventSourceMapping
from .base import Outcome, PollContext

log = logging.getLogger(__name__)


def iso(moment: float, millis: bool = True) -> str:
    """``2024-05-01T12:00:00.123Z`` (Kinesis, the record's timestamp) or ``...:00Z`` (DynamoDB's arrivals)."""
    when = datetime.fromtimestamp(moment, timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S") + (f".{when.microsecond // 1000:03d}Z" if millis else "Z")


def failure_record(ctx: PollContext, mapping: EventSourceMapping, condition: str, invocations: int,
                   outcome: Outcome | None, info: dict[str, Any]) -> dict[str, Any]:
    """The record Lambda sends the on-failure destination (without the batch's records)."""
    record: dict[str, Any] = {"requestContext": {
        "requestId": outcome.request_id if outcome else str(uuid.uuid4()), "functionArn": mapping.function_arn,
        "condition": condition, "approximateInvokeCount": invocations}}
    if condition != "RecordAgeExceeded" and outcome is not None:
        record["responseContext"] = {"statusCode": 200, "executedVersion": outcome.executed_version,
                                     "functionError": outcome.function_error}
    record.update(version="1.0", timestamp=iso(ctx.clock.time()))
    record["KinesisBatchInfo" if mapping.kind == KINESIS else "DDBStreamBatchInfo"] = info
    return record


def deliver(ctx: PollContext, mapping: EventSourceMapping, record: dict[str, Any], shard_id: str,
            events: list[dict[str, Any]]) -> bool:
    """Send ``record`` to the mapping's on-failure destination as its function's role; False if it failed."""
    destination = mapping.on_failure
    if not destination:
        return False
    arn = parse_arn(destination)
    if arn is not None and arn.service == "s3":
        when = datetime.fromtimestamp(ctx.clock.time(), timezone.utc)
        key = f"aws/lambda/{mapping.uuid}/{shard_id}/{when:%Y/%m/%d}/{when:%Y-%m-%dT%H.%M.%S}-{uuid.uuid4()}"
        body = json.dumps({**record, "payload": {"Records": events}}, sort_keys=True)
    else:
        key, body = None, json.dumps(record)
    try:
        function = ctx.service.resolve(mapping.function_arn)
    except LambdaError as e:  # the function went away
        error: str | None = str(e)
    else:
        error = ("a FIFO queue cannot be an on-failure destination" if arn is not None and arn.service == "sqs"
                 and arn.resource.endswith(".fifo") else ctx.destinations.send(function, destination, body, key))
    if error is None:
        return True
    log.info("on-failure delivery of mapping %s to %s failed: %s", mapping.uuid, destination, error)
    parsed = parse_arn(mapping.function_arn)
    name = parsed.resource_id.split(":")[0] if parsed else mapping.function_arn
    ctx.metrics.function_metric("DestinationDeliveryFailures", 1, "Count", name,
                                resource_dimension(mapping.function_arn), ctx.clock.now())
    return False
