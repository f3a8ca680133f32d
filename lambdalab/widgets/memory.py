"""Memory and the CPU that comes with it: measure one handler at several memory sizes.

* :func:`sweep` does what aws-lambda-power-tuning does, on the local cloud: it sets a function
  to each memory size (and architecture), warms it up, invokes it and reads Duration and Billed
  Duration from the invocation records; the cost per invocation is what
  :func:`lambdalab.billing.cost` bills for them. :func:`memory_sweep` deploys a handler first;
  :func:`lambdalab.billing.power_tune` sweeps a function that exists and picks a configuration.
* :func:`sweep_figure` draws the result as power tuning does: duration and cost against memory,
  on two y axes, one pair of lines per architecture.
* :class:`MemoryExplorer` is the same measurement, one memory size at a time: a slider, a button,
  and a live figure that gains a point per click.

Prices are Lambda's published us-east-1 prices (:mod:`lambdalab.billing`), the request charge
included, which power tuning leaves out. A cost is shown per million invocations, where one
invocation's few millionths of a dollar become readable dollars and cents.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any

import plotly.graph_objects as go

from ..billing import cost
from ..billing.prices import ARCHITECTURES
from ..course import Functions
from ..sandbox.governor import HOST_CPUS
from ..service.quotas import DEFAULTS
from . import show_figure, stopped

_DEFAULT = {q.key: q.value for q in DEFAULTS}
MB_PER_VCPU = _DEFAULT["mb_per_vcpu"]  # 1,769 MB of memory come with one vCPU (AWS's figure)
DURATION_COLOR, COST_COLOR = "#d62728", "#1f77b4"  # power tuning's red time line and blue cost line
DASH = {"x86_64": "solid", "arm64": "dash"}


def gb_seconds(billed_ms: float, memory_mb: int) -> float:
    """What Lambda bills for duration: memory in GB (MB / 1,024) times billed seconds."""
    return billed_ms / 1000 * memory_mb / 1024


def vcpus(memory_mb: int, host_cpus: int | None = None, quotas=None) -> float:
    """The vCPU share that comes with ``memory_mb``: memory / 1,769 MB, at most 6 vCPUs (AWS) and at
    most ``host_cpus`` (this machine). ``quotas`` (a cloud's) can stand in for AWS's figures."""
    per_vcpu = quotas.mb_per_vcpu if quotas is not None else MB_PER_VCPU
    most = quotas.vcpus_max if quotas is not None else _DEFAULT["vcpus_max"]
    share = min(memory_mb / per_vcpu, most)
    return min(share, host_cpus) if host_cpus else share


def sweep_row(memory_mb: int, duration_ms: float, billed_ms: float, architecture: str = "x86_64",
              cost_usd: float | None = None, **measured: Any) -> dict[str, Any]:
    """One row of a sweep: what one invocation at ``memory_mb`` on ``architecture`` is billed, in
    GB-seconds and in USD (``cost_usd`` for one invocation, ``usd_per_million`` for a million of them).
    ``cost_usd`` defaults to the cost of an invocation billed ``billed_ms`` (whole ms)."""
    if cost_usd is None:
        cost_usd = float(cost({"memory_mb": memory_mb, "billed_ms": billed_ms, "architecture": architecture}))
    return {"memory_mb": memory_mb, "architecture": architecture, **measured, "duration_ms": duration_ms,
            "billed_ms": billed_ms, "gb_seconds": gb_seconds(billed_ms, memory_mb), "cost_usd": cost_usd,
            "usd_per_million": cost_usd * 1_000_000}


def trimmed_mean(values, discard: float) -> float:
    """The mean without the lowest and highest ``discard`` share of ``values`` (power tuning's average:
    int(n x discard) dropped at each end, none when there are too few)."""
    ordered = sorted(values)
    drop = int(len(ordered) * discard)
    kept = ordered[drop:len(ordered) - drop]
    return sum(kept) / len(kept)


def measure(cloud, name: str, memory_mb: int, event: Any = None, repeat: int = 1, warmup: bool = True,
            fn: Functions | None = None, *, architecture: str | None = None,
            discard: float | None = None) -> dict[str, Any]:
    """Set ``name`` to ``memory_mb`` (and ``architecture``), warm it up, invoke it ``repeat`` times; one row.

    Changing the memory replaces the function's execution environments, so the first invocation
    after it is a cold start. With ``warmup`` that one is not counted: the row describes warm
    invocations, whose Duration is the handler's own work. The row holds medians, or with
    ``discard`` power tuning's trimmed means (:func:`trimmed_mean`); its cost is that of the
    invocations measured, each billed by :func:`lambdalab.billing.cost`.
    """
    fn = fn or Functions(cloud)
    config = fn.lam.get_function_configuration(FunctionName=name)
    if architecture is not None and config["Architectures"] != [architecture]:
        fn.set_architecture(name, architecture)
    if config["MemorySize"] != memory_mb:
        fn.configure(name, MemorySize=memory_mb)
    ids = []
    for i in range(repeat + (1 if warmup else 0)):
        done = fn.call(name, event, tail=False)
        if done.error:
            error = done.payload if isinstance(done.payload, dict) else {}
            what = f"{error.get('errorType')}: {error.get('errorMessage')}" if error else str(done.payload)[:200]
            raise RuntimeError(f"{name} failed at {memory_mb} MB ({done.error}) with {what}")
        if i or not warmup:
            ids.append(done.request_id)
    records = cloud.invocations()
    rows = records[records["request_id"].isin(ids)]
    rows = rows.assign(cost_usd=cost(rows))

    def average(column: str) -> float:
        return float(rows[column].median()) if discard is None else trimmed_mean(rows[column], discard)

    return sweep_row(memory_mb, average("duration_ms"), average("billed_ms"), rows["architecture"].iloc[0],
                     average("cost_usd"), vcpus=round(vcpus(memory_mb, HOST_CPUS, cloud.quotas), 3),
                     invocations=len(rows))


def sweep(cloud, name: str, memories: Iterable[int], architectures: Iterable[str] | None = None, event: Any = None,
          repeat: int = 1, *, discard: float | None = None, progress: bool = False):
    """Measure function ``name`` at each memory size on each architecture (default: the one it has);
    a DataFrame with one :func:`measure` row per pair, architecture by architecture."""
    import pandas as pd

    fn = Functions(cloud)
    memories = list(memories)
    if architectures is None:
        architectures = fn.lam.get_function_configuration(FunctionName=name)["Architectures"]
    steps: Iterable[tuple[str, int]] = [(arch, m) for arch in architectures for m in memories]
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc="configurations", unit="configuration")
    rows = [measure(cloud, name, m, event, repeat, fn=fn, architecture=arch, discard=discard) for arch, m in steps]
    return pd.DataFrame(rows)


def memory_sweep(cloud, source: dict[str, str] | str, memories: Iterable[int], event: Any = None, repeat: int = 1,
                 progress: bool = True, *, function_name: str = "memory-sweep", timeout: int = 60,
                 architectures: Iterable[str] = ("x86_64",)):
    """Measure the handler in ``source`` at each memory size (on each of ``architectures``); a
    DataFrame with one row per size and architecture.

    One function (``function_name``) is updated from size to size, so only one execution
    environment is alive at a time. Columns: memory_mb, architecture, vcpus (the CPU share on
    this machine), invocations (measured, warm), duration_ms and billed_ms (medians: one hiccup of
    a shared machine does not move them), gb_seconds, cost_usd, the median cost of one invocation
    (for x86_64, gb_seconds x $0.0000166667 + $0.0000002 for the request), and usd_per_million, a
    million of them.
    """
    memories = list(memories)
    Functions(cloud).deploy(function_name, source, MemorySize=memories[0], Timeout=timeout)
    return sweep(cloud, function_name, memories, architectures, event, repeat, progress=progress)


def sweep_table(frame):
    """A sweep for reading: every cost with its significant digits (USD per invocation in scientific
    notation, and per million invocations in dollars and cents), durations to 0.1 ms."""
    return frame.style.hide(axis="index").format({
        "vcpus": "{:.2f}", "duration_ms": "{:,.1f}", "billed_ms": "{:,.0f}", "gb_seconds": "{:.5f}",
        "cost_usd": "{:.3e}", "usd_per_million": "${:,.2f}"})


def _axes_layout(figure, title: str) -> None:
    figure.update_layout(
        title=title, template="plotly_white", hovermode="x unified", height=420,
        xaxis={"title": "memory (MB)", "rangemode": "tozero"},
        yaxis={"title": {"text": "duration (ms)", "font": {"color": DURATION_COLOR}}, "rangemode": "tozero"},
        yaxis2={"title": {"text": "USD per million invocations", "font": {"color": COST_COLOR}},
                "overlaying": "y", "side": "right", "rangemode": "tozero", "tickprefix": "$", "tickformat": ",.2f",
                "showgrid": False},
        legend={"orientation": "h", "y": -0.2}, margin={"r": 90})
    figure.add_vline(x=MB_PER_VCPU, line_dash="dot", line_color="gray",
                     annotation_text="1 vCPU (1,769 MB)", annotation_position="top left")


def _traces(frame) -> list[go.Scatter]:
    """Duration and cost lines, one pair per architecture in ``frame`` (named by it when there are several)."""
    present = list(frame["architecture"].unique()) if "architecture" in frame and len(frame) else []
    archs = [a for a in ARCHITECTURES if a in present] or [None]
    traces = []
    for arch in archs:
        rows = (frame if arch is None else frame[frame["architecture"] == arch]).sort_values("memory_mb")
        custom = rows[["billed_ms", "gb_seconds"]].to_numpy() if len(rows) else None
        tag = f", {arch}" if len(archs) > 1 else ""
        dash = DASH.get(arch, "solid")
        traces += [
            go.Scatter(x=rows["memory_mb"], y=rows["duration_ms"], name=f"duration{tag} (ms)", mode="lines+markers",
                       line={"color": DURATION_COLOR, "dash": dash}, customdata=custom,
                       hovertemplate=f"%{{y:.1f}} ms (billed %{{customdata[0]:.0f}} ms)<extra>duration{tag}</extra>"),
            go.Scatter(x=rows["memory_mb"], y=rows["usd_per_million"], name=f"cost per million invocations{tag} (USD)",
                       yaxis="y2", mode="lines+markers", line={"color": COST_COLOR, "dash": dash}, customdata=custom,
                       hovertemplate=f"$%{{y:,.2f}} per million (%{{customdata[1]:.4f}} GB-s each)<extra>cost{tag}"
                                     "</extra>"),
        ]
    return traces


def sweep_figure(frame, title: str = "Duration and cost against memory") -> go.Figure:
    """Duration (left axis, red) and cost per million invocations (right axis, blue) against memory."""
    figure = go.Figure(_traces(frame))
    _axes_layout(figure, title)
    return figure


class MemoryExplorer:
    """Pick a memory size, press *Measure*: the handler runs there for real and the point is plotted.

    The slider only shows which CPU share goes with the memory; the work happens on the button
    (or a call to :meth:`measure`), so moving the slider costs nothing.
    """

    def __init__(self, cloud, source: dict[str, str] | str, event: Any = None, *, memory: int = 1024,
                 min_mb: int | None = None, max_mb: int | None = None, repeat: int = 1,
                 function_name: str = "memory-explorer", timeout: int = 60) -> None:
        import ipywidgets as w
        import pandas as pd

        self.cloud, self.event, self.repeat, self.function_name = cloud, event, repeat, function_name
        self._fn = Functions(cloud)
        self._fn.deploy(function_name, source, MemorySize=memory, Timeout=timeout)
        min_mb = cloud.quotas.memory_min_mb if min_mb is None else min_mb
        max_mb = cloud.quotas.memory_max_mb if max_mb is None else max_mb
        self.points = pd.DataFrame(columns=list(sweep_row(0, 0.0, 0.0, vcpus=0.0, invocations=0)))
        self.slider = w.IntSlider(value=memory, min=min_mb, max=max_mb, step=1, description="Memory (MB)",
                                  continuous_update=False, style={"description_width": "initial"},
                                  layout=w.Layout(width="480px"))
        self.button = w.Button(description="Measure", icon="play", button_style="primary",
                               tooltip="invoke the function at this memory size and plot the result")
        self.share = w.HTML()
        self.status = w.HTML()
        self.figure = go.Figure(_traces(self.points))
        self._output = w.Output()  # shows the figure, redrawn at each point (lambdalab.widgets.show_figure)
        _axes_layout(self.figure, "Measured at the memory you chose")
        self.slider.observe(self._on_slide, names="value")
        self.button.on_click(self._on_click)
        self._on_slide({"new": memory})
        self.widget = w.VBox([w.HBox([self.slider, self.button]), self.share, self.status, self._output])
        self._redraw()

    def _on_slide(self, change: dict) -> None:
        memory, host = change["new"], HOST_CPUS
        share = vcpus(memory, quotas=self.cloud.quotas)
        note = f" (this machine has {host} cores: here the share stops at {host})" if share > host else ""
        self.share.value = f"{memory:,} MB comes with <b>{share:.2f} vCPU</b> of CPU time per second{note}"

    def _on_click(self, _button=None) -> None:
        if note := stopped(self.cloud, "explorer"):
            self.status.value = note
            return
        self.button.disabled = True
        try:
            self.measure()
        except Exception as e:  # a widget callback has nowhere to raise to: say it
            self.status.value = f"<span style='color:#c62828'>{html.escape(f'{type(e).__name__}: {e}')}</span>"
        finally:
            self.button.disabled = False

    def measure(self, memory: int | None = None) -> dict[str, Any]:
        """Measure at ``memory`` (the slider's value by default), add the point, return its row."""
        import pandas as pd

        memory = self.slider.value if memory is None else memory
        self.status.value = f"measuring at {memory:,} MB ..."
        row = measure(self.cloud, self.function_name, memory, self.event, self.repeat, fn=self._fn)
        frame = pd.DataFrame([row])
        self.points = frame if self.points.empty else pd.concat([self.points, frame], ignore_index=True)
        self._redraw()
        self.status.value = (f"{memory:,} MB: {row['duration_ms']:.1f} ms, billed {row['billed_ms']:.0f} ms, "
                             f"${row['usd_per_million']:,.2f} per million invocations")
        return row

    def _redraw(self) -> None:
        for old, new in zip(self.figure.data, _traces(self.points), strict=True):
            old.x, old.y, old.customdata = new.x, new.y, new.customdata
        show_figure(self._output, self.figure)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def __repr__(self) -> str:
        return f"<MemoryExplorer {self.function_name}: {len(self.points)} points>"


__all__ = ["MemoryExplorer", "gb_seconds", "measure", "memory_sweep", "sweep", "sweep_figure", "sweep_row",
           "sweep_table", "trimmed_mean", "vcpus"]
