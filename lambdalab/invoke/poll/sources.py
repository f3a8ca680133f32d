"""Kinesis and DynamoDB Streams as the stream poller reads them: shards, positions, records, events.

Both are read from moto in this process, shard by shard, after a sequence number (the poller's
checkpoint), as GetRecords would read them: Kinesis through ``Shard.get_records``, DynamoDB Streams
through ``StreamShard.get`` (moto's one shard per table).  Each record becomes the event record
Lambda sends (keys in AWS's order, from LocalStack's AWS-validated recordings and AWS's samples):

* Kinesis: ``kinesis`` (schema version, partition key, sequence number, ``data`` in base64, arrival
  time in seconds), ``eventSource``, ``eventVersion``, ``eventID`` ``shardId-...:<sequence number>``,
  ``eventName`` ``aws:kinesis:record``, ``invokeIdentityArn`` (the function's role, set at invoke),
  ``awsRegion``, ``eventSourceARN``.  Sequence numbers are moto's (1, 2, 3, ...), the same that
  GetRecords shows; AWS's have 56 digits.
* DynamoDB: ``eventID``, ``eventName`` (INSERT, MODIFY, REMOVE), ``eventVersion`` 1.1,
  ``eventSource``, ``awsRegion``, ``dynamodb`` (typed ``Keys``/``NewImage``/``OldImage`` as moto
  records them, ``ApproximateCreationDateTime`` in epoch seconds), ``eventSourceARN``.
"""

from __future__ import annotations

import base64
import copy
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ...service.mappings import DYNAMODB, KINESIS
from .access import dynamodb_table, kinesis_stream

DDB_RETENTION_S = 24 * 3600  # DynamoDB Streams keep records 24 hours


@dataclass(frozen=True)
class StreamRecord:
    seq: int  # its sequence number, for ordering
    arrival: float  # ApproximateArrivalTimestamp / ApproximateCreationDateTime, in cloud seconds
    key: str  # what ParallelizationFactor keeps in order: the partition key, the item's key
    size: int  # bytes the record weighs in a batch
    event: dict[str, Any]  # the record as Lambda's event holds it
    filterable: dict[str, Any]  # the same as filters see it (data decoded from JSON when it is JSON)


def _epoch(moment: datetime) -> float:
    """moto's naive UTC datetimes as seconds."""
    return moment.replace(tzinfo=timezone.utc).timestamp()


class KinesisSource:
    kind = KINESIS

    def __init__(self, arn: str, region: str) -> None:
        self.arn, self.region = arn, region

    def shards(self) -> list[str]:
        stream = kinesis_stream(self.arn)
        return list(stream.shards) if stream is not None else []

    def retention_s(self) -> float:
        stream = kinesis_stream(self.arn)
        return stream.retention_period_hours * 3600 if stream is not None else float("inf")

    def start(self, shard_id: str, position: str, timestamp: datetime | None) -> int:
        """The checkpoint to read after: TRIM_HORIZON, LATEST (now) or AT_TIMESTAMP."""
        shard = kinesis_stream(self.arn).shards[shard_id]
        if position == "LATEST":
            return shard.get_max_sequence_number()
        if position == "AT_TIMESTAMP" and timestamp is not None:
            return shard.get_sequence_number_at(timestamp.astimezone(timezone.utc).replace(tzinfo=None))
        return 0

    def read(self, shard_id: str, after: int, limit: int) -> list[StreamRecord]:
        stream = kinesis_stream(self.arn)
        if stream is None or shard_id not in stream.shards:
            return []
        records, _, _ = stream.shards[shard_id].get_records(str(after), limit)
        return [self._record(shard_id, r) for r in records]

    def _record(self, shard_id: str, record: Any) -> StreamRecord:
        raw = record.data if isinstance(record.data, bytes) else str(record.data).encode()
        arrival = _epoch(record.created_at)
        event = {
            "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": record.partition_key,
                        "sequenceNumber": str(record.sequence_number), "data": base64.b64encode(raw).decode(),
                        "approximateArrivalTimestamp": round(arrival, 3)},
            "eventSource": "aws:kinesis", "eventVersion": "1.0",
            "eventID": f"{shard_id}:{record.sequence_number}", "eventName": "aws:kinesis:record",
            "invokeIdentityArn": None, "awsRegion": self.region, "eventSourceARN": self.arn,
        }
        try:  # filters match data as JSON when it is JSON (Lambda's "Filtering Kinesis events")
            filterable = {**event, "kinesis": {**event["kinesis"], "data": json.loads(raw)}}
        except ValueError:
            filterable = event
        return StreamRecord(record.sequence_number, arrival, record.partition_key, len(raw), event, filterable)

    def batch_info(self, shard_id: str, batch: list[StreamRecord], iso: Any) -> dict[str, Any]:
        return {"shardId": shard_id, "startSequenceNumber": str(batch[0].seq),
                "endSequenceNumber": str(batch[-1].seq),
                "approximateArrivalOfFirstRecord": iso(batch[0].arrival),
                "approximateArrivalOfLastRecord": iso(batch[-1].arrival),
                "batchSize": len(batch), "streamArn": self.arn}


class DynamoDBSource:
    kind = DYNAMODB

    def __init__(self, arn: str, region: str) -> None:
        self.arn, self.region = arn, region

    def _shard(self) -> Any:
        table = dynamodb_table(self.arn)
        return table.stream_shard if table is not None else None

    def shards(self) -> list[str]:
        shard = self._shard()
        return [shard.id] if shard is not None else []

    def retention_s(self) -> float:
        return DDB_RETENTION_S

    def start(self, shard_id: str, position: str, timestamp: datetime | None) -> int:
        shard = self._shard()
        last = shard.starting_sequence_number - 1
        return last + len(shard.items) if position == "LATEST" else last

    def read(self, shard_id: str, after: int, limit: int) -> list[StreamRecord]:
        shard = self._shard()
        if shard is None or shard.id != shard_id:
            return []
        return [self._record(r) for r in shard.get(max(after + 1, shard.starting_sequence_number), limit)]

    def _record(self, record: dict[str, Any]) -> StreamRecord:
        moto = copy.deepcopy(record)  # moto hands out its own dict: never change it
        created = moto["dynamodb"]["ApproximateCreationDateTime"]
        arrival = _epoch(created) if isinstance(created, datetime) else float(created)
        body = {"ApproximateCreationDateTime": int(arrival), "Keys": moto["dynamodb"]["Keys"]}
        for image in ("NewImage", "OldImage"):
            if image in moto["dynamodb"]:
                body[image] = moto["dynamodb"][image]
        body.update(SequenceNumber=moto["dynamodb"]["SequenceNumber"], SizeBytes=moto["dynamodb"]["SizeBytes"],
                    StreamViewType=moto["dynamodb"]["StreamViewType"])
        event = {"eventID": moto["eventID"], "eventName": moto["eventName"], "eventVersion": "1.1",
                 "eventSource": "aws:dynamodb", "awsRegion": self.region, "dynamodb": body,
                 "eventSourceARN": self.arn}
        key = json.dumps(body["Keys"], sort_keys=True)
        return StreamRecord(int(body["SequenceNumber"]), arrival, key, body["SizeBytes"], event, event)

    def batch_info(self, shard_id: str, batch: list[StreamRecord], iso: Any) -> dict[str, Any]:
        return {"shardId": shard_id, "startSequenceNumber": str(batch[0].seq),
                "endSequenceNumber": str(batch[-1].seq),
                "approximateArrivalOfFirstRecord": iso(batch[0].arrival, millis=False),
                "approximateArrivalOfLastRecord": iso(batch[-1].arrival, millis=False),
                "batchSize": len(batch), "streamArn": self.arn}
