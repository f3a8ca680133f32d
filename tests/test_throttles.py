"""The invoke path under concurrency: each throttle's reason, provisioned environments, spillover, the machine's room.

Invocations are held in flight by a gate (``tests/gate.py``): the test knows when each is inside its
handler and ends it when it chooses, so nothing here depends on timing.
"""

from __future__ import annotations

import base64
import json
import threading
from datetime import timedelta

import pandas as pd
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from deploy import Deployer, Deploying
from gate import GATED, TEST_ISOLATION, Gate

import lambdalab

ALLOCATION_S = 120  # quotas.provisioned_allocation_s: AWS takes about two minutes


@pytest.fixture(scope="module")
def cloud():
    with lambdalab.start(isolation=TEST_ISOLATION) as c:
        yield c


@pytest.fixture
def fn(cloud):
    deployer = Deploying(cloud)
    yield deployer
    deployer.clean()


@pytest.fixture
def lam(cloud):
    return cloud.client("lambda", config=Config(retries={"total_max_attempts": 1}, read_timeout=60))


@pytest.fixture
def quotas(cloud):
    """Change the cloud's quotas for one test; AWS's defaults come back after it."""
    changed: set[str] = set()

    def change(**values) -> None:
        changed.update(values)
        cloud.quotas.set(**values)

    yield change
    defaults = {q.key: q.value for q in lambdalab.service.quotas.DEFAULTS}
    cloud.quotas.set(**{key: defaults[key] for key in changed})


class Background:
    """Invocations run on threads of their own; ``results`` holds what each answered, in the order they ended."""

    def __init__(self, lam) -> None:
        self.lam, self.results, self._threads = lam, [], []
        self._ended = threading.Condition()

    def invoke(self, name: str, event: dict, times: int = 1, **params) -> None:
        """Start ``times`` invocations."""
        for _ in range(times):
            self._start(name, event, params)

    def _start(self, name: str, event: dict, params: dict) -> None:
        def run() -> None:
            try:
                result = json.loads(self.lam.invoke(FunctionName=name, Payload=json.dumps(event),
                                                    **params)["Payload"].read())
            except ClientError as e:
                result = e.response["Reason"]
            with self._ended:
                self.results.append(result)
                self._ended.notify_all()

        thread = threading.Thread(target=run, name=f"test-invoke-{len(self._threads)}")
        self._threads.append(thread)
        thread.start()

    def wait(self, n: int) -> None:
        """Until ``n`` invocations have ended (30 s at most)."""
        with self._ended:
            assert self._ended.wait_for(lambda: len(self.results) >= n, 30)

    def join(self) -> list:
        for thread in self._threads:
            thread.join(60)
        return self.results


def _throttle(lam, name: str, **params) -> dict:
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName=name, **params)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert e.value.response["Error"]["Code"] == "TooManyRequestsException"
    return e.value.response


def _metric(cloud, metric: str, dimensions: dict[str, str], statistic: str = "Sum") -> list[float]:
    cloud.metrics.flush()
    now = cloud.clock.now()
    response = cloud.client("cloudwatch").get_metric_data(
        StartTime=now - timedelta(minutes=10), EndTime=now + timedelta(minutes=10), MetricDataQueries=[{
            "Id": "m", "MetricStat": {"Stat": statistic, "Period": 3600, "Metric": {
                "Namespace": "AWS/Lambda", "MetricName": metric,
                "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()]}}}])
    return response["MetricDataResults"][0]["Values"]


# -- AWS's throttles --------------------------------------------------------------------------------
def test_the_account_limit_throttles_with_its_reason_and_counts_a_throttle(fn, lam, cloud, quotas):
    name = fn.create(GATED)
    quotas(concurrent_executions=1)
    background = Background(lam)
    with Gate() as gate:
        background.invoke(name, {"gate": gate.port})
        gate.wait_inside(1)
        error = _throttle(lam, name)
        assert (error["Reason"], error["Error"]["Message"], error["Type"]) == (
            "ConcurrentInvocationLimitExceeded", "Rate Exceeded.", "User")
        assert cloud.leases.running(name) == 1
    assert background.join() == ["on-demand"]
    assert _metric(cloud, "Throttles", {"FunctionName": name}) == [1.0]
    assert _metric(cloud, "Invocations", {"FunctionName": name}) == [1.0]


def test_reserved_concurrency_caps_its_function_and_keeps_its_share_from_the_others(fn, lam, cloud, quotas):
    quotas(concurrent_executions=2, unreserved_min=1)
    critical, other = fn.create(GATED), fn.create(GATED)
    lam.put_function_concurrency(FunctionName=critical, ReservedConcurrentExecutions=1)
    background = Background(lam)
    with Gate() as gate:
        background.invoke(other, {"gate": gate.port})
        gate.wait_inside(1)
        assert _throttle(lam, other)["Reason"] == "ConcurrentInvocationLimitExceeded"  # its pool is 2 - 1 = 1
        background.invoke(critical, {"gate": gate.port})  # still has its reserved one
        gate.wait_inside(2)
        assert _throttle(lam, critical)["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
        assert cloud.leases.running() == 2
    assert background.join() == ["on-demand", "on-demand"]
    lam.put_function_concurrency(FunctionName=critical, ReservedConcurrentExecutions=0)
    assert _throttle(lam, critical)["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"


def test_new_environments_beyond_the_scaling_rate_are_throttled_and_the_rate_refills_on_the_clock(
        fn, lam, cloud, quotas):
    quotas(scaling_environments=2, scaling_period_s=60)  # refills one environment per 30 s
    name = fn.create(GATED)
    background = Background(lam)
    with Gate() as gate:
        background.invoke(name, {"gate": gate.port}, times=2)
        gate.wait_inside(2)  # two new environments: the rate's whole allowance
        error = _throttle(lam, name)
        assert (error["Reason"], error["Error"]["Message"]) == ("FunctionInvocationRateLimitExceeded",
                                                                "Rate Exceeded.")
        gate.release(1)
        background.wait(1)
        background.invoke(name, {"gate": gate.port})  # a warm environment takes nothing from the rate
        gate.wait_inside(2)
        assert len(cloud.environments(name)) == 2
        assert _throttle(lam, name)["Reason"] == "FunctionInvocationRateLimitExceeded"
        cloud.clock.advance(30)  # half a period: one new environment again
        background.invoke(name, {"gate": gate.port})
        gate.wait_inside(3)
        assert len(cloud.environments(name)) == 3
    assert background.join() == ["on-demand"] * 4
    assert _metric(cloud, "Throttles", {"FunctionName": name}) == [2.0]


# -- provisioned concurrency ------------------------------------------------------------------------
def _provisioned(fn: Deployer, cloud, lam, amount: int, source: str = GATED) -> tuple[str, str]:
    name = fn.create(source)
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier=version,
                                           ProvisionedConcurrentExecutions=amount)
    cloud.clock.advance(ALLOCATION_S)
    assert lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier=version)["Status"] == "READY"
    return name, version


def test_a_provisioned_environment_was_initialised_ahead_and_reports_no_init_duration(fn, lam, cloud):
    name, version = _provisioned(fn, cloud, lam, 1)
    response = lam.invoke(FunctionName=name, Qualifier=version, LogType="Tail")
    assert json.loads(response["Payload"].read()) == "provisioned-concurrency"
    (report,) = [line for line in base64.b64decode(response["LogResult"]).decode().splitlines()
                 if line.startswith("REPORT")]
    assert "Init Duration" not in report and "Billed Duration" in report
    record = fn.records(name).iloc[-1]
    assert record["provisioned"] and not record["cold"] and pd.isna(record["init_ms"])
    on_demand = lam.invoke(FunctionName=name, LogType="Tail")  # $LATEST has no provisioned concurrency
    assert json.loads(on_demand["Payload"].read()) == "on-demand"
    assert "Init Duration" in base64.b64decode(on_demand["LogResult"]).decode()


def test_traffic_beyond_the_provisioned_environments_spills_over_to_on_demand_ones(fn, lam, cloud):
    name, version = _provisioned(fn, cloud, lam, 1)
    background = Background(lam)
    with Gate() as gate:
        background.invoke(name, {"gate": gate.port}, Qualifier=version)
        gate.wait_inside(1)
        assert json.loads(lam.invoke(FunctionName=name, Qualifier=version)["Payload"].read()) == "on-demand"
    assert background.join() == ["provisioned-concurrency"]
    resource = {"FunctionName": name, "Resource": f"{name}:{version}"}
    assert _metric(cloud, "ProvisionedConcurrencySpilloverInvocations", resource) == [1.0]
    assert _metric(cloud, "ProvisionedConcurrencyInvocations", resource) == [1.0]
    assert _metric(cloud, "ProvisionedConcurrentExecutions", resource, "Maximum") == [1.0]
    assert _metric(cloud, "ProvisionedConcurrencyUtilization", resource, "Maximum") == [1.0]
    assert _metric(cloud, "ConcurrentExecutions", {"FunctionName": name}, "Maximum") == [2.0]
    assert _metric(cloud, "UnreservedConcurrentExecutions", {}, "Maximum")[0] >= 2


def test_when_reserved_concurrency_is_all_provisioned_latest_cannot_run(fn, lam, cloud):
    name, version = _provisioned(fn, cloud, lam, 2)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=2)
    assert _throttle(lam, name)["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert json.loads(lam.invoke(FunctionName=name, Qualifier=version)["Payload"].read()) == "provisioned-concurrency"


def test_provisioned_environments_stay_warm_while_idle_ones_on_demand_are_reaped(fn, lam, cloud):
    name, version = _provisioned(fn, cloud, lam, 1)
    fn.invoke(name)  # an on-demand environment of $LATEST
    assert len(cloud.environments(name)) == 2
    cloud.clock.advance(cloud.quotas.keep_alive_s + 1)
    (env,) = [e for e in cloud.environments(name) if not e.stopped]
    assert (env.initialization_type, env.function.version) == ("provisioned-concurrency", version)


# -- this machine's room ----------------------------------------------------------------------------
def test_beyond_the_machines_room_an_invocation_waits_then_is_throttled_with_lambdalabs_reason(
        fn, lam, cloud, quotas):
    quotas(machine_memory_mb=256, machine_wait_s=0.2)
    name = fn.create(GATED)
    background = Background(lam)
    with Gate() as gate:
        background.invoke(name, {"gate": gate.port}, times=2)
        gate.wait_inside(2)
        error = _throttle(lam, name)
        assert error["Reason"] == "LambdalabMachineCapacityExceeded"
        assert error["Error"]["Message"].startswith("Rate Exceeded. lambdalab: this machine holds execution "
                                                    "environments of at most 256 MB of MemorySize in all")
    assert background.join() == ["on-demand", "on-demand"]
    assert _metric(cloud, "Throttles", {"FunctionName": name}) == [1.0]


def test_a_waiting_invocation_runs_as_soon_as_an_environment_ends(fn, lam, cloud, quotas):
    quotas(machine_memory_mb=256, machine_wait_s=60)
    name = fn.create(GATED)
    background = Background(lam)
    with Gate() as gate:
        background.invoke(name, {"gate": gate.port}, times=3)
        gate.wait_inside(2)  # the third waits for room
        gate.release(1)  # an environment comes back idle: the third runs in it, warm
        gate.wait_inside(2)
    assert background.join() == ["on-demand"] * 3
    assert len(cloud.environments(name)) == 2


def test_idle_environments_of_other_functions_make_room_least_recently_used_first(fn, lam, cloud, quotas):
    quotas(machine_memory_mb=256)
    old, recent, new = fn.create(GATED), fn.create(GATED), fn.create(GATED)
    for name in (old, recent):
        fn.invoke(name)
    fn.invoke(new)
    assert [len(cloud.environments(n)) for n in (old, recent, new)] == [0, 1, 1]
