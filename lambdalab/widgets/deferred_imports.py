"""Plotly's figures shown without what plotly would load and keep for nothing: nbformat, and its whole
table of validators.

``plotly.io._renderers``, which every shown figure goes through, imports nbformat as it is imported,
only to check its version before a mime-type render (``show()``). nbformat imports jsonschema, whose
format checkers import every format library installed (the ``format-nongpl`` extra jupyter_events
asks for: lark, arrow, rfc3987_syntax, which builds about thirty Lark parsers at import, ...). None of
it is used by a chapter's kernel. :func:`plotly_without_nbformat` imports plotly's renderers with a
stand-in in the place of nbformat, for plotly alone: the stand-in answers ``__version__`` from the
installed distribution's metadata, and anything else by importing the real module. Nothing is put in
``sys.modules``, and plotly's ``optional_imports`` is left as it is (the renderers' own import of it
gets the stand-in, while it runs: ``memory.exec_importing``): any other import of nbformat in the
kernel gets the real one, from any thread.

plotly's ``ValidatorCache`` reads the parameters of each property's validator from one table,
``validators/_validators.json``: at the first figure it parses the whole file (3.2 MB, 10,000 entries,
8 MB of dicts with an 11 MB peak) and keeps it for the kernel's life, to use the few hundred entries
a chapter's figures need. :func:`plotly_validators_on_demand` gives it a table that knows where each
entry lies in the file and parses an entry when plotly asks for it.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import json
import os
import sys
import threading
import types
from typing import Any

from .. import memory

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
    memory.import_lean(RENDERERS, _renderers_with_version_only)


def _renderers_with_version_only(loader: Any, module: Any) -> None:
    """Run plotly's renderers module with an ``optional_imports`` of its own whose ``get_module`` gives
    the stand-in for nbformat; the module keeps plotly's own for what it asks later."""
    from plotly import optional_imports

    def get_module(name: str, should_load: bool = True):
        return _VersionOnly(NAME) if name == NAME and should_load else optional_imports.get_module(name, should_load)

    memory.exec_importing(loader, module, {"plotly": types.SimpleNamespace(
        optional_imports=types.SimpleNamespace(get_module=get_module))})
    module.optional_imports = optional_imports


class _ValidatorTable:
    """plotly's table of validator parameters as its ValidatorCache reads it (``get``), each entry parsed
    from the file when asked for; where each lies in the file is found at the first ``get``."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._spans: dict[str, tuple[int, int]] | None = None
        self._lock = threading.Lock()  # guards making _spans, once

    def spans(self) -> dict[str, tuple[int, int]]:
        with self._lock:
            if self._spans is None:
                with open(self.path, "rb") as f:
                    text = f.read().decode("ascii")  # so that a character's offset is its byte's
                self._spans = {key: (start, end) for key, _, start, end in memory.json_object_entries(text)}
            return self._spans

    def get(self, key: str, default: Any = None) -> Any:
        span = self.spans().get(key)
        if span is None:
            return default
        with open(self.path, "rb") as f:
            f.seek(span[0])
            return json.loads(f.read(span[1] - span[0]))


def plotly_validators_on_demand() -> None:
    """Give plotly's ValidatorCache the table above (unless it has read its own already, or its file is
    not plain ASCII: then plotly does as it always does)."""
    from plotly import validator_cache

    path = os.path.join(os.path.dirname(validator_cache.__file__), "validators", "_validators.json")
    if validator_cache.ValidatorCache._json_cache is not None or not _ascii(path):
        return
    validator_cache.ValidatorCache._json_cache = _ValidatorTable(path)


def _ascii(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read().isascii()
    except OSError:  # plotly says what is missing at its first figure
        return False
