"""A kernel that imports lambdalab.widgets and shows figures does not build rfc3987_syntax's parsers (about
18 MB), and jsonschema's ``iri`` format still works, through the real module, when something asks for it.

Each check runs in a fresh interpreter: this one has imported jsonschema long ago.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest.importorskip("rfc3987_syntax", reason="installed by jsonschema >= 4.25's format-nongpl extra only")

FRESH = """
import json, sys
import lambdalab.widgets
import plotly.graph_objects as go
go.Figure(go.Bar(x=[1], y=[2]))._repr_mimebundle_()  # plotly.io -> nbformat -> jsonschema
seen = {"jsonschema": "jsonschema" in sys.modules, "parsers": "rfc3987_syntax.syntax_helpers" in sys.modules}
import jsonschema
check = jsonschema.FormatChecker()
seen["iri"] = [check.conforms(v, "iri") for v in ("https://example.com/d\u00e9j\u00e0", "not an iri", "http://[::1")]
import rfc3987_syntax
seen["real"] = rfc3987_syntax.is_valid_syntax is sys.modules["rfc3987_syntax.syntax_helpers"].is_valid_syntax
print(json.dumps(seen))
"""

SUBMODULE_FIRST = """
import lambdalab.widgets
from rfc3987_syntax.syntax_helpers import is_valid_syntax_iri
print(is_valid_syntax_iri("urn:isbn:0451450523"), is_valid_syntax_iri("no scheme"))
"""


def run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def test_showing_a_figure_leaves_the_iri_parsers_unbuilt_and_the_iri_format_still_checks():
    seen = json.loads(run(FRESH))
    assert seen["jsonschema"], "the figure no longer imports jsonschema: this deferral can go"
    assert not seen["parsers"]
    assert seen["iri"] == [True, False, False]
    assert seen["real"], "after its first use the module is the real one"


def test_a_submodule_imported_first_is_the_real_one():
    assert run(SUBMODULE_FIRST) == "True False"
