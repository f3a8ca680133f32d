"""Exercises that check themselves, in the manner of Kaggle's learntools, declared rather than hand-written.

A chapter module (``lambdalab.checks.ch01`` ...) declares its exercises and a :class:`Chapter` of
them; a notebook binds the chapter to its cloud and passes each answer explicitly::

    from lambdalab.checks import ____, ch01
    q1, q2, q3 = ch01.exercises.bind(cloud)

    q1_source = ____          # the learner replaces the blank
    q1.check(q1_source)       # Correct / Incorrect (with a reason) / Not attempted yet
    q1.hint()                 # the next hint; q1.hint(2) the second one
    q1.solution()

An :class:`Exercise` is data: the variable the learner fills in, how it is judged, hints, a
solution and a typical mistake (both as code, so the tests prove that the solution passes and the
mistake fails). The judges, in :mod:`lambdalab.checks.judges`, are a small vocabulary: an
expected value (:class:`~lambdalab.checks.judges.Expect`), calls of the learner's function
(:class:`~lambdalab.checks.judges.Calls`), and test cases that deploy the learner's handler and
compare what it answers (:class:`~lambdalab.checks.judges.Deploys`). Anything else is a plain
function ``judge(ctx, answer, *facts) -> reason or None``, with a :class:`Context` that deploys
in the learner's cloud and deletes what it made afterwards. A chapter's module is then mostly
words::

    q1 = Exercise(
        name="ch04.q1", answer="status",
        judge=Expect(202, kind=int, mistakes={200: "200 is a synchronous invoke's status."}),
        hints=("What does Invoke answer when it only queues the event?", "Look at StatusCode."),
        solution="status = 202", mistake="status = 200")
    q2 = Exercise(
        name="ch04.q2", answer="source",
        judge=Deploys(cases=(Case({"n": 2}, expect={"double": 4}),)),
        hints=("...", "..."), solution="source = SOLUTION", mistake="source = USUAL_MISTAKE",
        given={"SOLUTION": "def handler(e, c): ...", "USUAL_MISTAKE": "def handler(e, c): ..."})
    exercises = Chapter(q1, q2)
"""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from types import CodeType
from typing import Any

from ..course import Functions


class _Blank:
    """The placeholder a learner replaces; an answer that still holds it is not attempted."""

    def __repr__(self) -> str:
        return "____"


____ = _Blank()


def holds_blank(value: Any) -> bool:
    """Starter code still to complete: the blank itself, source text containing ``____``, a function
    using it, or a dict or list with one of those inside."""
    if isinstance(value, _Blank):
        return True
    if isinstance(value, str):
        return "____" in value
    if isinstance(value, Mapping):
        return any(holds_blank(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(holds_blank(v) for v in value)
    code = getattr(value, "__code__", None)
    return isinstance(code, CodeType) and _uses_blank(code)


def _uses_blank(code: CodeType) -> bool:
    return "____" in code.co_names or any(isinstance(c, CodeType) and _uses_blank(c) for c in code.co_consts)


# -- what a check answers ---------------------------------------------------------------------------
_CODE_SPAN = re.compile(r"`([^`]+)`")
_STYLES = {"correct": ("#2e7d32", "Correct"), "incorrect": ("#c62828", "Incorrect"),
           "unattempted": ("#6d6d6d", "Not attempted yet"), "unchecked": ("#6d6d6d", "Not checked"),
           "note": ("#1565c0", "")}


def as_html(text: str) -> str:
    """Message text as HTML: escaped, with each `code span` set in code type (never a literal backtick)."""
    return _CODE_SPAN.sub(r"<code>\1</code>", html.escape(text))


def as_text(text: str) -> str:
    """Message text for a plain console: code spans lose their backticks."""
    return _CODE_SPAN.sub(r"\1", text)


@dataclass(frozen=True)
class Result:
    """A verdict (``correct``, ``incorrect``, ``unattempted``; ``unchecked`` when the chapter's cloud is stopped)
    or a note (a hint, a solution), shown as HTML."""

    status: str
    message: str
    title: str = ""  # a note's title ("Hint 1 of 2", "Solution")
    code: bool = False  # the message is code: shown as it is, in a <pre>

    def __bool__(self) -> bool:
        return self.status == "correct"

    def _repr_html_(self) -> str:
        color, title = _STYLES[self.status]
        body = f"<pre>{html.escape(self.message)}</pre>" if self.code else as_html(self.message)
        return (f'<div style="border-left: 4px solid {color}; padding: 4px 10px">'
                f'<b style="color: {color}">{html.escape(self.title or title)}</b>: {body}</div>')

    def __repr__(self) -> str:
        return f"{self.title or _STYLES[self.status][1]}: {self.message if self.code else as_text(self.message)}"


# -- the context a judge works in -------------------------------------------------------------------
class Context:
    """The learner's cloud, seen by a check: deploy with fresh names, and undo everything afterwards.

    ``answer`` is the name of the variable being checked (for messages). ``fn`` deploys and
    invokes (see :class:`lambdalab.course.Functions`); :meth:`name` makes a fresh name that never
    meets the learner's own resources; :meth:`defer` registers an undo step (run in reverse order
    by :meth:`close`, whatever happened, errors ignored).
    """

    def __init__(self, cloud, answer: str) -> None:
        self.cloud, self.answer = cloud, answer
        self._fn: Functions | None = None
        self._undo: list[Callable[[], Any]] = []

    @property
    def fn(self) -> Functions:
        if self.cloud is None:
            raise ValueError("this exercise needs the chapter's cloud: bind it with exercises.bind(cloud)")
        if self._fn is None:
            self._fn = Functions(self.cloud)
        return self._fn

    @staticmethod
    def name(prefix: str) -> str:
        return f"{prefix}-{uuid.uuid4().hex[:6]}"

    def defer(self, undo: Callable[[], Any]) -> None:
        self._undo.append(undo)

    def deploy(self, prefix: str, files: dict[str, str] | str, **config: Any) -> str:
        """A new function (named ``prefix-xxxxxx``) from ``files``, deleted when the check ends."""
        name = self.name(prefix)
        self.defer(lambda: self.fn.delete(name))
        return self.fn.deploy(name, files, **config)

    def close(self) -> None:
        while self._undo:
            with suppress(Exception):  # the cloud may be stopped already; nothing is left to clean then
                self._undo.pop()()


Judge = Callable[..., "str | None"]  # judge(ctx, answer, *facts) -> what is wrong, or None when correct


def error_of(err: Exception) -> tuple[str, str]:
    """(code, message) of a botocore ClientError, or the exception's name and text: what a check reports."""
    response = getattr(err, "response", None)
    if isinstance(response, dict) and "Error" in response:
        return response["Error"].get("Code", ""), response["Error"].get("Message", "")
    return type(err).__name__, str(err)


# -- exercises --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Exercise:
    """One exercise, as data.

    ``answer`` names the notebook variable the learner fills in; ``facts`` name notebook variables
    that ``check()`` takes after it (data the cell made, such as invocation records). ``judge`` is
    one judge or a sequence, tried in order until one finds something wrong. ``setup`` is code the
    notebook's exercise cell runs before the answer (it makes the facts; the notebook holds it word
    for word). ``solution`` and ``mistake`` are code that sets ``answer``, run by the tests after
    ``setup`` with ``cloud``, ``lam``, ``fn``, ``lambdalab`` and ``given`` in scope.
    """

    name: str
    answer: str
    judge: Judge | Sequence[Judge]
    hints: tuple[str, ...]
    solution: str
    mistake: str
    praise: str = "well done."
    facts: tuple[str, ...] = ()
    setup: str = ""
    given: Mapping[str, Any] = field(default_factory=dict)

    def bind(self, cloud=None) -> BoundExercise:
        """This exercise, checked in ``cloud`` (the chapter's local cloud)."""
        return BoundExercise(self, cloud)

    def judges(self) -> tuple[Judge, ...]:
        return tuple(self.judge) if isinstance(self.judge, Sequence) else (self.judge,)


class BoundExercise:
    """An exercise bound to a notebook's cloud: what ``q1`` is in a chapter."""

    def __init__(self, exercise: Exercise, cloud) -> None:
        self.exercise, self.cloud = exercise, cloud
        self._hints_shown = 0

    def check(self, answer: Any = ____, *facts: Any) -> Result:
        """Judge ``answer`` (and the ``facts`` the exercise names): correct, incorrect, not attempted yet, or
        not checked (the cloud it is checked in has stopped: the learner ran the chapter's last cell)."""
        ex = self.exercise
        if len(facts) != len(ex.facts):
            expected = ", ".join((ex.answer, *ex.facts))
            return Result("unattempted", f"call the check as it is written in the exercise: `check({expected})`.")
        if holds_blank(answer):
            return Result("unattempted", f"replace the ____ in `{ex.answer}` with your answer, then run the cell "
                                         "again.")
        if self.cloud is not None and not self.cloud.running:  # Run All ends with cloud.stop()
            return Result("unchecked", "this chapter's cloud is stopped (its last cell stops it), and exercises are "
                                       "checked in it. Run the cells above this one again (Run > Run All Above "
                                       "Selected Cell), then this cell.")
        ctx = Context(self.cloud, ex.answer)
        try:
            for judge in ex.judges():
                reason = judge(ctx, answer, *facts)
                if reason:
                    return Result("incorrect", reason)
        except Exception as e:  # the learner's answer may break the judge's assumptions
            return Result("incorrect", f"checking your answer raised {type(e).__name__}: {e}")
        finally:
            ctx.close()
        return Result("correct", ex.praise)

    def hint(self, n: int | None = None) -> Result:
        """Hint ``n`` (from 1), or the next one each time it is called."""
        hints = self.exercise.hints
        if n is None:
            self._hints_shown = min(self._hints_shown + 1, len(hints))
            n = self._hints_shown
        n = max(1, min(n, len(hints)))
        more = " (call hint() again for the next one)" if n < len(hints) else ""
        return Result("note", hints[n - 1] + more, title=f"Hint {n} of {len(hints)}")

    def solution(self) -> Result:
        return Result("note", self.exercise.solution.strip("\n"), title="Solution", code=True)

    def __repr__(self) -> str:
        return f"<exercise {self.exercise.name}: {self.exercise.answer} = ____, then check({self.exercise.answer})>"


@dataclass(frozen=True)
class Chapter:
    """A chapter's exercises in order; ``bind(cloud)`` gives the notebook its ``q1, q2, ...``."""

    exercises: tuple[Exercise, ...]

    def __init__(self, *exercises: Exercise) -> None:
        object.__setattr__(self, "exercises", exercises)

    def bind(self, cloud=None) -> tuple[BoundExercise, ...]:
        return tuple(exercise.bind(cloud) for exercise in self.exercises)


__all__ = ["BoundExercise", "Chapter", "Context", "Exercise", "Judge", "Result", "____", "as_html", "as_text",
           "error_of", "holds_blank"]
