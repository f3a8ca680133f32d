"""Which execution environment served which request: a timeline built from the invocation records.

One row per environment (oldest at the top, labelled with the first 8 characters of its id), an
INIT bar for each cold start and a bar for each invocation::

    fig = environment_timeline(cloud.invocations(), "my-function")
    fig.show()

Bars come straight from the records: an invocation's bar starts at ``start`` (when the
environment received the event) and is ``duration_ms`` long; a cold start's INIT bar is
``init_ms`` long and ends where its invocation begins, since INIT runs before the event is
handed over.  A small tick marks each invocation's start, so a sub-millisecond warm invocation
is still visible and can be hovered.

:class:`EnvironmentTimeline` is the live version: ``refresh()`` redraws it from the cloud's
records, so a notebook can invoke, refresh, and watch environments appear and get reused.
"""

from __future__ import annotations

import math
from typing import Any

import plotly.graph_objects as go

from . import show_figure

INIT_COLOR = "#f28e2b"  # orange: INIT (cold starts)
INVOKE_COLOR = "#4e79a7"  # blue: invocations that succeeded
ERROR_COLOR = "#e15759"  # red: invocations that failed (error, timeout)
TICK_COLOR = "#1b2a3a"  # near black: the start of each invocation
ROW_HEIGHT = 34

_HOVER_INVOKE = ("<b>%{customdata[0]}</b><br>request %{customdata[1]}<br>"
                 "environment %{customdata[2]}<br>start %{customdata[3]}<br>"
                 "Duration %{customdata[4]:.2f} ms · Billed %{customdata[5]} ms<br>"
                 "%{customdata[6]}<extra></extra>")
_HOVER_INIT = ("<b>INIT</b> (cold start)<br>before request %{customdata[1]}<br>"
               "environment %{customdata[2]}<br>Init Duration %{customdata[4]:.2f} ms<extra></extra>")


def _rows(records, function: str | None):
    """The records to draw, oldest first, with naive UTC times (plotly.js ignores time zones)."""
    import pandas as pd

    frame = records if function is None else records[records["function"] == function]
    frame = frame.sort_values("start", kind="stable").reset_index(drop=True)
    start = pd.to_datetime(frame["start"], utc=True).dt.tz_convert(None)
    return frame, start


def _dates(times) -> list[str]:
    """Times as the date strings plotly.js reads, to the microsecond.

    Never datetime64 values: a plotly ``FigureWidget`` (a learner may wrap this figure in one) sends
    those to the browser as they convert to Python, which for nanosecond precision is an integer
    (nanoseconds since 1970), and plotly.js then places the bar decades away.
    """
    return list(times.dt.strftime("%Y-%m-%d %H:%M:%S.%f"))


def _kind(cold: bool, init_ms: float, error_type: str | None) -> str:
    """How an invocation started (for the hover text), and its error if it failed."""
    if not cold:
        kind = "warm start"
    elif math.isnan(init_ms):  # the environment was reset after a crash: INIT ran inside this Duration
        kind = "cold start after a reset (INIT is in Duration)"
    else:
        kind = "cold start"
    return kind + (f" · {error_type}" if isinstance(error_type, str) else "")


def _labels(frame) -> dict[str, str]:
    """Environment id -> y-axis label: the short id, with the function's name if there are several."""
    several = frame["function"].nunique() > 1
    order = frame.drop_duplicates("environment")
    return {env: (f"{fn} · {env[:8]}" if several else env[:8])
            for env, fn in zip(order["environment"], order["function"], strict=True)}


def environment_timeline(records, function: str | None = None, *, title: str | None = None) -> go.Figure:
    """A plotly timeline of execution environments from ``cloud.invocations()`` records.

    ``function`` keeps the records of one function (default: all of them). Traces: ``INIT`` (one
    bar per cold start), ``invocation`` (one bar per successful invocation), ``failed
    invocation`` (only if some failed), and ``starts`` (a tick at each invocation's start).
    Widths are milliseconds on a date axis, as plotly expects for horizontal bars.
    """
    import pandas as pd

    frame, start = _rows(records, function)
    labels = _labels(frame)
    y = frame["environment"].map(labels)
    fig = go.Figure()
    if title is None:
        title = "Execution environments" + (f" of {function}" if function else "")
    envs, n = len(labels), len(frame)
    fig.update_layout(
        title=f"{title}: {envs} environment{'s' * (envs != 1)}, {n} invocation{'s' * (n != 1)}",
        barmode="overlay", height=150 + ROW_HEIGHT * max(envs, 1), bargap=0.35,
        xaxis={"type": "date", "title": "time (UTC, the cloud's clock)"},
        yaxis={"title": "environment", "type": "category", "categoryorder": "array",
               "categoryarray": list(labels.values()), "autorange": "reversed"},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
        margin={"l": 10, "r": 10, "t": 80, "b": 40},
    )
    if frame.empty:
        fig.add_annotation(text="no invocations yet", showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
        return fig

    init = frame["init_ms"].astype(float)
    duration = frame["duration_ms"].astype(float)
    failed = frame["status"].fillna("success") != "success"
    detail = [_kind(cold, ms, err) for cold, ms, err in zip(frame["cold"], init, frame["error_type"], strict=True)]
    custom = list(zip(frame["function"], frame["request_id"], frame["environment"],
                      start.dt.strftime("%H:%M:%S.%f").str[:-3], duration.round(2), frame["billed_ms"], detail,
                      strict=True))

    def custom_for(mask) -> list[Any]:
        return [c for c, keep in zip(custom, mask, strict=True) if keep]

    cold = init.notna()
    if cold.any():
        init_custom = [(*c[:4], ms, *c[5:]) for c, ms in zip(custom_for(cold), init[cold].round(2), strict=True)]
        fig.add_bar(name="INIT", orientation="h", y=y[cold], x=init[cold],
                    base=_dates(start[cold] - pd.to_timedelta(init[cold], unit="ms")),
                    marker_color=INIT_COLOR, customdata=init_custom, hovertemplate=_HOVER_INIT)
    for name, mask, color in (("invocation", ~failed, INVOKE_COLOR), ("failed invocation", failed, ERROR_COLOR)):
        if mask.any() or name == "invocation":
            fig.add_bar(name=name, orientation="h", y=y[mask], x=duration[mask], base=_dates(start[mask]),
                        marker_color=color, customdata=custom_for(mask), hovertemplate=_HOVER_INVOKE,
                        legendgroup=name)
    fig.add_scatter(name="starts", mode="markers", x=_dates(start), y=y, showlegend=False, legendgroup="invocation",
                    marker={"symbol": "line-ns-open", "size": ROW_HEIGHT * 0.55, "color": TICK_COLOR,
                            "line": {"width": 1.5, "color": TICK_COLOR}},
                    customdata=custom, hovertemplate=_HOVER_INVOKE)
    return fig


def bars(fig: go.Figure, name: str) -> list[tuple[str, float]]:
    """``(y label, width in ms)`` of every bar in the trace called ``name`` (for tests and checks)."""
    return [(label, float(width)) for trace in fig.data if trace.type == "bar" and trace.name == name
            for label, width in zip(trace.y, trace.x, strict=True)]


class EnvironmentTimeline:
    """A live timeline of one function's environments: display it, invoke, then ``refresh()``.

    ``.figure`` is the current figure; ``.widget``, an ipywidgets ``Output``, shows it, redrawn whole at
    each refresh (see :func:`lambdalab.widgets.show_figure`).
    """

    def __init__(self, cloud, function: str | None = None) -> None:
        import ipywidgets

        self.cloud, self.function = cloud, function
        self.widget = ipywidgets.Output()
        self.figure = go.Figure()
        self.refresh()

    def refresh(self) -> EnvironmentTimeline:
        """Redraw from the cloud's invocation records (call it after invoking)."""
        self.figure = environment_timeline(self.cloud.invocations(), self.function)
        show_figure(self.widget, self.figure)
        return self

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def __repr__(self) -> str:
        n = len({label for trace in self.figure.data if trace.type == "bar" for label in trace.y})
        return f"<EnvironmentTimeline of {self.function or 'all functions'}: {n} environment{'s' * (n != 1)}>"


__all__ = ["EnvironmentTimeline", "bars", "environment_timeline"]
