"""A kernel that imports lambdalab.widgets and shows figures does not import nbformat (nor jsonschema and its
format libraries through it), and nbformat still works, as itself, for whoever imports it.

Each check runs in a fresh interpreter: this one has imported nbformat long ago (nbval).
"""

from __future__ import annotations

import json
import subprocess
import sys

FRESH = """
import json, sys
import lambdalab.widgets
import plotly.graph_objects as go
import plotly.io as pio
figure = go.Figure(go.Bar(x=[1], y=[2]))
figure._repr_mimebundle_()  # what a cell's last expression shows
pio.show(figure)  # what fig.show() does: plotly checks nbformat's version first
seen = {"nbformat": "nbformat" in sys.modules, "jsonschema": "jsonschema" in sys.modules}
import importlib.metadata
import nbformat
from plotly.io import _renderers
seen["real"] = type(nbformat).__name__ == "module" and nbformat.v4.new_notebook().nbformat == 4
seen["version"] = _renderers.nbformat.__version__ == importlib.metadata.version("nbformat") == nbformat.__version__
seen["through"] = _renderers.nbformat.v4 is nbformat.v4
print(json.dumps(seen))
"""

ALREADY = """
import json, sys
import nbformat
import lambdalab.widgets
from plotly.io import _renderers
print(json.dumps({"same": _renderers.nbformat is nbformat}))
"""


def run(code: str) -> dict:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_showing_figures_imports_neither_nbformat_nor_jsonschema_and_nbformat_still_works():
    seen = run(FRESH)
    assert not seen["nbformat"] and not seen["jsonschema"]
    assert seen["real"], "an import of nbformat after the figures gets the real module"
    assert seen["version"], "plotly's check reads the installed version"
    assert seen["through"], "anything else plotly asks of its nbformat is the real module's"


def test_a_kernel_that_imported_nbformat_first_keeps_plotly_as_it_is():
    assert run(ALREADY) == {"same": True}
