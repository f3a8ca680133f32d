"""A real browser on the course: JupyterLab from the venv, driven by Debian's Chromium through Playwright.

Fixtures: ``chromium`` (the executable, or a skip that says how to get one), ``lab`` (one JupyterLab
server per test module, on a free port, over a temporary copy of notebooks/, so a run never writes
into the repo), ``kernels_down`` (shuts the server's kernels down after a test) and ``page`` (a fresh
browser context; a screenshot lands in the test's tmp dir when it fails).

Playwright's own browser download is never used: the test runs the system's Chromium.
``LAMBDALAB_CHROMIUM`` points at another executable; ``LAMBDALAB_BROWSER_TESTS=required`` (set by
``.ci/run``) turns a missing browser or Playwright into a failure instead of a skip.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("LAMBDALAB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
HOW_TO = ("the browser test needs Chromium at {path} (on Debian: `apt-get install chromium`, as root; "
          "or point LAMBDALAB_CHROMIUM at a Chromium executable) and the Playwright package "
          "(`pip install -e .[test]`; no browser download is needed). Missing: {missing}.")

# JupyterLab user settings for the run: every cell attached to the DOM (no virtual scrolling,
# so every cell and output can be found), and no news or update toasts over the page.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"fetchNews": "false", "checkForUpdates": False},
}


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item, so fixtures can tell in teardown whether the test failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def chromium() -> str:
    """The Chromium executable, or a skip saying how to get it (a failure under LAMBDALAB_BROWSER_TESTS=required)."""
    missing = []
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        missing.append(f"no executable at {CHROMIUM}")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as error:
        missing.append(f"the playwright package in {sys.prefix} ({error})")
    if missing:
        message = HOW_TO.format(path=CHROMIUM, missing="; ".join(missing))
        if os.environ.get("LAMBDALAB_BROWSER_TESTS", "").strip().lower() == "required":
            pytest.fail(f"LAMBDALAB_BROWSER_TESTS=required (as in CI), but {message}", pytrace=False)
        pytest.skip(f"{message} Set LAMBDALAB_BROWSER_TESTS=required to make this a failure instead of a skip.")
    return CHROMIUM


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _lab_command() -> list[str]:
    script = Path(sys.executable).with_name("jupyter-lab")  # the venv's console script
    return [str(script)] if script.exists() else [sys.executable, "-m", "jupyterlab"]


@dataclass
class Lab:
    """A running JupyterLab server: ``lab.url("lab/tree/x.ipynb")`` is a URL that logs in with the token."""

    process: subprocess.Popen
    port: int
    token: str
    root: Path
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def url(self, path: str = "lab") -> str:
        return f"{self.base}{path}?token={self.token}"

    def api(self, path: str, method: str = "GET", timeout: float = 5) -> dict:
        request = urllib.request.Request(self.base + path, method=method, data=b"" if method == "POST" else None,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else {}

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@pytest.fixture(scope="module")
def lab(chromium, request, tmp_path_factory):
    """One JupyterLab for a test module; each test shuts down the kernels it started (see ``kernels_down``)."""
    tmp_path = tmp_path_factory.mktemp("lab")
    root = tmp_path / "notebooks"
    shutil.copytree(ROOT / "notebooks", root, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    home = tmp_path / "jupyter"  # config, data, runtime, settings and workspaces of this run only
    for name, settings in LAB_SETTINGS.items():
        path = home / "lab-settings" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings))
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "lab-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "IPYTHONDIR": str(home / "ipython"),
        "PYTHONUNBUFFERED": "1",
    }
    port, token, log = _free_port(), secrets.token_hex(16), tmp_path / "jupyterlab.log"
    # through ./start: the course's session, with its kernel, as make lab and Binder run JupyterLab
    command = [str(ROOT / "start"), *_lab_command(), "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={root}", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env=env, cwd=tmp_path, start_new_session=True)
    server = Lab(process, port, token, root, log)
    failed_before = request.session.testsfailed
    try:
        _wait_until_up(server, timeout=60)
        yield server
        if request.session.testsfailed > failed_before:
            print(f"JupyterLab's log ({log}), last lines:\n{server.log_tail()}")
    finally:
        _shut_down(server)


@pytest.fixture
def kernels_down(lab):
    """After the test, shut down every kernel of the server: a course notebook's kernel holds a cloud."""
    yield lab
    for session in lab.api("api/sessions"):
        try:
            lab.api(f"api/sessions/{session['id']}", method="DELETE", timeout=30)
        except OSError:
            pass


def _wait_until_up(lab: Lab, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if lab.process.poll() is not None:
            pytest.fail(f"JupyterLab exited with {lab.process.returncode} before answering:\n{lab.log_tail()}")
        try:
            lab.api("api/status", timeout=2)
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not answer on port {lab.port} within {timeout:.0f} s:\n{lab.log_tail()}")
            time.sleep(0.2)


def _shut_down(lab: Lab) -> None:
    """Ask the server to stop (it shuts its kernels down), then make sure nothing it started is left."""
    try:
        family = [psutil.Process(lab.process.pid), *psutil.Process(lab.process.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        family = []
    try:
        lab.api("api/shutdown", method="POST")
        lab.process.wait(timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        if lab.process.poll() is None:
            os.killpg(lab.process.pid, signal.SIGTERM)
            try:
                lab.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(lab.process.pid, signal.SIGKILL)
                lab.process.wait()
    # Kernels run in sessions of their own (and lambdalab's environments under them): check each one.
    _, alive = psutil.wait_procs(family, timeout=15)
    left = []
    for proc in alive:
        try:
            left.append((proc.pid, proc.cmdline()))
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    assert not left, f"processes left behind after JupyterLab shut down (now killed): {left}"


@pytest.fixture
def page(chromium, request, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # launch() gives the browser a fresh temporary profile (user-data-dir) and removes it on close.
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            page.set_default_timeout(30_000)
            yield page
            report = getattr(request.node, "rep_call", None)
            if report is not None and report.failed:
                shot = tmp_path / "failure.png"
                try:
                    page.screenshot(path=str(shot), full_page=True)
                    print(f"screenshot of the page at the failure: {shot}")
                except Exception as error:  # the page may be gone; the report matters more
                    print(f"no screenshot ({error})")
            context.close()
        finally:
            browser.close()
