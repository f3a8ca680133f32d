"""Power tuning: the tool's choice among configurations, and a real run over memory sizes and architectures."""

from __future__ import annotations

import uuid

import pandas as pd
import plotly.graph_objects as go
import pytest

from lambdalab import billing
from lambdalab.course import Functions
from lambdalab.widgets.memory import memory_sweep, sweep_figure, trimmed_mean

CPU_BOUND = "def handler(event, context):\n    return sum(i * i for i in range(event['n']))\n"


def readme_example() -> pd.DataFrame:
    """The power-tuning README's example result: average ms and $ per invocation at six memory sizes."""
    return pd.DataFrame({"memory_mb": [128, 256, 512, 1024, 1536, 3008], "architecture": "x86_64",
                         "duration_ms": [37002.0, 18648.0, 8489.0, 3891.0, 2512.0, 2010.0],
                         "cost_usd": [7.72e-5, 7.78e-5, 7.07e-5, 6.49e-5, 6.49e-5, 1.03e-4]})


def test_the_strategies_pick_as_the_tools_analyzer_does():
    results = readme_example()
    assert billing.best(results)["memory_mb"] == 1536  # cheapest; 1,024 costs the same but is slower
    assert billing.best(results, "speed")["memory_mb"] == 3008
    assert billing.best(results, "speed", max_cost=1e-4)["memory_mb"] == 1536  # the fastest within the budget
    assert billing.best(results, "speed", max_cost=6.49e-5)["memory_mb"] == 1536
    assert billing.best(results, "cost", max_cost=1e-4)["memory_mb"] == 1536
    # balanced: 0.5 x cost / max cost + 0.5 x duration / max duration is smallest at 1,536 MB (0.349)
    assert billing.best(results, "balanced")["memory_mb"] == 1536
    assert billing.best(results, "balanced", weight=0)["memory_mb"] == 3008
    assert billing.best(results, "balanced", weight=1)["memory_mb"] == 1024  # a tie: the tool keeps the first
    assert billing.best(results, "balanced", weight=7)["memory_mb"] == 1024  # clamped to 1, as the tool does
    with pytest.raises(ValueError, match="the cheapest costs"):
        billing.best(results, "speed", max_cost=1e-6)
    with pytest.raises(ValueError, match="strategy"):
        billing.best(results, "cheapest")


def test_the_average_is_the_tools_trimmed_mean():
    assert trimmed_mean([100, 2, 3, 1, 4], 0.2) == 3  # drops 1 and 100
    assert trimmed_mean([1, 2, 3, 10], 0.2) == 4  # int(4 x 0.2) = 0: nothing to drop
    assert trimmed_mean([5], 0.4) == 5


def test_power_tune_runs_each_memory_size_on_both_architectures_and_leaves_the_function_as_it_was(cloud):
    name = f"tune-{uuid.uuid4().hex[:8]}"
    fn = Functions(cloud)
    fn.deploy(name, CPU_BOUND, MemorySize=256, Architectures=["arm64"])
    results = billing.power_tune(cloud, name, memory_sizes=[128, 1024], invocations=2, payload={"n": 20_000})
    assert list(zip(results["architecture"], results["memory_mb"], strict=True)) == [
        ("x86_64", 128), ("x86_64", 1024), ("arm64", 128), ("arm64", 1024)]
    assert (results["invocations"] == 2).all()
    config = fn.lam.get_function_configuration(FunctionName=name)
    assert (config["MemorySize"], config["Architectures"]) == (256, ["arm64"])
    records = fn.records(name)
    assert len(records) == 4 * 3  # per configuration, a warm-up (a cold start) and two measured invocations
    for row, group in zip(results.itertuples(), [records.iloc[i:i + 3] for i in range(0, 12, 3)], strict=True):
        assert set(group["architecture"]) == {row.architecture} and set(group["memory_mb"]) == {row.memory_mb}
        assert group["cold"].tolist() == [True, False, False]
        measured = group.iloc[1:]
        assert row.duration_ms == measured["duration_ms"].mean() and row.billed_ms == measured["billed_ms"].mean()
        assert row.cost_usd == pytest.approx(billing.cost(measured).mean(), rel=1e-15)
    assert billing.best(results)["cost_usd"] == results["cost_usd"].min()
    figure = billing.tuning_figure(results, max_cost=float(results["cost_usd"].max()))
    names = [trace.name for trace in figure.data]
    assert names[:4] == ["duration, x86_64 (ms)", "cost per million invocations, x86_64 (USD)",
                         "duration, arm64 (ms)", "cost per million invocations, arm64 (USD)"]
    assert names[4].startswith("cheapest: ") and names[5].startswith("fastest within the budget: ")
    assert [trace.line.dash for trace in figure.data[:4]] == ["solid", "solid", "dash", "dash"]


def test_a_failing_function_stops_the_tuning_and_is_put_back(cloud):
    name = f"tune-fail-{uuid.uuid4().hex[:8]}"
    fn = Functions(cloud)
    fn.deploy(name, "def handler(event, context):\n    raise ValueError('no')\n", MemorySize=384)
    with pytest.raises(RuntimeError, match="ValueError: no"):
        billing.power_tune(cloud, name, memory_sizes=[128], architectures=["arm64"], invocations=1)
    config = fn.lam.get_function_configuration(FunctionName=name)
    assert (config["MemorySize"], config["Architectures"]) == (384, ["x86_64"])
    with pytest.raises(ValueError, match="discard"):
        billing.power_tune(cloud, name, discard=0.5)


def test_chapter_03s_sweep_takes_architectures_too(cloud):
    name = f"sweep-arch-{uuid.uuid4().hex[:8]}"
    frame = memory_sweep(cloud, CPU_BOUND, [256], {"n": 1000}, progress=False, function_name=name,
                         architectures=("arm64", "x86_64"))
    assert frame["architecture"].tolist() == ["arm64", "x86_64"]
    x86, arm = (frame.set_index("architecture").loc[a] for a in ("x86_64", "arm64"))
    assert arm["cost_usd"] == float(billing.cost({"memory_mb": 256, "billed_ms": int(arm["billed_ms"]),
                                                  "architecture": "arm64"}))
    assert x86["cost_usd"] == float(billing.cost({"memory_mb": 256, "billed_ms": int(x86["billed_ms"])}))
    figure = sweep_figure(frame)
    assert isinstance(figure, go.Figure) and len(figure.data) == 4
