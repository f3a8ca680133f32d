"""Which Python runs a function: the version its runtime names, when this machine has it.

AWS runs a ``python3.12`` function on Python 3.12, and what a handler sees differs between minor
versions (error messages, recursion limits, ``ExceptionGroup``, ...). So a function runs on this
process's interpreter when that is its version, and otherwise on a ``python3.X`` found here: on
PATH (pyenv's shims are skipped: pyenv keeps one for every version it knows of, installed or not,
and it fails for the others), in pyenv's versions, in conda's environments, among uv's Pythons.
Where there is none, the function runs on this process's interpreter and the first line of each of
its cold starts' logs says so, as ``cloud.runtimes()`` does; ``lambdalab.start(interpreters=...)``
names one (``{"python3.13": "/opt/py313/bin/python3.13"}``) or none (``{"python3.13": None}``).

Another interpreter has none of lambdalab's packages: the runtime needs none, and it puts this
process's site-packages after that interpreter's own, so handlers still import boto3 (AWS's Python
runtimes include it); a package compiled for another version does not import there.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import re
import site
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

from . import PYTHON, PYTHON_DIR

HOST = "{}.{}".format(*sys.version_info[:2])
# The SDK AWS's Python runtimes include: compiled once for each interpreter that imports it from here.
SDK = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")
CHECK_TIMEOUT_S = 300  # compiling botocore for a new interpreter takes seconds on a slow machine
# Run once by each interpreter found, before its first function: it compiles the runtime and the
# SDK for itself (sandboxes cannot write bytecode) and says its version.
_CHECK = ("import compileall, os, sys\n"
          "for p in sys.argv[1:]:\n"
          "    (compileall.compile_dir if os.path.isdir(p) else compileall.compile_file)(p, quiet=2)\n"
          "print('%d.%d.%d' % sys.version_info[:3])\n")
_SHIMS = (b"pyenv", b"asdf")  # version managers whose shims exist for versions that are not installed


@dataclass(frozen=True)
class Interpreter:
    """What runs one Python runtime's functions here."""

    runtime: str  # python3.12
    executable: str
    version: str  # the Python version it runs, 3.12.1
    site: tuple[str, ...] = ()  # directories the runtime appends to sys.path (this process's site-packages)
    warning: str | None = None  # the log line of a function that does not run on its runtime's version


class Interpreters:
    """The interpreters of one cloud's Python runtimes.

    Found at start by looking at files only (no process is started), so the sandboxes' file rules can
    include them; each is run to check it at the first cold start that needs it. No lock: cold starts
    that come together may each run that check (it is idempotent), and none waits for another's.
    """

    def __init__(self, chosen: dict[str, str | None] | None = None, runtimes: tuple[str, ...] = PYTHON) -> None:
        self._chosen = chosen = chosen or {}
        unknown = set(chosen) - set(runtimes)
        if unknown:
            raise ValueError(f"interpreters: {', '.join(sorted(unknown))} is not a Python runtime lambdalab runs")
        self._found: dict[str, str | None] = {}
        for runtime in runtimes:
            minor = runtime.removeprefix("python")
            if runtime in chosen:
                self._found[runtime] = chosen[runtime] and os.path.abspath(chosen[runtime])
            elif minor == HOST:
                self._found[runtime] = sys.executable
            else:
                self._found[runtime] = next((p for p in _candidates(minor) if _is_interpreter(p)), None)
        self._checked: dict[str, Interpreter] = {}

    def paths(self) -> list[str]:
        """The installations of the interpreters found, which sandboxes must be able to read."""
        out = set()
        for exe in filter(None, self._found.values()):
            for path in {exe, os.path.realpath(exe)}:
                prefix = os.path.dirname(os.path.dirname(path))
                if prefix not in ("/", "/usr", "/usr/local"):
                    out.add(prefix)
        return sorted(out)

    def get(self, runtime: str) -> Interpreter:
        """The interpreter for ``runtime``'s functions (checked on first use; this one's if it failed)."""
        interpreter = self._checked.get(runtime)
        return interpreter if interpreter is not None else self._checked.setdefault(runtime, self._check(runtime))

    def _check(self, runtime: str) -> Interpreter:
        minor, exe = runtime.removeprefix("python"), self._found[runtime]
        host = "{}.{}.{}".format(*sys.version_info[:3])
        if exe == sys.executable:
            reason = None if minor == HOST else f"lambdalab was told to run {runtime} on its own Python"
        elif exe is None:
            reason = "lambdalab.start(interpreters=...) gave it none" if runtime in self._chosen \
                else f"this machine has no Python {minor}"
        else:
            version, reason = _run_check(exe)
            if version is not None and version.rpartition(".")[0] == minor:
                return Interpreter(runtime, exe, version, tuple(p for p in site.getsitepackages() if os.path.isdir(p)))
            reason = reason or f"{exe} is Python {version}, not {minor}"
        if reason is None:
            return Interpreter(runtime, sys.executable, host)
        warning = (f"LAMBDALAB_WARNING: {runtime} runs on Python {host} ({sys.executable}): {reason}, so what differs "
                   f"between Python versions may differ from AWS. cloud.runtimes() shows what runs each runtime.")
        return Interpreter(runtime, sys.executable, host, warning=warning)


def _run_check(exe: str) -> tuple[str | None, str | None]:
    """(its version, None), or (None, why it did not run)."""
    sdk = [_location(name) for name in SDK]
    try:
        done = subprocess.run([exe, "-E", "-s", "-c", _CHECK, str(PYTHON_DIR), *filter(None, sdk)], capture_output=True,
                              text=True, timeout=CHECK_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, f"{exe} did not run ({e})"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        return None, f"{exe} did not run ({last})"
    return done.stdout.strip(), None


def _location(name: str) -> str | None:
    """Where this process would import ``name`` from, without importing it."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    return spec.submodule_search_locations[0] if spec.submodule_search_locations else spec.origin


def _candidates(minor: str) -> Iterator[str]:
    """Where a ``python3.X`` may be: PATH, pyenv's versions, conda's environments, uv's Pythons."""
    name = f"python{minor}"
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if directory:
            yield os.path.join(directory, name)
    home = os.path.expanduser("~")
    pyenv = os.environ.get("PYENV_ROOT") or os.path.join(home, ".pyenv")
    uv = os.path.join(os.environ.get("XDG_DATA_HOME") or os.path.join(home, ".local", "share"), "uv", "python")
    for pattern in (os.path.join(glob.escape(pyenv), "versions", f"{minor}.*"),
                    os.path.join(glob.escape(uv), f"cpython-{minor}.*")):
        for prefix in sorted(glob.glob(pattern), key=_newest_first):
            yield os.path.join(prefix, "bin", name)
    for env in _conda_environments(home):
        yield os.path.join(env, "bin", name)


def _newest_first(path: str) -> tuple[int, ...]:
    return tuple(-int(n) for n in re.findall(r"\d+", os.path.basename(path)))


def _conda_environments(home: str) -> list[str]:
    roots = [os.environ.get("CONDA_PREFIX"), os.environ.get("CONDA_EXE") and
             os.path.dirname(os.path.dirname(os.environ["CONDA_EXE"]))]
    roots += [os.path.join(home, d) for d in ("miniconda3", "anaconda3", "miniforge3", "mambaforge")] + ["/opt/conda"]
    envs = []
    for root in filter(None, roots):
        envs += [root, *sorted(glob.glob(os.path.join(glob.escape(root), "envs", "*")))]
    try:
        with open(os.path.join(home, ".conda", "environments.txt")) as f:
            envs += [line.strip() for line in f if line.strip()]
    except OSError:
        pass
    return list(dict.fromkeys(envs))


def _is_interpreter(path: str) -> bool:
    """An executable file that is not a version manager's shim."""
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        return False
    try:
        with open(path, "rb") as f:
            head = f.read(1024)
    except OSError:
        return False
    return not (head.startswith(b"#!") and any(shim in head for shim in _SHIMS))
