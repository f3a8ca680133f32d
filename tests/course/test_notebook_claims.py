"""Cells that demonstrate a claim of the prose beside them, run on their own: the cell still shows what the
text says (a chapter once said the opposite of what the engine does)."""

from __future__ import annotations

import ast
import contextlib
import io
import json
from pathlib import Path

import nbformat
import pandas as pd

import lambdalab
from lambdalab.course import Functions, attempt, policy
from lambdalab.iam.policy import Policy, Principal, Request, evaluate

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def cell(notebook: str, cell_id: str) -> tuple[str, str]:
    """(the code of cell ``cell_id``, the Markdown just before it)."""
    cells = nbformat.read(NOTEBOOKS / notebook, as_version=4).cells
    i = next(i for i, c in enumerate(cells) if c.get("id") == cell_id)
    return cells[i].source, next(c.source for c in reversed(cells[:i]) if c.cell_type == "markdown")


def run(source: str, namespace: dict) -> tuple[object, str]:
    """Run a cell as Jupyter does: (the value of its last expression, what it printed)."""
    tree = ast.parse(source)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(tree, "<cell>", "exec"), namespace)
        value = eval(compile(ast.Expression(last.value), "<cell>", "eval"), namespace) if last else None
    return value, out.getvalue()


def test_01_shows_create_function_refusing_a_role_that_does_not_exist(cloud):
    source, text = cell("01_first_function.ipynb", "first-11b")
    assert "also checks the role" in text and "any well-formed" not in text
    namespace = {"lam": cloud.client("lambda"), "cloud": cloud, "attempt": attempt,
                 "zip_bytes": lambdalab.zip_files("def handler(event, context):\n    return 1\n")}
    _, printed = run(source, namespace)
    assert printed == "InvalidParameterValueException: The role defined for the function cannot be assumed by Lambda.\n"


def test_07_shows_what_a_condition_on_an_absent_key_does(cloud):
    """In AWS (and lambdalab's engine), a negated operator or an ...IfExists one matches when the key is absent."""
    source, text = cell("07_permissions.ipynb", "c07-29b")
    assert "a request without the key is \"not equal\" to any value" in text
    namespace = {"pd": pd, "Policy": Policy, "Principal": Principal, "Request": Request, "evaluate": evaluate,
                 "policy": policy, "ACCOUNT": cloud.account, "json": json}
    table, _ = run(source, namespace)
    assert table.to_dict(orient="index") == {
        "StringEquals": {"from vpc-111bbb22": True, "from vpc-999ccc33": False, "without aws:SourceVpc": False},
        "StringEqualsIfExists": {"from vpc-111bbb22": True, "from vpc-999ccc33": False, "without aws:SourceVpc": True},
        "StringNotEquals": {"from vpc-111bbb22": False, "from vpc-999ccc33": True, "without aws:SourceVpc": True},
    }


def test_07_shows_a_missing_key_denied_without_s3_list_bucket_and_not_found_with_it():
    """A role with s3:GetObject alone gets AccessDenied for a missing key, and NoSuchKey once it may list."""
    _, text = cell("07_permissions.ipynb", "c07-18c")
    assert "`NoSuchKey` (404) only to a caller allowed `s3:ListBucket`" in text
    with lambdalab.start() as cloud:
        namespace = {"json": json, "policy": policy, "cloud": cloud, "fn": Functions(cloud),
                     "iam": cloud.client("iam"), "s3": cloud.client("s3"), "ACCOUNT": cloud.account}
        for cell_id in ("c07-10", "c07-12", "c07-14", "c07-18c"):
            _, printed = run(cell(cell_id=cell_id, notebook="07_permissions.ipynb")[0], namespace)
    alone, listing = printed.splitlines()
    assert alone.startswith("s3:GetObject alone: {'error': 'AccessDenied'") and "s3:ListBucket on resource" in alone
    assert listing == "with s3:ListBucket: {'error': 'NoSuchKey', 'message': 'The specified key does not exist.'}"


def test_03_shows_150_mb_failing_at_150_mb_and_fitting_in_256(cloud):
    """The cell after exercise 3 shows its answer happen; the exercise's expected answer is that size."""
    from lambdalab.checks import ch03

    source, _ = cell("03_configuration_and_limits.ipynb", "c03-48")
    _, printed = run(source, {"fn": Functions(cloud)})
    at_150, at_256 = printed.splitlines()
    assert at_150.startswith("150 MB: Runtime.OutOfMemory") and at_256.startswith("256 MB: {'MB': 150}")
    assert ch03.q3.bind(cloud).check(256) and not ch03.q3.bind(cloud).check(150)


def test_08_simulates_a_whole_calendar_month_and_bills_it_as_that_month():
    """AWS bills a calendar month: 30 days simulated from January 1 were billed as a January without its 31st."""
    from datetime import datetime, timezone

    from lambdalab import billing, sim

    source, text = cell("08_billing.ipynb", "4db03ca7")
    assert "April (30 days)" in text
    namespace = {"sim": sim, "billing": billing, "datetime": datetime, "timezone": timezone}
    run(source, namespace)
    starts = namespace["summary"]["start"]
    first, last = pd.Timestamp("2026-04-01", tz="UTC"), pd.Timestamp("2026-04-30 23:59", tz="UTC")
    assert (starts.min(), starts.max()) == (first, last)  # per-minute rows, the whole month
    assert set(namespace["items"]["month"]) == {"2026-04"}
