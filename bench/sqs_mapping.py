"""The SQS event source mapping's figures: messages per second end to end, and the delay from SendMessage
to the handler's start with no batching window (budget: p50 <= 20 ms).

The delay is the invocation record's ``start`` (the cloud's clock, when the environment received the
event) minus the cloud's clock just before SendMessage; each message is sent once the previous one was
handled, to a warm environment.  The throughput is messages sent in batches of 10 to a queue whose
mapping reads batches of 10, from the first send to the last message handled.
"""

from __future__ import annotations

import time

from handlers import TRIVIAL, zip_source
from measure import pct, summary, tqdm

SQS_ROLE = "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole"


def sqs_mapping(cloud, messages: int, latency_n: int) -> dict:
    from lambdalab.packaging import execution_role

    lam, sqs = cloud.client("lambda"), cloud.client("sqs")
    role = execution_role(cloud.client("iam"), "bench-sqs-role", SQS_ROLE)
    lam.create_function(FunctionName="bench-sqs", Runtime="python3.12", Role=role, Handler="app.handler",
                        Code={"ZipFile": zip_source(TRIVIAL)}, MemorySize=1769)
    url = sqs.create_queue(QueueName="bench-sqs")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    lam.create_event_source_mapping(FunctionName="bench-sqs", EventSourceArn=arn, BatchSize=10)

    def handled() -> int:
        rows = cloud.records.rows()
        return sum(r.batch_size or 0 for r in rows if r.function == "bench-sqs")

    def wait_for(count: int, limit_s: float = 120) -> None:
        """Until ``count`` messages were handled; the records are summed only when a new one came (cheap
        to poll: the cloud shares this process, and its GIL)."""
        deadline, seen = time.perf_counter() + limit_s, -1
        while True:
            if len(cloud.records) != seen:
                seen = len(cloud.records)
                if handled() >= count:
                    return
            if time.perf_counter() > deadline:
                raise RuntimeError(f"bench-sqs: {handled()} of {count} messages handled after {limit_s:.0f} s")
            time.sleep(0.0005)

    sqs.send_message(QueueUrl=url, MessageBody="warm-up")
    wait_for(1)
    delays = []
    for i in tqdm(range(latency_n), desc="sqs delay"):
        before = cloud.clock.time()
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
        wait_for(2 + i)
        last = max((r for r in cloud.records.rows() if r.function == "bench-sqs"), key=lambda r: r.start)
        delays.append((last.start.timestamp() - before) * 1000)

    done = handled()
    t0 = time.perf_counter()
    for b in tqdm(range(messages // 10), desc="sqs throughput"):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"{b}-{i}"} for i in range(10)])
    wait_for(done + messages // 10 * 10, limit_s=600)
    elapsed = time.perf_counter() - t0
    return {"delay_ms": summary(delays), "delay_p50_ms": pct(delays, 50), "messages": messages // 10 * 10,
            "seconds": elapsed, "per_s": messages // 10 * 10 / elapsed,
            "environments": len(cloud.environments("bench-sqs"))}
