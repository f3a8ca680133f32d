"""An invoke console, like the Test tab of the Lambda console: pick a function, edit an event, invoke.

    >>> from lambdalab.widgets.console import InvokeConsole
    >>> InvokeConsole(cloud)                       # displays itself in a notebook

It calls the real API (``lambda:Invoke`` with ``LogType="Tail"``) through a boto3 client of the
cloud, and shows what came back: the status code, the payload, the function error if any, the
log tail and the figures of the REPORT line.

Contract for tests (kernel and browser): the outer box has the CSS class
``lambdalab-invoke-console``; the button that invokes is described exactly ``"Invoke"``; the
response area (:attr:`InvokeConsole.response`) is an HTML widget with the CSS class
``lambdalab-console-response`` whose text, after an invoke, contains the payload as JSON
(``json.dumps(payload)`` when it fits on one line of 80 characters, else indented by 2).
"""

from __future__ import annotations

import html
import json
from typing import Any

import ipywidgets as widgets

from ..course import decode
from . import stopped

CONSOLE_CLASS = "lambdalab-invoke-console"
RESPONSE_CLASS = "lambdalab-console-response"

def payload_text(payload: Any) -> str:
    """The payload as JSON: on one line when short, indented when long."""
    if isinstance(payload, bytes):
        return payload.decode(errors="replace")
    compact = json.dumps(payload, ensure_ascii=False)
    return compact if len(compact) <= 80 else json.dumps(payload, indent=2, ensure_ascii=False)


def _figure(name: str, value: float) -> str:
    """A REPORT figure as the line writes it: ``0.50 ms``, ``27 ms``, ``128 MB``."""
    if "Memory" in name:
        return f"{value:.0f} MB"
    return f"{value:.0f} ms" if name == "Billed Duration" else f"{value:.2f} ms"


def _esc(text: str) -> str:
    """Escape for HTML text (not attributes): quotes stay as they are, so the JSON reads the same in the HTML."""
    return html.escape(text, quote=False)


class InvokeConsole(widgets.VBox):
    """Pick a function, write an event in JSON, press Invoke, read the response and the log tail."""

    def __init__(self, cloud, function: str | None = None, event: Any = None) -> None:
        self.cloud = cloud
        self.lam = cloud.client("lambda")
        self.last_response: dict | None = None
        self.functions = widgets.Dropdown(description="Function", layout=widgets.Layout(width="420px"))
        self.refresh_button = widgets.Button(description="Refresh", icon="refresh",
                                             tooltip="Read the list of functions again (ListFunctions)",
                                             layout=widgets.Layout(width="110px"))
        self.event = widgets.Textarea(value=json.dumps({} if event is None else event, indent=2),
                                      description="Event", placeholder='{"name": "Lambda"}',
                                      layout=widgets.Layout(width="560px", height="120px"))
        self.button = widgets.Button(description="Invoke", button_style="primary", icon="play",
                                     tooltip="lambda.invoke(FunctionName=..., Payload=event, LogType='Tail')")
        self.response = widgets.HTML(value=self._note("Choose a function, edit the event, then press Invoke."))
        self.response.add_class(RESPONSE_CLASS)
        self.refresh_button.on_click(lambda _: self.refresh())
        self.button.on_click(lambda _: self.invoke())
        super().__init__(children=[widgets.HBox([self.functions, self.refresh_button]), self.event, self.button,
                                   self.response])
        self.add_class(CONSOLE_CLASS)
        self.refresh()
        if function is not None and function in self.functions.options:
            self.functions.value = function

    # -- actions ---------------------------------------------------------------------------------
    def refresh(self) -> list[str]:
        """Read the function names again (all pages of ListFunctions); keep the choice if it still exists."""
        if self._stopped():
            return list(self.functions.options)
        names: list[str] = []
        try:
            for page in self.lam.get_paginator("list_functions").paginate():
                names += [f["FunctionName"] for f in page["Functions"]]
        except Exception as e:  # shown, not raised: a button's callback has nowhere to raise to
            self.response.value = self._note(f"Could not list the functions: {e}", error=True)
            return list(self.functions.options)
        names.sort()
        current = self.functions.value
        self.functions.options = names
        self.functions.value = current if current in names else (names[0] if names else None)
        return names

    def invoke(self) -> dict | None:
        """Invoke the chosen function with the event; show and return the response.

        Returns ``None`` (and shows why) when there is no function, the event is not JSON, the API
        refused the call or the cloud is stopped.
        Otherwise returns ``{"StatusCode", "ExecutedVersion", "FunctionError" (when the function
        failed), "Payload" (decoded JSON, or bytes), "Log" (the decoded tail), "Report" (figures)}``.
        """
        if self._stopped():
            return None
        name = self.functions.value
        if not name:
            self.response.value = self._note("There is no function yet: create one with lam.create_function(...), "
                                             "then press Refresh.", error=True)
            return None
        text = self.event.value.strip() or "{}"
        try:
            json.loads(text)
        except ValueError as e:
            self.response.value = self._note(
                f"The event is not valid JSON ({e.msg} at line {e.lineno}, column {e.colno}). JSON wants double "
                'quotes around keys and strings, e.g. {"name": "Lambda"}, and true/false/null rather than '
                "True/False/None.", error=True)
            return None
        self.response.value = self._note(f"Invoking {name} ...")
        self.button.disabled = True
        try:
            done = decode(self.lam.invoke(FunctionName=name, Payload=text.encode(), LogType="Tail"))
        except Exception as e:  # an API error (the function was deleted, a throttle, ...): show it, do not raise
            self.response.value = self._note(f"The Invoke call failed: {e}", error=True)
            return None
        finally:
            self.button.disabled = False
        result = {"StatusCode": done.status, "ExecutedVersion": done.version, "Payload": done.payload,
                  "Log": done.log, "Report": done.figures}
        if done.error:
            result["FunctionError"] = done.error
        self.last_response = result
        self.response.value = self._render(name, result)
        return result

    def _stopped(self) -> bool:
        if note := stopped(self.cloud, "console"):
            self.response.value = note
            return True
        return False

    # -- rendering -------------------------------------------------------------------------------
    @staticmethod
    def _note(text: str, error: bool = False) -> str:
        color = "#c62828" if error else "#555"
        return f'<div style="color: {color}; padding: 4px 0">{_esc(text)}</div>'

    @staticmethod
    def _render(name: str, result: dict) -> str:
        failed = "FunctionError" in result
        color = "#c62828" if failed else "#2e7d32"
        status = f"StatusCode {result['StatusCode']}"
        if failed:
            status += f" · FunctionError: {result['FunctionError']}"
        figures = result["Report"]
        cells = "".join(f'<td style="padding: 2px 10px"><b>{k}</b><br>{_figure(k, v)}</td>' for k, v in figures.items())
        if "Init Duration" not in figures and figures:
            cells += '<td style="padding: 2px 10px; color: #777"><b>Init Duration</b><br>none: no INIT this time</td>'
        start = "cold start" if "Init Duration" in figures else ""
        pre = "margin: 2px 0; padding: 6px; background: #f6f8fa; white-space: pre-wrap; overflow: auto"
        return (f'<div style="border-left: 4px solid {color}; padding: 4px 10px">'
                f'<div><b style="color: {color}">{html.escape(status)}</b> from {html.escape(name)} '
                f"({html.escape(str(result['ExecutedVersion']))}){', ' + start if start else ''}</div>"
                f"<div><b>Payload</b></div>"
                f"<pre style=\"{pre}; max-height: 240px\">{_esc(payload_text(result['Payload']))}</pre>"
                f"<div><b>REPORT</b></div><table><tr>{cells}</tr></table>"
                f"<div><b>Log tail</b> (LogType=Tail: the last 4 KB)</div>"
                f'<pre style="{pre}; font-size: 90%">{_esc(result["Log"])}</pre></div>')


__all__ = ["CONSOLE_CLASS", "RESPONSE_CLASS", "InvokeConsole", "payload_text"]
