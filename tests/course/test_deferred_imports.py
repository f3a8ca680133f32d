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


WATCHED = """
import json, sys
from plotly import optional_imports
original = optional_imports.get_module
seen = []


class Watch:  # asked for each module imported while plotly's renderers module runs
    def find_spec(self, name, path, target=None):
        if name.startswith("plotly.io._"):
            seen.append(optional_imports.get_module is original)


sys.meta_path.insert(0, Watch())
import lambdalab.widgets
print(json.dumps({"seen": seen, "renderers": "plotly.io._renderers" in sys.modules,
                  "nbformat": "nbformat" in sys.modules}))
"""


def test_plotly_keeps_its_own_optional_imports_for_every_other_thread_while_the_renderers_import():
    """The stand-in for nbformat is the renderers module's own: the process's ``optional_imports`` never
    changes, so another thread asking it for nbformat meanwhile gets the real one."""
    seen = run(WATCHED)
    assert seen["renderers"] and not seen["nbformat"]
    assert seen["seen"] and all(seen["seen"]), seen


FIGURES = """
import gc, json, sys, tracemalloc
if sys.argv[1] == "lambdalab":
    import lambdalab.widgets
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
tracemalloc.start()
line = px.line(pd.DataFrame({"x": [1, 2, 3], "y": [3, 1, 2], "c": ["a", "b", "a"]}), x="x", y="y", color="c",
               facet_row="c", title="a line per colour")
line.add_hline(y=2, line_dash="dot", annotation_text="two")
flows = go.Figure(go.Sankey(node={"label": ["a", "b"]}, link={"source": [0], "target": [1], "value": [1]}))
bars = go.Figure(go.Bar(x=[1], y=[2], marker_color="#e15759"))
bars.update_layout(barmode="group", yaxis_type="log")
gc.collect()
print(json.dumps({"kept": tracemalloc.get_traced_memory()[0], "figures": [f.to_json() for f in (line, flows, bars)]}))
"""


def figures(how: str) -> dict:
    done = subprocess.run([sys.executable, "-c", FIGURES, how], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_figures_read_only_the_validators_they_use_and_are_plotlys_own():
    ours, plotlys = figures("lambdalab"), figures("plotly")
    assert ours["figures"] == plotlys["figures"]
    # plotly keeps its whole table of validators (8 MB of dicts) from the first figure on; lambdalab keeps
    # where each entry lies in the file (under 2 MB) and the entries these figures used
    assert plotlys["kept"] - ours["kept"] > 4 * 2**20
