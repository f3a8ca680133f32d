"""Exercises that check themselves, in the manner of Kaggle's learntools.

Each chapter has a module (``lambdalab.checks.ch01`` ...) of :class:`Exercise` objects. In a
notebook the learner fills in the blanks (``____``) and calls ``q1.check()``, ``q1.hint()`` or
``q1.solution()``. ``check()`` reads the exercise's variables from the notebook's globals and
answers one of three ways: correct, incorrect (with a reason that helps), or not attempted yet.

Every exercise also carries its solution and a typical wrong answer as code, so the tests can
prove that the solution passes and the wrong answer fails.
"""

from __future__ import annotations

import html
import inspect
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from types import CodeType
from typing import Any


class _Blank:
    """The placeholder a learner replaces; an exercise that still holds it is not attempted."""

    def __repr__(self) -> str:
        return "____"


____ = _Blank()

def _holds_blank(value: Any) -> bool:
    """Starter code still to complete: source text containing ``____``, or a function using it."""
    if isinstance(value, str):
        return "____" in value
    code = getattr(value, "__code__", None)
    return isinstance(code, CodeType) and _uses_blank(code)


def _uses_blank(code: CodeType) -> bool:
    return "____" in code.co_names or any(isinstance(c, CodeType) and _uses_blank(c) for c in code.co_consts)


Checker = Callable[..., "str | None"]  # keyword arguments = the exercise's variables; None means correct


@dataclass(frozen=True)
class Result:
    status: str  # "correct", "incorrect" or "unattempted"
    message: str

    def __bool__(self) -> bool:
        return self.status == "correct"

    def _repr_html_(self) -> str:
        color = {"correct": "#2e7d32", "incorrect": "#c62828", "unattempted": "#6d6d6d"}[self.status]
        title = {"correct": "Correct", "incorrect": "Incorrect", "unattempted": "Not attempted yet"}[self.status]
        return (f'<div style="border-left: 4px solid {color}; padding: 4px 10px"><b style="color: {color}">'
                f"{title}</b>: {html.escape(self.message)}</div>")

    def __repr__(self) -> str:
        return f"{self.status}: {self.message}"


@dataclass(frozen=True)
class Exercise:
    name: str
    variables: tuple[str, ...]  # what the learner defines in the notebook
    checker: Checker
    hint_text: str
    solution_code: str  # a complete answer, as the learner would write it
    wrong_code: str  # a typical mistake, which must fail the check
    praise: str = "well done."
    setup: dict[str, Any] = field(default_factory=dict)  # names the solution may use besides the notebook's

    def check(self, namespace: dict[str, Any] | None = None) -> Result:
        """Check the learner's variables (from the calling notebook unless ``namespace`` is given)."""
        scope = namespace if namespace is not None else inspect.currentframe().f_back.f_globals
        missing = [v for v in self.variables if v not in scope or isinstance(scope[v], _Blank)]
        if missing:
            return Result("unattempted", f"fill in {', '.join(f'`{v}`' for v in missing)}, then run the check again.")
        started = [v for v in self.variables if _holds_blank(scope[v])]
        if started:
            names = ", ".join(f"`{v}`" for v in started)
            return Result("unattempted", f"replace the ____ in {names} with your code, then run the check again.")
        try:
            reason = self.checker(**{v: scope[v] for v in self.variables})
        except Exception as e:  # the learner's answer may break the checker's assumptions
            reason = f"checking your answer raised {type(e).__name__}: {e}"
        return Result("incorrect", reason) if reason else Result("correct", self.praise)

    def hint(self) -> Result:
        return _Note("Hint", self.hint_text)

    def solution(self) -> Result:
        return _Note("Solution", self.solution_code, code=True)


class _Note(Result):
    def __init__(self, title: str, text: str, code: bool = False) -> None:
        super().__init__("correct", text)
        object.__setattr__(self, "title", title)
        object.__setattr__(self, "code", code)

    def _repr_html_(self) -> str:
        body = f"<pre>{html.escape(self.message)}</pre>" if self.code else html.escape(self.message)
        return f'<div style="border-left: 4px solid #1565c0; padding: 4px 10px"><b>{self.title}</b>: {body}</div>'

    def __repr__(self) -> str:
        return f"{self.title}: {self.message}"


def unique(prefix: str) -> str:
    """A fresh resource name for a check, so that it never meets the learner's own resources."""
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def error_of(err: Exception) -> tuple[str, str]:
    """(code, message) of a botocore ClientError, or the exception's name and text: what a check reports."""
    response = getattr(err, "response", None)
    if isinstance(response, dict) and "Error" in response:
        return response["Error"].get("Code", ""), response["Error"].get("Message", "")
    return type(err).__name__, str(err)


__all__ = ["Exercise", "Result", "____", "error_of", "unique"]
