"""lambdalab.sandbox.linux: Landlock rulesets do what they say, on this kernel's ABI and on older ones.

Each case runs in a fresh interpreter (a restriction is for good, and this test process has
threads), which applies a ruleset and reports what it could still do.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lambdalab.sandbox import linux

ABI, WHY_NOT = linux.landlock_abi()
SANDBOX_DIR = str(Path(linux.__file__).parent)
needs_landlock = pytest.mark.skipif(ABI == 0, reason=f"Landlock is unavailable here: {WHY_NOT}")


def restricted(tmp_path: Path, rules: str, probe: str, version: int = ABI) -> dict:
    """Run ``probe`` (which fills ``out``) after enforcing ``rules`` on ``ruleset``; returns ``out``."""
    head = textwrap.dedent(f"""
        import json, os, socket, sys
        sys.path.insert(0, {SANDBOX_DIR!r})
        import linux
        ruleset = linux.Ruleset({version})
        for path in (sys.prefix, sys.base_prefix, "/usr", "/lib", "/lib64", "/etc"):
            ruleset.allow_path(path, linux.READ_EXEC)
        out = {{}}
        def attempt(name, action):
            try:
                action()
                out[name] = "ok"
            except OSError as e:
                out[name] = e.strerror
    """)
    script = head + textwrap.dedent(rules) + "\nruleset.enforce()\n" + textwrap.dedent(probe) + \
        "\nprint(json.dumps(out))\n"
    done = subprocess.run([sys.executable, "-S", "-c", script], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_abi_is_reported_with_a_reason_when_missing():
    assert isinstance(ABI, int) and ABI >= 0
    assert (ABI == 0) == bool(WHY_NOT)


def test_file_system_rights_grow_with_the_abi():
    assert linux.fs_rights(1) == (1 << 13) - 1
    assert linux.fs_rights(2) == linux.fs_rights(1) | linux.REFER
    assert linux.fs_rights(4) == linux.fs_rights(3) == linux.fs_rights(2) | linux.TRUNCATE
    assert linux.fs_rights(7) == linux.fs_rights(5) == linux.fs_rights(3) | linux.IOCTL_DEV


@needs_landlock
def test_files_outside_the_rules_are_refused(tmp_path):
    (tmp_path / "own").mkdir()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "secret").write_text("x")
    out = restricted(tmp_path, f"""
        ruleset.allow_path({str(tmp_path / "own")!r}, linux.READ_WRITE)
    """, f"""
        attempt("write own", lambda: open({str(tmp_path / "own" / "f")!r}, "w").write("hi"))
        attempt("read other", lambda: open({str(tmp_path / "other" / "secret")!r}).read())
        attempt("write other", lambda: open({str(tmp_path / "other" / "new")!r}, "w"))
        attempt("list other", lambda: os.listdir({str(tmp_path / "other")!r}))
        attempt("read /etc", lambda: open("/etc/hostname").read())
        attempt("write /etc", lambda: open("/etc/lambdalab-test", "w"))
    """)
    assert out == {"write own": "ok", "read other": "Permission denied", "write other": "Permission denied",
                   "list other": "Permission denied", "read /etc": "ok", "write /etc": "Permission denied"}
    assert (tmp_path / "own" / "f").read_text() == "hi"


@needs_landlock
def test_another_process_environ_and_memory_are_refused(tmp_path):
    out = restricted(tmp_path, 'ruleset.allow_path("/proc", linux.READ)', f"""
        attempt("environ of the parent", lambda: open("/proc/{os.getpid()}/environ").read())
        attempt("memory of the parent", lambda: open("/proc/{os.getpid()}/mem", "rb"))
        attempt("cwd of the parent", lambda: os.listdir("/proc/{os.getpid()}/cwd"))
        attempt("own environ", lambda: open("/proc/self/environ").read())
    """)
    # As root (CAP_SYS_PTRACE) this kernel still lets PTRACE_MODE_READ through: environ stays readable,
    # which is why lambdalab runs each environment as a user of its own when it is root.
    environ = "ok" if os.geteuid() == 0 else "Permission denied"
    assert out == {"environ of the parent": environ, "memory of the parent": "Permission denied",
                   "cwd of the parent": "Permission denied", "own environ": "ok"}


@pytest.mark.skipif(ABI < 4, reason=f"Landlock network rules need ABI 4 (this kernel: {ABI})")
def test_tcp_connect_only_to_allowed_ports(tmp_path):
    allowed, refused = socket.create_server(("127.0.0.1", 0)), socket.create_server(("127.0.0.1", 0))
    with allowed, refused:
        a, r = allowed.getsockname()[1], refused.getsockname()[1]
        probe = f"""
            attempt("allowed", lambda: socket.create_connection(("127.0.0.1", {a})).close())
            attempt("refused", lambda: socket.create_connection(("127.0.0.1", {r})).close())
            attempt("listen", lambda: socket.create_server(("127.0.0.1", 0)).close())
        """
        out = restricted(tmp_path, f"ruleset.allow_ports([{a}])", probe)
        assert out == {"allowed": "ok", "refused": "Permission denied", "listen": "ok"}
        assert restricted(tmp_path, f"ruleset.allow_ports([{a}])", probe, version=3)["refused"] == "ok"


@pytest.mark.skipif(ABI < 6, reason=f"Landlock scopes need ABI 6 (this kernel: {ABI})")
def test_signals_and_abstract_sockets_stay_inside(tmp_path):
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    name = f"\0lambdalab-test-{os.getpid()}"
    listener.bind(name)
    listener.listen()
    probe = f"""
        attempt("signal the parent", lambda: os.kill({os.getpid()}, 0))
        attempt("signal itself", lambda: os.kill(os.getpid(), 0))
        attempt("abstract socket", lambda: socket.socket(socket.AF_UNIX).connect({name!r}))
    """
    with listener:
        out = restricted(tmp_path, "", probe)
        assert out == {"signal the parent": "Operation not permitted", "signal itself": "ok",
                       "abstract socket": "Operation not permitted"}
        older = restricted(tmp_path, "", probe, version=5)
        assert older == {"signal the parent": "ok", "signal itself": "ok", "abstract socket": "ok"}
