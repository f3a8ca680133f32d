"""The memory views of chapter 03, in the kernel without a browser: sweep, figure, explorer."""

from __future__ import annotations

import base64
import math
import uuid
from decimal import Decimal

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

import lambdalab
from lambdalab.widgets.memory import MemoryExplorer, memory_sweep, sweep_figure, sweep_row, sweep_table

CPU_BOUND = """
def handler(event, context):
    total = 0
    for i in range(event["n"]):
        total += i * i
    return total
"""
EVENT = {"n": 300_000}  # about 12 ms at a full vCPU, 170 ms at 128 MB
PRICE_PER_GB_SECOND, PRICE_PER_REQUEST = Decimal("0.0000166667"), Decimal("0.0000002")  # x86, us-east-1


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_sweep_has_one_row_per_memory_and_the_cost_of_its_billed_duration(cloud):
    name = unique("sweep")
    memories = [128, 1024, 1769]
    frame = memory_sweep(cloud, CPU_BOUND, memories, EVENT, repeat=1, progress=False, function_name=name)
    assert list(frame["memory_mb"]) == memories
    assert list(frame["invocations"]) == [1, 1, 1]
    # the measured invocations are the warm ones (each memory change starts a new environment)
    records = cloud.invocations()
    records = records[records["function"] == name]
    assert list(records["cold"]) == [True, False] * len(memories)
    warm = records[~records["cold"]]
    assert list(warm["memory_mb"]) == memories
    assert list(frame["billed_ms"]) == [float(b) for b in warm["billed_ms"]]
    assert list(frame["duration_ms"]) == list(warm["duration_ms"])
    for row in frame.itertuples():
        gb_s = row.billed_ms / 1000 * row.memory_mb / 1024
        assert row.gb_seconds == gb_s
        exact = Decimal(int(row.billed_ms)) / 1000 * row.memory_mb / 1024 * PRICE_PER_GB_SECOND + PRICE_PER_REQUEST
        assert row.cost_usd == float(exact)  # the nearest double to the exact amount
        assert row.usd_per_million == pytest.approx(row.cost_usd * 1_000_000)
    # and the CPU came with the memory: 128 MB is about 13.8x slower than 1,769 MB on an idle machine
    # (the benchmark's figure); a busy one slows 1,769 MB down, not 128 MB (its share is small), so
    # the test asks for 2x: without the throttle both would take about as long.
    slow, fast = frame.loc[0, "duration_ms"], frame.loc[2, "duration_ms"]
    assert slow > 2 * fast, f"128 MB took {slow:.0f} ms and 1,769 MB {fast:.0f} ms"


def test_sweep_reuses_its_function_when_run_again(cloud):
    name = unique("again")
    memory_sweep(cloud, CPU_BOUND, [256], EVENT, progress=False, function_name=name)
    frame = memory_sweep(cloud, CPU_BOUND, [512, 256], EVENT, progress=False, function_name=name)
    assert list(frame["memory_mb"]) == [512, 256]
    assert cloud.client("lambda").get_function_configuration(FunctionName=name)["MemorySize"] == 256


def test_sweep_figure_has_duration_and_cost_on_two_axes():
    frame = pd.DataFrame({"memory_mb": [512, 128, 1769], "duration_ms": [100.0, 400.0, 30.0],
                          "billed_ms": [100.0, 400.0, 30.0], "gb_seconds": [0.05, 0.05, 0.0518],
                          "cost_usd": [1.0e-6, 1.0e-6, 1.1e-6], "usd_per_million": [1.0, 1.0, 1.1]})
    figure = sweep_figure(frame)
    assert isinstance(figure, go.Figure)
    duration, cost = figure.data
    assert duration.name.startswith("duration") and cost.name.startswith("cost")
    assert list(duration.x) == [128, 512, 1769] and list(duration.y) == [400.0, 100.0, 30.0]
    assert list(cost.y) == [1.0, 1.0, 1.1]  # per million invocations: dollars and cents, not 1e-06
    assert cost.yaxis == "y2" and figure.layout.yaxis2.overlaying == "y" and figure.layout.yaxis2.side == "right"


def test_explorer_slider_costs_nothing_and_the_button_adds_a_point(cloud):
    name = unique("explorer")
    explorer = MemoryExplorer(cloud, CPU_BOUND, EVENT, memory=512, function_name=name)
    slider = explorer.slider  # the model the chapter teaches: 1 MB steps, 128 to 10,240 MB
    assert (slider.step, slider.min, slider.max) == (1, cloud.quotas.memory_min_mb, cloud.quotas.memory_max_mb) \
        == (1, 128, 10240)
    assert [len(trace.x) for trace in explorer.figure.data] == [0, 0]

    before = len(cloud.invocations())
    explorer.slider.value = 1024
    assert len(cloud.invocations()) == before, "moving the slider must not invoke anything"
    assert "0.58 vCPU" in explorer.share.value

    explorer.button.click()
    duration, cost = explorer.figure.data
    assert list(duration.x) == [1024] and list(cost.x) == [1024]
    assert duration.y[0] > 0 and cost.y[0] > 0
    assert not explorer.button.disabled and "1,024 MB" in explorer.status.value

    explorer.slider.value = 256
    explorer.button.click()
    assert list(explorer.figure.data[0].x) == [256, 1024]  # sorted by memory
    assert list(explorer.points["memory_mb"]) == [1024, 256]
    assert explorer.figure.data[0].y[0] > explorer.figure.data[0].y[1], "256 MB should be slower than 1,024 MB"
    (output,) = explorer.widget.children[-1].outputs  # what the browser draws: the figure, redrawn
    sent = [t["x"] for t in output["data"]["application/vnd.plotly.v1+json"]["data"]]
    assert [decoded(x) for x in sent] == [[256, 1024]] * 2


def decoded(array) -> list:
    """An array as plotly's JSON holds it: a list, or (plotly >= 6) a typed array in base64."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), array["dtype"]).tolist()
    return list(array)


def test_explorer_reports_a_failing_handler_instead_of_raising(cloud):
    explorer = MemoryExplorer(cloud, "def handler(event, context):\n    raise ValueError('boom')\n",
                              memory=128, function_name=unique("failing"))
    explorer.button.click()
    status = explorer.status.value
    assert "RuntimeError" in status and "Unhandled" in status and "ValueError: boom" in status
    assert len(explorer.points) == 0 and not explorer.button.disabled
    with pytest.raises(RuntimeError):
        explorer.measure(256)


def test_explorer_on_a_stopped_cloud_says_so_instead_of_failing():
    with lambdalab.start() as other:
        explorer = MemoryExplorer(other, CPU_BOUND, EVENT, memory=256, function_name=unique("stopped"))
    explorer.button.click()
    assert "stopped" in explorer.status.value and len(explorer.points) == 0


def test_sweep_table_shows_costs_that_tell_the_sizes_apart():
    """Pandas' default display rounds a cost of a few millionths of a dollar to 0.000002 or 0.000003,
    and the cheapest size can no longer be read from the table; the sweep's table shows every digit that matters."""
    frame = pd.DataFrame([sweep_row(memory, ms, math.ceil(ms)) for memory, ms in (  # as chapter 03 measures
        (128, 2100.4), (256, 1060.2), (512, 530.8), (1024, 271.3), (1769, 160.2), (3008, 158.9))])
    assert frame["cost_usd"].round(6).nunique() < len(frame), "the example no longer shows the problem"
    shown = sweep_table(frame).to_html()
    per_million = [f"${v:,.2f}" for v in frame["usd_per_million"]]
    assert len(set(per_million)) == len(frame) and all(cost in shown for cost in per_million)
    cheapest = min(range(len(frame)), key=lambda i: float(per_million[i][1:].replace(",", "")))
    assert cheapest == frame["cost_usd"].idxmin()
    assert all(f"{cost:.3e}" in shown for cost in frame["cost_usd"])
