"""The environment timeline widget, in the kernel (no browser): rows, bars and widths come from the records."""

from __future__ import annotations

import pandas as pd
import pytest
from deploy import Deployer
from gate import WAIT_AT_GATE, Gate

from lambdalab.widgets.timeline import EnvironmentTimeline, bars, environment_timeline

HELD = WAIT_AT_GATE + """
def handler(event, context):
    if "gate" in event:
        wait_at_gate(event["gate"])
    return "ok"
"""
FAILING = "def handler(event, context):\n    if event.get('fail'):\n        raise ValueError('no')\n    return 'ok'\n"


def bar_trace(fig, name):
    found = [t for t in fig.data if t.type == "bar" and t.name == name]
    assert len(found) == 1, f"expected one {name!r} trace, got {[t.name for t in fig.data]}"
    return found[0]


def naive(times) -> list[pd.Timestamp]:
    return [pd.Timestamp(t).tz_convert(None) if pd.Timestamp(t).tzinfo else pd.Timestamp(t) for t in times]


@pytest.fixture(scope="module")
def burst(cloud):
    """A function hit by 3 concurrent requests, then 2 one after another: 3 environments, 5 invocations."""
    fn = Deployer(cloud)
    name = fn.create(HELD, Timeout=60)
    with Gate() as gate:  # the three run at once
        gate.run(lambda: fn.invoke(name, {"gate": gate.port}), 3)
    fn.invoke(name)
    fn.invoke(name)
    return name, fn.records(name)


def test_one_row_per_environment_labelled_by_short_id(cloud, burst):
    name, records = burst
    fig = environment_timeline(cloud.invocations(), name)
    envs = records.sort_values("start").drop_duplicates("environment")["environment"]
    assert len(envs) == 3
    assert list(fig.layout.yaxis.categoryarray) == [e[:8] for e in envs]  # oldest environment first
    rows = {y for trace in fig.data if trace.type == "bar" for y in trace.y}
    assert rows == {e[:8] for e in envs}
    assert "3 environments, 5 invocations" in fig.layout.title.text


def test_invocation_bars_match_the_records(cloud, burst):
    name, records = burst
    fig = environment_timeline(cloud.invocations(), name)
    records = records.sort_values("start").reset_index(drop=True)
    invocations = bar_trace(fig, "invocation")
    assert len(invocations.x) == len(records) == 5
    assert list(invocations.x) == pytest.approx(list(records["duration_ms"]))
    assert list(invocations.y) == [e[:8] for e in records["environment"]]
    assert naive(invocations.base) == naive(records["start"])  # a bar starts when its event was delivered
    assert sorted(bars(fig, "invocation")) == sorted(zip(invocations.y, invocations.x, strict=True))
    assert {row[1] for row in invocations.customdata} == set(records["request_id"])  # hover shows request ids


def test_init_bars_one_per_cold_start_ending_where_the_invocation_starts(cloud, burst):
    name, records = burst
    fig = environment_timeline(cloud.invocations(), name)
    cold = records[records["init_ms"].notna()].sort_values("start").reset_index(drop=True)
    assert len(cold) == 3 and cold["cold"].all()
    init = bar_trace(fig, "INIT")
    assert list(init.x) == pytest.approx(list(cold["init_ms"]))
    assert list(init.y) == [e[:8] for e in cold["environment"]]
    ends = [b + pd.to_timedelta(w, unit="ms") for b, w in zip(naive(init.base), init.x, strict=True)]
    assert [e.value for e in ends] == pytest.approx([s.value for s in naive(cold["start"])], abs=1_000)  # within 1 µs
    assert init.marker.color != bar_trace(fig, "invocation").marker.color


def test_failed_invocations_are_drawn_apart(fn):
    name = fn.create(FAILING)
    fn.invoke(name)
    fn.invoke(name, {"fail": True})
    fig = environment_timeline(fn.cloud.invocations(), name)
    assert len(bar_trace(fig, "invocation").x) == 1
    failed = bar_trace(fig, "failed invocation")
    assert len(failed.x) == 1 and "ValueError" in failed.customdata[0][6]


def test_all_functions_at_once_names_the_function_in_each_row(fn):
    first, second = fn.create(FAILING), fn.create(FAILING)
    fn.invoke(first)
    fn.invoke(second)
    records = fn.cloud.invocations()
    fig = environment_timeline(records[records["function"].isin([first, second])])
    labels = list(fig.layout.yaxis.categoryarray)
    assert len(labels) == 2
    assert labels[0].startswith(f"{first} · ") and labels[1].startswith(f"{second} · ")


def test_no_records_gives_an_empty_figure_that_says_so(cloud):
    fig = environment_timeline(cloud.invocations(), "no-such-function")
    assert not [t for t in fig.data if t.type == "bar"]
    assert fig.layout.annotations[0].text == "no invocations yet"


def shown(live: EnvironmentTimeline) -> dict:
    """The figure the live timeline's Output widget sends to the browser (plotly's JSON)."""
    (output,) = live.widget.outputs
    return output["data"]["application/vnd.plotly.v1+json"]


def test_live_widget_refresh_picks_up_new_invocations(fn):
    name = fn.create(FAILING)
    live = EnvironmentTimeline(fn.cloud, name)
    assert bars(live.figure, "invocation") == []
    fn.invoke(name)
    assert bars(live.figure, "invocation") == []  # nothing changes until refresh()
    assert live.refresh() is live
    assert len(bars(live.figure, "invocation")) == 1 and len(bars(live.figure, "INIT")) == 1
    fn.invoke(name)
    live.refresh()
    assert len(bars(live.figure, "invocation")) == 2 and len(bars(live.figure, "INIT")) == 1
    assert repr(live).endswith(": 1 environment>") and "1 environment, 2 invocations" in live.figure.layout.title.text
    assert sum(len(t["x"]) for t in shown(live)["data"] if t.get("name") == "invocation") == 2


def test_what_the_live_widget_sends_to_the_browser_are_dates_within_the_records(fn):
    """A FigureWidget once sent a datetime64[ns] column as integers (nanoseconds since 1970), and plotly.js
    drew the INIT bars decades away: every date the widget shows is text, within the records' times."""
    name = fn.create(HELD, Timeout=60)
    live = EnvironmentTimeline(fn.cloud, name)
    with Gate() as gate:  # two at once: two environments, each with its INIT bar
        gate.run(lambda: fn.invoke(name, {"gate": gate.port}), 2)
    live.refresh()
    traces = shown(live)["data"]
    assert {t["name"] for t in traces} >= {"INIT", "invocation", "starts"}
    records = fn.records(name)
    first = records["start"].min().tz_convert(None) - pd.Timedelta(seconds=5)
    last = records["start"].max().tz_convert(None) + pd.Timedelta(seconds=5)
    dates = [value for t in traces for key in ("base", "x") if not (t["type"] == "bar" and key == "x")
             for value in t.get(key) or []]
    assert len(dates) == 2 + 2 + 2  # INIT bases, invocation bases, start ticks
    for value in dates:
        assert isinstance(value, str), f"a date went to the browser as {type(value).__name__}: {value!r}"
        assert first <= pd.Timestamp(value) <= last, f"{value} is not when the invocations ran"
