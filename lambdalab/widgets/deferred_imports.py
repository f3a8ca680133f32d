"""Plotly's figures shown without importing nbformat (about 20 MB of PSS a kernel would keep for nothing).

``plotly.io._renderers``, which every shown figure goes through, imports nbformat as it is imported,
only to check its version before a mime-type render (``show()``). nbformat imports jsonschema, whose
format checkers import every format library installed (the ``format-nongpl`` extra jupyter_events
asks for: lark, arrow, rfc3987_syntax, which builds about thirty Lark parsers at import, ...). None of
it is used by a chapter's kernel. :func:`plotly_without_nbformat` imports plotly's renderers with a
stand-in in the place of nbformat, for plotly alone: the stand-in answers ``__version__`` from the
installed distribution's metadata, and anything else by importing the real module. Nothing is put in
``sys.modules``: any other import of nbformat in the kernel gets the real one.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import sys
import types

NAME = "nbformat"
RENDERERS = "plotly.io._renderers"


class _VersionOnly(types.ModuleType):
    """nbformat as plotly's renderers use it: its version, without importing it."""

    def __getattr__(self, attr: str):
        if attr == "__version__":
            return importlib.metadata.version(NAME)
        return getattr(importlib.import_module(NAME), attr)


def plotly_without_nbformat() -> None:
    """Import plotly's renderers with the stand-in for nbformat (unless they, or nbformat, are imported
    already, or nbformat is not installed: then plotly does as it always does)."""
    if RENDERERS in sys.modules or NAME in sys.modules or importlib.util.find_spec(NAME) is None:
        return
    from plotly import optional_imports

    original = optional_imports.get_module

    def get_module(name: str, should_load: bool = True):
        return _VersionOnly(NAME) if name == NAME and should_load else original(name, should_load)

    optional_imports.get_module = get_module  # what the renderers module calls as it is imported
    try:
        importlib.import_module(RENDERERS)
    finally:
        optional_imports.get_module = original
