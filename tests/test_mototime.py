"""moto tells the time by the running cloud's clock: SQS visibility timeouts and Kinesis arrival times follow
``cloud.clock.advance``, and the real time comes back once the cloud stops."""

from __future__ import annotations

import subprocess
import sys
import textwrap
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


def test_moto_goes_back_to_the_real_time_when_its_cloud_stops():
    """In a process of its own: the tests' other clouds (their clocks moved too) would set moto's time here."""
    script = textwrap.dedent("""
        import time
        from datetime import timezone
        import lambdalab
        import moto.core.utils as moto_utils
        def moto_now():
            return moto_utils.utcnow().replace(tzinfo=timezone.utc).timestamp()
        with lambdalab.start() as cloud:
            cloud.clock.advance(3600)
            assert abs(moto_now() - cloud.clock.time()) < 5
        assert abs(moto_now() - time.time()) < 5
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
