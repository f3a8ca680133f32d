"""Deployment packages from source text, for notebooks and tests.

In AWS you would zip a folder; in a notebook the code is a string, so this builds the same
``.zip`` in memory (files keep their executable bit when marked, as a custom ``bootstrap`` needs).
"""

from __future__ import annotations

import io
import textwrap
import zipfile


def zip_files(files: dict[str, str] | str, executable: tuple[str, ...] = ("bootstrap",)) -> bytes:
    """A zip of ``{"app.py": source, ...}`` (or just the source of ``app.py``), dedented."""
    if isinstance(files, str):
        files = {"app.py": files}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o755 if name in executable else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, textwrap.dedent(text))
    return buffer.getvalue()
