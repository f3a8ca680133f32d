"""Who called a function, when, which attempt it was and how it ended: a timeline of invocation models.

One row per caller (a synchronous caller, each asynchronous event, each event source mapping),
one marker per invocation, on the cloud's clock::

    fig = attempts_timeline(cloud.invocations(), cloud.async_events(), function="orders")
    fig.show()

The rows come from the records' ``invocation_model``: ``sync`` invocations of a function share
one row; an ``async`` event has a row of its own (its attempts share its request id, numbered by
``attempt``); a ``poll`` mapping's batches share the mapping's row, each marker labelled with its
batch size.  Given ``cloud.async_events()``, an event's row also shows when Lambda accepted it (the
202) and where it ended (a destination, the dead-letter queue, or nowhere), and the waits
between its attempts are written above them, as measured from one attempt's end to the next
one's start.  Times are the cloud's, so retries that ``cloud.clock.advance`` played in a moment
are drawn minutes apart, as AWS would make them.
"""

from __future__ import annotations

import itertools
from typing import Any

import plotly.graph_objects as go

from .timeline import _dates

OK_COLOR = "#59a14f"  # green: an invocation that succeeded
FAILED_COLOR = "#e15759"  # red: one that failed (error, timeout)
EVENT_COLOR = "#7f7f7f"  # grey: the event's arrival, the line of its life, where it ended
ROW_HEIGHT = 60
_SYMBOLS = {"sync": "circle", "async": "diamond", "poll": "square"}

_HOVER = ("<b>%{customdata[0]}</b> · %{customdata[1]}<br>request %{customdata[2]}<br>start %{customdata[3]}<br>"
          "Duration %{customdata[4]:.1f} ms<br>%{customdata[5]}<extra></extra>")


def _row(model: str, function: str, request_id: str, mapping: Any, several: bool) -> str:
    """The y-axis label of an invocation's caller."""
    prefix = f"{function} · " if several else ""
    if model == "async":
        return f"{prefix}async event {request_id[:8]}"
    if model == "poll":
        return f"{prefix}poller {str(mapping)[:8]}"
    return f"{prefix}sync callers"


def _ending(event) -> str:
    """Where an event ended, in a few words (for its end marker)."""
    went = []
    if isinstance(event["destination"], str):
        went.append("record not delivered" if isinstance(event["destination_error"], str)
                    else "record → destination")
    if isinstance(event["dead_letter"], str):
        went.append("event not delivered to DLQ" if isinstance(event["dead_letter_error"], str) else "event → DLQ")
    condition = event["condition"] if isinstance(event["condition"], str) else event["state"]
    return f"{condition}: {', '.join(went)}" if went else str(condition)


def attempts_timeline(records, events=None, *, function: str | None = None, title: str | None = None) -> go.Figure:
    """A plotly timeline of invocations by caller, from ``cloud.invocations()`` (and ``cloud.async_events()``).

    ``function`` keeps one function's invocations and events (default: all). Traces: ``succeeded``
    and ``failed`` (one marker per invocation, labelled with its attempt, or ``n=5`` for a batch of
    5 records), and with ``events``: ``accepted`` (the 202), ``ended`` (condition and where the
    record or event went), ``waits`` (text between attempts) and one grey line per event.
    """
    import pandas as pd

    frame = records if function is None else records[records["function"] == function]
    frame = frame.sort_values("start", kind="stable").reset_index(drop=True)
    several = frame["function"].nunique() > 1
    start = pd.to_datetime(frame["start"], utc=True).dt.tz_convert(None)
    end = start + pd.to_timedelta(frame["duration_ms"].astype(float), unit="ms")
    rows = [_row(m, f, r, e, several) for m, f, r, e in zip(frame["invocation_model"], frame["function"],
                                                             frame["request_id"], frame["event_source_mapping"],
                                                             strict=True)]
    order = list(dict.fromkeys(rows))  # first caller at the top
    fig = go.Figure()
    n = len(frame)
    fig.update_layout(
        title=f"{title or 'Invocations by caller'}: {n} invocation{'s' * (n != 1)}",
        height=170 + ROW_HEIGHT * max(len(order), 1),
        xaxis={"type": "date", "title": "time (UTC, the cloud's clock)"},
        yaxis={"type": "category", "categoryorder": "array", "categoryarray": order,
               "range": [len(order) - 0.4, -0.6]},  # reversed (the first caller on top), room for the labels
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0}, showlegend=True,  # one trace too
        margin={"l": 10, "r": 10, "t": 80, "b": 40},
    )
    if frame.empty:
        fig.add_annotation(text="no invocations yet", showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
        return fig

    labels = [f"n={int(size)}" if model == "poll" and pd.notna(size) else str(number) if model == "async" else ""
              for model, number, size in zip(frame["invocation_model"], frame["attempt"], frame["batch_size"],
                                             strict=True)]
    detail = [f"attempt {a}" if m == "async" else f"batch of {int(s)} records" if pd.notna(s) else m
              for m, a, s in zip(frame["invocation_model"], frame["attempt"], frame["batch_size"], strict=True)]
    outcome = [("succeeded" if status == "success" else f"failed: {error}")
               for status, error in zip(frame["status"], frame["error_type"], strict=True)]
    custom = list(zip(frame["invocation_model"], detail, frame["request_id"], start.dt.strftime("%H:%M:%S.%f").str[:-3],
                      frame["duration_ms"].astype(float), outcome, strict=True))
    failed = (frame["status"] != "success").tolist()
    # below and above by turns along each row, so that the labels of retries a second apart do not run together
    turn: dict[str, int] = {}
    positions = []
    for row in rows:
        turn[row] = turn.get(row, -1) + 1
        positions.append("top center" if turn[row] % 2 else "bottom center")

    if events is not None:
        _draw_events(fig, frame, events, function, several, start, end)
    for name, color, keep in (("succeeded", OK_COLOR, False), ("failed", FAILED_COLOR, True)):
        mask = [f == keep for f in failed]
        if not any(mask) and name == "failed":
            continue
        pick = [i for i, m in enumerate(mask) if m]
        fig.add_scatter(name=name, mode="markers+text", x=_dates(start[mask]), y=[rows[i] for i in pick],
                        text=[labels[i] for i in pick], textposition=[positions[i] for i in pick],
                        marker={"color": color, "size": 14, "line": {"width": 1, "color": "#1b2a3a"},
                                "symbol": [_SYMBOLS.get(frame["invocation_model"][i], "circle") for i in pick]},
                        customdata=[custom[i] for i in pick], hovertemplate=_HOVER)
    return fig


def _draw_events(fig: go.Figure, frame, events, function: str | None, several: bool, start, end) -> None:
    """Each asynchronous event's arrival, end and waits, on its row."""
    import pandas as pd

    if function is not None:
        events = events[events["function"] == function]
    shown = set(frame.loc[frame["invocation_model"] == "async", "request_id"]) | set(events["request_id"])
    events = events[events["request_id"].isin(shown)]
    accepted: dict[str, list] = {"x": [], "y": [], "text": []}
    ended: dict[str, list] = {"x": [], "y": [], "text": []}
    waits: dict[str, list] = {"x": [], "y": [], "text": []}
    for _, event in events.sort_values("received", kind="stable").iterrows():
        row = _row("async", event["function"], event["request_id"], None, several)
        received = pd.Timestamp(event["received"]).tz_convert(None)
        finished = pd.Timestamp(event["finished"]).tz_convert(None) if pd.notna(event["finished"]) else None
        accepted["x"].append(received)
        accepted["y"].append(row)
        accepted["text"].append("202 Accepted")
        if finished is not None:
            ended["x"].append(finished)
            ended["y"].append(row)
            ended["text"].append(_ending(event))
        mine = (frame["request_id"] == event["request_id"]) & (frame["invocation_model"] == "async")
        tries = [(s, e) for s, e, keep in zip(start, end, mine, strict=True) if keep]
        for (_, before), (after, _) in itertools.pairwise(tries):
            waits["x"].append(before + (after - before) / 2)
            waits["y"].append(row)
            waits["text"].append(f"+{(after - before).total_seconds():.0f} s")
        line = [received, *(s for s, _ in tries), *([finished] if finished is not None else [])]
        fig.add_scatter(x=_dates(pd.Series(line)), y=[row] * len(line), mode="lines", showlegend=False,
                        hoverinfo="skip", line={"color": EVENT_COLOR, "width": 1, "dash": "dot"})
    # Both are drawn larger than the attempts' markers, beneath them: the 202 comes an instant before the first
    # attempt, and the end an instant after the last one.
    for name, points, symbol, mode in (("accepted", accepted, "circle-open", "markers"),
                                       ("ended", ended, "hexagon-open", "markers+text")):  # a poll's is a square
        if points["x"]:
            fig.add_scatter(name=name, mode=mode, x=_dates(pd.Series(points["x"])), y=points["y"],
                            text=points["text"], textposition="middle right", textfont={"color": EVENT_COLOR},
                            hovertemplate="%{text}<br>%{x}<extra></extra>",
                            marker={"symbol": symbol, "size": 24, "color": EVENT_COLOR, "line": {"width": 2}})
    if waits["x"]:
        fig.add_scatter(name="waits", mode="text", x=_dates(pd.Series(waits["x"])), y=waits["y"], text=waits["text"],
                        textposition="top center", showlegend=False, hoverinfo="skip",
                        textfont={"color": EVENT_COLOR})


def points(fig: go.Figure, name: str) -> list[tuple[str, str]]:
    """``(row, label)`` of every marker in the trace called ``name`` (for tests and checks)."""
    return [(row, text) for trace in fig.data if trace.name == name
            for row, text in zip(trace.y, trace.text, strict=True)]


__all__ = ["attempts_timeline", "points"]
