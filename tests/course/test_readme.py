"""The README's "Use it from Python" and "Use it from the AWS CLI" sections run as they are written."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import lambdalab

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def blocks(section: str, language: str) -> list[str]:
    """The fenced ``language`` blocks of the README section whose heading is ``section``."""
    body = README.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", body, re.S)


def test_the_python_example_runs_and_waits_for_the_function_as_aws_requires():
    (code,) = blocks("Use it from Python", "python")
    assert 'get_waiter("function_active_v2").wait(FunctionName="hello")' in code
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    printed = out.getvalue()
    assert "{'hello': 'Lambda'}" in printed
    assert re.search(r"^START RequestId: \S+ Version: \$LATEST$", printed, re.M)
    assert re.search(r"^REPORT RequestId: .*\tBilled Duration: \d+ ms", printed, re.M)
    assert re.search(r"^AccessDeniedException: User: arn:aws:iam::\d+:user/alice is not authorized", printed, re.M)


AWS = Path(sys.executable).with_name("aws")


@pytest.fixture
def cli(tmp_path):
    """A shell as the README's second terminal: the venv first on PATH, the cloud's exports, no AWS config."""
    if not AWS.exists():
        pytest.skip(f"the AWS CLI is not installed in {AWS.parent} (the test extra installs it: make test)")
    with lambdalab.start() as cloud:
        env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
        env.update(cloud.environ(), PATH=f"{AWS.parent}{os.pathsep}{env.get('PATH', '')}", AWS_PAGER="",
                   AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))

        def run(script: str) -> subprocess.CompletedProcess:
            return subprocess.run([shutil.which("bash") or "/bin/bash", "-e", "-c", script], env=env, cwd=tmp_path,
                                  capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)

        yield run


def test_the_cli_example_runs_with_the_aws_cli_that_make_test_installs(cli, tmp_path):
    start, commands = blocks("Use it from the AWS CLI", "bash")
    assert "lambdalab serve" in start and "source .venv/bin/activate" in commands
    script = commands.replace("source .venv/bin/activate\n", "")  # the fixture's PATH stands for it
    result = cli(script)
    assert result.returncode == 0, f"the README's commands failed:\n{result.stdout}\n{result.stderr}"
    assert json.loads((tmp_path / "response.json").read_text()) == {"hello": "CLI"}
    assert '{"hello": "CLI"}' in result.stdout  # what `cat response.json` shows


def test_what_the_readme_says_about_inline_payloads_holds_for_cli_version_1(cli, tmp_path):
    version = cli("aws --version")
    if not (version.stdout + version.stderr).startswith("aws-cli/1."):
        pytest.skip(f"this checks the README's sentences about version 1; installed: {version.stdout.strip()}")
    made = cli("printf 'def handler(event, context):\\n    return event\\n' > app.py\n"
               "python -m zipfile -c function.zip app.py\n"
               "aws lambda create-function --function-name echo --runtime python3.12 --handler app.handler "
               "--role arn:aws:iam::123456789012:role/lambda-role --zip-file fileb://function.zip\n"
               "aws lambda wait function-active-v2 --function-name echo")
    assert made.returncode == 0, made.stderr
    inline = cli("""aws lambda invoke --function-name echo --payload '{"name": "CLI"}' inline.json""")
    assert inline.returncode == 0 and json.loads((tmp_path / "inline.json").read_text()) == {"name": "CLI"}
    v2_only = cli("""aws lambda invoke --function-name echo --cli-binary-format raw-in-base64-out """
                  """--payload '{"name": "CLI"}' v2.json""")
    assert v2_only.returncode != 0 and "Unknown options" in v2_only.stderr
    assert "Unknown options" in README and "fileb://event.json" in README
