"""Runs a recorded case against a local cloud and lists every way its answers differ from AWS's.

A case (``cases/*.json``, format in ``README.md``) is a list of steps: boto3 calls with the
response AWS gave to the same request, reads of the function's CloudWatch Logs, and the lines of
``LogType=Tail``.  The recorded values are patterns: ``<name>`` placeholders stand for what differs
between runs (request ids, durations, dates, code hashes); ``<name:N>`` must be the same value
everywhere in the case it appears; ``<function-name:N>``, ``<account>``, ``<region>`` and
``<partition>`` become the case's own literal values.  Everything else must be equal, and a
response must hold exactly the recorded keys (``"match": "subset"`` relaxes that for one step).

:func:`run_case` returns the differences as stable, readable lines (``path: expected ..., got ...``),
with the volatile parts of the actual values replaced by the same placeholders, so a case can name
the exact differences it is known to have.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError

import lambdalab
from lambdalab import zip_files

CASES = Path(__file__).parent / "cases"
NO_RETRIES = Config(retries={"total_max_attempts": 1}, read_timeout=60)
LOG_WAIT_S = 1.0  # how long a logs step waits for its REPORT events unless it says ("wait_s": an async invocation)

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
PATTERNS = {  # what each placeholder stands for
    "uuid": _UUID,
    "request-id": _UUID,
    "duration": r"\d+(?:\.\d+)?",
    "memory": r"\d+",
    "int": r"\d+",
    "version": r"\d+",
    "date": r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})",
    "timestamp": r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z",
    "sha256": r"[A-Za-z0-9+/]{43}=",
    "runtime-id": r"[0-9a-f]{64}",
    "log-stream": r"\d{4}/\d{2}/\d{2}/\[[^\]]+\][0-9a-f]{32}",
    "url": r"\S+",
    "label": r"[0-9T:.\-]+",  # a DynamoDB stream's label, a time
    "any": r".*",
}
_TOKEN = re.compile(r"<([a-z0-9-]+)(?::(\d+))?>")
_NAMES = re.compile(r"<(?:function|queue|role|stream|table)-name:(\d+)>")  # one unique name per number, any kind
# How the actual values are shown in a difference: volatile parts as placeholders, so it reads the same every run.
_DISPLAY = [
    (re.compile(_UUID), "<uuid>"),
    (re.compile(PATTERNS["date"]), "<date>"),
    (re.compile(r"\d+\.\d{2} ms"), "<duration> ms"),
    (re.compile(r"(Billed Duration|Max Memory Used): \d+"), r"\1: <int>"),
    (re.compile(r"\b[0-9a-f]{64}\b"), "<runtime-id>"),
    (re.compile(r"\b[0-9a-f]{32}\b"), "<hex>"),
    (re.compile(r"[A-Za-z0-9+/]{43}="), "<sha256>"),
    (re.compile(r"http://127\.0\.0\.1:\d+/\S*"), "<url>"),
    (re.compile(r"/tmp/lambdalab-[^/\s\"']+"), "<workdir>"),
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:<port>"),
]
_HOST = [(os.environ.get("PATH", "\0"), "<host PATH>"), (str(Path(lambdalab.__file__).parent), "<lambdalab>")]


class KnownDifference(AssertionError):
    """Raised when a case differs from its recording exactly as the case says it does (an xfail)."""


@dataclass
class Case:
    path: Path
    data: dict

    @property
    def id(self) -> str:
        return self.data["id"]

    @property
    def differs(self) -> list[str]:
        return self.data.get("differs", [])


def load_cases() -> list[Case]:
    return [Case(p, json.loads(p.read_text())) for p in sorted(CASES.glob("*.json"))]


@dataclass
class Run:
    """One case's run: its literal values and the placeholders bound so far."""

    cloud: Any
    case_id: str
    names: dict[str, str] = field(default_factory=dict)
    bound: dict[str, str] = field(default_factory=dict)
    diffs: list[str] = field(default_factory=list)

    # -- literals ---------------------------------------------------------------------------------
    def name(self, n: str) -> str:
        if n not in self.names:
            self.names[n] = f"fid-{self.case_id[:30]}-{n}-{uuid.uuid4().hex[:6]}"
        return self.names[n]

    def literals(self, text: str, region: str) -> str:
        """Replace the case's literal placeholders (names, account, region, partition, and the numbered ones an
        earlier answer bound, such as a stream's label) in ``text``."""
        text = _NAMES.sub(lambda m: self.name(m.group(1)), text)
        text = _TOKEN.sub(lambda m: self.bound.get(f"{m.group(1)}:{m.group(2)}", m.group(0)) if m.group(2)
                          else m.group(0), text)
        return text.replace("<account>", self.cloud.account).replace("<region>", region).replace("<partition>", "aws")

    def request(self, value: Any, region: str) -> Any:
        if isinstance(value, str):
            return self.literals(value, region)
        if isinstance(value, dict):
            if set(value) == {"$hex"}:
                return bytes.fromhex(value["$hex"])
            if set(value) == {"$json"}:  # a Payload written as JSON in the case
                return json.dumps(self.request(value["$json"], region))
            return {k: self.request(v, region) for k, v in value.items()}
        if isinstance(value, list):
            return [self.request(v, region) for v in value]
        return value

    def display(self, value: Any) -> str:
        text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
        for n, literal in self.names.items():
            text = text.replace(literal, f"<function-name:{n}>")
        text = text.replace(self.cloud.account, "<account>")
        for literal, placeholder in _HOST:  # what depends on the machine the suite runs on
            text = text.replace(literal, placeholder)
        for pattern, placeholder in _DISPLAY:
            text = pattern.sub(placeholder, text)
        return text

    # -- matching ---------------------------------------------------------------------------------
    def compile(self, expected: str, region: str) -> tuple[re.Pattern, list[str]]:
        """The regular expression for a recorded string, and the numbered placeholders it binds."""
        parts, binds, pos = [], [], 0
        text = self.literals(expected, region)
        for m in _TOKEN.finditer(text):
            parts.append(re.escape(text[pos:m.start()]))
            kind, number = m.group(1), m.group(2)
            if kind not in PATTERNS:
                parts.append(re.escape(m.group(0)))
            elif number is None:
                parts.append(f"(?:{PATTERNS[kind]})")
            elif f"{kind}:{number}" in self.bound:
                parts.append(re.escape(self.bound[f"{kind}:{number}"]))
            else:
                group = f"g{len(binds)}"
                binds.append(f"{kind}:{number}")
                parts.append(f"(?P<{group}>{PATTERNS[kind]})")
            pos = m.end()
        parts.append(re.escape(text[pos:]))
        return re.compile("".join(parts), re.DOTALL), binds

    def matches(self, expected: str, actual: Any, region: str, bind: bool = True) -> bool:
        if not isinstance(actual, str):
            if isinstance(actual, bool) or not isinstance(actual, (int, float)):
                return False
            actual = str(actual)  # "<int>" against a number
        pattern, binds = self.compile(expected, region)
        m = pattern.fullmatch(actual)
        if m and bind:
            for i, key in enumerate(binds):
                self.bound.setdefault(key, m.group(f"g{i}"))
        return m is not None

    def compare(self, path: str, expected: Any, actual: Any, region: str, subset: bool = False) -> None:
        if isinstance(expected, dict) and isinstance(actual, dict):
            for key, value in expected.items():
                if key not in actual:
                    self.diffs.append(f"{path}.{key}: missing (AWS: {_show(value)})")
                else:
                    self.compare(f"{path}.{key}", value, actual[key], region, subset)
            if not subset:
                self.diffs.extend(f"{path}.{key}: not in AWS's answer (got {self.display(actual[key])})"
                                  for key in actual if key not in expected)
        elif isinstance(expected, list) and isinstance(actual, list):
            self.compare_lists(path, expected, actual, region, subset)
        elif isinstance(expected, str) and (not isinstance(actual, (dict, list))):
            if not self.matches(expected, actual, region):
                self.diffs.append(f"{path}: expected {_show(expected)}, got {self.display(actual)}")
        elif expected != actual:
            self.diffs.append(f"{path}: expected {_show(expected)}, got {self.display(actual)}")

    def compare_lists(self, path: str, expected: list, actual: list, region: str, subset: bool) -> None:
        """Element by element; when the lengths differ, align the items that match and list the rest."""
        if len(expected) == len(actual):
            for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
                self.compare(f"{path}[{i}]", e, a, region, subset)
            return
        pairs = self._align(expected, actual, region)
        ei = ai = 0
        for pe, pa in [*pairs, (len(expected), len(actual))]:
            gap_e, gap_a = list(range(ei, pe)), list(range(ai, pa))
            for i, j in zip(gap_e, gap_a, strict=False):  # the longer gap's rest is listed below
                self.compare(f"{path}[{i}]", expected[i], actual[j], region, subset)
            for i in gap_e[len(gap_a):]:
                self.diffs.append(f"{path}[{i}]: missing (AWS: {_show(expected[i])})")
            for j in gap_a[len(gap_e):]:
                self.diffs.append(f"{path}: unexpected item at {j}: {self.display(actual[j])}")
            if pe < len(expected):
                self.compare(f"{path}[{pe}]", expected[pe], actual[pa], region, subset)
            ei, ai = pe + 1, pa + 1

    def _align(self, expected: list, actual: list, region: str) -> list[tuple[int, int]]:
        """Longest common subsequence, equality being "the recorded pattern matches"."""
        def same(e: Any, a: Any) -> bool:  # a line that differs only in its final newline still pairs up
            if isinstance(e, str) and isinstance(a, str):
                return self.matches(e.rstrip("\n"), a.rstrip("\n"), region, bind=False)
            return e == a

        n, m = len(expected), len(actual)
        best = [[0] * (m + 1) for _ in range(n + 1)]
        for i in range(n - 1, -1, -1):
            for j in range(m - 1, -1, -1):
                best[i][j] = (best[i + 1][j + 1] + 1 if same(expected[i], actual[j])
                              else max(best[i + 1][j], best[i][j + 1]))
        pairs, i, j = [], 0, 0
        while i < n and j < m:
            if same(expected[i], actual[j]) and best[i][j] == best[i + 1][j + 1] + 1:
                pairs.append((i, j))
                i, j = i + 1, j + 1
            elif best[i + 1][j] >= best[i][j + 1]:
                i += 1
            else:
                j += 1
        return pairs


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


# -- running the steps ----------------------------------------------------------------------------
def run_case(cloud: Any, case: dict) -> list[str]:
    """Run every step of ``case`` and return its differences from the recording (none: faithful)."""
    run = Run(cloud, case["id"])
    regions = {cloud.region}
    try:
        for index, step in enumerate(case["steps"]):
            region = step.get("region", cloud.region)
            regions.add(region)
            where = step.get("label", f"step {index}")
            if "call" in step:
                _call(run, step, where, region)
            elif "logs" in step:
                _logs(run, step, where, region)
            elif "advance" in step:  # the recording waited (for retries, an allocation): the clock moves instead
                cloud.clock.advance(step["advance"])
    finally:
        _clean_up(run, regions)
    return run.diffs


def _clean_up(run: Run, regions: set[str]) -> None:
    """Delete the case's functions, so that their execution environments end with the case."""
    for region in regions:
        client = run.cloud.client("lambda", region_name=region, config=NO_RETRIES)
        for name in run.names.values():
            try:
                client.delete_function(FunctionName=name)
            except ClientError:
                pass  # not a function (a queue or role name), or already deleted by the case


def _call(run: Run, step: dict, where: str, region: str) -> None:
    service, operation = step["call"].split(".")
    config = NO_RETRIES if step.get("validate", True) else NO_RETRIES.merge(Config(parameter_validation=False))
    client = run.cloud.client(service, region_name=region, config=config)
    params = run.request(step.get("params", {}), region)
    if "queue" in step:  # the URL of a queue the case created
        sqs = run.cloud.client("sqs", region_name=region, config=NO_RETRIES)
        params["QueueUrl"] = sqs.get_queue_url(QueueName=run.literals(step["queue"], region))["QueueUrl"]
    if "code" in step:  # a .zip built from the sources the case gives
        archive = zip_files(step["code"])
        if operation == "update_function_code":
            params["ZipFile"] = archive
        else:
            params["Code"] = {"ZipFile": archive}
    try:
        response = getattr(client, operation)(**params)
    except ClientError as e:
        response = e.response
    except Exception as e:  # any other failure of the call (a client-side check, a broken answer) is a difference
        run.diffs.append(f"{where}: the call raised {type(e).__name__}: {e}")
        return
    response = _normalize(response)
    expected = copy.deepcopy(step.get("expect"))
    if "tail" in step:
        raw = response.pop("LogResult", None)
        lines = base64.b64decode(raw).decode().splitlines(keepends=step.get("tail_keepends", True)) if raw else []
        if "tail_drop" in step:  # the recording left these lines out
            lines = [line for line in lines if not line.startswith(step["tail_drop"])]
        run.compare(f"{where}.LogResult", step["tail"], lines, region)
    if "only_case_functions" in step:  # a listing of the whole account: keep this case's functions
        key, mine = step["only_case_functions"], set(run.names.values())
        response[key] = [f for f in response.get(key, []) if f.get("FunctionName") in mine]
    for dotted, keep in step.get("trim", {}).items():  # compare only the last ``keep`` items of a list
        for tree in (response, expected):
            _trim(tree, dotted.split("."), keep)
    for dotted in step.get("ignore", []):  # a deliberate deviation the case's notes explain
        for tree in (response, expected):
            _drop(tree, dotted.split("."))
    if expected is None:
        return
    if "ResponseMetadata" not in expected:  # the recording kept the body alone
        response.pop("ResponseMetadata")
    if ("Error" in expected) != ("Error" in response):  # one answered an error, the other did not: say so once
        answered = run.display(_outcome(response))
        run.diffs.append(f"{where}: AWS answered {_outcome(expected)}, lambdalab answered {answered}")
        return
    run.compare(where, expected, response, region, subset=step.get("match") == "subset")


def _outcome(response: dict) -> str:
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if "Error" in response:
        message = response["Error"].get("Message")
        return f"{status} {response['Error'].get('Code')}" + (f": {message}" if message else "")
    return f"{status} (no error)"


def _trim(tree: Any, keys: list[str], keep: int) -> None:
    for key in keys[:-1]:
        if not isinstance(tree, dict) or key not in tree:
            return
        tree = tree[key]
    if isinstance(tree, dict) and isinstance(tree.get(keys[-1]), list):
        tree[keys[-1]] = tree[keys[-1]][-keep:]


def _drop(tree: Any, keys: list[str]) -> None:
    for key in keys[:-1]:
        tree = tree.get(key) if isinstance(tree, dict) else None
    if isinstance(tree, dict):
        tree.pop(keys[-1], None)


def _normalize(response: dict) -> dict:
    """The parts of a boto3 response a recording holds: no request id, headers or retry counts;
    a streamed Payload read, and JSON documents (Payload, Policy) decoded as the recordings show them."""
    out = {k: v for k, v in response.items() if k != "ResponseMetadata"}
    out["ResponseMetadata"] = {"HTTPStatusCode": response.get("ResponseMetadata", {}).get("HTTPStatusCode")}
    if hasattr(out.get("Payload"), "read"):
        out["Payload"] = out["Payload"].read().decode("utf-8", "replace")
    return _decode(out)


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _logs(run: Run, step: dict, where: str, region: str) -> None:
    """The function's log events as CloudWatch Logs holds them, once ``reports`` REPORT lines are in."""
    group = run.literals(step["logs"], region)
    logs = run.cloud.client("logs", region_name=region, config=NO_RETRIES)
    wait_s = step.get("wait_s", LOG_WAIT_S)
    deadline = time.monotonic() + wait_s
    while True:
        run.cloud.logs.flush()
        try:
            events = logs.filter_log_events(logGroupName=group)["events"]
        except ClientError:
            events = []
        if sum(e["message"].startswith("REPORT") for e in events) >= step.get("reports", 1):
            break
        if time.monotonic() > deadline:
            run.diffs.append(f"{where}: no {step.get('reports', 1)} REPORT events in {step['logs']} "
                             f"after {wait_s:.0f} s")
            break
        time.sleep(0.05)  # the invocation is still running: poll until its REPORT is delivered
    messages = [e["message"] for e in events]
    if "select" in step:  # the recording kept only the events holding this text
        messages = [m for m in messages if step["select"] in m]
    if step.get("rstrip"):  # ... and right-stripped them
        messages = [m.rstrip() for m in messages]
    run.compare(where, step["expect"], messages, region)
