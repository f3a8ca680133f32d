"""The exact mode on scenarios whose outcome can be worked out by hand from AWS's rules."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from lambdalab import billing, sim
from lambdalab.observe.records import InvocationRecord, Records
from lambdalab.rules import (
    ACCOUNT_LIMIT_EXCEEDED,
    RESERVED_LIMIT_EXCEEDED,
    SCALING_RATE_EXCEEDED,
    AsyncRetry,
    ScalingRate,
)


def seconds(frame: pd.DataFrame, column: str = "start") -> list[float]:
    """A frame's times as seconds from the simulation's default start."""
    return ((frame[column] - pd.Timestamp("2026-01-01", tz="UTC")).dt.total_seconds()).round(6).tolist()


def concurrency(records: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Invocations in flight (INIT included) after each start and end, from the records alone."""
    begin = seconds(records)
    init = records["init_ms"].fillna(0.0).to_numpy() / 1000
    arrive = np.asarray(begin) - init
    end = np.asarray(begin) + records["duration_ms"].to_numpy() / 1000
    moments = np.concatenate([arrive, end])
    steps = np.concatenate([np.ones(len(arrive)), -np.ones(len(end))])
    order = np.lexsort((steps, moments))  # at the same instant an end comes before a start
    return moments[order], np.cumsum(steps[order])


def test_concurrency_is_rate_times_duration():
    """Little's law: 200 requests/s of 500 ms each keep about 100 invocations in flight."""
    result = sim.run(sim.constant(200, 600), duration_ms=500, init_ms=0)
    moments, running = concurrency(result.records)
    inside = (moments[:-1] > 60) & (moments[:-1] < 540)  # away from the ramp up and down
    spans = np.diff(moments)[inside]
    time_weighted = np.sum(running[:-1][inside] * spans) / np.sum(spans)
    assert time_weighted == pytest.approx(200 * 0.5, rel=0.03)
    assert result.peak_concurrency == running.max()
    assert result.throttles.empty and result.cold_starts == result.peak_environments


def test_account_limit_throttles_beyond_it_and_the_next_wave_runs_warm():
    result = sim.run(sim.at([0.0] * 20 + [5.0] * 10), duration_ms=1000, init_ms=200, account_limit=10)
    assert len(result.throttles) == 10
    assert set(result.throttles["reason"]) == {ACCOUNT_LIMIT_EXCEEDED}
    first, second = result.records.iloc[:10], result.records.iloc[10:]
    assert first["cold"].all() and not second["cold"].any()
    assert result.peak_environments == 10 and result.records["environment"].nunique() == 10


def test_reserved_concurrency_caps_the_function():
    result = sim.run(sim.at([0.0] * 12), reserved=5)
    assert len(result.records) == 5
    assert result.throttles["reason"].tolist() == [RESERVED_LIMIT_EXCEEDED] * 7


def test_reserved_concurrency_refused_below_the_unreserved_minimum():
    with pytest.raises(ValueError, match="below its minimum value of \\[100\\]"):
        sim.run(sim.at([0.0]), reserved=901)


def test_provisioned_environments_serve_without_cold_starts_until_spillover():
    quiet = sim.run(sim.at(np.arange(20) * 2.0), provisioned=3, duration_ms=500)
    assert quiet.records["provisioned"].all() and not quiet.records["cold"].any()
    assert quiet.records["init_ms"].isna().all() and (quiet.records["version"] == "1").all()
    busy = sim.run(sim.at([0.0] * 5), provisioned=3, duration_ms=500)
    assert busy.records["provisioned"].sum() == 3
    spilled = busy.records[~busy.records["provisioned"]]
    assert len(spilled) == 2 and spilled["cold"].all()
    assert busy.peak_environments == 5


def test_idle_environment_is_reaped_after_keep_alive():
    result = sim.run(sim.at([0.0, 100.0, 100.0 + 0.5 + 700.0]), duration_ms=500, init_ms=300, keep_alive_s=600)
    assert result.records["cold"].tolist() == [True, False, True]
    assert result.records["environment"].nunique() == 2
    assert result.peak_environments == 1  # the first was reaped before the second was made


def test_scaling_rate_throttles_new_environments_beyond_it():
    """A bucket of 10 environments refilled at 1 per second: 10 now, 1 more a second later."""
    result = sim.run(sim.at([0.0] * 30 + [1.0] * 30), duration_ms=5000, scaling=ScalingRate(10, 10.0))
    assert len(result.records) == 11
    assert set(result.throttles["reason"]) == {SCALING_RATE_EXCEEDED}
    assert len(result.throttles) == 49


def test_async_throttles_are_retried_with_backoff():
    """The limit is 1: event 0 runs; 1 and 2 come back after 1 s; 2, throttled again, after 2 s more."""
    result = sim.run(sim.at([0.0, 0.0, 0.0]), account_limit=1, invocation="async", duration_ms=100, init_ms=250)
    assert seconds(result.records) == [0.25, 1.0, 3.0]
    assert result.records["attempt"].tolist() == [1, 1, 1]  # a throttle is not an attempt
    assert seconds(result.throttles, "time") == [0.0, 0.0, 1.0]
    assert (result.records["invocation_type"] == "Event").all()


def test_async_event_dropped_when_too_old_after_throttles():
    """Backoffs of 1, 2, 4, 8 and 16 s bring the event to 31 s; the next, 32 s, would pass its 60 s age."""
    result = sim.run(sim.at([0.0, 0.0]), account_limit=1, invocation="async", duration_ms=200_000,
                     retry=AsyncRetry(max_event_age_s=60))
    assert len(result.records) == 1 and result.dropped == 1
    assert seconds(result.throttles, "time") == [0.0, 1.0, 3.0, 7.0, 15.0, 31.0]


def test_measured_settings_replay_the_cloud_s_records():
    records = sim.simulate(sim.constant(5, 60), duration_ms=sim.lognormal(50, 1.0), init_ms=400, memory_mb=256)
    settings = sim.measured(records)
    assert settings["memory_mb"] == 256 and set(settings["init_ms"]) == {400.0}
    replayed = sim.simulate(sim.constant(5, 60), **settings, seed=1)
    assert set(replayed["duration_ms"]) <= set(records["duration_ms"])


def test_async_errors_are_retried_one_then_two_minutes_later():
    result = sim.run(sim.at([0.0]), invocation="async", error_rate=1.0, duration_ms=100, init_ms=0)
    assert result.records["attempt"].tolist() == [1, 2, 3]
    assert seconds(result.records) == [0.0, 60.1, 180.2]
    assert result.records["request_id"].nunique() == 1 and (result.records["status"] == "error").all()


def test_billing_reads_simulated_records_as_it_reads_the_cloud_s():
    """The same invocations built as the cloud's records store builds them cost and bill the same."""
    result = sim.run(sim.constant(5, 30), duration_ms=sim.lognormal(120, 0.5), init_ms=300, memory_mb=512,
                     architecture="arm64", ephemeral_storage_mb=1024)
    records = result.records
    store = Records()
    for row in records.to_dict("records"):
        fields = {k: (None if (v is pd.NA or (isinstance(v, float) and math.isnan(v))) else v) for k, v in row.items()}
        fields["max_memory_used_mb"] = 0
        fields["start"] = row["start"].to_pydatetime()
        store.add(InvocationRecord(**fields))
    cloud_like = store.frame()
    assert list(records.columns) == list(cloud_like.columns)
    assert billing.cost(records, exact=True).tolist() == billing.cost(cloud_like, exact=True).tolist()
    pd.testing.assert_frame_equal(billing.bill(records), billing.bill(cloud_like))
    assert (records["billed_ms"] == np.ceil(records["duration_ms"] + records["init_ms"].fillna(0))).all()
