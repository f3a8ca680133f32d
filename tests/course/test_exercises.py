"""Every exercise of every chapter: its solution passes, its typical mistake fails with a reason, a blank is
not attempted; and each notebook binds and calls its chapter's exercises as the exercises declare."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import nbformat
import pytest

import lambdalab
import lambdalab.checks as checks
from lambdalab.checks import Chapter, Exercise, ____
from lambdalab.course import Functions

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def chapters() -> dict[str, Chapter | Exercise]:
    """Chapter module name (ch00, ch01, ...) -> its Chapter (or its only exercise, for ch00)."""
    found = {}
    for info in pkgutil.iter_modules(checks.__path__):
        if re.fullmatch(r"ch\d\d", info.name):
            module = importlib.import_module(f"lambdalab.checks.{info.name}")
            found[info.name] = getattr(module, "exercises", None) or module.q1
    return found


CHAPTERS = chapters()
EXERCISES = [(f"{name}.q{i}", ex) for name, chapter in CHAPTERS.items()
             for i, ex in enumerate(chapter.exercises if isinstance(chapter, Chapter) else (chapter,), start=1)]


def run(code: str, exercise: Exercise, cloud) -> dict:
    """Run the exercise cell's code (its setup, then ``code``) as the notebook would, in a namespace of its own."""
    namespace = {"cloud": cloud, "lam": cloud.client("lambda"), "fn": Functions(cloud), "lambdalab": lambdalab,
                 "____": ____, **exercise.given}
    exec(compile(exercise.setup + code, f"<{exercise.name}>", "exec"), namespace)
    return namespace


def answer_of(namespace: dict, exercise: Exercise) -> tuple:
    return (namespace[exercise.answer], *(namespace[fact] for fact in exercise.facts))


def test_there_are_exercises():
    assert len(CHAPTERS) >= 6 and EXERCISES


@pytest.mark.parametrize(("qualname", "exercise"), EXERCISES, ids=[q for q, _ in EXERCISES])
def test_solution_passes_and_typical_mistake_fails(qualname, exercise, cloud):
    q = exercise.bind(cloud)
    assert q.check().status == "unattempted"
    blank = q.check(*answer_of(run(f"{exercise.answer} = ____\n", exercise, cloud), exercise))
    assert blank.status == "unattempted", blank.message

    solved = q.check(*answer_of(run(exercise.solution, exercise, cloud), exercise))
    assert solved.status == "correct", solved.message

    wrong = q.check(*answer_of(run(exercise.mistake, exercise, cloud), exercise))
    assert wrong.status == "incorrect"
    assert len(wrong.message) > 30, "a wrong answer deserves a reason that helps"
    for shown in (wrong, solved, q.hint(), q.hint(), q.solution()):
        assert "`" not in shown._repr_html_() or shown.code, f"a literal backtick in {shown!r}"
        assert "`" not in repr(shown) or shown.code


@pytest.mark.parametrize(("qualname", "exercise"), EXERCISES, ids=[q for q, _ in EXERCISES])
def test_each_exercise_has_several_hints_given_one_at_a_time(qualname, exercise):
    q = exercise.bind()
    assert len(exercise.hints) >= 2
    shown = [q.hint().message for _ in exercise.hints]
    assert [s.split(" (call hint() again")[0] for s in shown] == list(exercise.hints)
    assert q.hint(1).title == f"Hint 1 of {len(exercise.hints)}"


def notebook_of(chapter: str) -> tuple[Path, str]:
    (path,) = NOTEBOOKS.glob(f"{chapter[2:]}_*.ipynb")
    nb = nbformat.read(path, as_version=4)
    return path, "\n".join(cell.source for cell in nb.cells if cell.cell_type == "code")


@pytest.mark.parametrize("chapter", sorted(CHAPTERS))
def test_the_notebook_binds_its_exercises_and_checks_each_answer_as_declared(chapter):
    path, code = notebook_of(chapter)
    declared = CHAPTERS[chapter]
    exercises = declared.exercises if isinstance(declared, Chapter) else (declared,)
    names = [f"q{i}" for i in range(1, len(exercises) + 1)]
    binding = (f"{', '.join(names)} = {chapter}.exercises.bind(cloud)" if isinstance(declared, Chapter)
               else f"q1 = {chapter}.q1.bind(cloud)")
    assert f"from lambdalab.checks import ____, {chapter}" in code, path.name
    assert binding in code, f"{path.name} should bind its exercises explicitly: {binding}"
    for name, exercise in zip(names, exercises, strict=True):
        call = f"{name}.check({', '.join((exercise.answer, *exercise.facts))})"
        assert call in code, f"{path.name} should call {call}"
        assert re.search(rf"^({re.escape(exercise.answer)} = |def {re.escape(exercise.answer)}\()", code, re.M), (
            f"{path.name} should leave `{exercise.answer}` for the learner to complete")
        assert exercise.setup in code, f"{path.name} should run {exercise.name}'s setup as it is:\n{exercise.setup}"
