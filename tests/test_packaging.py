"""The project's set-up: Binder's environment matches the package, notebooks are committed clean,
and ``lambdalab serve`` works for the AWS CLI and stops without leaving a process behind."""

from __future__ import annotations

import inspect
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import nbformat
import psutil
import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
ROLE = "arn:aws:iam::123456789012:role/lambda-role"


# -- Binder: environment.yml ---------------------------------------------------------------------
def _pyproject_dependencies() -> list[str]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]


def _environment() -> dict:
    return yaml.safe_load((ROOT / "environment.yml").read_text())


def _pip_section(env: dict) -> list[str]:
    sections = [dep["pip"] for dep in env["dependencies"] if isinstance(dep, dict) and "pip" in dep]
    assert len(sections) == 1, "environment.yml needs exactly one `pip:` section"
    return [str(line).strip() for line in sections[0]]


def _normalized(requirements: list[str]) -> dict[str, tuple]:
    """name -> (extras, specifiers, marker), insensitive to spelling and specifier order."""
    out = {}
    for line in requirements:
        req = Requirement(line)
        out[canonicalize_name(req.name)] = (sorted(req.extras), str(req.specifier), str(req.marker or ""))
    return out


def test_binder_pip_section_matches_pyproject_dependencies():
    pip = [line for line in _pip_section(_environment()) if line != "-e ."]
    expected, actual = _normalized(_pyproject_dependencies()), _normalized(pip)
    missing = {name: spec for name, spec in expected.items() if actual.get(name) != spec}
    extra = {name: spec for name, spec in actual.items() if name not in expected}
    assert not missing and not extra, (
        f"environment.yml's pip section has drifted from pyproject.toml's [project].dependencies:\n"
        f"  missing or different: {missing}\n  not in pyproject: {extra}")


def test_binder_installs_the_package_itself():
    assert "-e ." in _pip_section(_environment()), "environment.yml's pip section must install `-e .`"


def test_binder_pins_python_and_uses_conda_forge_with_pip():
    env = _environment()
    assert "conda-forge" in env.get("channels", [])
    conda = [dep for dep in env["dependencies"] if isinstance(dep, str)]
    pythons = [dep for dep in conda if re.match(r"python\b", dep)]
    assert len(pythons) == 1 and re.fullmatch(r"python=3\.\d+", pythons[0]), (
        f"pin Python exactly as `python=3.X` (got {pythons})")
    assert "pip" in conda, "`pip` must be a conda dependency when the environment has a `pip:` section"


def test_binder_python_is_the_version_the_course_functions_name():
    """A function runs on the Python its runtime names where the machine has it: on Binder, its own."""
    from lambdalab.course import Functions

    pinned = next(dep for dep in _environment()["dependencies"] if isinstance(dep, str) and dep.startswith("python="))
    named = {inspect.signature(Functions.deploy).parameters["runtime"].default}
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        named |= set(re.findall(r"Runtime=\\?[\"'](python3\.\d+)", notebook.read_text()))
    assert named == {"python" + pinned.removeprefix("python=")}, (named, pinned)


def test_binder_reads_the_root_environment_yml():
    # repo2docker reads its configuration from binder/ or .binder/ when either exists, ignoring every
    # file at the root; and a Dockerfile replaces the conda build (environment.yml) altogether.
    assert (ROOT / "environment.yml").is_file(), "repo2docker (Binder) reads environment.yml at the repository root"
    shadows = [name for name in ("binder", ".binder", "Dockerfile") if (ROOT / name).exists()]
    assert not shadows, f"{shadows} would make repo2docker ignore the root environment.yml; remove them"


BINDER_BADGE = re.compile(r"\[!\[Binder\]\(https://mybinder\.org/badge_logo\.svg\)\]\((?P<url>[^)\s]+)\)")


def test_readme_binder_badge_opens_a_course_notebook_in_jupyterlab():
    badges = BINDER_BADGE.findall((ROOT / "README.md").read_text())
    assert len(badges) == 1, f"README.md needs exactly one Binder badge, found {badges}"
    url = urlsplit(badges[0])
    assert url.scheme == "https" and url.netloc == "mybinder.org", badges[0]
    assert re.fullmatch(r"/v2/gh/[\w.-]+/lambdalab/[\w./-]+", url.path), (
        f"the badge should launch /v2/gh/<owner>/lambdalab/<ref>, not {url.path}")
    urlpath = parse_qs(url.query).get("urlpath", [""])[0]
    assert urlpath.startswith("lab/tree/notebooks/"), (
        f"the badge should open JupyterLab on the course (urlpath=lab/tree/notebooks/...), not {urlpath!r}")
    target = ROOT / urlpath.removeprefix("lab/tree/")
    assert target.suffix == ".ipynb" and target.is_file(), (
        f"the badge opens {urlpath}, which is not a notebook in the repository")


# -- notebooks are committed clean ---------------------------------------------------------------
def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ has no .ipynb files"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_committed_without_outputs(path: Path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, cell in enumerate(nb.cells)
             if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None)]
    assert not dirty, f"{path.name}: code cells {dirty} have outputs or execution counts; clear them before committing"
    assert "widgets" not in nb.metadata, f"{path.name}: notebook metadata holds widget state; clear it"


# -- lambdalab serve + the AWS CLI ---------------------------------------------------------------
def _serve_command() -> list[str]:
    script = Path(sys.executable).with_name("lambdalab")  # the console script pip installed
    if script.exists():
        return [str(script), "serve", "--port", "0"]
    return [sys.executable, "-m", "lambdalab.cli", "serve", "--port", "0"]


def _read_exports(proc: subprocess.Popen, timeout: float) -> dict[str, str]:
    """The ``export K=V`` lines printed by ``lambdalab serve``, up to the one with AWS_ENDPOINT_URL."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, name="serve-stdout", daemon=True).start()
    exports, seen, deadline = {}, [], time.monotonic() + timeout
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            pytest.fail(f"no AWS_ENDPOINT_URL line within {timeout:.0f} s; output so far: {seen}")
        if line is None:
            pytest.fail(f"lambdalab serve exited ({proc.wait()}) before printing the endpoint: {seen}")
        seen.append(line)
        match = re.search(r"\b(AWS_[A-Z_]+)=(\S+)", line)
        if match:
            exports[match[1]] = match[2]
        elif "AWS_ENDPOINT_URL" in exports:  # the first line after the block of exports
            return exports


@pytest.fixture
def served(tmp_path):
    proc = subprocess.Popen(_serve_command(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        yield proc, _read_exports(proc, timeout=60)  # generous: a busy machine imports slowly
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_lambdalab_serve_works_with_the_aws_cli_and_stops_cleanly(served, tmp_path):
    proc, exports = served
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", exports["AWS_ENDPOINT_URL"]), exports
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(exports, AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
               AWS_PAGER="")

    def aws(*args: str) -> str:
        result = subprocess.run([sys.executable, "-m", "awscli", *args], env=env, cwd=tmp_path,
                                capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert result.returncode == 0, f"aws {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    assert json.loads(aws("lambda", "list-functions"))["Functions"] == []
    aws("s3", "mb", "s3://lambdalab-cli-check")  # bucket names need 3 to 63 characters, so not s3://x
    assert "lambdalab-cli-check" in aws("s3", "ls")

    # A function invoked through the CLI, so that an execution environment is alive at SIGTERM.
    package = tmp_path / "fn.zip"
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return {'hello': event['name']}\n")
    aws("lambda", "create-function", "--function-name", "cli-check", "--runtime", "python3.12", "--role", ROLE,
        "--handler", "app.handler", "--zip-file", f"fileb://{package}")
    aws("lambda", "invoke", "--function-name", "cli-check", "--payload", '{"name": "cli"}', "out.json")
    assert json.loads((tmp_path / "out.json").read_text()) == {"hello": "cli"}

    children = psutil.Process(proc.pid).children(recursive=True)
    assert children, "expected the server's reaper and execution environment among its child processes"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    _, alive = psutil.wait_procs(children, timeout=30)
    assert not alive, f"processes left behind after SIGTERM: {[(p.pid, p.cmdline()) for p in alive]}"

