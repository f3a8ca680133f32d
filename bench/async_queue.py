"""The asynchronous queue's figures: events per second through it, and Invoke(Event) to the handler's start.

Both wait for the queue with ``cloud.clock.advance()``, which returns once every event in line or
running is done (no polling).  The delay is read from the invocation record: its ``start`` is when
the environment received the event, on the cloud's clock, like the moment taken before the call.
"""

from __future__ import annotations

import json
import threading
import time

from measure import SLEEPY, create, lambda_client, request_id, summary, tqdm


def async_queue(cloud, name: str, n_delay: int, n_events: int, environments: int = 4, senders: int = 4) -> dict:
    client = lambda_client(cloud)
    create(client, name, SLEEPY, memory=1769)
    before = cloud.quotas.async_concurrency
    cloud.quotas.set(async_concurrency=environments)  # the queue runs this many events, each in its environment
    try:
        for _ in range(environments):  # events that overlap: the environments the burst below uses, made now
            client.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"sleep": 0.3}')
        cloud.clock.advance()
        delays = []
        for i in tqdm(range(n_delay), desc="Invoke(Event) to the handler's start"):
            called = cloud.clock.time()
            rid = request_id(client.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"i": i})))
            cloud.clock.advance()
            frame = cloud.invocations()
            start = frame.loc[frame["request_id"] == rid, "start"].iloc[0]
            delays.append((start.timestamp() - called) * 1000)
        clients = [lambda_client(cloud) for _ in range(senders)]
        ready = threading.Barrier(senders + 1)

        def send(c, count: int) -> None:
            ready.wait()
            for i in range(count):
                c.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"i": i}))

        threads = [threading.Thread(target=send, args=(c, n_events // senders), name=f"bench-async-{k}")
                   for k, c in enumerate(clients)]
        for t in threads:
            t.start()
        ready.wait()
        t0 = time.perf_counter()
        for t in threads:
            t.join()
        sent_s = time.perf_counter() - t0
        cloud.clock.advance()  # until the last event has run
        done_s = time.perf_counter() - t0
    finally:
        cloud.quotas.set(async_concurrency=before)
    events = senders * (n_events // senders)
    return {"start_ms": summary(delays), "events": events, "environments": len(cloud.environments(name)),
            "sent_per_s": events / sent_s, "per_s": events / done_s}
