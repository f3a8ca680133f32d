"""Event sources' figures: the delay from S3's PutObject to the handler's start (S3 invokes the
function asynchronously), and an HTTP request through a function URL to its response beside the same
function invoked directly with boto3 (interleaved, warm, trivial handler).

The S3 delay is the invocation record's ``start`` (the cloud's clock, when the environment received
the event) minus the cloud's clock just before PutObject; each object is put once the previous one
was handled, so the environment is warm.
"""

from __future__ import annotations

import json
import time

from handlers import TRIVIAL, zip_source
from measure import lambda_client, summary, tqdm


def sources(cloud, n: int) -> dict:
    import requests

    lam, s3 = cloud.client("lambda"), cloud.client("s3")
    lam.create_function(FunctionName="bench-sources", Runtime="python3.12", Role="arn:aws:iam::"
                        f"{cloud.account}:role/lambda-role", Handler="app.handler",
                        Code={"ZipFile": zip_source(TRIVIAL)}, MemorySize=1769)
    arn = lam.get_function(FunctionName="bench-sources")["Configuration"]["FunctionArn"]
    s3.create_bucket(Bucket="bench-sources")
    lam.add_permission(FunctionName="bench-sources", StatementId="s3", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::bench-sources",
                       SourceAccount=cloud.account)
    s3.put_bucket_notification_configuration(Bucket="bench-sources", NotificationConfiguration={
        "LambdaFunctionConfigurations": [{"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
    url = lam.create_function_url_config(FunctionName="bench-sources", AuthType="NONE")["FunctionUrl"]
    lam.add_permission(FunctionName="bench-sources", StatementId="url", Action="lambda:InvokeFunctionUrl",
                       Principal="*", FunctionUrlAuthType="NONE")
    lam.add_permission(FunctionName="bench-sources", StatementId="url-invoke", Action="lambda:InvokeFunction",
                       Principal="*", InvokedViaFunctionUrl=True)  # a URL's second permission since October 2025

    def records() -> list:
        return [r for r in cloud.records.rows() if r.function == "bench-sources"]

    def wait_for(count: int, limit_s: float = 60) -> None:
        deadline = time.perf_counter() + limit_s
        while len(records()) < count:
            if time.perf_counter() > deadline:
                raise RuntimeError(f"bench-sources: {len(records())} of {count} invocations after {limit_s:.0f} s")
            time.sleep(0.0005)

    s3.put_object(Bucket="bench-sources", Key="warm-up", Body=b"x")
    wait_for(1)
    delays = []
    for i in tqdm(range(n), desc="s3 delay"):
        before = cloud.clock.time()
        s3.put_object(Bucket="bench-sources", Key=f"k{i}", Body=b"x")
        wait_for(2 + i)
        last = max(records(), key=lambda r: r.start)
        delays.append((last.start.timestamp() - before) * 1000)

    http, client = requests.Session(), lambda_client(cloud)
    payload = json.dumps({"hello": "world"})
    http.post(url, data=payload)
    client.invoke(FunctionName="bench-sources", Payload=payload)
    via_url, direct = [], []
    for _ in tqdm(range(n), desc="function URL vs invoke"):
        t0 = time.perf_counter()
        assert http.post(url, data=payload).status_code == 200
        via_url.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        client.invoke(FunctionName="bench-sources", Payload=payload)["Payload"].read()
        direct.append((time.perf_counter() - t0) * 1000)
    return {"s3_delay_ms": summary(delays), "url_ms": summary(via_url), "invoke_ms": summary(direct)}
