"""IAM's policy evaluation: may this principal do this action on this resource, and which statement said so.

The rules are AWS's for one account's identity-based policies and one resource-based policy (a
function's policy, a role's trust policy): an explicit Deny anywhere wins; otherwise, within an
account, an Allow in either kind of policy is enough; across accounts both the caller's policies
and the resource's policy must allow; a service principal is judged by the resource's policy alone;
a role's trust policy must always allow, and when it trusts a whole account the caller's own
policies must allow too; what nothing allows is denied.  A Decision keeps the deciding statement,
so a notebook can show it, and words the reason as AWS's AccessDenied messages do.
"""

from __future__ import annotations

import base64
import functools
import ipaddress
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote

from ..jackson import load_json

ALLOWED, EXPLICIT_DENY, IMPLICIT_DENY = "allowed", "explicit deny", "implicit deny"


@dataclass(frozen=True)
class Principal:
    """Who asks: an IAM user, an account's root user, a role session (``role_arn`` set) or a service."""

    arn: str
    account: str
    role_arn: str | None = None
    service: str | None = None
    anonymous: bool = False  # an unsigned request: only a resource-based policy naming "*" lets it in


@dataclass(frozen=True)
class Policy:
    """A policy document under the name explanations give it; ``kind`` is "identity", "resource" or "trust"
    (a role's trust policy, the resource-based policy that sts:AssumeRole needs)."""

    name: str
    document: dict | str
    kind: str = "identity"

    def statements(self) -> list[dict]:
        """The Statement list (a lone statement as a list of one); moto keeps documents as JSON text,
        sometimes URL-encoded.

        A document that cannot be read (not JSON, not an object) has no statements, and a statement
        that is not an object is none: they allow nothing and deny nothing.  AWS never holds such a
        document (IAM refuses it as MalformedPolicyDocument, and so does lambdalab's guard), but moto
        may, from before that check or from a service that does not look at what it stores.
        """
        if isinstance(self.document, str):
            return list(_parsed(self.document))
        return _statements_of(self.document)


@functools.lru_cache(maxsize=1024)
def _parsed(document: str) -> tuple[dict, ...]:
    """The statements of a document kept as text, parsed once per text: a policy that changes is another
    text, so nothing stale is ever returned (the statements are read, never changed)."""
    text = document.strip()
    try:
        return tuple(_statements_of(load_json(text if text.startswith("{") else unquote(text))))
    except ValueError:
        return ()


def _statements_of(document: Any) -> list[dict]:
    if not isinstance(document, Mapping):
        return []
    return [statement for statement in _list(document.get("Statement", [])) if isinstance(statement, Mapping)]


@dataclass(frozen=True)
class Request:
    principal: Principal
    action: str
    resource: str
    context: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    """The outcome, the statement that decided it (none for an implicit deny), and what explaining it needs.

    ``kind`` is the side that decided: the deciding policy's kind, or for an implicit deny the kind
    of policy whose Allow is missing.
    """

    allowed: bool
    reason: str
    policy: str | None = None
    statement: int | None = None
    sid: str | None = None
    kind: str = "identity"
    action: str = ""
    resource: str = ""
    policies: int = 0  # how many policies applied to the request
    cross_account: bool = False

    def explain(self) -> str:
        """One sentence for a person: which statement decided, or what is missing."""
        if self.reason != IMPLICIT_DENY:
            sid = f' (Sid "{self.sid}")' if self.sid else ""
            where = f"statement {self.statement}{sid} of {self.policy}"
            if not self.allowed:
                return f"Denied explicitly by {where}"
            both = " (across accounts the caller's identity-based policies must allow it too, and do)"
            return f"Allowed by {where}" + (both if self.cross_account else "")
        call = f"{self.action} on {self.resource}"
        if self.cross_account and self.kind == "resource":
            return (f"Implicitly denied: the caller's identity-based policies allow {call}, but no resource-based "
                    "policy allows it for a principal of another account (across accounts both must allow)")
        if self.cross_account:
            return (f"Implicitly denied: no identity-based policy of the caller allows {call} (across accounts "
                    "both the caller's policies and the resource's policy must allow)")
        if self.policies == 0:
            return f"Implicitly denied: no policy applies, so nothing allows {call}"
        applies = "policy that applies" if self.policies == 1 else "policies that apply"
        return f"Implicitly denied: no statement of the {self.policies} {applies} allows {call}"

    def denial_phrase(self) -> str:
        """The reason as AWS ends an AccessDenied message ("" for an allowed request)."""
        if self.reason == EXPLICIT_DENY:
            return f"with an explicit deny in {'an identity' if self.kind == 'identity' else 'a resource'}-based policy"
        if self.reason == IMPLICIT_DENY:
            return f"because no {self.kind}-based policy allows the {self.action} action"
        return ""


Found = tuple[Policy, int, dict]  # a policy, the index of one of its statements, the statement


def evaluate(request: Request, identity_policies: Sequence[Policy], resource_policy: Policy | None,
             resource_account: str) -> Decision:
    """AWS's decision on ``request``, for a resource of ``resource_account``.

    Within an account the first Allow found decides (identity-based policies first); for a service or
    another account it is the resource policy's, which alone lets them in.
    """
    principal = request.principal
    keys = {key.lower(): value for key, value in request.context.items()}
    alone = bool(principal.service or principal.anonymous)  # judged by the resource's policy alone
    cross = not alone and principal.account != resource_account
    identity = [] if principal.service else list(identity_policies)  # a service has no identity policies
    resource = [resource_policy] if resource_policy is not None else []
    found = [(policy, index, statement) for policy in identity + resource
             for index, statement in enumerate(policy.statements())
             if _applies(statement, policy.kind, request, keys, cross)]
    facts = {"action": request.action, "resource": request.resource, "policies": len(identity) + len(resource),
             "cross_account": cross}
    deny = next((f for f in found if f[2].get("Effect") == "Deny"), None)
    if deny:
        return _decided(False, EXPLICIT_DENY, deny, facts)
    allows = [f for f in found if f[2].get("Effect") == "Allow"]
    by_identity = next((f for f in allows if f[0] is not resource_policy), None)
    by_resource = next((f for f in allows if f[0] is resource_policy), None)
    if resource_policy is not None and resource_policy.kind == "trust":
        return _trusted(principal, by_identity, by_resource, cross, facts)
    if alone or cross:  # only the resource's policy lets them in; another account needs its own allow too
        if by_resource and (by_identity or alone):
            return _decided(True, ALLOWED, by_resource, facts)
        missing = "resource" if alone or by_identity else "identity"
        return Decision(False, IMPLICIT_DENY, kind=missing, **facts)
    if by_identity or by_resource:
        return _decided(True, ALLOWED, by_identity or by_resource, facts)
    return Decision(False, IMPLICIT_DENY, **facts)


def _trusted(principal: Principal, by_identity: Found | None, by_trust: Found | None, cross: bool,
             facts: dict[str, Any]) -> Decision:
    """AssumeRole: the trust policy must allow; unless it names this very principal (or service) in its own
    account, the caller's identity-based policies must allow too."""
    if by_trust is None:
        return Decision(False, IMPLICIT_DENY, kind="resource", **facts)
    named = principal.service or (not cross and _covers(by_trust[2], "Principal",
                                                        lambda e: _names(e, principal, cross=False)))
    if by_identity is None and not named:
        return Decision(False, IMPLICIT_DENY, kind="identity", **facts)
    return _decided(True, ALLOWED, by_trust, facts)


def _decided(allowed: bool, reason: str, found: Found, facts: dict[str, Any]) -> Decision:
    policy, index, statement = found
    return Decision(allowed, reason, policy.name, index, statement.get("Sid") or None, policy.kind, **facts)


def _applies(statement: dict, kind: str, request: Request, keys: Mapping[str, Any], cross: bool) -> bool:
    """Does the statement cover this principal (resource policies only), action, resource and context?

    Without Resource (or NotResource) a statement of a resource policy is about the resource it is on."""
    condition = statement.get("Condition", {})
    trusting = cross or kind == "trust"  # naming an account trusts its principals (who need their own allow)
    return ((kind == "identity" or _covers(statement, "Principal", lambda e: _names(e, request.principal, trusting)))
            and _covers(statement, "Action", lambda p: _like(p, request.action, {}, ignore_case=True))
            and _covers(statement, "Resource", lambda p: _like(p, request.resource, keys), absent=True)
            and isinstance(condition, Mapping) and all(_holds(op, tests, keys) for op, tests in condition.items()))


def _covers(statement: dict, element: str, matches: Callable[[Any], bool], absent: bool = False) -> bool:
    """``element`` (Action, Resource, Principal) lists a match, or its ``Not`` form lists none."""
    if element in statement:
        return any(matches(value) for value in _list(statement[element]))
    if f"Not{element}" in statement:
        return not any(matches(value) for value in _list(statement[f"Not{element}"]))
    return absent


def _names(element: Any, principal: Principal, cross: bool) -> bool:
    """Does a Principal element name this principal?  Naming an account names every principal of it only
    across accounts; in its own account it names the root user and leaves users and roles to their
    identity-based policies."""
    if element == "*":
        return True
    if not isinstance(element, Mapping):
        return False
    if principal.service:
        return principal.service in _list(element.get("Service", []))
    account_root = f"arn:aws:iam::{principal.account}:root"
    for name in _list(element.get("AWS", [])):
        if name in ("*", principal.arn, principal.role_arn):
            return True
        if name in (principal.account, account_root) and (cross or principal.arn == account_root):
            return True
    return False


# -- conditions --------------------------------------------------------------------------------------------
Match = Callable[[Any, Any, Mapping[str, Any]], bool]  # (request's value, policy's value, context keys)


def _holds(operator_name: str, tests: Any, keys: Mapping[str, Any]) -> bool:
    """One condition operator: every key it names must pass; any one of a key's values will do.

    An operator we do not know, or a value we cannot read, makes the condition false: never an
    Allow on something not understood."""
    if not isinstance(tests, Mapping):
        return False
    if operator_name == "Null":  # "true": the key must be absent, "false": present
        absent = {key: "true" if _values(keys.get(key.lower())) is None else "false" for key in tests}
        return all(any(_text(v).lower() == absent[key] for v in _list(want)) for key, want in tests.items())
    qualifier, _, name = operator_name.rpartition(":")
    if_exists = name.endswith("IfExists")
    known = _OPERATORS.get(name.removesuffix("IfExists"))
    if known is None or qualifier not in ("", "ForAllValues", "ForAnyValue"):
        return False
    match, negated = known
    try:
        for key, want in tests.items():
            present, wanted = _values(keys.get(key.lower())), _list(want)
            if present is None:  # absent: IfExists passes, sets follow AWS, a negation holds
                ok = if_exists or qualifier == "ForAllValues" or (not qualifier and negated)
            elif qualifier:
                each = (any(match(v, w, keys) for w in wanted) != negated for v in present)
                ok = all(each) if qualifier == "ForAllValues" else any(each)
            else:
                ok = any(match(v, w, keys) for v in present for w in wanted) != negated
            if not ok:
                return False
    except (ValueError, TypeError):
        return False
    return True


def _string(wildcards: bool, ignore_case: bool) -> Match:
    return lambda value, wanted, keys: _like(wanted, value, keys, wildcards, ignore_case)


def _ordered(convert: Callable[[Any], Any], compare: Callable[[Any, Any], bool]) -> Match:
    return lambda value, wanted, _keys: compare(convert(value), convert(wanted))


def _time(value: Any) -> datetime:
    """A datetime, ISO-8601 text or seconds since the epoch, as an aware datetime (naive means UTC)."""
    if isinstance(value, (int, float)) or (isinstance(value, str) and value.strip().isdigit()):
        return datetime.fromtimestamp(float(value), timezone.utc)
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _arn(value: Any, wanted: Any, keys: Mapping[str, Any]) -> bool:
    """ARNs compared part by part (six colon-separated parts, the last keeps its colons), wildcards in each."""
    have, want = _text(value).split(":", 5), _ARN_PARTS.split(_text(wanted), 5)
    return len(have) == len(want) == 6 and all(_like(w, h, keys) for w, h in zip(want, have, strict=True))


def _ip(value: Any, wanted: Any, _keys: Mapping[str, Any]) -> bool:
    return ipaddress.ip_address(_text(value)) in ipaddress.ip_network(_text(wanted), strict=False)


def _binary(value: Any, wanted: Any, _keys: Mapping[str, Any]) -> bool:
    have = bytes(value) if isinstance(value, (bytes, bytearray)) else base64.b64decode(_text(value))
    return have == base64.b64decode(_text(wanted))


def _bool(value: Any, wanted: Any, _keys: Mapping[str, Any]) -> bool:
    return _text(value).lower() == _text(wanted).lower()


_ORDERS = {"Equals": operator.eq, "LessThan": operator.lt, "LessThanEquals": operator.le,
           "GreaterThan": operator.gt, "GreaterThanEquals": operator.ge}
_OPERATORS: dict[str, tuple[Match, bool]] = {  # name -> (how one value matches, negated)
    "StringEquals": (_string(False, False), False), "StringNotEquals": (_string(False, False), True),
    "StringEqualsIgnoreCase": (_string(False, True), False), "StringNotEqualsIgnoreCase": (_string(False, True), True),
    "StringLike": (_string(True, False), False), "StringNotLike": (_string(True, False), True),
    **{f"{family}{name}": (_ordered(convert, compare), False)
       for family, convert in (("Numeric", float), ("Date", _time)) for name, compare in _ORDERS.items()},
    "NumericNotEquals": (_ordered(float, operator.eq), True), "DateNotEquals": (_ordered(_time, operator.eq), True),
    "Bool": (_bool, False), "BinaryEquals": (_binary, False), "IpAddress": (_ip, False), "NotIpAddress": (_ip, True),
    "ArnEquals": (_arn, False), "ArnLike": (_arn, False), "ArnNotEquals": (_arn, True), "ArnNotLike": (_arn, True),
}


# -- patterns and policy variables -------------------------------------------------------------------------
_TOKEN = re.compile(r"\$\{([^}]*)\}|[*?]")
_VARIABLE = re.compile(r"\s*([^,\s]+)\s*(?:,\s*'((?:[^']|'')*)'\s*)?")
_ARN_PARTS = re.compile(r":(?![^{]*\})")  # a colon outside ${...}


def _like(pattern: Any, value: Any, keys: Mapping[str, Any], wildcards: bool = True, ignore_case: bool = False) -> bool:
    """``value`` matches ``pattern``, whose ``*`` and ``?`` are wildcards (when ``wildcards``) and whose
    ``${key}`` are replaced from the context; a variable with no value matches nothing."""
    text, flags = _text(pattern), re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    if "${" not in text:  # no policy variable: the pattern alone makes the regex
        return _compiled(text, wildcards, flags).fullmatch(_text(value)) is not None
    regex = _regex(text, keys, wildcards)
    return regex is not None and re.fullmatch(regex, _text(value), flags) is not None


@functools.lru_cache(maxsize=4096)
def _compiled(pattern: str, wildcards: bool, flags: int) -> re.Pattern:
    """The regex of a pattern without variables, made once per pattern (a pure function of it)."""
    return re.compile(_regex(pattern, {}, wildcards), flags)


def _regex(pattern: str, keys: Mapping[str, Any], wildcards: bool) -> str | None:
    parts, start = [], 0
    for token in _TOKEN.finditer(pattern):
        parts.append(re.escape(pattern[start:token.start()]))
        start = token.end()
        if token.group(1) is None:
            parts.append({"*": ".*", "?": "."}[token.group()] if wildcards else re.escape(token.group()))
            continue
        value = _variable(token.group(1), keys)
        if value is None:
            return None
        parts.append(re.escape(value))
    return "".join([*parts, re.escape(pattern[start:])])


def _variable(inside: str, keys: Mapping[str, Any]) -> str | None:
    """The text of ``${inside}``: a literal for ``${*}``, ``${?}``, ``${$}``, else the context key's value
    (names are case-insensitive), else the default of ``${key, 'default'}``, else None."""
    if inside in ("*", "?", "$"):
        return inside
    parsed = _VARIABLE.fullmatch(inside)
    if parsed is None:
        return None
    value = keys.get(parsed.group(1).lower())
    if value is None or isinstance(value, (list, tuple, set)):  # a multivalued key is no variable
        return None if parsed.group(2) is None else parsed.group(2).replace("''", "'")
    return _text(value)


# -- values ------------------------------------------------------------------------------------------------
def _list(value: Any) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _values(value: Any) -> list | None:
    """A context value as a list of values, None when the key is absent or has no value."""
    if value is None or (isinstance(value, (list, tuple, set)) and not value):
        return None
    return list(value) if isinstance(value, (list, tuple, set)) else [value]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value.isoformat() if isinstance(value, datetime) else str(value)
