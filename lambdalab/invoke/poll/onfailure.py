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

Delivery uses the function's execution role, as AWS's does: a role that may not send (sqs:SendMessage,
sns:Publish, s3:PutObject) gets no delivery and a ``DestinationDeliveryFailures`` datapoint.  It goes
to moto in this process.  (The asynchronous invocations' destinations deliver the same way; the
two may share one delivery path.)
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime, timezone
from typing import Any

from ...arns import parse_arn
from ...iam.resources import resource_side
from ...observe.metrics import resource_dimension
from ...service.mappings import KINESIS, EventSourceMapping
from .access import role_session
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
    try:
        role = ctx.service.resolve(mapping.function_arn).role
        if arn is None:
            raise ValueError(f"not an ARN: {destination}")
        if arn.service == "s3":
            bucket = arn.resource
            when = datetime.fromtimestamp(ctx.clock.time(), timezone.utc)
            key = (f"aws/lambda/{mapping.uuid}/{shard_id}/{when:%Y/%m/%d}/{when:%Y-%m-%dT%H.%M.%S}-"
                   f"{uuid.uuid4()}")
            _allowed(ctx, mapping, role, "s3:PutObject", f"arn:aws:s3:::{bucket}/{key}")
            body = json.dumps({**record, "payload": {"Records": events}}, sort_keys=True).encode()
            from moto.s3.models import s3_backends

            partition_account = s3_backends.bucket_accounts.get(bucket, ("aws", arn.account))[1]
            s3_backends[partition_account]["aws"].put_object(bucket, key, body)
        elif arn.service == "sqs":
            _allowed(ctx, mapping, role, "sqs:SendMessage", destination)
            from moto.sqs.models import sqs_backends

            if arn.resource.endswith(".fifo"):
                raise ValueError("a FIFO queue cannot be an on-failure destination")
            sqs_backends[arn.account][arn.region].send_message(arn.resource, json.dumps(record))
        elif arn.service == "sns":
            _allowed(ctx, mapping, role, "sns:Publish", destination)
            from moto.sns.models import sns_backends

            sns_backends[arn.account][arn.region].publish(json.dumps(record), arn=destination)
        else:
            raise ValueError(f"unsupported destination {destination}")
    except Exception as e:  # the role may not, the target is gone, ...: a failed delivery, counted
        log.info("on-failure delivery of mapping %s to %s failed: %s", mapping.uuid, destination, e)
        function = parse_arn(mapping.function_arn)
        name = function.resource_id.split(":")[0] if function else mapping.function_arn
        ctx.metrics.function_metric("DestinationDeliveryFailures", 1, "Count", name,
                                    resource_dimension(mapping.function_arn), ctx.clock.now())
        return False
    return True


def _allowed(ctx: PollContext, mapping: EventSourceMapping, role_arn: str, action: str, resource: str) -> None:
    caller = role_session(role_arn, mapping.uuid)
    if caller is None:
        raise PermissionError(f"the role {role_arn} does not exist")
    account, policy = resource_side(action, resource, caller.account)
    if not ctx.authorizer.decide(caller, action, resource, None, policy, account).allowed:
        raise PermissionError(f"{caller.arn} may not {action} on {resource}")
