"""How the notebooks' plotly figures are written into outputs: drawn by JupyterLab's extension, shown by
exported HTML and nbviewer, and never with plotly.js itself inside (the browser test measures saved notebooks)."""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs

import lambdalab.widgets
from lambdalab.widgets import RENDERER

PLOTLY_JS_BYTES = len(get_plotlyjs())  # what the `notebook` renderer writes into the first figure's output


def test_importing_the_widgets_sets_the_renderer():
    assert pio.renderers.default == RENDERER == lambdalab.widgets.RENDERER
    assert RENDERER.split("+") == ["plotly_mimetype", "notebook_connected"]


def test_a_figure_output_holds_plotly_json_and_an_html_fallback_that_loads_plotly_js_from_its_cdn():
    figure = go.Figure(go.Bar(x=["a", "b"], y=[1, 2]))
    bundle: dict = {}
    for name in RENDERER.split("+"):
        bundle.update(pio.renderers[name].to_mimebundle(figure.to_dict()))
    assert set(bundle) == {"application/vnd.plotly.v1+json", "text/html"}
    html = bundle["text/html"]
    assert '<script charset="utf-8" src="https://cdn.plot.ly/plotly-' in html
    assert len(html) < 50_000 < PLOTLY_JS_BYTES


def test_the_first_figure_of_a_notebook_embeds_no_plotly_js():
    """A renderer's activation writes a script into the first figure's output: a CDN import when connected,
    all of plotly.js (4.6 MB) otherwise."""
    fallback = pio.renderers["notebook_connected"]
    assert fallback.connected and fallback.include_plotlyjs == "cdn"
