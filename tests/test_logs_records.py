"""Logs as AWS writes them, delivered to CloudWatch Logs; invocation records as a DataFrame."""

from __future__ import annotations

import base64
import re

import pandas as pd

RID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
SOURCE = """
import logging
logger = logging.getLogger()
logger.setLevel(logging.INFO)
print("at init")

def handler(event, context):
    print("hello from print")
    logger.info("hello from logging")
    logger.warning("two\\nlines")
    return "ok"
"""


def test_start_end_report_lines_are_exact(fn):
    name = fn.create(SOURCE)
    cold = base64.b64decode(fn.invoke(name, LogType="Tail")["LogResult"]).decode().splitlines()
    warm = base64.b64decode(fn.invoke(name, LogType="Tail")["LogResult"]).decode().split("\n")
    start = next(line for line in cold if line.startswith("START"))
    assert re.fullmatch(f"START RequestId: {RID} Version: \\$LATEST", start)
    assert re.fullmatch(f"END RequestId: {RID}", cold[-2])
    assert re.fullmatch(rf"REPORT RequestId: {RID}\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\t"
                        r"Memory Size: 128 MB\tMax Memory Used: \d+ MB\tInit Duration: \d+\.\d\d ms\t", cold[-1])
    assert re.fullmatch(rf"REPORT RequestId: {RID}\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\t"
                        r"Memory Size: 128 MB\tMax Memory Used: \d+ MB\t", warm[-2])
    assert warm[-1] == ""


def test_billed_duration_is_rounded_up_to_the_ms_and_includes_init_on_cold_starts(fn):
    name = fn.create(SOURCE)
    fn.invoke(name)
    fn.invoke(name)
    cold, warm = fn.records(name).itertuples()
    assert cold.billed_ms == -(-(cold.duration_ms + cold.init_ms) // 1)
    assert warm.billed_ms == -(-warm.duration_ms // 1)


def test_logs_reach_cloudwatch_in_one_stream_per_environment(fn, cloud):
    name = fn.create(SOURCE)
    out = fn.invoke(name)
    cloud.logs.flush()
    logs = cloud.client("logs")
    streams = logs.describe_log_streams(logGroupName=f"/aws/lambda/{name}")["logStreams"]
    assert len(streams) == 1
    environment = fn.records(name)["environment"][0]
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", streams[0]["logStreamName"])
    assert streams[0]["logStreamName"].endswith(environment)
    events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    # as AWS writes them: the platform's lines and printed ones end with a newline, the runtime's framed
    # records ([INFO], [WARNING], [ERROR]) do not
    assert all(e["message"].endswith("\n") != e["message"].startswith("[") for e in events)
    messages = [e["message"].removesuffix("\n") for e in events]
    assert messages[0].startswith("INIT_START Runtime Version: python:3.12.")
    assert "at init" in messages
    request_id = out["ResponseMetadata"]["RequestId"]
    assert "hello from print" in messages
    info = next(m for m in messages if m.endswith("hello from logging"))
    timestamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
    assert re.fullmatch(rf"\[INFO\]\t{timestamp}\t{request_id}\thello from logging", info)
    assert any(m.endswith(f"\t{request_id}\ttwo\nlines") for m in messages)  # one event, two lines
    found = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}", filterPattern="REPORT")["events"]
    assert len(found) == 1


def test_records_frame_has_one_typed_row_per_invocation(fn, cloud):
    name = fn.create("def handler(e, c):\n    if e.get('fail'):\n        raise KeyError('k')\n    return 1\n",
                     MemorySize=256)
    fn.invoke(name)
    fn.invoke(name, {"fail": True})
    frame = fn.records(name)
    assert list(frame.columns) == ["request_id", "function", "version", "invocation_type", "start", "duration_ms",
                                   "billed_ms", "init_ms", "memory_mb", "architecture", "ephemeral_storage_mb",
                                   "max_memory_used_mb", "cold", "environment", "error_type", "status",
                                   "invocation_model", "attempt", "event_source_mapping",
                                   "event_source_arn", "batch_size", "function_arn", "provisioned", "measured_ms"]
    assert frame["invocation_model"].tolist() == ["sync", "sync"] and frame["attempt"].tolist() == [1, 1]
    assert (frame["function_arn"] == cloud.service.arn(name)).all()
    assert isinstance(frame["start"].dtype, pd.DatetimeTZDtype)
    assert frame["status"].tolist() == ["success", "error"]
    assert frame["error_type"].isna().tolist() == [True, False] and frame["error_type"][1] == "KeyError"
    assert (frame["memory_mb"] == 256).all() and (frame["max_memory_used_mb"] > 5).all()
    assert (frame["architecture"] == "x86_64").all() and (frame["ephemeral_storage_mb"] == 512).all()  # the defaults
    assert frame["start"].is_monotonic_increasing


def test_records_frame_is_well_formed_when_empty():
    from lambdalab.observe.records import Records

    assert list(Records().frame().columns)[:3] == ["request_id", "function", "version"]


def test_handler_exception_payload_and_log_match_aws(fn):
    name = fn.create("def handler(e, c):\n    helper()\n\ndef helper():\n    raise ValueError('bad input')\n")
    out = fn.invoke(name, LogType="Tail")
    payload = out["Payload"]
    assert out["FunctionError"] == "Unhandled" and out["StatusCode"] == 200
    assert list(payload) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert (payload["errorMessage"], payload["errorType"]) == ("bad input", "ValueError")
    assert payload["requestId"] == out["ResponseMetadata"]["RequestId"]
    assert [frame.split(",")[0].strip() for frame in payload["stackTrace"]] == ['File "/var/task/app.py"'] * 2
    tail = base64.b64decode(out["LogResult"]).decode()
    assert re.search(r"\[ERROR\] ValueError: bad input\nTraceback \(most recent call last\):", tail)
