"""The isolation suite again, as an unprivileged user, so that CI (root) covers what learners get.

Root and non-root get different protections (a uid per environment against Landlock and user
namespaces), so the same attacks must be refused both ways. Run as root, this test starts pytest
on the isolation tests as ``nobody`` (65534) against fresh clouds. When the Python installation
lives where other users cannot go (``/root/.pyenv``), the run gets a mount namespace that shows
``nobody`` just that, as lambdalab does for its sandboxes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from lambdalab.sandbox import linux
from lambdalab.sandbox.isolation import _python_paths, exposure_plan

NOBODY = 65534
REPO = Path(__file__).resolve().parents[2]
SUITE = ["tests/test_isolation.py", "tests/test_cleanup.py", "tests/sandbox", "tests/test_limits.py::"
         "test_fork_bomb_is_contained_and_leaves_nothing"]
LAUNCH = """
import json, os, sys
sys.path.insert(0, {sandbox!r})
import linux
plan, uid, argv, env = json.loads(sys.argv[1])
if plan:
    try:
        linux.expose(plan)
    except PermissionError as e:
        print(f"mount namespaces are refused here ({{e}})")
        sys.exit(77)
os.setgroups([])
os.setresgid(uid, uid, uid)
os.setresuid(uid, uid, uid)
os.execve(argv[0], argv, env)
"""


@pytest.mark.timeout(900)
@pytest.mark.skipif(os.geteuid() != 0, reason="already unprivileged: the suite itself is the unprivileged run")
def test_the_isolation_suite_passes_as_an_unprivileged_user():
    home = Path(tempfile.mkdtemp(prefix="lambdalab-nobody-"))
    try:
        os.chown(home, NOBODY, NOBODY)
        plan, why_not = exposure_plan(dict.fromkeys([*_python_paths(), str(REPO)], 0o005))
        assert not why_not, why_not
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "TMPDIR": str(home),
               "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}
        argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", *SUITE]
        launch = LAUNCH.format(sandbox=str(Path(linux.__file__).parent))
        done = subprocess.run([sys.executable, "-c", launch, json.dumps([plan, NOBODY, argv, env])], cwd=REPO,
                              capture_output=True, text=True, timeout=850)
        report = done.stdout[-6000:] + done.stderr[-2000:]
        if done.returncode == 77:  # the container, not lambdalab: say what to change
            pytest.skip(f"nobody cannot reach {', '.join(b for b, _ in plan)} and {done.stdout.strip()}: "
                        "install Python where other users can read it to run this test")
        assert done.returncode == 0, report
        assert "already unprivileged" in done.stdout  # this very test, skipped: the run was not root
        assert int(re.search(r"(\d+) passed", done.stdout)[1]) >= 20, report
    finally:
        shutil.rmtree(home, ignore_errors=True)
