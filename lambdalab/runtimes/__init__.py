"""What runs inside a sandbox for each Lambda runtime: the command that starts its bootstrap.

A runtime only needs the Runtime API (``AWS_LAMBDA_RUNTIME_API``) and the standard variables,
so any conforming runtime client works: lambdalab ships its own Python one, and an OS-only
runtime (``provided.al2023``) starts the package's own ``bootstrap`` executable, as in AWS.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

PYTHON_DIR = Path(__file__).parent / "python"
CUSTOM = ("provided.al2", "provided.al2023")


def command(runtime: str, task_root: Path, opt: Path | None = None) -> list[str]:
    """argv that starts ``runtime``'s bootstrap (Python runtimes run on this interpreter).

    An OS-only runtime's ``bootstrap`` comes from the package, or else from a layer (``/opt``), as in AWS.
    """
    if runtime in CUSTOM:
        bootstrap = task_root / "bootstrap"
        if opt is not None and not bootstrap.exists() and (opt / "bootstrap").exists():
            bootstrap = opt / "bootstrap"
        return [str(bootstrap)]
    return [sys.executable, str(PYTHON_DIR / "bootstrap.py")]


def execution_env(runtime: str) -> str | None:
    """``AWS_EXECUTION_ENV``, which AWS does not set for OS-only runtimes."""
    return None if runtime in CUSTOM else f"AWS_Lambda_{runtime}"


def version(runtime: str, region: str) -> tuple[str, str]:
    """The ``Runtime Version`` and its ARN for the INIT_START line (``python:3.12.lambdalab-py3.11``)."""
    family, _, number = runtime.partition("3") if runtime.startswith("python") else runtime.partition(".")
    number = ("3" + number) if runtime.startswith("python") else number
    name = f"{family}:{number}.lambdalab-py{sys.version_info.major}.{sys.version_info.minor}"
    return name, f"arn:aws:lambda:{region}::runtime:{hashlib.sha256(name.encode()).hexdigest()}"
