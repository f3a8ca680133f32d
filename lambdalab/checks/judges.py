"""The vocabulary exercises are judged with: an expected value, calls of the learner's function, and
test cases that deploy a handler in the learner's cloud and compare what it answers.

Every judge is called as ``judge(ctx, answer, *facts)`` and returns what is wrong (a sentence
the learner reads, with `code spans` in backticks) or None when the answer is right.
"""

from __future__ import annotations

import json
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..course import Invocation
from . import Context


def _kind_problem(value: Any, kind: type | tuple[type, ...] | None, what: str) -> str | None:
    """Why ``value`` is not of ``kind`` (a bool is never a number), or None."""
    if kind is None:
        return None
    kinds = kind if isinstance(kind, tuple) else (kind,)
    numeric = any(issubclass(k, numbers.Number) for k in kinds)
    if isinstance(value, kinds) and not (numeric and isinstance(value, bool)):
        return None
    names = " or ".join("a whole number" if k in (int, numbers.Integral) else "a number" if k in (float, numbers.Real)
                        else f"a {k.__name__}" for k in kinds)
    return f"{what} should be {names}; it is {value!r} ({type(value).__name__})."


def _whole(value: Any) -> bool:
    """A float with nothing after the point (not a bool, not an int already)."""
    return isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral) and float(value).is_integer()


def _shown(value: Any) -> str:
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


EVENT_SHOWN_MAX = 120  # characters of an event a message quotes: enough to tell which case, not a whole SQS batch


def _event(value: Any) -> str:
    shown = _shown(value)
    return shown if len(shown) <= EVENT_SHOWN_MAX else shown[:EVENT_SHOWN_MAX] + "…"


def _resolve(value: Any, *args: Any) -> Any:
    """A declared value, or what a function of the check's arguments computes."""
    return value(*args) if callable(value) else value


def same(got: Any, expected: Any) -> bool:
    """Equal, and a bool only equals a bool (``True == 1`` in Python, but not in an answer)."""
    return isinstance(got, bool) == isinstance(expected, bool) and bool(got == expected)


def compare(got: Any, expected: Any, what: str, *, mistakes: Mapping[Any, str] | None = None,
            explain: Mapping[str, str] | None = None, reveal: bool = True, given: Any = None) -> str | None:
    """Why ``got`` is not ``expected``, or None. ``what`` starts the message ("`x` is", "it returned").

    ``mistakes`` explain usual wrong values. A dict is compared key by key, and the first wrong
    key is named, with its ``explain`` entry. ``reveal`` says whether a wrong plain value may be
    answered with the right one (not when the value is the exercise's answer). ``given`` is what
    the learner wrote, when ``got`` is it normalized (18.7 rounded to 19): a plain value's message quotes it.
    """
    if same(got, expected):
        return None
    for wrong, why in (mistakes or {}).items():
        if same(got, wrong):
            return f"{what} {_shown(got)}. {why}"
    if isinstance(expected, dict) and isinstance(got, dict):
        missing, extra = sorted(set(expected) - set(got)), sorted(set(got) - set(expected))
        if missing or extra:
            parts = [f"missing {missing}" if missing else "", f"unexpected {extra}" if extra else ""]
            return f"{what} {_shown(got)}, with the wrong keys: {', '.join(p for p in parts if p)}."
        key = next(k for k in expected if not same(got[k], expected[k]))
        why = (explain or {}).get(key, "")
        return f"{what} {_shown(got)}, but {key!r} should be {_shown(expected[key])}. {why}".strip()
    shown = _shown(got if given is None else given)
    if reveal:
        return f"{what} {shown}; expected {_shown(expected)}."
    return f"{what} {shown}, which is not right: look again, or ask for a hint."


@dataclass(frozen=True)
class Expect:
    """The answer must equal an expected value.

    ``expected`` is the value, or a function ``(ctx, *facts) -> value``. ``kind`` is the type the
    answer must have; ``normalize`` turns the answer into what is compared (``str.strip``, a set of
    ids); ``mistakes`` (or a function ``(ctx, *facts) -> mistakes``) explain usual wrong answers;
    ``explain`` says, for a dict of answers, how to get each key right; ``otherwise`` (a function
    ``(answer, expected, *facts) -> message``) explains any other wrong answer. A wrong plain
    answer is never answered with the right one; a dict's wrong key is, with its explanation.
    """

    expected: Any
    kind: type | tuple[type, ...] | None = None
    normalize: Callable[[Any], Any] | None = None
    mistakes: Mapping[Any, str] | Callable[..., Mapping[Any, str]] = field(default_factory=dict)
    explain: Mapping[str, str] = field(default_factory=dict)
    otherwise: Callable[..., str] | None = None

    def __call__(self, ctx: Context, answer: Any, *facts: Any) -> str | None:
        what = f"`{ctx.answer}`"
        if _whole(answer) and self.kind in (int, numbers.Integral):
            answer = int(answer)  # 2.0, as np.ceil and / give it, is the whole number asked for
        if problem := _kind_problem(answer, self.kind, what):
            return problem
        expected = _resolve(self.expected, ctx, *facts)
        got = self.normalize(answer) if self.normalize else answer
        if same(got, expected):
            return None
        mistakes = _resolve(self.mistakes, ctx, *facts)
        for wrong, why in mistakes.items():
            if same(got, wrong):
                return why
        if self.otherwise is not None and not isinstance(expected, dict):
            return self.otherwise(got, expected, *facts)
        return compare(got, expected, f"{what} is", explain=self.explain, reveal=False, given=answer)


@dataclass(frozen=True)
class Case:
    """One test case of :class:`Calls` or :class:`Deploys`.

    ``given`` is the argument (Calls) or the event (Deploys). What must come back is ``expect`` (a
    value, or a function of the :class:`Run` that computes it), or, for Deploys, the errorType in
    ``error``, or text the invocation's own log must contain in ``log``. ``mistakes`` explain usual
    wrong results, ``explain`` each key of a dict result, ``on_error`` an unexpected failure by its
    errorType (or exception name).
    """

    given: Any
    expect: Any = None
    error: str | None = None
    log: str | None = None
    mistakes: Mapping[Any, str] = field(default_factory=dict)
    explain: Mapping[str, str] = field(default_factory=dict)
    on_error: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Run:
    """What a case's expectation may depend on: the check's context, the deployed function, the invocation."""

    ctx: Context
    function: str
    invocation: Invocation


@dataclass(frozen=True)
class Calls:
    """The answer is a function: call it on each case's ``given`` and compare what it returns.

    ``kind`` is the type each result must have.
    """

    cases: tuple[Case, ...]
    kind: type | tuple[type, ...] | None = None

    def __call__(self, ctx: Context, answer: Any, *facts: Any) -> str | None:
        if not callable(answer):
            return f"`{ctx.answer}` should be a function (def {ctx.answer}(...): ...); it is {answer!r}."
        for case in self.cases:
            shown = _shown(case.given)
            try:
                got = answer(case.given)
            except Exception as e:
                advice = case.on_error.get(type(e).__name__, "")
                return f"for {shown}, `{ctx.answer}` raised {type(e).__name__}: {e}. {advice}".strip()
            if problem := compare(got, case.expect, f"for {shown} it returned", mistakes=case.mistakes):
                return problem
            if problem := _kind_problem(got, self.kind, f"for {shown}, what it returns"):
                return problem
        return None


def source_problem(source: Any, variable: str) -> str | None:
    """Why ``source`` is not the text of an app.py with a handler, or None."""
    if not isinstance(source, str):
        return (f"`{variable}` should be a string that holds the source of app.py (write it between triple "
                f'quotes, """..."""); you gave a {type(source).__name__}.')
    try:
        compile(source, "app.py", "exec")
    except SyntaxError as e:
        return f"the source in `{variable}` is not valid Python: {e.msg} (line {e.lineno} of the string)."
    if "def handler(" not in source:
        return (f"the source in `{variable}` has no `def handler(event, context):`. The check deploys it with "
                "Handler='app.handler', so app.py needs a function called handler.")
    return None


@dataclass(frozen=True)
class Deploys:
    """Deploy a function in the learner's cloud, invoke it with each case's event, compare what it answers.

    The function's code is the answer (the source of app.py), unless ``source`` fixes it; then the
    answer shapes the deployment through ``config``: CreateFunction's parameters, or a function
    ``(ctx, answer) -> parameters`` (which may make resources and ``ctx.defer`` their deletion).
    The function is deleted when the check ends.
    """

    cases: tuple[Case, ...]
    source: str | None = None
    config: Mapping[str, Any] | Callable[[Context, Any], Mapping[str, Any]] = field(default_factory=dict)
    prefix: str = "check"

    def __call__(self, ctx: Context, answer: Any, *facts: Any) -> str | None:
        if self.source is None and (problem := source_problem(answer, ctx.answer)):
            return problem
        config = _resolve(self.config, ctx, answer)
        name = ctx.deploy(self.prefix, self.source if self.source is not None else answer, **config)
        for case in self.cases:
            if problem := self._judge(ctx, name, case):
                return problem
        return None

    @staticmethod
    def _judge(ctx: Context, name: str, case: Case) -> str | None:
        done = ctx.fn.call(name, case.given)
        event = f"invoked with {_event(case.given)}"
        if case.error is not None:
            if done.error_type == case.error:
                return None
            return f"{event}, the function should have failed with {case.error}, but answered {_shown(done.payload)}."
        if done.error:
            error = done.payload if isinstance(done.payload, dict) else {}
            kind = error.get("errorType", "an error")
            advice = case.on_error.get(kind, "Read the message, fix the handler and check again.")
            return f"{event}, the function failed with {kind}: {error.get('errorMessage', '')}. {advice}"
        if case.log is not None and case.log not in done.log:
            why = case.on_error.get("log", "")
            return f"{event}, the invocation's own log does not contain {case.log!r}. {why}".strip()
        if case.expect is not None:
            expected = _resolve(case.expect, Run(ctx, name, done))
            return compare(done.payload, expected, f"{event}, the function returned", mistakes=case.mistakes,
                           explain=case.explain)
        return None


__all__ = ["Calls", "Case", "Deploys", "Expect", "Run", "compare", "same", "source_problem"]
