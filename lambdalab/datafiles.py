"""Where the course's data files are: ``data/`` at the top of the repository, beside ``lambdalab/``.

``data/README.md`` says where each file comes from and when. The files stay in the repository
rather than in the package: an editable install (``pip install -e .``, which ``make lab``,
``make test`` and Binder do) leaves them in place, and one copy serves the code and the reader.
"""

from __future__ import annotations

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent.parent / "data"


def data_file(name: str) -> Path:
    """The path of ``data/<name>``; a clear error when this copy of lambdalab has no ``data/`` beside it."""
    path = DATA_DIR / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: lambdalab reads its data files from the data/ directory of "
                                "its repository, so install it from a clone with pip install -e .")
    return path


__all__ = ["DATA_DIR", "data_file"]
