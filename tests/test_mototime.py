"""moto tells the time by the running cloud's clock: SQS visibility timeouts and Kinesis arrival times follow
``cloud.clock.advance``, and the cloud's clock stops setting it once the cloud stops (moto then follows
another running cloud's, or the real time)."""

from __future__ import annotations

import time
from datetime import timezone

import lambdalab


def test_sqs_visibility_and_kinesis_arrivals_follow_the_cloud_clock():
    with lambdalab.start() as cloud:
        sqs, kinesis = cloud.client("sqs"), cloud.client("kinesis")
        url = sqs.create_queue(QueueName="mototime-q", Attributes={"VisibilityTimeout": "3600"})["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="m")
        assert len(sqs.receive_message(QueueUrl=url).get("Messages", [])) == 1
        assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []
        cloud.clock.advance(3601)
        (again,) = sqs.receive_message(QueueUrl=url, AttributeNames=["All"])["Messages"]
        assert again["Attributes"]["ApproximateReceiveCount"] == "2"
        assert abs(int(again["Attributes"]["SentTimestamp"]) / 1000 - (cloud.clock.time() - 3601)) < 5

        kinesis.create_stream(StreamName="mototime-s", ShardCount=1)
        kinesis.put_record(StreamName="mototime-s", Data=b"x", PartitionKey="k")
        shard = kinesis.get_shard_iterator(StreamName="mototime-s", ShardId="shardId-000000000000",
                                           ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        (record,) = kinesis.get_records(ShardIterator=shard)["Records"]
        arrived = record["ApproximateArrivalTimestamp"].astimezone(timezone.utc).timestamp()
        assert abs(arrived - cloud.clock.time()) < 5 and arrived - time.time() > 3500
    from moto.core.utils import utcnow

    moto_now = utcnow().replace(tzinfo=timezone.utc).timestamp()
    assert abs(moto_now - cloud.clock.time()) > 3000, "a stopped cloud's clock no longer sets moto's time"
