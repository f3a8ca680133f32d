"""The simulator against the real cloud: one small workload, run for real and simulated, must agree.

Forty synchronous invocations in four waves of ten, 4 s apart, of a handler that sleeps 2 s, with
the account's limit lowered to 4.  The simulator replays the moments the requests were sent, with
the durations and Init Durations the real run measured, under the same limit.  The tolerance is
zero: cold starts, throttles (and their reason) and peak environments must be equal.  That is
fair because the workload's margins (2 s in a handler, 2 s more between waves) are far beyond the
machine's jitter, so the outcome follows from the rules alone.
"""

from __future__ import annotations

import threading
import time

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

import lambdalab
from lambdalab import sim

SLEEP = 'import time\n\ndef handler(event, context):\n    time.sleep(2.0)\n    return "done"\n'
WAVES, PER_WAVE, GAP_S, LIMIT = 4, 10, 4.0, 4


@pytest.fixture
def limited(cloud):
    """The account's limit lowered to LIMIT for this test only."""
    cloud.quotas.set(concurrent_executions=LIMIT)
    yield
    defaults = {q.key: q.value for q in lambdalab.service.quotas.DEFAULTS}
    cloud.quotas.set(concurrent_executions=defaults["concurrent_executions"])


def run_for_real(cloud, fn, name: str) -> tuple[list[float], list[str]]:
    """Send the waves; the moments each request left (s from the first) and each throttle's reason."""
    lam = cloud.client("lambda", config=Config(retries={"total_max_attempts": 1}, read_timeout=120,
                                               max_pool_connections=PER_WAVE * 2))
    sent, reasons, lock = [], [], threading.Lock()
    origin = time.monotonic()

    def invoke() -> None:
        with lock:
            sent.append(time.monotonic() - origin)
        try:
            lam.invoke(FunctionName=name, Payload=b"{}")
        except ClientError as e:
            with lock:
                reasons.append(e.response.get("Reason"))

    threads = []
    for wave in range(WAVES):
        time.sleep(max(0.0, origin + wave * GAP_S - time.monotonic()))
        for _ in range(PER_WAVE):
            threads.append(threading.Thread(target=invoke))
            threads[-1].start()
    for thread in threads:
        thread.join(120)
    return sent, reasons


def test_simulator_agrees_with_the_real_cloud(cloud, fn, limited):
    name = fn.create({"app.py": SLEEP}, Timeout=30, MemorySize=128)
    sent, reasons = run_for_real(cloud, fn, name)
    real = fn.records_when(name, WAVES * PER_WAVE - len(reasons))
    assert len(sent) == WAVES * PER_WAVE

    result = sim.run(sim.at(sent), account_limit=LIMIT, **sim.measured(real))

    assert result.cold_starts == int(real["cold"].sum())
    assert len(result.throttles) == len(reasons)
    assert sorted(result.throttles["reason"]) == sorted(reasons)
    assert result.peak_environments == real["environment"].nunique() == len(cloud.environments(name))
    assert len(result.records) == len(real)
    # and the figures are the ones the rules predict: LIMIT environments, the rest of each wave throttled
    assert (result.peak_environments, len(reasons)) == (LIMIT, WAVES * (PER_WAVE - LIMIT))
