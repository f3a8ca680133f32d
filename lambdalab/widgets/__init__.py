"""Views for the notebooks: ipywidgets and plotly, reusable and testable without a browser.

Importing this package sets plotly's renderer to :data:`RENDERER`. Each figure's output then
holds two views of it: plotly's own JSON (``application/vnd.plotly.v1+json``), which JupyterLab
draws with its plotly extension, and an HTML fallback that loads plotly.js from plotly's CDN,
which nbconvert's HTML export and nbviewer show. Neither embeds plotly.js itself (about 4.6 MB,
which the ``notebook`` renderer writes into the first figure's output), so a saved notebook
stays small; the price is that an exported copy needs the network to draw its figures.

Importing it also keeps plotly from importing nbformat, and from parsing its whole table of
validators, for nothing a kernel does (``deferred_imports``).
"""

from __future__ import annotations

from .deferred_imports import plotly_validators_on_demand, plotly_without_nbformat

plotly_without_nbformat()  # before anything shows a figure
plotly_validators_on_demand()

import plotly.io as pio  # noqa: E402

RENDERER = "plotly_mimetype+notebook_connected"
pio.renderers.default = RENDERER

__all__ = ["RENDERER", "show_figure", "stopped"]


def show_figure(output, figure) -> None:
    """Show ``figure`` in the ipywidgets ``Output`` ``output``, in place of what it showed.

    The live views redraw a plain figure rather than update a plotly ``FigureWidget``: the first
    FigureWidget costs a kernel about 23 MB (anywidget, and plotly's widget bundle read into memory).
    Its outputs are set directly, so it works from a widget's callback as from a cell.
    """
    bundle = pio.renderers["plotly_mimetype"].to_mimebundle(figure.to_dict())  # plotly's JSON: dates as text
    output.outputs = ({"output_type": "display_data", "data": bundle, "metadata": {}},)


def stopped(cloud, widget: str) -> str | None:
    """What a widget shows when its chapter's cloud has stopped (its functions and its IAM went with
    it), as HTML; None while the cloud runs."""
    if cloud.running:
        return None
    return ("<span style='color:#c62828'>The local cloud is stopped (the last cell of a chapter stops it). Run "
            f"the notebook again from the top, or at least up to this {widget}.</span>")
