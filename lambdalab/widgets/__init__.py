"""Views for the notebooks: ipywidgets and plotly, reusable and testable without a browser.

Importing this package sets plotly's renderer deliberately: ``plotly_mimetype`` draws figures
in JupyterLab, and ``notebook`` also stores a self-contained HTML copy in the output, so an
exported notebook (nbconvert to HTML) shows the same plots offline.
"""

from __future__ import annotations

import plotly.io as pio

pio.renderers.default = "plotly_mimetype+notebook"
