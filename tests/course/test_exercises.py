"""Every exercise of every chapter: its solution passes, its typical wrong answer fails, a blank is unattempted."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import lambdalab
import lambdalab.checks as checks
from lambdalab.checks import Exercise, ____


def all_exercises() -> list[tuple[str, Exercise]]:
    found = []
    for info in pkgutil.iter_modules(checks.__path__):
        module = importlib.import_module(f"lambdalab.checks.{info.name}")
        found += [(f"{info.name}.{name}", ex) for name, ex in vars(module).items() if isinstance(ex, Exercise)]
    return found


def run(code: str, exercise: Exercise, cloud) -> dict:
    namespace = {"cloud": cloud, "lam": cloud.client("lambda"), "lambdalab": lambdalab, "____": ____,
                 **exercise.setup}
    exec(compile(code, f"<{exercise.name}>", "exec"), namespace)
    return namespace


EXERCISES = all_exercises()


def test_there_are_exercises():
    assert EXERCISES, "no exercise found in lambdalab.checks"


@pytest.mark.parametrize(("qualname", "exercise"), EXERCISES, ids=[q for q, _ in EXERCISES])
def test_solution_passes_and_typical_mistake_fails(qualname, exercise, cloud):
    assert exercise.check({"____": ____}).status == "unattempted"
    blanks = {v: ____ for v in exercise.variables}
    assert exercise.check(blanks).status == "unattempted"
    solved = exercise.check(run(exercise.solution_code, exercise, cloud))
    assert solved.status == "correct", solved.message
    wrong = exercise.check(run(exercise.wrong_code, exercise, cloud))
    assert wrong.status == "incorrect"
    assert len(wrong.message) > 15, "a wrong answer deserves a reason that helps"
    assert exercise.hint_text and exercise.hint()._repr_html_()
