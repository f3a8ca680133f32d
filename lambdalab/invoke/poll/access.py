"""Whether a mapping's source exists and its function's execution role may poll it, as AWS checks.

Lambda polls with the function's execution role, and CreateEventSourceMapping (or an update that
changes the function) fails at once when the source is missing or the role may not read it.  The
source is looked up in moto; the role's permissions are IAM's decision (``iam/policy.py``), made for
a session of the role with the source's own policy (a queue's), and logged in ``cloud.decisions()``
like any other call's.  While polling, :meth:`SourceAccess.may` asks again without logging, so a
permission taken away later stops the poller at its next batch.

AWS's refusals: "Error occurred while ReceiveMessage. SQS Error Code:
AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: The specified queue does not exist." and
"Stream not found: <arn>" (LocalStack's AWS-validated ``test_esm_with_not_existing_*`` snapshots);
"The function execution role does not have permissions to call ReceiveMessage on SQS" (quoted in
anomalyco/sst#5737, 2025) and "Cannot access stream <arn>. Please ensure the role can perform the
GetRecords, GetShardIterator, DescribeStream, ListShards, and ListStreams Actions on your stream in
IAM." (awsdocs/aws-lambda-developer-guide#237 and aws-samples/cross-account-amazon-dynamodb-replication#11).
The actions checked are those AWS's managed policies for the purpose grant
(AWSLambdaSQSQueueExecutionRole, AWSLambdaKinesisExecutionRole, AWSLambdaDynamoDBExecutionRole).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ...arns import parse_arn
from ...iam.authorizer import Authorizer
from ...iam.principals import Caller, Directory
from ...iam.resources import resource_side
from ...service.errors import InvalidParameterValueException
from ...service.mappings import DYNAMODB, KINESIS, SQS, EventSourceMapping
from .arrivals import stream_arn

ACTIONS = {
    SQS: ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"),
    KINESIS: ("kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:DescribeStream", "kinesis:ListShards",
              "kinesis:ListStreams"),
    DYNAMODB: ("dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:DescribeStream",
               "dynamodb:ListStreams"),
}
NO_QUEUE = ("Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. "
            "SQS Error Message: The specified queue does not exist.")


def role_session(role_arn: str, mapping_id: str) -> Caller | None:
    """The caller Lambda's poller is: a session of the execution role (None if the role is gone)."""
    caller = Directory({}).for_arn(role_arn)
    if caller is None or caller.principal.role_arn is None:
        return None
    name = role_arn.rsplit("/", 1)[-1]
    arn = f"arn:aws:sts::{caller.account}:assumed-role/{name}/awslambda_{mapping_id[:8]}"
    return dataclasses.replace(caller, principal=dataclasses.replace(caller.principal, arn=arn))


def queue(arn: str) -> Any:
    """moto's Queue of an SQS ARN, or None."""
    from moto.sqs.models import sqs_backends

    parsed = parse_arn(arn)
    if parsed is None or parsed.account not in sqs_backends:
        return None
    return sqs_backends[parsed.account][parsed.region].queues.get(parsed.resource)


def kinesis_stream(arn: str) -> Any:
    """moto's Kinesis Stream of a stream ARN, or None."""
    from moto.kinesis.models import kinesis_backends

    parsed = parse_arn(arn)
    if parsed is None or parsed.account not in kinesis_backends:
        return None
    stream = kinesis_backends[parsed.account][parsed.region].streams.get(parsed.resource.removeprefix("stream/"))
    return stream if stream is not None and stream.arn == arn else None


def dynamodb_table(arn: str) -> Any:
    """moto's Table whose current stream is ``arn``, or None (no such table, or not that stream)."""
    from moto.dynamodb.models import dynamodb_backends

    parsed = parse_arn(arn)
    if parsed is None or parsed.account not in dynamodb_backends:
        return None
    name = parsed.resource.split("/")[1]
    table = dynamodb_backends[parsed.account][parsed.region].tables.get(name)
    if table is None or table.stream_shard is None or stream_arn(table) != arn:
        return None
    return table


_FIND = {SQS: queue, KINESIS: kinesis_stream, DYNAMODB: dynamodb_table}


class SourceAccess:
    def __init__(self, authorizer: Authorizer) -> None:
        self.authorizer = authorizer

    def check(self, mapping: EventSourceMapping, role_arn: str) -> None:
        """Raise AWS's InvalidParameterValueException unless the source exists and the role may poll it."""
        if _FIND[mapping.kind](mapping.source_arn) is None:
            raise InvalidParameterValueException(NO_QUEUE if mapping.kind == SQS
                                                 else f"Stream not found: {mapping.source_arn}")
        denied = self.denied(mapping, role_arn, log=True)
        if denied is None:
            return
        if mapping.kind == SQS:
            raise InvalidParameterValueException("The function execution role does not have permissions to call "
                                                 f"{denied.split(':')[1]} on SQS")
        raise InvalidParameterValueException(
            f"Cannot access stream {mapping.source_arn}. Please ensure the role can perform the GetRecords, "
            "GetShardIterator, DescribeStream, ListShards, and ListStreams Actions on your stream in IAM.")

    def denied(self, mapping: EventSourceMapping, role_arn: str, log: bool = False) -> str | None:
        """The first action the role may not take on the source (None: it may take them all)."""
        caller = role_session(role_arn, mapping.uuid)
        for action in ACTIONS[mapping.kind]:
            if caller is None:
                return action
            account, policy = resource_side(action, mapping.source_arn, caller.account)
            judge = self.authorizer.decide if log else self.authorizer.simulate
            if not judge(caller, action, mapping.source_arn, None, policy, account).allowed:
                return action
        return None
