"""Chapter 06's predictions are what the local cloud does: each exercise's scenario, run for real in a cloud
with the chapter's quotas, gives the answer its check expects."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

import lambdalab
from lambdalab.checks import ch06
from lambdalab.course import Functions

SLOW = "import time\ndef handler(event, context):\n    time.sleep(1)\n"


@pytest.fixture(scope="module")
def chapter_cloud():
    with lambdalab.start(quotas={"concurrent_executions": 10, "unreserved_min": 2}) as cloud:
        yield cloud


def test_q2_the_throttle_a_function_without_a_reservation_meets_is_the_answer(chapter_cloud):
    fn, lam = Functions(chapter_cloud), chapter_cloud.client("lambda", config=Config(retries={"max_attempts": 1}))
    fn.deploy("q2-other", "def handler(event, context):\n    return 1\n")
    fn.deploy("q2-api", SLOW)
    lam.put_function_concurrency(FunctionName="q2-other", ReservedConcurrentExecutions=8)

    def call(_):
        try:
            lam.invoke(FunctionName="q2-api")
            return None
        except ClientError as e:
            return e.response.get("Reason")

    with ThreadPoolExecutor(3) as pool:
        reasons = [r for r in pool.map(call, range(3)) if r]
    fn.delete("q2-other", "q2-api")
    assert len(reasons) == 1 and ch06.q2.bind().check(reasons[0])


def test_q3_the_cold_starts_of_two_waves_beyond_provisioned_concurrency_are_the_answer(chapter_cloud):
    fn, lam = Functions(chapter_cloud), chapter_cloud.client("lambda")
    fn.deploy("q3-api", SLOW)
    version = lam.publish_version(FunctionName="q3-api")["Version"]
    lam.create_alias(FunctionName="q3-api", Name="live", FunctionVersion=version)
    fn.provision("q3-api", "live", 3)
    for _ in range(2):
        with ThreadPoolExecutor(7) as pool:
            list(pool.map(lambda _: lam.invoke(FunctionName="q3-api", Qualifier="live"), range(7)))
    records = fn.records("q3-api")
    fn.delete("q3-api")
    assert len(records) == 14 and ch06.q3.bind().check(int(records["init_ms"].notna().sum()))
