"""The course's Jupyter settings (.jupyter/): a kernel left running with its tab closed is shut down.

A chapter's kernel holds its cloud, and closing a notebook's tab leaves the kernel running; on a
1-2 GB Binder a few of them fill the session. The course's server configuration culls a kernel
that has had no tab connected and no activity for 15 minutes, and never one a tab is open on.
Binder reads it as ``~/.jupyter`` (the repository is the home directory there); ``make lab``
points ``JUPYTER_CONFIG_PATH`` at it. These tests load it both ways, then run a Jupyter server with
it (its timers shortened) and watch a closed tab's kernel go while an open one stays.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / ".jupyter"
JUPYTER = Path(sys.executable).with_name("jupyter")
CULLING = {"cull_idle_timeout": 900, "cull_interval": 60, "cull_connected": False, "cull_busy": False}


def isolated_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """An environment in which only the configuration under test is Jupyter's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {**env, "HOME": str(home), "JUPYTER_CONFIG_DIR": str(home / ".jupyter"),
            "JUPYTER_DATA_DIR": str(home / "data"), "JUPYTER_RUNTIME_DIR": str(home / "runtime"), **extra}


def loaded_config(env: dict[str, str]) -> dict:
    """The configuration a Jupyter server starts with, as it reads it from its files."""
    out = subprocess.run([str(JUPYTER), "server", "--show-config-json"], env=env, capture_output=True, text=True,
                         timeout=60, check=True).stdout
    return json.loads(out)


def test_binder_reads_the_course_settings_from_its_home(tmp_path):
    env = isolated_env(tmp_path)
    shutil.copytree(CONFIG, env["JUPYTER_CONFIG_DIR"])  # what repo2docker's copy of the repository is
    assert loaded_config(env)["MappingKernelManager"] == CULLING


def test_make_lab_points_jupyter_at_the_course_settings(tmp_path):
    plan = subprocess.run(["make", "-s", "-n", "lab"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          check=True).stdout.strip().splitlines()[-1]
    assignments = dict(word.split("=", 1) for word in shlex.split(plan) if "=" in word and not word.startswith("-"))
    env = isolated_env(tmp_path, JUPYTER_CONFIG_PATH=assignments["JUPYTER_CONFIG_PATH"])
    assert loaded_config(env)["MappingKernelManager"] == CULLING


class Server:
    def __init__(self, process: subprocess.Popen, port: int, token: str) -> None:
        self.process, self.port, self.token = process, port, token

    def api(self, path: str, method: str = "GET") -> object:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"},
                                         data=b"{}" if method == "POST" else None)
        with urllib.request.urlopen(request, timeout=30) as answer:
            body = answer.read()
        return json.loads(body) if body else None

    def kernel_ids(self) -> set[str]:
        return {kernel["id"] for kernel in self.api("api/kernels")}


@pytest.fixture
def server(tmp_path):
    """A Jupyter server with the course's settings, its culling timers shortened to seconds."""
    env = isolated_env(tmp_path)
    shutil.copytree(CONFIG, env["JUPYTER_CONFIG_DIR"])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = secrets.token_hex(16)
    command = [str(JUPYTER), "server", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path}",
               "--MappingKernelManager.cull_idle_timeout=3", "--MappingKernelManager.cull_interval=1"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               start_new_session=True)
    running = Server(process, port, token)
    try:
        wait_for(lambda: _answers(running), 60, "the Jupyter server never answered")
        yield running
    finally:
        family = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
        process.terminate()
        _, alive = psutil.wait_procs(family, timeout=20)
        for proc in alive:
            proc.kill()
        log.close()
        assert not alive, f"left behind by the Jupyter server: {[p.pid for p in alive]}"


def _answers(server: Server) -> bool:
    try:
        server.api("api/status")
        return True
    except OSError:
        return False


def wait_for(condition, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(0.2)


def test_a_kernel_whose_tab_is_closed_is_shut_down_and_an_open_one_stays(server):
    from tornado.ioloop import IOLoop
    from tornado.websocket import websocket_connect

    closed, open_ = (server.api("api/kernels", method="POST")["id"] for _ in range(2))

    async def watch_with_a_tab_open() -> tuple[set[int], set[str]]:
        # the way JupyterLab holds a notebook's kernel: a websocket on its channels, kept open
        url = f"ws://127.0.0.1:{server.port}/api/kernels/{open_}/channels?token={server.token}"
        connection = await websocket_connect(url)
        try:
            deadline = time.monotonic() + 30
            while len(kernels := psutil.Process(server.process.pid).children(recursive=True)) < 2:
                assert time.monotonic() < deadline, "the two kernels' processes never appeared"
                await _sleep(0.1)
            while closed in server.kernel_ids() and time.monotonic() < deadline:
                await _sleep(0.2)
            await _sleep(4)  # longer than the idle timeout: the connected kernel would be culled by now
            _, running = psutil.wait_procs(kernels, timeout=10)  # the culled one's process ends
            return len(running), server.kernel_ids()
        finally:
            connection.close()

    running, left = IOLoop.current().run_sync(watch_with_a_tab_open, timeout=60)
    assert closed not in left, "the kernel with no tab was not shut down"
    assert open_ in left, "the kernel with its tab open was shut down"
    assert running == 1, f"{running} kernel processes run, not the open tab's alone"


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)
