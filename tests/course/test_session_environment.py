"""The course's Jupyter session runs through the repository's ``start``: what it sets, and who runs it.

Binder runs ``start`` before JupyterLab (repo2docker's convention for a start-up script), ``make lab``
runs JupyterLab through it, and bench/memory.py measures the chapters in kernels started with what
it leaves. It caps glibc's malloc arenas at two, so that the cloud's threads in a chapter's kernel
share the memory they free (docs/budget.md has the figures). A handler's environment stays Lambda's:
test_isolation checks that nothing of the notebook's reaches it.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
START = ROOT / "start"


def test_start_runs_its_command_in_the_session_environment():
    show = "import os, sys; print(os.environ.get('MALLOC_ARENA_MAX')); sys.exit(3)"
    done = subprocess.run([str(START), sys.executable, "-c", show], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "2"
    assert done.returncode == 3  # start gives way to the command (exec), whose status is the session's


def test_make_lab_runs_jupyterlab_through_start():
    plan = subprocess.run(["make", "-s", "-n", "lab"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          check=True).stdout.strip().splitlines()[-1]
    words = shlex.split(plan)
    at = words.index(str(START))
    assert Path(words[at + 1]).name == "jupyter" and words[at + 2] == "lab"
    assert all("=" in word for word in words[:at])  # only the environment comes before it


def test_the_memory_benchmark_starts_kernels_in_the_session_environment():
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import memory
    finally:
        sys.path.remove(str(ROOT / "bench"))
    env = memory.session_environment()
    assert env["MALLOC_ARENA_MAX"] == "2"
    assert env["PATH"]  # the rest of this environment, as start leaves it
