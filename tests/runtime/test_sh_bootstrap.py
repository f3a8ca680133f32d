"""A ``#!/bin/sh`` bootstrap runs as it would on Amazon Linux, where /bin/sh is bash."""

from __future__ import annotations

import os
import shutil
import stat

import pytest

from lambdalab.runtimes import command

BASH_ONLY = "#!/bin/sh{arg}\nset -o pipefail\necho ok\n"


def bootstrap(tmp_path, text: str, mode: int = 0o755):
    path = tmp_path / "bootstrap"
    path.write_text(text)
    path.chmod(mode)
    return path


needs_dash = pytest.mark.skipif(shutil.which("bash") is None or
                                os.path.realpath("/bin/sh") == os.path.realpath(shutil.which("bash") or ""),
                                reason="this machine's /bin/sh is bash already (or it has no bash): nothing to do")


@needs_dash
def test_a_sh_script_runs_with_bash_and_keeps_its_shebang_argument(tmp_path):
    path = bootstrap(tmp_path, BASH_ONLY.format(arg=" -e"))
    assert command("provided.al2023", tmp_path) == [shutil.which("bash"), "-e", str(path)]
    path = bootstrap(tmp_path, BASH_ONLY.format(arg=""))
    assert command("provided.al2023", tmp_path) == [shutil.which("bash"), str(path)]


def test_other_bootstraps_are_executed_as_they_are(tmp_path):
    for text in ("#!/bin/shell\necho\n", "#!/usr/bin/env python3\n", "\x7fELF"):
        path = bootstrap(tmp_path, text)
        assert command("provided.al2023", tmp_path) == [str(path)]
    path = bootstrap(tmp_path, BASH_ONLY.format(arg=""), mode=0o644)  # not executable: AWS's error, not ours
    assert not path.stat().st_mode & stat.S_IXUSR
    assert command("provided.al2023", tmp_path) == [str(path)]
