"""AWS/Lambda metrics: published per invocation into CloudWatch, read back with boto3 as on AWS."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from lambdalab.observe.metrics import _metric_data as _batch_metric_data

SOURCE = """
import time

def handler(event, context):
    time.sleep(event.get("sleep", 0))
    if event.get("fail"):
        raise ValueError("asked to fail")
    return "ok"
"""


def _window(cloud) -> dict:
    now = cloud.clock.now()
    return {"StartTime": now - timedelta(minutes=5), "EndTime": now + timedelta(minutes=5)}


def _statistics(cloud, metric: str, dimensions: dict[str, str], statistic: str) -> float:
    """One statistic over the last minutes, through GetMetricStatistics."""
    response = cloud.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/Lambda", MetricName=metric, Statistics=[statistic], Period=3600, **_window(cloud),
        Dimensions=[{"Name": k, "Value": v} for k, v in dimensions.items()])
    return sum(point[statistic] for point in response["Datapoints"]) if statistic == "Sum" else \
        max(point[statistic] for point in response["Datapoints"])


def _metric_data(cloud, metric: str, dimensions: dict[str, str], statistic: str) -> list[float]:
    """The values of one statistic through GetMetricData (one per 1-hour period)."""
    response = cloud.client("cloudwatch").get_metric_data(**_window(cloud), MetricDataQueries=[{
        "Id": "m", "MetricStat": {"Stat": statistic, "Period": 3600, "Metric": {
            "Namespace": "AWS/Lambda", "MetricName": metric,
            "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()]}}}])
    return response["MetricDataResults"][0]["Values"]


def test_invocations_errors_and_duration_reach_cloudwatch(fn, cloud):
    name = fn.create(SOURCE)
    fn.invoke(name, {"sleep": 0.2})
    fn.invoke(name)
    assert fn.invoke(name, {"fail": True})["FunctionError"] == "Unhandled"
    cloud.metrics.flush()
    durations = fn.records(name)["duration_ms"]

    by_function = {"FunctionName": name}
    assert _metric_data(cloud, "Invocations", by_function, "Sum") == [3.0]
    assert _metric_data(cloud, "Errors", by_function, "Sum") == [1.0]
    assert _metric_data(cloud, "Errors", by_function, "Average") == [pytest.approx(1 / 3)]
    assert _metric_data(cloud, "Duration", by_function, "Maximum") == [pytest.approx(durations.max())]
    assert _metric_data(cloud, "Duration", by_function, "Average") == [pytest.approx(durations.mean())]
    assert durations.max() >= 200

    as_invoked = {"FunctionName": name, "Resource": name}
    assert _statistics(cloud, "Invocations", as_invoked, "Sum") == 3
    assert _statistics(cloud, "Errors", as_invoked, "Sum") == 1
    assert _statistics(cloud, "Duration", as_invoked, "Maximum") == pytest.approx(durations.max())
    assert _statistics(cloud, "Duration", by_function, "Average") == pytest.approx(durations.mean())
    assert _statistics(cloud, "ConcurrentExecutions", by_function, "Maximum") == 1


def test_metric_units_and_the_account_wide_aggregate(fn, cloud):
    name = fn.create(SOURCE)
    fn.invoke(name)
    cloud.metrics.flush()
    pages = cloud.client("cloudwatch").get_paginator("list_metrics").paginate(Namespace="AWS/Lambda",
                                                                               MetricName="Invocations")
    metrics = [m for page in pages for m in page["Metrics"]]  # all pages: the session's cloud holds many
    dimension_sets = [sorted((d["Name"], d["Value"]) for d in m["Dimensions"]) for m in metrics]
    assert [("FunctionName", name)] in dimension_sets
    assert [("FunctionName", name), ("Resource", name)] in dimension_sets
    assert [] in dimension_sets
    assert _statistics(cloud, "ConcurrentExecutions", {}, "Maximum") >= 1
    response = cloud.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/Lambda", MetricName="Duration", Statistics=["Maximum"], Period=3600, **_window(cloud),
        Dimensions=[{"Name": "FunctionName", "Value": name}])
    assert response["Datapoints"][0]["Unit"] == "Milliseconds"


def test_a_throttle_is_counted_and_is_not_an_invocation(fn, cloud):
    name = fn.create(SOURCE)
    fn.invoke(name)
    once = cloud.client("lambda", config=Config(retries={"total_max_attempts": 1}))  # each retry is a throttle
    cloud.quotas.set(concurrent_executions=0)
    try:
        with pytest.raises(ClientError) as e:
            once.invoke(FunctionName=name)
    finally:
        cloud.quotas.set(concurrent_executions=1000)
    assert e.value.response["Error"]["Code"] == "TooManyRequestsException"
    cloud.metrics.flush()
    assert _metric_data(cloud, "Throttles", {"FunctionName": name}, "Sum") == [1.0]
    assert _metric_data(cloud, "Invocations", {"FunctionName": name}, "Sum") == [1.0]


def test_a_batch_reaches_cloudwatch_as_one_statistic_set_per_metric_dimensions_and_minute():
    """CloudWatch keeps Lambda's metrics by the minute: a batch's values of one metric and dimension set within a
    minute arrive as one statistic set (moto would keep each), timed at the earliest; a value alone stays one."""
    at = datetime(2026, 12, 5, 12, 0, 10, tzinfo=timezone.utc)
    items = [("Duration", ms, "Milliseconds", at + timedelta(seconds=s), [{"FunctionName": "f"}, {}])
             for ms, s in ((30.0, 5), (10.0, 0), (20.0, 40), (7.0, 49))]  # 12:00:10 to 12:00:59
    items.append(("Duration", 99.0, "Milliseconds", at + timedelta(seconds=60), [{"FunctionName": "f"}]))  # 12:01:10
    data = _batch_metric_data(items)
    noon = at.replace(tzinfo=None)
    assert data == [
        {"MetricName": "Duration", "Unit": "Milliseconds", "Timestamp": noon, "Dimensions": [
            {"Name": "FunctionName", "Value": "f"}],
         "StatisticValues": {"SampleCount": 4.0, "Sum": 67.0, "Minimum": 7.0, "Maximum": 30.0}},
        {"MetricName": "Duration", "Unit": "Milliseconds", "Timestamp": noon, "Dimensions": [],
         "StatisticValues": {"SampleCount": 4.0, "Sum": 67.0, "Minimum": 7.0, "Maximum": 30.0}},
        {"MetricName": "Duration", "Unit": "Milliseconds", "Timestamp": noon + timedelta(seconds=60),
         "Dimensions": [{"Name": "FunctionName", "Value": "f"}], "Value": 99.0}]


def test_many_invocations_at_once_give_the_statistics_of_their_records(fn, cloud):
    name = fn.create(SOURCE)
    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(lambda i: fn.invoke(name, {"fail": i % 4 == 0}), range(24)))
    assert sum("FunctionError" in o for o in outcomes) == 6
    cloud.metrics.flush()
    durations = fn.records(name)["duration_ms"]
    by_function = {"FunctionName": name}
    assert _metric_data(cloud, "Invocations", by_function, "Sum") == [24.0]
    assert _metric_data(cloud, "Invocations", by_function, "SampleCount") == [24.0]
    assert _metric_data(cloud, "Errors", by_function, "Average") == [pytest.approx(0.25)]
    for statistic, expected in (("Minimum", durations.min()), ("Maximum", durations.max()),
                                ("Average", durations.mean())):
        assert _statistics(cloud, "Duration", by_function, statistic) == pytest.approx(expected)
