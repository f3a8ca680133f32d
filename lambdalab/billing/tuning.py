"""Power tuning: run a function at several memory sizes and both architectures, then choose one.

This follows the open-source AWS Lambda Power Tuning tool (alexcasalboni/aws-lambda-power-tuning):
it invokes the function ``invocations`` times at each memory size, averages Duration with a
trimmed mean that drops the fastest and slowest 20% (``discard``), and prices each configuration.
Then a strategy picks one:

* ``cost``: the cheapest per invocation; between equal costs, the faster;
* ``speed``: the fastest; between equal durations, the cheaper;
* ``balanced``: the smallest ``weight x cost / most expensive + (1 - weight) x duration / slowest``,
  so ``weight=1`` is the cheapest and ``weight=0`` the fastest (the tool's ``balancedWeight``).

``max_cost`` (USD per invocation) keeps only the configurations that cost at most that much, so
``best(results, "speed", max_cost=...)`` is the fastest one within a budget.

Where lambdalab differs from the tool: the cost of each invocation is the whole of what
:func:`~lambdalab.billing.cost` bills (the tool prices the ceiling of the average Billed Duration
and leaves out the request charge), the first invocation after each change (a cold start) is not
counted, and one run covers both architectures (the tool tests the architecture the function has).
On lambdalab both architectures run on this machine's CPU: their durations differ only by noise,
and arm64 comes out cheaper by its price alone, not, as on AWS, by Graviton's speed as well.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from .prices import ARCHITECTURES

POWER_VALUES = (128, 256, 512, 1024, 1536, 3008)  # the tool's default memory sizes
STRATEGIES = ("cost", "speed", "balanced")


def power_tune(cloud, function: str, memory_sizes: Iterable[int] = POWER_VALUES,
               architectures: Iterable[str] = ARCHITECTURES, invocations: int = 5, payload: Any = None, *,
               discard: float = 0.2, progress: bool = False) -> pd.DataFrame:
    """Measure ``function`` (the name of a function of ``cloud``) at each memory size on each architecture.

    Each configuration gets one warm-up invocation and ``invocations`` measured ones with
    ``payload`` (the event; JSON-encoded). The function ends with the memory size and architecture
    it had. Columns (one row per configuration): memory_mb, architecture, vcpus, invocations,
    duration_ms and billed_ms (trimmed means), gb_seconds, cost_usd (the trimmed mean cost of one
    invocation) and usd_per_million. :func:`best` picks one; :func:`tuning_figure` draws them.
    """
    from ..course import Functions
    from ..widgets.memory import sweep  # chapter 03's sweep (it prices with this package: imported when used)

    if not 0 <= discard < 0.5:
        raise ValueError(f"discard is the share dropped at each end, from 0 up to 0.5; it is {discard}")
    fn = Functions(cloud)
    before = fn.lam.get_function_configuration(FunctionName=function)
    try:
        return sweep(cloud, function, memory_sizes, architectures, payload, invocations, discard=discard,
                     progress=progress)
    finally:
        now = fn.lam.get_function_configuration(FunctionName=function)
        if now["Architectures"] != before["Architectures"]:
            fn.set_architecture(function, before["Architectures"][0])
        if now["MemorySize"] != before["MemorySize"]:
            fn.configure(function, MemorySize=before["MemorySize"])


def best(results: pd.DataFrame, strategy: str = "cost", *, max_cost: float | None = None,
         weight: float = 0.5) -> pd.Series:
    """The configuration ``strategy`` picks among ``results`` (a row of them), as the tool's analyzer does;
    with ``max_cost``, among those that cost at most that much per invocation."""
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy is one of {STRATEGIES}, not {strategy!r}")
    candidates = results if max_cost is None else results[results["cost_usd"] <= max_cost]
    if candidates.empty:
        raise ValueError(f"no configuration costs at most ${max_cost} per invocation; the cheapest costs "
                         f"${results['cost_usd'].min():.4g}")
    if strategy == "cost":
        order = candidates.sort_values(["cost_usd", "duration_ms"], kind="stable")
    elif strategy == "speed":
        order = candidates.sort_values(["duration_ms", "cost_usd"], kind="stable")
    else:
        weight = min(max(weight, 0.0), 1.0)
        score = (weight * candidates["cost_usd"] / candidates["cost_usd"].max()
                 + (1 - weight) * candidates["duration_ms"] / candidates["duration_ms"].max())
        order = candidates.loc[score.sort_values(kind="stable").index]
    return order.iloc[0]


def tuning_figure(results: pd.DataFrame, *, max_cost: float | None = None,
                  title: str = "Power tuning: duration and cost against memory"):
    """Chapter 03's figure of a sweep (duration and cost per million, one pair of lines per architecture),
    with the cheapest configuration and the fastest (within ``max_cost``, drawn as a line) marked."""
    import plotly.graph_objects as go

    from ..widgets.memory import sweep_figure

    figure = sweep_figure(results, title)
    cheapest, fastest = best(results, "cost"), best(results, "speed", max_cost=max_cost)
    figure.add_trace(go.Scatter(x=[cheapest["memory_mb"]], y=[cheapest["usd_per_million"]], yaxis="y2", mode="markers",
                                name=f"cheapest: {cheapest['memory_mb']} MB, {cheapest['architecture']}",
                                marker={"symbol": "star", "size": 16, "color": "#2ca02c"}))
    within = "" if max_cost is None else " within the budget"
    figure.add_trace(go.Scatter(x=[fastest["memory_mb"]], y=[fastest["duration_ms"]], mode="markers",
                                name=f"fastest{within}: {fastest['memory_mb']} MB, {fastest['architecture']}",
                                marker={"symbol": "diamond", "size": 14, "color": "#ff7f0e"}))
    if max_cost is not None:
        figure.add_hline(y=max_cost * 1_000_000, yref="y2", line_dash="dot", line_color="#ff7f0e",
                         annotation_text=f"budget: ${max_cost * 1_000_000:,.2f} per million")
    return figure


__all__ = ["POWER_VALUES", "STRATEGIES", "best", "power_tune", "tuning_figure"]
