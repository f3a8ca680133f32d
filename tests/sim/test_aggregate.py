"""The aggregate mode against the exact mode, on horizons both can run, and the erlang formula by hand."""

from __future__ import annotations

import numpy as np
import pytest

from lambdalab import billing, sim
from lambdalab.rules import ACCOUNT_LIMIT_EXCEEDED, RESERVED_LIMIT_EXCEEDED, SCALING_RATE_EXCEEDED, ScalingRate
from lambdalab.sim.aggregate import erlang_b

SCENARIOS = {
    "unlimited, lognormal durations": dict(duration_ms=sim.lognormal(150, 0.5)),
    "account limit": dict(duration_ms=200, account_limit=12),
    "provisioned and spillover": dict(duration_ms=200, provisioned=8),
    "reserved with provisioned inside": dict(duration_ms=200, reserved=12, provisioned=5),
}


def test_erlang_b_by_hand():
    """Two servers under a load of 1: B = (1/2) / (1 + 1 + 1/2) = 0.2."""
    assert erlang_b(2, np.array([1.0]))[0] == pytest.approx(0.2)
    assert erlang_b(0, np.array([3.0]))[0] == 1.0


@pytest.mark.parametrize("settings", SCENARIOS.values(), ids=SCENARIOS.keys())
def test_aggregate_agrees_with_exact(settings):
    """Half an hour at 50 requests/s: invocations, throttles and the bill within 1 %, cold starts
    within 3 and peaks within 2 environments (the two modes draw their randomness differently)."""
    workload = sim.constant(50, 1800)
    exact, rough = sim.run(workload, **settings), sim.run(workload, mode="aggregate", **settings)
    assert rough.arrivals == pytest.approx(exact.arrivals, rel=0.01)
    assert rough.invocations == pytest.approx(exact.invocations, rel=0.01)
    for reason in (ACCOUNT_LIMIT_EXCEEDED, RESERVED_LIMIT_EXCEEDED):
        assert rough.throttle_counts.get(reason, 0) == pytest.approx(exact.throttle_counts.get(reason, 0), rel=0.05)
    assert sum(rough.throttle_counts.values()) == pytest.approx(sum(exact.throttle_counts.values()), rel=0.05, abs=5)
    assert abs(rough.cold_starts - exact.cold_starts) <= 3
    assert abs(rough.peak_environments - exact.peak_environments) <= 2
    assert abs(rough.peak_concurrency - exact.peak_concurrency) <= 2
    both = [s.summary.groupby("provisioned")["invocations"].sum() for s in (exact, rough)]
    assert both[1].to_numpy() == pytest.approx(both[0].to_numpy(), rel=0.02)
    assert billing.cost(rough.summary).sum() == pytest.approx(billing.cost(exact.summary).sum(), rel=0.01)
    assert billing.cost(exact.summary).sum() == pytest.approx(billing.cost(exact.records).sum(), rel=1e-9)


def test_exact_summary_bills_like_its_records():
    result = sim.run(sim.constant(20, 300), duration_ms=sim.lognormal(80, 0.7), provisioned=2, memory_mb=1024)
    assert result.summary["invocations"].sum() == len(result.records)
    assert result.summary["peak_concurrency"].max() <= result.peak_concurrency
    bills = [billing.bill(frame) for frame in (result.records, result.summary)]
    assert bills[0]["usd"].tolist() == bills[1]["usd"].tolist()


def test_scaling_rate_throttles_a_burst_in_both_modes():
    """A burst of 3,000 requests/s of 2 s each wants about 6,000 environments; at 1,000 plus 100 a
    second the function gets there in about 50 s, and both modes throttle the rest for the rate."""
    workload = sim.burst(1, 120, at=10, peak=3000, length=60)
    settings = dict(duration_ms=2000, account_limit=100_000, scaling=ScalingRate())
    exact, rough = sim.run(workload, **settings), sim.run(workload, mode="aggregate", **settings)
    assert exact.throttle_counts[SCALING_RATE_EXCEEDED] > 10_000
    assert rough.throttle_counts[SCALING_RATE_EXCEEDED] == pytest.approx(exact.throttle_counts[SCALING_RATE_EXCEEDED],
                                                                         rel=0.1)
    assert rough.cold_starts == pytest.approx(exact.cold_starts, rel=0.05)
    assert rough.peak_environments == pytest.approx(exact.peak_environments, rel=0.05)


def test_aggregate_refuses_async():
    with pytest.raises(ValueError, match="asynchronous retries need mode='exact'"):
        sim.run(sim.constant(1, 60), mode="aggregate", invocation="async")
