"""What runs inside a sandbox for each Lambda runtime: the command that starts its bootstrap.

A runtime only needs the Runtime API (``AWS_LAMBDA_RUNTIME_API``) and the standard variables,
so any conforming runtime client could be started here; lambdalab ships its own Python one.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

PYTHON_DIR = Path(__file__).parent / "python"


def command(runtime: str) -> list[str]:
    """argv that starts ``runtime``'s bootstrap (Python runtimes run on this interpreter)."""
    if runtime.startswith("python"):
        return [sys.executable, str(PYTHON_DIR / "bootstrap.py")]
    raise ValueError(f"no bootstrap for runtime {runtime}")


def runtime_dir(runtime: str) -> Path:
    return PYTHON_DIR


def version(runtime: str, region: str) -> tuple[str, str]:
    """The ``Runtime Version`` and its ARN for the INIT_START line (``python:3.12.lambdalab``)."""
    family, number = runtime[: len(runtime.rstrip("0123456789."))], runtime.lstrip("abcdefghijklmnopqrstuvwxyz")
    name = f"{family}:{number}.lambdalab-py{sys.version_info.major}.{sys.version_info.minor}"
    return name, f"arn:aws:lambda:{region}::runtime:{hashlib.sha256(name.encode()).hexdigest()}"
