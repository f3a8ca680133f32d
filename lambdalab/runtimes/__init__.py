"""What runs inside a sandbox for each Lambda runtime: the command that starts its bootstrap.

A runtime only needs the Runtime API (``AWS_LAMBDA_RUNTIME_API``) and the standard variables,
so any conforming runtime client works: lambdalab ships its own Python one, and an OS-only
runtime (``provided.al2023``) starts the package's own ``bootstrap`` executable, as in AWS.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .interpreters import Interpreter, Interpreters

PYTHON_DIR = Path(__file__).parent / "python"
PYTHON = ("python3.10", "python3.11", "python3.12", "python3.13", "python3.14")
CUSTOM = ("provided.al2", "provided.al2023")


def command(runtime: str, task_root: Path, opt: Path | None = None, wrapper: str | None = None,
            python: Interpreter | None = None) -> list[str]:
    """argv that starts ``runtime``'s bootstrap (a Python runtime on ``python``, else on this interpreter).

    An OS-only runtime's ``bootstrap`` comes from the package, or else from a layer (``/opt``), as in AWS.
    A managed runtime starts through ``wrapper`` (``AWS_LAMBDA_EXEC_WRAPPER``) when it is set: the
    wrapper gets the runtime's command as its arguments, and AWS's runtime starts it from a shell
    script, so a wrapper that does not exist ends the runtime with the shell's exit status 127.
    """
    if runtime in CUSTOM:
        bootstrap = task_root / "bootstrap"
        if opt is not None and not bootstrap.exists() and (opt / "bootstrap").exists():
            bootstrap = opt / "bootstrap"
        return [*_amazon_linux_sh(bootstrap), str(bootstrap)]
    argv = [python.executable, str(PYTHON_DIR / "bootstrap.py"), *python.site] if python else \
        [sys.executable, str(PYTHON_DIR / "bootstrap.py")]
    if wrapper:
        for shown, real in (("/var/task/", task_root), ("/opt/", opt)):
            if real is not None and wrapper.startswith(shown):
                wrapper = str(real / wrapper.removeprefix(shown))
        return ["/bin/sh", "-c", 'exec "$0" "$@"', wrapper, *argv]
    return argv


def _amazon_linux_sh(bootstrap: Path) -> list[str]:
    """The interpreter a ``#!/bin/sh`` bootstrap gets on Amazon Linux, where /bin/sh is bash.

    Elsewhere (Debian, Ubuntu, Alpine) /bin/sh is often dash or busybox, which refuse bash's
    ``set -o pipefail`` that AWS's own custom-runtime tutorial uses; so such a script runs with bash,
    the shebang's argument kept, when this machine has bash. Any other bootstrap is executed as it is
    (an executable that is not one fails as AWS reports it).
    """
    try:
        if not os.stat(bootstrap).st_mode & 0o111:
            return []
        with open(bootstrap, "rb") as f:
            first = f.readline(256)
    except OSError:
        return []
    if not first.startswith(b"#!/bin/sh") or first[9:10] not in (b"", b" ", b"\t", b"\n", b"\r"):
        return []
    bash = _bash_for_sh()
    if bash is None:
        return []
    argument = first[9:].strip().decode(errors="replace")
    return [bash, argument] if argument else [bash]


@functools.cache
def _bash_for_sh() -> str | None:
    """This machine's bash when its /bin/sh is another shell (looked up once, not at every cold start)."""
    bash = shutil.which("bash")
    return None if bash is None or os.path.realpath("/bin/sh") == os.path.realpath(bash) else bash


def table(interpreters: Interpreters) -> list[dict]:
    """Rows of ``cloud.runtimes()``: what runs each runtime on this machine."""
    rows = []
    for runtime in PYTHON:
        python = interpreters.get(runtime)
        rows.append({"runtime": runtime, "runs_on": f"Python {python.version}", "executable": python.executable,
                     "note": python.warning or ""})
    bash = _bash_for_sh()
    for runtime in CUSTOM:
        rows.append({"runtime": runtime, "runs_on": "the function's bootstrap", "executable": None,
                     "note": f"a #!/bin/sh bootstrap runs with {bash}, as /bin/sh is bash on Amazon Linux" if bash
                     else ""})
    return rows


def execution_env(runtime: str) -> str | None:
    """``AWS_EXECUTION_ENV``, which AWS does not set for OS-only runtimes."""
    return None if runtime in CUSTOM else f"AWS_Lambda_{runtime}"


# The runtime version each runtime's INIT_START line names: AWS numbers the updates of a runtime
# (``python:3.13.v64``); these are versions seen in real INIT_START lines in late 2025 (docs/sources.md).
RUNTIME_VERSIONS = {
    "python3.10": "python:3.10.v36", "python3.11": "python:3.11.v109", "python3.12": "python:3.12.v101",
    "python3.13": "python:3.13.v64", "python3.14": "python:3.14.v43",
    "provided.al2": "provided:al2.v143", "provided.al2023": "provided:al2023.v109",
}


def version(runtime: str, region: str) -> tuple[str, str]:
    """The ``Runtime Version`` and its ARN, for the INIT_START line and ``RuntimeVersionConfig``.

    AWS's ARN ends in a 64-hex id of the version that it does not publish; lambdalab's is the SHA-256
    of the version's name, so one version has one id in every Region, as recorded AWS logs show.
    """
    name = RUNTIME_VERSIONS[runtime]
    return name, f"arn:aws:lambda:{region}::runtime:{hashlib.sha256(name.encode()).hexdigest()}"
