"""What the notebooks say, read without running them: links follow the chapters that exist, Markdown
renders as written, facts agree between chapters, and every chapter leaves nothing running."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("[0-9][0-9]_*.ipynb"))
IDS = [path.name for path in NOTEBOOKS]


def cells(path: Path, kind: str) -> list[str]:
    return [cell.source for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == kind]


def number(path: Path) -> str:
    return path.name[:2]


LINK = re.compile(r"\]\(([^)\s]+\.ipynb)\)")
NAV = re.compile(r"(?:\*\*)?(Previous|Next):(?:\*\*)?(.*?)(?=(?:\*\*)?(?:Previous|Next):|\n\n|\Z)", re.S)


def test_the_course_has_its_chapters():
    assert [number(p) for p in NOTEBOOKS][:4] == ["00", "01", "02", "03"] and len(NOTEBOOKS) >= 6


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_previous_and_next_follow_the_chapters_that_exist(path):
    i = NOTEBOOKS.index(path)
    before = NOTEBOOKS[i - 1].name if i > 0 else None
    after = NOTEBOOKS[i + 1].name if i + 1 < len(NOTEBOOKS) else None
    seen = {"Previous": 0, "Next": 0}
    for text in cells(path, "markdown"):
        for which, segment in NAV.findall(text):
            seen[which] += 1
            links = LINK.findall(segment)
            target = before if which == "Previous" else after
            if target is None:
                assert not links, f"{path.name}: {which} links {links}, but no chapter comes {which.lower()}"
            else:
                assert links[:1] == [target], (
                    f"{path.name}: {which} should link the {which.lower()} chapter that exists, {target}, "
                    f"not {links or 'nothing'}: {segment.strip()!r}")
    assert seen["Previous"] >= (1 if before else 0) and seen["Next"] >= 1, f"{path.name} links: {seen}"
    if before is None:
        assert seen["Previous"] == 0


def test_the_map_links_every_chapter_that_exists_and_only_those():
    welcome = "\n".join(cells(NOTEBOOKS[0], "markdown"))
    rows = {m[1]: m[0] for m in re.finditer(r"^\| (\d\d) \|.*\|$", welcome, re.M)}
    assert sorted(rows) == [f"{n:02d}" for n in range(13)], "the map has a row per chapter, 00 to 12"
    existing = {number(p): p.name for p in NOTEBOOKS}
    for chapter, row in rows.items():
        links, status = LINK.findall(row), row.strip(" |").rsplit("|", 1)[-1].strip()
        if chapter == "00":
            assert status == "you are here"
        elif chapter in existing:
            assert links == [existing[chapter]] and status == "ready", f"map row {chapter}: {row}"
        else:
            assert not links and status == "coming", f"map row {chapter}: {row}"


def test_the_readme_lists_the_chapters_that_exist_and_calls_only_the_others_coming():
    readme = (NOTEBOOKS[0].parents[1] / "README.md").read_text()
    existing = {number(p) for p in NOTEBOOKS}
    assert set(re.findall(r"^\| (\d\d) ", readme, re.M)) == existing, "the README's table of chapters"
    [coming] = re.findall(r"^Chapters ([^(]*) \(.*\) come next\.", readme, re.M)
    named = set()
    for first, last in re.findall(r"(\d\d)(?:-(\d\d))?", coming):
        named |= {f"{n:02d}" for n in range(int(first), int(last or first) + 1)}
    assert named and not named & existing, f"the README calls {sorted(named & existing)} coming"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_link_to_a_notebook_finds_it(path):
    for text in cells(path, "markdown"):
        for target in LINK.findall(text):
            assert (path.parent / target).is_file(), f"{path.name} links {target}, which does not exist"


def unescaped_dollars(markdown: str) -> int:
    """``$`` signs that JupyterLab would read as LaTeX delimiters: outside code, not written ``\\$``."""
    prose = re.sub(r"```.*?```", "", markdown, flags=re.S)
    prose = re.sub(r"`[^`\n]*`", "", prose)
    return len(re.findall(r"(?<!\\)\$", prose))


def test_unescaped_dollars_are_counted_as_jupyterlab_reads_them():
    assert unescaped_dollars("costs $0.20 per million and $0.0000002 each") == 2
    assert unescaped_dollars(r"costs \$0.20 per million and \$0.0000002 each, `${aws:username}`") == 0


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_prices_are_not_typeset_as_mathematics(path):
    """Two `$` in one Markdown cell make JupyterLab typeset everything between them as LaTeX."""
    for text in cells(path, "markdown"):
        if "$$" not in text:
            assert unescaped_dollars(text) < 2, f"{path.name}: write prices as \\$ in this cell:\n{text[:300]}"


BARE_INIT = re.compile(r"Init Duration is (?:about |typically )?(\d+) ?(?:to|-|\u2013) ?(\d+) ms")


def test_the_init_duration_of_a_bare_python_function_is_the_same_figure_everywhere():
    """AWS's cold starts of a bare Python function, measured daily (Python 3.9 to 3.13): 67 to 91 ms."""
    found = {path.name: BARE_INIT.findall(" ".join(" ".join(cells(path, "markdown")).split())) for path in NOTEBOOKS}
    quoted = {name: ranges for name, ranges in found.items() if ranges}
    assert {"01_first_function.ipynb", "02_execution_environment.ipynb"} <= set(quoted)
    for name, ranges in quoted.items():
        assert set(ranges) == {("67", "91")}, f"{name} says {ranges}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_each_chapter_ends_by_stopping_its_cloud_and_asking_for_the_kernel_to_be_shut_down(path):
    nb = nbformat.read(path, as_version=4)
    last_code = [c for c in nb.cells if c.cell_type == "code"][-1]
    assert last_code.source.strip() == "cloud.stop()"
    closing = [c.source for c in nb.cells[: nb.cells.index(last_code)] if c.cell_type == "markdown"][-1]
    assert "Kernel → Shut Down Kernel" in closing, f"{path.name}'s last words should say to shut the kernel down"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_figures_are_drawn_with_graph_objects(path):
    """plotly express's first figure copies its template with validation, which imports the classes of every
    trace type the template styles (212 modules): 9 MB a chapter's kernel keeps, for one figure."""
    code = "\n".join(cells(path, "code"))
    express = re.compile(r"^\s*(?:import plotly\.express|from plotly\.express import|from plotly import express)", re.M)
    assert not express.search(code), (
        f"{path.name} imports plotly express: draw with plotly.graph_objects (docs/adding-a-chapter.md)")


def test_the_welcome_says_why_kernels_must_be_shut_down():
    welcome = " ".join(" ".join(cells(NOTEBOOKS[0], "markdown")).split())
    assert "Closing a notebook's tab does not stop its kernel" in welcome
    assert "1 to 2 GB" in welcome


DEPLOYED = re.compile(r"(?:fn|dev)\.deploy\(\s*\"([^\"]+)\"|create_function\(FunctionName=\"([^\"]+)\"")
DELETED = re.compile(r"fn\.delete\(([^)]*)\)")


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if number(p) not in ("00", "01")],
                         ids=[p.name for p in NOTEBOOKS if number(p) not in ("00", "01")])
def test_functions_are_deleted_before_the_exercises(path):
    """Each section deletes its functions, so that a chapter never keeps environments it no longer needs
    (Binder's 1-2 GB). Calls made inside attempt(...) are refused on purpose and create nothing."""
    code = nbformat.read(path, as_version=4).cells
    markdown_index = next(i for i, c in enumerate(code)
                          if c.cell_type == "markdown" and c.source.startswith("## Exercises"))
    source = "\n".join(c.source for c in code[:markdown_index] if c.cell_type == "code")
    made = {a or b for line in source.splitlines() if "attempt(" not in line for a, b in DEPLOYED.findall(line)}
    made |= {"memory-explorer", "memory-sweep"} if "MemoryExplorer(" in source else set()
    deleted = {name for args in DELETED.findall(source) for name in re.findall(r"\"([^\"]+)\"", args)}
    assert made, path.name
    assert not made - deleted, f"{path.name} leaves {sorted(made - deleted)} running into the exercises"
