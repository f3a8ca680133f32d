"""rfc3987_syntax loaded on first use, not when a kernel shows its first figure (about 18 MB of PSS).

Showing a plotly figure imports ``plotly.io._renderers``, which imports nbformat, which imports
jsonschema, whose format checkers import ``rfc3987_syntax`` when it is installed (jsonschema >= 4.25
with the ``format-nongpl`` extra that jupyter_events asks for). That module builds about thirty Lark
parsers for RFC 3987 as it is imported, for the ``iri`` formats that nothing in a chapter's kernel
validates. :func:`defer_rfc3987_syntax` puts a stand-in in its place: jsonschema binds the stand-in's
``is_valid_syntax``, and the first call of it (or any other use of the module) imports the real one,
which then replaces the stand-in. A pin cannot do this: moto's openapi-spec-validator needs
jsonschema >= 4.26.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types

NAME = "rfc3987_syntax"
_lock = threading.Lock()  # one import of the real module, however many threads first use the stand-in


class _StandIn(types.ModuleType):
    """Imports the real module the first time anything of it is asked for."""

    def __getattr__(self, attr: str):
        return getattr(_real(), attr)


def _real() -> types.ModuleType:
    with _lock:
        if isinstance(sys.modules.get(NAME), _StandIn):
            del sys.modules[NAME]
        return importlib.import_module(NAME)


def is_valid_syntax(term: str, value: str) -> bool:
    """The one name jsonschema imports, answered by the real module."""
    return _real().is_valid_syntax(term, value)


def defer_rfc3987_syntax() -> None:
    """Put the stand-in in place, unless the module is missing or something may already hold the real one."""
    if NAME in sys.modules or "jsonschema" in sys.modules:
        return
    spec = importlib.util.find_spec(NAME)
    if spec is None:
        return
    stand_in = _StandIn(NAME, __doc__)
    # What the import system and introspection ask of a package (``from ... import`` checks __path__),
    # answered without loading it; a submodule imported through __path__ is the real one.
    stand_in.__spec__, stand_in.__loader__, stand_in.__package__ = spec, spec.loader, NAME
    stand_in.__file__, stand_in.__path__ = spec.origin, spec.submodule_search_locations
    stand_in.is_valid_syntax = is_valid_syntax
    sys.modules[NAME] = stand_in
