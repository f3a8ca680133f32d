"""Each Python runtime runs on the Python version it names where this machine has it, and says so where not."""

from __future__ import annotations

import glob
import os
import subprocess
import sys

import pytest
from deploy import Deployer
from gate import TEST_ISOLATION

import lambdalab
from lambdalab.runtimes import PYTHON
from lambdalab.runtimes.interpreters import Interpreters

HOST = "{}.{}".format(*sys.version_info[:2])
HOST_FULL = "{}.{}.{}".format(*sys.version_info[:3])
OTHER = next(r for r in ("python3.13", "python3.12") if r != f"python{HOST}")  # a runtime this Python is not
VERSION = "import sys\ndef handler(event, context):\n    return '%d.%d' % sys.version_info[:2]\n"


def messages(cloud, name: str) -> list[str]:
    cloud.logs.flush()
    events = cloud.client("logs").filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    return [e["message"] for e in events]


def has_python(minor: str) -> bool:
    """The test's own look for a working Python ``minor``: on PATH by name, or among pyenv's versions."""
    pyenv = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    names = [f"python{minor}", *glob.glob(os.path.join(pyenv, "versions", f"{minor}.*", "bin", f"python{minor}"))]
    for exe in names:
        try:
            out = subprocess.run([exe, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                 capture_output=True, text=True, timeout=60)
        except OSError:
            continue
        if out.returncode == 0 and out.stdout.strip() == minor:
            return True
    return minor == HOST


@pytest.mark.parametrize("runtime", PYTHON)
def test_a_function_runs_on_its_runtimes_python_or_says_which_it_runs_on(fn, cloud, runtime):
    minor = runtime.removeprefix("python")
    name = fn.create(VERSION, Runtime=runtime)
    ran = fn.invoke(name)["Payload"]
    first = messages(cloud, name)[0]
    if has_python(minor):
        assert ran == minor
        assert first.startswith(f"INIT_START Runtime Version: {runtime.replace('python', 'python:')}.v")
    else:  # the first line of the cold start says what it ran on instead
        assert ran == HOST
        assert first.startswith(f"LAMBDALAB_WARNING: {runtime} runs on Python {HOST_FULL} ({sys.executable}): "
                                f"this machine has no Python {minor}, so what differs between Python versions")
    assert cloud.runtimes().set_index("runtime").loc[runtime, "runs_on"].startswith(f"Python {ran}.")


def test_a_python_the_machine_lacks_falls_back_with_a_warning_first():
    with lambdalab.start(isolation=TEST_ISOLATION, interpreters={OTHER: None}) as cloud:
        fn = Deployer(cloud)
        name = fn.create(VERSION, Runtime=OTHER)
        assert fn.invoke(name)["Payload"] == HOST
        warning = (f"LAMBDALAB_WARNING: {OTHER} runs on Python {HOST_FULL} ({sys.executable}): "
                   "lambdalab.start(interpreters=...) gave it none, so what differs between Python versions may "
                   "differ from AWS. cloud.runtimes() shows what runs each runtime.")
        first, second = messages(cloud, name)[:2]
        assert first == warning + "\n" and second.startswith(
            f"INIT_START Runtime Version: {OTHER.replace('python', 'python:')}.v")
        row = cloud.runtimes().set_index("runtime").loc[OTHER]
        assert (row["runs_on"], row["executable"], row["note"]) == (f"Python {HOST_FULL}", sys.executable, warning)


def test_pyenv_shims_are_skipped_and_an_interpreter_is_checked_before_use(tmp_path, monkeypatch):
    """pyenv keeps a shim on PATH for every version it knows, installed or not: the one found in pyenv's
    versions is used instead, and it is run first, so one that is not the version it is named for is not."""
    minor = OTHER.removeprefix("python")
    shims, versions = tmp_path / "shims", tmp_path / "pyenv" / "versions" / f"{minor}.99" / "bin"
    shims.mkdir()
    versions.mkdir(parents=True)
    shim = shims / f"python{minor}"
    shim.write_text(f'#!/usr/bin/env bash\nexec "{tmp_path}/pyenv/libexec/pyenv" exec "$program" "$@"\n')
    shim.chmod(0o755)
    (versions / f"python{minor}").symlink_to(sys.executable)  # named python3.X, but this Python
    for variable in ("CONDA_PREFIX", "CONDA_EXE", "XDG_DATA_HOME"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("PATH", str(shims))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    monkeypatch.setenv("HOME", str(tmp_path))
    interpreters = Interpreters()
    assert str(tmp_path / "pyenv" / "versions" / f"{minor}.99") in interpreters.paths()
    python = interpreters.get(OTHER)
    assert (python.executable, python.version) == (sys.executable, HOST_FULL)
    assert f"{versions / f'python{minor}'} is Python {HOST_FULL}, not {minor}, so what differs" in python.warning


def test_an_interpreter_that_does_not_run_is_not_used():
    python = Interpreters({OTHER: "/nonexistent/bin/python"}).get(OTHER)
    assert python.executable == sys.executable and "/nonexistent/bin/python did not run" in python.warning


def test_only_python_runtimes_can_be_given_an_interpreter():
    with pytest.raises(ValueError, match=r"provided\.al2023 is not a Python runtime"):
        lambdalab.LocalCloud(interpreters={"provided.al2023": "/bin/sh"})
