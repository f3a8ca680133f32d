"""Server side of AWS's rest-json protocol for the Lambda API.

Everything is derived from botocore's own service model (routes, member locations, types,
constraints, error shapes), so a request any AWS SDK builds parses back into the params
botocore started from, and our replies parse in botocore as AWS's do. Wire details the
model leaves open were checked against real Lambda answers quoted in public issues; the
notes next to each say which.

Why not moto's own rest-json codec (``moto.core.parse.RestJSONParser``, ``moto.core.serialize``)?
It serves moto's mocks, which trust their callers, and is lenient where AWS's front end is
strict.  Fed the requests of ``tests/api/test_wire.py`` it answers: ``{not json`` parses as
``{}`` (AWS: InvalidRequestContentException); ``"MemorySize": "128"`` becomes 128, ``"Timeout":
1.9`` becomes 1 and ``"Publish": "yes"`` becomes False (AWS refuses each type); a string where
a structure belongs raises AttributeError and ``"[" * 5000`` RecursionError (500s); a blob that
is not base64 decodes to ``b""``.  It neither routes (its router is werkzeug's, elsewhere) nor
checks the model's constraints (Coral's "N validation errors detected: ..." sentences), and its
serializer renders errors as ``{"__type": ..., "Message": ...}`` with the modeled status only,
where Lambda answers ``{"Message": ..., "Type": "User"}`` or, for front-end errors outside the
model, ``{"message": ...}``.  So lambdalab keeps this module: the parts are small, and each
is there for an answer AWS gives.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs, unquote

from botocore.model import OperationModel, ServiceModel, Shape

from .. import memory
from ..jackson import load_json

Limits = Mapping[str, tuple[float | None, float | None]]
Reply = tuple[int, list[tuple[str, str]], bytes]
Rule = tuple[str, Callable[[Any], bool]]
_NUMERIC = ("integer", "long", "double", "float")
_SIZED = ("string", "blob", "list", "map")
_COMPOUND = ("structure", "list", "map")


class WireError(Exception):
    """A protocol-level failure, carried as AWS's error code, message and HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status


# Members the Lambda service checks itself rather than the front end: AWS answers a Runtime outside
# the model's enum with InvalidParameterValueException, not a ValidationException (recorded against
# AWS: tests/fidelity/cases/err-create-invalid-runtime.json), worded by ``service.validation``.
SERVICE_CHECKED = frozenset({("CreateFunction", "Runtime"), ("UpdateFunctionConfiguration", "Runtime")})

# Enums whose values AWS lists in an order of its own (a Java hash set's), not the model's, when it
# refuses a value: shape name -> the order recorded against AWS (tests/fidelity/cases/esm-*-starting-position.json).
AWS_ENUM_ORDER = {"EventSourcePosition": ("LATEST", "AT_TIMESTAMP", "TRIM_HORIZON")}


@dataclass
class Request:
    operation: str
    params: dict = field(default_factory=dict)


# Model regexes are Java's. Java's \d \w \s are ASCII-only, hence re.ASCII; \p{L} \p{N} \p{Z}
# become scoped Unicode classes, inside [...] by splitting the class into an alternation.
# What Python cannot express (other \p{..}, negated classes holding \p) yields None and that
# pattern is not enforced. Lambda's only such patterns are TagKey/TagValue, which translate.
_UNICODE = {"L": r"(?u:[^\W\d_])", "N": r"(?u:\d)", "Z": r"(?u:[^\S\t-\r\x1c-\x1f\x85])"}
_CLASS = re.compile(r"\[((?:\\.|[^\]\\])*)\]")
_PROP = re.compile(r"\\p\{(\w+)\}")


def _java_regex(pattern: str) -> re.Pattern | None:
    def split_class(m: re.Match) -> str:
        body, props = m.group(1), _PROP.findall(m.group(1))
        if not props:
            return m.group(0)
        if body.startswith("^"):
            raise re.error("negated class with \\p{}")
        rest = _PROP.sub("", body)
        return "(?:" + "|".join([_UNICODE[p] for p in props] + ([f"[{rest}]"] if rest else [])) + ")"

    try:
        return re.compile(_PROP.sub(lambda m: _UNICODE[m.group(1)], _CLASS.sub(split_class, pattern)), re.ASCII)
    except (re.error, KeyError):
        return None


def _timestamp(value: Any) -> datetime:
    """Accept each timestamp format botocore sends: epoch (body), ISO 8601 (query), RFC 822 (header)."""
    try:
        return datetime.fromtimestamp(float(value), timezone.utc)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))  # 3.10 rejects a "Z" suffix
    except ValueError:
        parsed = parsedate_to_datetime(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _scalar(shape: Shape, raw: str) -> Any:
    """Type a uri/querystring/header string (Lambda uses string, integer, long, boolean, timestamp)."""
    kind = shape.type_name
    if kind in ("integer", "long"):
        return int(raw)
    if kind == "boolean":
        if raw.lower() not in ("true", "false"):
            raise ValueError(f"'{raw}' is not a boolean")
        return raw.lower() == "true"
    return _timestamp(raw) if kind == "timestamp" else raw


_JSON_TYPES = {"string": str, "integer": int, "long": int, "boolean": bool, "double": (int, float),
               "float": (int, float), "timestamp": (int, float, str), "structure": dict, "map": dict,
               "list": list, "blob": str}


def _from_json(shape: Shape, value: Any, where: str) -> Any:
    kind, expected = shape.type_name, _JSON_TYPES.get(shape.type_name)
    if expected and (not isinstance(value, expected) or (isinstance(value, bool) and kind != "boolean")):
        raise ValueError(f"Cannot deserialize {type(value).__name__} as {kind} at '{where}'")
    if kind == "structure":
        return {name: _from_json(m, value[key], f"{where}.{key}") for name, m in shape.members.items()
                if value.get(key := m.serialization.get("name", name)) is not None}
    if kind == "list":
        return [_from_json(shape.member, item, where) for item in value]
    if kind == "map":
        return {k: _from_json(shape.value, v, f"{where}.{k}") for k, v in value.items()}
    if kind == "blob":
        try:
            return base64.b64decode(value, validate=True)
        except binascii.Error:
            raise ValueError(f"Invalid base64 at '{where}'") from None
    return _timestamp(value) if kind == "timestamp" else value


def _json_body(shape: Shape, body: bytes) -> Any:
    # Code and prefix as real Lambda answers (aws-sdk-js#1876, ballerina-c2c#15); the detail
    # after the prefix is Jackson's wording on AWS and only approximated here.
    try:
        return _from_json(shape, load_json(body), "$")
    except ValueError as exc:  # includes JSONDecodeError and UnicodeDecodeError
        raise WireError("InvalidRequestContentException", f"Could not parse request body into json: {exc}") from None


def _to_json(shape: Shape, value: Any) -> Any:
    kind = shape.type_name
    if kind == "structure":
        return {m.serialization.get("name", name): _to_json(m, value[name])
                for name, m in shape.members.items() if value.get(name) is not None}
    if kind == "list":
        return [_to_json(shape.member, item) for item in value]
    if kind == "map":
        return {k: _to_json(shape.value, v) for k, v in value.items()}
    if kind == "blob":
        return base64.b64encode(value.encode() if isinstance(value, str) else value).decode()
    return value.timestamp() if isinstance(value, datetime) else value  # rest-json body: epoch seconds


def _dumps(obj: Any, sort: bool = False) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=sort).encode()


def _java_str(value: Any) -> str:
    """Render a value as Coral's Java toString does inside "Value '...'" (lists "[a, b]", maps "{k=v}")."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ", ".join(map(_java_str, value)) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_java_str(k)}={_java_str(v)}" for k, v in value.items()) + "}"
    return str(value)


def _as_java(shape: Shape, value: Any) -> Any:
    """A value as Java holds it for its shape: a double prints "2.0" even when JSON sent 2 ('{2=2.0}')."""
    kind = shape.type_name
    if kind in ("double", "float") and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind == "map" and isinstance(value, dict):
        return {k: _as_java(shape.value, v) for k, v in value.items()}
    if kind == "list" and isinstance(value, list):
        return [_as_java(shape.member, v) for v in value]
    return value


def _raw(shape: Shape) -> bool:
    """Payloads that travel as raw bytes: blobs (Invoke) and event streams (framed by the caller)."""
    return shape.type_name == "blob" or bool(shape.serialization.get("eventstream"))


@dataclass
class _Members:
    """A top-level shape's members grouped by location (None = JSON body): (name, wire name, shape)."""

    at: dict[str | None, list[tuple[str, str, Shape]]]
    payload: tuple[str, Shape] | None

    @classmethod
    def of(cls, shape: Shape | None) -> _Members:
        groups: dict[str | None, list] = {}
        payload = shape.serialization.get("payload") if shape else None
        for name, m in shape.members.items() if shape else ():
            if name != payload:
                groups.setdefault(m.serialization.get("location"), []).append(
                    (name, m.serialization.get("name", name), m))
        return cls(groups, (payload, shape.members[payload]) if payload else None)


@dataclass
class _Route:
    op: OperationModel
    path: re.Pattern
    labels: list[tuple[str, Shape]]  # (member, shape) per regex group
    fixed_query: list[tuple[str, str]]  # "?find=LayerVersion" -> [("find", "LayerVersion")]
    members: _Members


class LambdaWire:
    """rest-json codec for Lambda: parse requests, validate them as AWS's front end does, render replies."""

    def __init__(self) -> None:
        loader = memory.botocore_session().get_component("data_loader")  # the model clients parse, parsed once
        self.model = ServiceModel(loader.load_service_model("lambda", "service-2"), "lambda")
        self._routes: dict[tuple[str, ...], list[_Route]] = {}
        self._outputs: dict[str, tuple[int, _Members]] = {}
        for name in self.model.operation_names:
            op = self.model.operation_model(name)
            key = (op.http["method"], *op.http["requestUri"].partition("?")[0].split("/")[1:3])
            if "{" in "".join(key):
                raise ValueError(f"{name}: routes are indexed by their first two (literal) path segments")
            self._routes.setdefault(key, []).append(self._route(op))
            self._outputs[name] = (op.http.get("responseCode", 200), _Members.of(op.output_shape))
        for candidates in self._routes.values():  # "?find=LayerVersion" beats the bare path
            candidates.sort(key=lambda r: not r.fixed_query)
        self._errors = {shape.name: shape for shape in self.model.error_shapes}
        self._rules: dict[tuple, list[Rule]] = {}

    @staticmethod
    def _route(op: OperationModel) -> _Route:
        path, _, fixed = op.http["requestUri"].partition("?")
        members = _Members.of(op.input_shape)
        by_label = {wire: (name, shape) for name, wire, shape in members.at.get("uri", [])}
        labels, pattern = [], ""
        for literal, label in re.findall(r"([^{]*)(?:\{([^}]+)\})?", path):
            pattern += re.escape(literal)
            if label:  # {Name+} is greedy and may span "/"; labels arrive percent-encoded
                labels.append(by_label[label.rstrip("+")])
                pattern += "(.+)" if label.endswith("+") else "([^/]+)"
        query = [(k, v) for k, _, v in (p.partition("=") for p in fixed.split("&") if p)]
        return _Route(op, re.compile(pattern.rstrip("/") + "/?"), labels, query, members)

    def parse(self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes) -> Request:
        """Route by method + path (+ the requestUri's fixed query), then read each member from its location."""
        qs = parse_qs(query, keep_blank_values=True) if query else {}
        for route in self._routes.get((method.upper(), *path.split("/", 3)[1:3]), ()):
            match = route.path.fullmatch(path)
            if match and all(qs.get(k) == [v] if v else k in qs for k, v in route.fixed_query):
                break
        else:  # the code and status are AWS's; the wording is assumed
            raise WireError("UnknownOperationException", f"Unknown operation {method} {path}", 404)
        at, params = route.members.at, {}
        try:
            for (name, shape), raw in zip(route.labels, match.groups(), strict=True):
                params[name] = _scalar(shape, unquote(raw))
            for name, wire, shape in at.get("querystring", []):
                if wire in qs:
                    values = qs[wire]
                    params[name] = ([_scalar(shape.member, v) for v in values] if shape.type_name == "list"
                                    else _scalar(shape, values[0]))
            if "header" in at:
                lowered = {k.lower(): v for k, v in headers.items()}
                for name, wire, shape in at["header"]:
                    if (value := lowered.get(wire.lower())) is not None:
                        params[name] = _scalar(shape, value)
        except ValueError as exc:  # assumed: AWS's answer to a mistyped uri/query/header value is unconfirmed
            raise WireError("InvalidRequestContentException", f"Could not parse request: {exc}") from None
        if route.members.payload:
            name, shape = route.members.payload
            if body and _raw(shape):
                params[name] = bytes(body)
            elif body and (decoded := _json_body(shape, body)):  # SDKs send "{}" when it is absent
                params[name] = decoded
        elif body and None in at:
            decoded = _json_body(route.op.input_shape, body)
            params.update((name, decoded[name]) for name, _, _ in at[None] if name in decoded)
        return Request(route.op.name, params)

    def validate(self, request: Request, limits: Limits | None = None) -> None:
        """Check params against the model's constraints, worded exactly as AWS's (Coral) front end.

        `limits` overrides numeric/length bounds per member path of model member names, for
        quotas tighter than the model, e.g. {"MemorySize": (128, 10240), "Timeout": (1, 900),
        "EphemeralStorage.Size": (512, 10240)}; a None bound keeps the model's. Members are
        checked in alphabetical order (Coral's order in a confirmed multi-error message).
        """
        shape = self.model.operation_model(request.operation).input_shape
        errors: list[str] = []
        params = {k: v for k, v in request.params.items() if (request.operation, k) not in SERVICE_CHECKED}
        if shape is not None:
            self._check_members(shape, params, "", "", limits or {}, errors)
        if errors:
            noun = "validation error" if len(errors) == 1 else "validation errors"
            raise WireError("ValidationException", f"{len(errors)} {noun} detected: " + "; ".join(errors))

    def _check_members(self, shape: Shape, value: dict, path: str, model_path: str, limits: Limits,
                       errors: list[str]) -> None:
        for name in sorted(shape.members):
            sub = f"{path}.{name[0].lower()}{name[1:]}".lstrip(".")  # AWS camelCases: 'kMSKeyArn'
            if value.get(name) is not None:
                member_path = f"{model_path}.{name}".lstrip(".")
                self._check(shape.members[name], value[name], sub, member_path, limits, errors)
            elif name in shape.required_members:
                errors.append(f"Value null at '{sub}' failed to satisfy constraint: Member must not be null")

    def _check(self, shape: Shape, value: Any, path: str, model_path: str, limits: Limits, errors: list[str]) -> None:
        def fail(problem: str) -> None:  # renders the value only on failure: it may hold a 50 MB zip
            # Sensitive values are not echoed: "Value at 'environment.variables' failed ..." (as AWS).
            shown = "Value" if shape.metadata.get("sensitive") else f"Value '{_java_str(_as_java(shape, value))}'"
            errors.append(f"{shown} at '{path}' failed to satisfy constraint: {problem}")

        for rule, ok in self._rules_of(shape, limits.get(model_path)):
            if not ok(value):
                fail(rule)
        kind = shape.type_name
        if kind == "structure":
            self._check_members(shape, value, path, model_path, limits, errors)
        elif kind == "list" and shape.member.type_name in _COMPOUND:
            for i, item in enumerate(value, 1):  # Coral's 1-based "<list>.<n>.member" paths
                self._check(shape.member, item, f"{path}.{i}.member", model_path, limits, errors)
        elif kind == "list" and not all(map(self._fits(shape.member), value)):
            fail(f"Member must satisfy constraint: [{self._listing(shape.member)}]")
        elif kind == "map":
            if not all(map(self._fits(shape.key), value)):
                # AWS lists not-null for AdditionalVersionWeights' keys, not for the (sensitive) environment's
                listing = self._listing(shape.key, not shape.metadata.get("sensitive"))
                fail(f"Map keys must satisfy constraint: [{listing}]")
            if shape.value.type_name in _COMPOUND:
                for k, v in value.items():
                    self._check(shape.value, v, f"{path}.{k}", model_path, limits, errors)
            elif not all(map(self._fits(shape.value), value.values())):
                fail(f"Map value must satisfy constraint: [{self._listing(shape.value)}]")

    def _fits(self, shape: Shape) -> Callable[[Any], bool]:
        rules = self._rules_of(shape)
        return lambda v: v is not None and all(ok(v) for _, ok in rules)

    def _listing(self, shape: Shape, nullable: bool = True) -> str:
        """Every constraint of a collection's element as AWS lists them: max, min, pattern, not null
        (seen in a real Lambda `layers` error; the environment's map keys omit not-null, the keys of
        AdditionalVersionWeights keep it)."""
        return ", ".join([rule for rule, _ in self._rules_of(shape)] + ["Member must not be null"] * nullable)

    def _rules_of(self, shape: Shape, bounds: tuple | None = None) -> list[Rule]:
        """A shape's own constraints as (AWS sentence, test), cached per shape and bounds."""
        key = (shape.name, bounds)
        if key not in self._rules:
            meta, kind, rules = shape.metadata, shape.type_name, []
            low, high = bounds or (None, None)
            low, high = meta.get("min") if low is None else low, meta.get("max") if high is None else high
            what, size = ("value", float) if kind in _NUMERIC else ("length", len)
            if kind in _NUMERIC or kind in _SIZED:
                if high is not None:
                    rules.append((f"Member must have {what} less than or equal to {high}", lambda v: size(v) <= high))
                if low is not None:
                    rules.append((f"Member must have {what} greater than or equal to {low}", lambda v: size(v) >= low))
            if kind == "string" and "pattern" in meta:
                regex = _java_regex(meta["pattern"])  # None: not expressible in Python, not enforced
                rules.append((f"Member must satisfy regular expression pattern: {meta['pattern']}",
                              lambda v: regex is None or regex.fullmatch(v) is not None))
            if kind == "string" and "enum" in meta:
                listed = AWS_ENUM_ORDER.get(shape.name, meta["enum"])
                rules.append((f"Member must satisfy enum value set: [{', '.join(listed)}]",
                              lambda v: v in meta["enum"]))
            self._rules[key] = rules
        return self._rules[key]

    def respond(self, operation: str, output: dict, request_id: str | None = None) -> Reply:
        """Render an operation's output: statusCode member, header members, raw or JSON body.

        The default status is the model's responseCode. The current model gives DeleteFunction
        200 plus a StatusCode member while AWS answers 204, so pass {"StatusCode": 204} there.
        """
        status, out = self._outputs[operation]
        for name, _, _ in out.at.get("statusCode", []):
            status = int(output.get(name) or status)
        headers = [(wire, str(output[name])) for name, wire, _ in out.at.get("header", [])
                   if output.get(name) is not None]
        content_type = "application/json"  # Invoke payloads too (as real Invoke replies)
        if out.payload:
            name, shape = out.payload
            value = output.get(name)
            if _raw(shape):
                body = value.encode() if isinstance(value, str) else bytes(value or b"")
                content_type = content_type if shape.type_name == "blob" else "application/vnd.amazon.eventstream"
            else:
                body = _dumps(_to_json(shape, value)) if value is not None else b""
        elif None in out.at:
            body = _dumps({wire: _to_json(shape, output[name]) for name, wire, shape in out.at[None]
                           if output.get(name) is not None})
        else:
            body = b""
        if not any(k.lower() == "content-type" for k, _ in headers):
            headers.append(("Content-Type", content_type))
        headers.append(("x-amzn-RequestId", request_id or str(uuid.uuid4())))
        return status, headers, body

    def error(self, code: str, message: str, status: int, extra: dict | None = None,
              headers: dict | None = None, request_id: str | None = None) -> Reply:
        """Render an AWS error: `x-amzn-ErrorType` header plus a compact JSON body with sorted keys.

        As real Lambda replies: modeled errors carry `Type` and the model's spelling of the
        message key ({"Message":"Function not found: ...","Type":"User"} for
        ResourceNotFoundException, {"Reason":"CallerRateLimitExceeded","Type":"User",
        "message":"Rate exceeded"} for TooManyRequestsException); front-end errors outside the
        model (ValidationException, InvalidSignatureException) send only {"message": ...}.
        Type is "User" below 500, else "Service" (assumed; extra={"Type": ...} overrides).
        Error members the model binds to headers (retryAfterSeconds -> Retry-After) move there.
        """
        fields = dict(extra or {})
        out = [("Content-Type", "application/json"), ("x-amzn-ErrorType", code),
               ("x-amzn-RequestId", request_id or str(uuid.uuid4()))]
        body: dict[str, Any] = {"message": message}
        if shape := self._errors.get(code):
            body = {"Message" if "Message" in shape.members else "message": message,
                    "Type": "User" if status < 500 else "Service"}
            out += [(m.serialization.get("name", name), str(fields.pop(name))) for name, m in shape.members.items()
                    if m.serialization.get("location") == "header" and name in fields]
        body.update(fields)
        body = {k: v for k, v in body.items() if v is not None}  # extra={"Type": None}: an answer without Type
        out += [(k, str(v)) for k, v in (headers or {}).items()]
        return status, out, _dumps(body, sort=True)
