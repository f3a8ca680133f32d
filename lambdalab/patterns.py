"""Event patterns, AWS's little language for choosing events: Lambda's FilterCriteria and EventBridge rules.

A pattern is a JSON object shaped like the events it chooses: every field it names must be in the
event, at the same depth, and hold one of the values the pattern lists for it (a list at a leaf is
an OR, the fields of an object an AND).  A leaf value is a JSON literal (string, number, ``null``,
boolean), or an object with one operator: ``prefix``, ``suffix``, ``equals-ignore-case``,
``wildcard``, ``anything-but``, ``numeric``, ``exists``, ``cidr``.  ``"$or": [pattern, ...]`` at any
depth chooses events that match any of its patterns (and the fields beside it).  Where the event
holds an array, the pattern matches when any element does; an array of objects matches when one
element matches the whole sub-pattern.  Numbers are compared as numbers, and only JSON numbers match
a ``numeric`` condition.  The rules are AWS's: EventBridge's "Event pattern syntax" and "Comparison
operators" pages (docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern.html and
eb-create-pattern-operators.html) and Lambda's "Event filtering" page
(docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html).

moto ships a matcher (``moto.events.models.EventPattern``); it is not used because it accepts
unknown operators as matching everything, checks no syntax (an invalid pattern must be refused, as
AWS refuses it), takes ``true`` for ``1`` and does not look inside arrays of objects.  The PyPI
package ``event-ruler`` binds AWS's Go implementation, but only as compiled wheels for some Python
versions, last released in 2023.  So this module is ours; ``tests/test_patterns.py`` holds AWS's
documented examples.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

NUMERIC_LIMIT = 5.0e9  # EventBridge: numeric matching works on values between -5.0e9 and 5.0e9
_OPERATORS = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, "=": lambda a, b: a == b,
              ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}
_MISSING = object()
Test = Callable[[Any], bool]


class PatternError(ValueError):
    """A pattern AWS would refuse; the message says why."""


def compile_pattern(pattern: str | Mapping[str, Any]) -> Pattern:
    """A :class:`Pattern` from its JSON text (or the decoded object); PatternError if it is not valid."""
    if isinstance(pattern, str):
        try:
            pattern = json.loads(pattern)
        except ValueError:
            raise PatternError("the pattern is not valid JSON") from None
    if not isinstance(pattern, Mapping):
        raise PatternError("a pattern is a JSON object")
    return Pattern(_node(pattern, "$"))


@dataclass(frozen=True)
class Pattern:
    root: _Node

    def matches(self, event: Any) -> bool:
        """Whether ``event`` (decoded JSON) is one this pattern chooses."""
        return self.root.matches(event)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# -- the compiled tree ----------------------------------------------------------------------------
@dataclass(frozen=True)
class _Leaf:
    """The conditions on one field's value: it matches when any of them holds."""

    tests: tuple[Test, ...]  # each true for a value the field may hold
    exists: bool | None = None  # {"exists": true|false}, which looks at presence rather than values

    def matches(self, value: Any) -> bool:
        values = _leaf_values(value)
        if self.exists is not None and self.exists == bool(values):
            return True
        return any(test(v) for test in self.tests for v in values)


@dataclass(frozen=True)
class _Node:
    """An object of the pattern: every field must match, and one alternative of each ``$or``."""

    fields: dict[str, _Node | _Leaf] = field(default_factory=dict)
    alternatives: tuple[tuple[_Node, ...], ...] = ()

    def matches(self, value: Any) -> bool:
        if isinstance(value, list):  # an array of objects: one element must match the whole node
            return any(self.matches(item) for item in value if isinstance(item, (dict, list)))
        if not isinstance(value, dict):
            return False
        for name, sub in self.fields.items():
            found = value.get(name, _MISSING)
            if isinstance(sub, _Leaf):
                if not sub.matches(found):
                    return False
            elif found is _MISSING or not sub.matches(found):
                return False
        return all(any(alt.matches(value) for alt in group) for group in self.alternatives)


def _leaf_values(value: Any) -> list[Any]:
    """The scalar values a field holds: itself, or the scalars of an array (flattened)."""
    if value is _MISSING or isinstance(value, dict):
        return []
    if isinstance(value, list):
        return [v for item in value for v in _leaf_values(item)]
    return [value]


# -- parsing, with AWS's rules ---------------------------------------------------------------------
def _node(obj: Mapping[str, Any], where: str) -> _Node:
    fields: dict[str, _Node | _Leaf] = {}
    alternatives = []
    for name, value in obj.items():
        here = f"{where}.{name}"
        if name == "$or":
            if not isinstance(value, list) or len(value) < 2 or not all(isinstance(v, Mapping) for v in value):
                raise PatternError(f"{here}: $or takes a list of at least two patterns")
            alternatives.append(tuple(_node(v, here) for v in value))
        elif isinstance(value, Mapping):
            if not value:
                raise PatternError(f"{here}: an empty object matches nothing")
            fields[name] = _node(value, here)
        elif isinstance(value, list):
            if not value:
                raise PatternError(f"{here}: empty arrays are not allowed")
            fields[name] = _leaf(value, here)
        else:
            raise PatternError(f"{here}: must be an object or an array")
    return _Node(fields, tuple(alternatives))


def _leaf(values: list[Any], where: str) -> _Leaf:
    tests: list[Test] = []
    exists = None
    for value in values:
        if isinstance(value, Mapping):
            if len(value) != 1:
                raise PatternError(f"{where}: an operator object holds exactly one operator")
            (operator, argument), = value.items()
            if operator == "exists":
                if not isinstance(argument, bool):
                    raise PatternError(f"{where}: exists takes true or false")
                exists = argument
                continue
            tests.append(_operator(operator, argument, where))
        elif value is None or isinstance(value, (str, bool)) or _is_number(value):
            tests.append(_equals(value))
        else:
            raise PatternError(f"{where}: {json.dumps(value)} is not a value a pattern can match")
    return _Leaf(tuple(tests), exists)


def _equals(expected: Any) -> Test:
    if _is_number(expected):
        return lambda v: _is_number(v) and v == expected
    if isinstance(expected, bool):
        return lambda v: isinstance(v, bool) and v is expected
    if expected is None:
        return lambda v: v is None
    return lambda v: isinstance(v, str) and v == expected


def _string(argument: Any, where: str, operator: str) -> str:
    if not isinstance(argument, str):
        raise PatternError(f"{where}: {operator} takes a string")
    return argument


def _operator(operator: str, argument: Any, where: str) -> Test:
    if operator in ("prefix", "suffix"):
        return _affix(operator, argument, where)
    if operator == "equals-ignore-case":
        folded = _string(argument, where, operator).casefold()
        return lambda v: isinstance(v, str) and v.casefold() == folded
    if operator == "wildcard":
        regex = _wildcard(_string(argument, where, operator), where)
        return lambda v: isinstance(v, str) and regex.fullmatch(v) is not None
    if operator == "numeric":
        return _numeric(argument, where)
    if operator == "cidr":
        try:
            network = ipaddress.ip_network(_string(argument, where, operator), strict=False)
        except ValueError:
            raise PatternError(f"{where}: {argument!r} is not a CIDR block") from None
        return lambda v: _in_network(v, network)
    if operator == "anything-but":
        excluded = _anything_but(argument, where)
        return lambda v: not excluded(v)
    raise PatternError(f"{where}: unknown operator {operator!r}")


def _affix(operator: str, argument: Any, where: str) -> Test:
    """``prefix``/``suffix``, exact or ``{"equals-ignore-case": ...}``."""
    fold = isinstance(argument, Mapping)
    if fold:
        if set(argument) != {"equals-ignore-case"}:
            raise PatternError(f"{where}: {operator} takes a string or {{\"equals-ignore-case\": string}}")
        argument = argument["equals-ignore-case"]
    text = _string(argument, where, operator)
    text = text.casefold() if fold else text

    def test(v: Any) -> bool:
        if not isinstance(v, str):
            return False
        v = v.casefold() if fold else v
        return v.startswith(text) if operator == "prefix" else v.endswith(text)
    return test


def _wildcard(text: str, where: str) -> re.Pattern:
    """``*`` stands for any characters (``\\*`` for a star itself); two in a row are refused, as by AWS."""
    parts, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] in "*\\":
            parts.append(re.escape(text[i + 1]))
            i += 2
            continue
        if c == "*":
            if text[i + 1:i + 2] == "*":
                raise PatternError(f"{where}: consecutive wildcard characters are not allowed")
            parts.append(".*")
        else:
            parts.append(re.escape(c))
        i += 1
    return re.compile("".join(parts), re.DOTALL)


def _numeric(argument: Any, where: str) -> Test:
    """``[">", 0, "<=", 5]``: one or two comparisons, a lower bound before an upper one; ``=`` alone."""
    if not isinstance(argument, list) or len(argument) not in (2, 4):
        raise PatternError(f"{where}: numeric takes [operator, number] or a range of two")
    pairs = list(zip(argument[::2], argument[1::2], strict=True))
    for op, number in pairs:
        if op not in _OPERATORS or not _is_number(number) or abs(number) > NUMERIC_LIMIT:
            raise PatternError(f"{where}: numeric takes operators {', '.join(_OPERATORS)} and numbers "
                               f"between -{NUMERIC_LIMIT:.1e} and {NUMERIC_LIMIT:.1e}")
    if len(pairs) == 2 and (pairs[0][0] not in (">", ">=") or pairs[1][0] not in ("<", "<=")):
        raise PatternError(f"{where}: a numeric range is a lower bound (> or >=) then an upper one (< or <=)")
    return lambda v: _is_number(v) and all(_OPERATORS[op](v, number) for op, number in pairs)


def _anything_but(argument: Any, where: str) -> Test:
    """What ``anything-but`` excludes: values, or the strings an operator (prefix, suffix, ...) matches."""
    if isinstance(argument, Mapping):
        if len(argument) != 1 or next(iter(argument)) not in ("prefix", "suffix", "equals-ignore-case", "wildcard"):
            raise PatternError(f"{where}: anything-but takes a value, a list, or one of prefix, suffix, "
                               "equals-ignore-case, wildcard")
        (operator, inner), = argument.items()
        choices = inner if isinstance(inner, list) and operator in ("equals-ignore-case", "wildcard") else [inner]
        if not choices:
            raise PatternError(f"{where}: empty arrays are not allowed")
        tests = [_operator(operator, choice, where) for choice in choices]
        return lambda v: any(test(v) for test in tests)
    values = argument if isinstance(argument, list) else [argument]
    if not values or not all(isinstance(v, str) or _is_number(v) for v in values):
        raise PatternError(f"{where}: anything-but takes strings or numbers")
    tests = [_equals(v) for v in values]
    return lambda v: any(test(v) for test in tests)


def _in_network(value: Any, network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    try:
        return isinstance(value, str) and ipaddress.ip_address(value) in network
    except ValueError:
        return False
