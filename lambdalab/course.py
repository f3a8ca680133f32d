"""The helpers every chapter of the course uses, so that no notebook writes its own.

Each helper is a few of the boto3 calls chapter 01 teaches, bound explicitly to a client::

    from lambdalab.course import Functions, attempt

    fn = Functions(cloud)                       # acts with cloud.client("lambda"), the account's root user
    fn.deploy("hello", "def handler(event, context):\\n    return 'hi'\\n", MemorySize=256)
    fn.invoke("hello")                          # 'hi': the decoded payload
    fn.call("hello").report                     # the whole response: version, error, log tail, REPORT figures
    fn.delete("hello")                          # done with it: its execution environments end too
    attempt(lambda: fn.lam.get_function(FunctionName="nope"))   # prints AWS's error instead of raising
    url, arn = queue(cloud.client("sqs"), "jobs", VisibilityTimeout=30)   # an SQS queue to send to or poll

A chapter that acts as someone else passes that principal's client:
``Functions(cloud, client=cloud.client("lambda", credentials=key))``.  The exercises' checks use
the same class, so a notebook and a check deploy and invoke functions in one way.
"""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.request
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from .iam.roles import COURSE_ROLE_NAME  # made by every cloud: trusted by Lambda, may write logs only
from .packaging import zip_files

T = TypeVar("T")

_REPORT_FIELD = re.compile(r"(Duration|Billed Duration|Memory Size|Max Memory Used|Init Duration): ([\d.]+) (ms|MB)")


def report_figures(line: str) -> dict[str, float]:
    """The figures of a REPORT line: ``{"Duration": 1.62, "Billed Duration": 2.0, "Memory Size": 128.0, ...}``.

    ``Init Duration`` is there only for a cold start, as in the line itself.
    """
    return {name: float(value) for name, value, _ in _REPORT_FIELD.findall(line)}


@dataclass(frozen=True)
class Invocation:
    """What one synchronous Invoke answered, decoded: the fields of the response a chapter reads."""

    status: int  # StatusCode: 200 even when the function failed
    version: str  # ExecutedVersion
    error: str | None  # FunctionError ("Unhandled"), None when the function succeeded
    payload: Any  # the decoded JSON (the error document when it failed), or the raw bytes
    request_id: str
    log: str  # the log tail (LogType="Tail"), "" when not asked for

    @property
    def report(self) -> str:
        """The REPORT line of the log tail ("" without a tail)."""
        return next((line for line in self.log.splitlines() if line.startswith("REPORT ")), "")

    @property
    def figures(self) -> dict[str, float]:
        """The REPORT line's figures (see :func:`report_figures`)."""
        return report_figures(self.report)

    @property
    def error_type(self) -> str | None:
        """The errorType of a failed invocation's error document."""
        return self.payload.get("errorType") if self.error and isinstance(self.payload, dict) else None


def decode(response: dict) -> Invocation:
    """An Invoke response (from boto3) as an :class:`Invocation`; reads its Payload stream."""
    raw = response["Payload"].read()
    try:
        payload: Any = json.loads(raw)
    except ValueError:
        payload = raw
    return Invocation(status=response["StatusCode"], version=response.get("ExecutedVersion", ""),
                      error=response.get("FunctionError"), payload=payload,
                      request_id=response["ResponseMetadata"]["RequestId"],
                      log=base64.b64decode(response.get("LogResult", "")).decode(errors="replace"))


class Functions:
    """Deploy, invoke and delete Lambda functions of ``cloud`` with one Lambda client.

    ``client`` is the principal that acts (default: ``cloud.client("lambda")``, the root user of
    ``cloud.account``); ``role`` is the execution role new functions get unless told otherwise
    (default: the course role, ``lambda-role``, which may write logs and nothing else).
    """

    def __init__(self, cloud, *, client=None, role: str | None = None) -> None:
        self.cloud = cloud
        self.lam = client if client is not None else cloud.client("lambda")
        self.role = role or f"arn:aws:iam::{cloud.account}:role/{COURSE_ROLE_NAME}"

    def deploy(self, name: str, files: dict[str, str] | str, *, role: str | None = None,
               handler: str = "app.handler", runtime: str = "python3.12", **config: Any) -> str:
        """Create function ``name`` from source text (``{"app.py": text, ...}``, or the text of app.py).

        If it exists already, it gets the new code and this configuration instead. Returns the
        name once the function can be invoked (what boto3's waiters wait for). ``config`` takes
        CreateFunction's other parameters: MemorySize, Timeout, Environment, Layers, ...
        """
        package = zip_files(files)
        role = role or self.role
        try:
            self.lam.create_function(FunctionName=name, Runtime=runtime, Role=role, Handler=handler,
                                     Code={"ZipFile": package}, **config)
            self.lam.get_waiter("function_active_v2").wait(FunctionName=name)
        except self.lam.exceptions.ResourceConflictException:  # it exists: new code, then this configuration
            self.update_code(name, files)
            self.lam.update_function_configuration(FunctionName=name, Runtime=runtime, Role=role, Handler=handler,
                                                   **config)
            self.lam.get_waiter("function_updated_v2").wait(FunctionName=name)
        return name

    def update_code(self, name: str, files: dict[str, str] | str) -> None:
        """Give the function's $LATEST new code (nothing else changes) and wait until it is in place."""
        self.lam.update_function_code(FunctionName=name, ZipFile=zip_files(files))
        self.lam.get_waiter("function_updated_v2").wait(FunctionName=name)

    def configure(self, name: str, **config: Any) -> None:
        """UpdateFunctionConfiguration, then wait until the update is done."""
        self.lam.update_function_configuration(FunctionName=name, **config)
        self.lam.get_waiter("function_updated_v2").wait(FunctionName=name)

    def package(self, name: str) -> bytes:
        """The function's .zip, downloaded from GetFunction's ``Code.Location`` as AWS hands it out."""
        location = self.lam.get_function(FunctionName=name)["Code"]["Location"]
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # the cloud is on this machine
        with opener.open(location) as response:
            return response.read()

    def set_architecture(self, name: str, architecture: str) -> None:
        """Move the function to ``architecture`` (``x86_64`` or ``arm64``) and wait until it is in place.

        AWS changes a function's architecture with its code (UpdateFunctionCode's ``Architectures``,
        since a package may hold native code for one of them), so the function's own package goes
        up again with it.
        """
        self.lam.update_function_code(FunctionName=name, ZipFile=self.package(name), Architectures=[architecture])
        self.lam.get_waiter("function_updated_v2").wait(FunctionName=name)

    def new_environments(self, name: str) -> None:
        """Change a configuration value, so that Lambda retires the function's execution environments:
        the next request to it is a cold start."""
        self.configure(name, Environment={"Variables": {"DEPLOYMENT": str(time.time_ns())}})

    def call(self, name: str, event: Any = None, *, tail: bool = True, **params: Any) -> Invocation:
        """One synchronous invocation with ``event`` (JSON-encoded); the whole answer, decoded.

        ``tail`` asks for the log tail (``LogType="Tail"``); ``params`` are Invoke's others (Qualifier, ...).
        """
        if tail:
            params.setdefault("LogType", "Tail")
        return decode(self.lam.invoke(FunctionName=name, Payload=json.dumps({} if event is None else event),
                                      **params))

    def invoke(self, name: str, event: Any = None, **params: Any) -> Any:
        """One synchronous invocation; what the handler returned (its error document if it failed)."""
        return self.call(name, event, tail=False, **params).payload

    def invoke_at_once(self, name: str, n: int, event: Any = None) -> list[Invocation]:
        """``n`` invocations at the same moment, from ``n`` threads (a burst of concurrent requests)."""
        with ThreadPoolExecutor(max_workers=n, thread_name_prefix="lambdalab-burst") as pool:
            return list(pool.map(lambda _: self.call(name, event, tail=False), range(n)))

    def provision(self, name: str, qualifier: str, amount: int) -> dict:
        """Provisioned concurrency for a version or alias, then the cloud's clock fast-forwarded through the
        time AWS takes to allocate it (``quotas.provisioned_allocation_s``): its configuration, READY or FAILED."""
        self.lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier=qualifier,
                                                    ProvisionedConcurrentExecutions=amount)
        self.cloud.clock.advance(self.cloud.quotas.provisioned_allocation_s)
        config = self.lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier=qualifier)
        config.pop("ResponseMetadata", None)
        return config

    def records(self, name: str, last: int | None = None):
        """The rows of ``cloud.invocations()`` for function ``name`` (the ``last`` ones, if given), oldest first."""
        frame = self.cloud.invocations()
        frame = frame[frame["function"] == name].sort_values("start", kind="stable")
        if last is not None:
            frame = frame.tail(last)
        return frame.reset_index(drop=True)

    def arn(self, name: str) -> str:
        """The function's ARN, as GetFunction answers it."""
        return self.lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]

    def delete(self, *names: str) -> None:
        """Delete these functions, if they exist: their execution environments end at once.

        A finished section deletes what it made, so that a small machine (Binder) keeps its memory.
        """
        for name in names:
            try:
                self.lam.delete_function(FunctionName=name)
            except self.lam.exceptions.ResourceNotFoundException:
                pass

    def __repr__(self) -> str:
        return f"<Functions of {self.cloud.endpoint_url}, new ones with role {self.role}>"


def attempt(call: Callable[[], T], *, longest: int = 300) -> T | None:
    """Run ``call()``; print ``OK``, or AWS's error code and message instead of raising. Returns what it returned.

    A message longer than ``longest`` characters (AWS quotes whole inputs in some) is cut, saying so.
    """
    from botocore.exceptions import ClientError

    try:
        result = call()
    except ClientError as err:
        message = err.response["Error"]["Message"]
        if len(message) > longest:
            message = f"{message[:longest]} ... ({len(message) - longest:,} more characters)"
        print(f"{err.response['Error']['Code']}: {message}")
        return None
    print("OK")
    return result


def policy(*statements: dict) -> str:
    """A policy document, as the JSON text IAM takes, made of ``statements``."""
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def queue(sqs, name: str, **attributes: Any) -> tuple[str, str]:
    """Create the SQS queue ``name`` with ``attributes`` (or find it, if it exists with them): its (URL, ARN).

    Attributes are written as Python values, ``VisibilityTimeout=30`` or ``RedrivePolicy={...}``:
    SQS takes every attribute as a string, and a policy as its JSON text.
    """
    text = {key: value if isinstance(value, str) else json.dumps(value) for key, value in attributes.items()}
    url = sqs.create_queue(QueueName=name, Attributes=text)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def log_events(cloud, name: str, pattern: str = "") -> list[dict]:
    """The CloudWatch Logs events of function ``name`` (every stream, oldest first), once all are stored.

    ``pattern`` keeps the events that contain it (``filterPattern``).
    """
    cloud.logs.flush()  # lambdalab ships log lines in batches: wait for the last one
    logs = cloud.client("logs")
    events, params = [], {"logGroupName": f"/aws/lambda/{name}", **({"filterPattern": pattern} if pattern else {})}
    try:
        for page in logs.get_paginator("filter_log_events").paginate(**params):
            events += page["events"]
    except logs.exceptions.ResourceNotFoundException:
        return []
    return sorted(events, key=lambda e: (e["timestamp"], e.get("ingestionTime", 0)))


_UNITS = (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024))


def readable(value: Any, unit: str) -> str:
    """A quota's value for people: bytes in KB, MB or GB (1,024-based, as AWS counts), thousands separated."""
    if unit == "bytes" and isinstance(value, int):
        for name, size in _UNITS:
            if value >= size:
                whole, rest = divmod(value, size)
                if rest == 0:
                    return f"{whole:,} {name}"
                if size > 1024 and rest < 1024:
                    return f"{whole:,} {name} + {rest:,} bytes"
                if size > 1024:
                    return f"{value / size:,.1f} {name} ({value:,} bytes)"
                break
        return f"{value:,} bytes"
    number = f"{value:,}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)
    return number if unit == "count" else f"{number} {unit}"


def quota_table(quotas, keys: Iterable[str] | None = None):
    """``cloud.quotas.table()`` for reading: values and AWS's defaults in human units, ``keys`` only if given."""
    frame = quotas.table()
    if keys is not None:
        frame = frame.set_index("key").loc[list(keys)].reset_index()
    for column in ("value", "aws_default"):
        frame[column] = [readable(v, u) for v, u in zip(frame[column], frame["unit"], strict=True)]
    return frame[["quota", "value", "aws_default", "key", "source", "note"]]


__all__ = ["Functions", "Invocation", "attempt", "decode", "log_events", "policy", "queue", "quota_table", "readable",
           "report_figures"]
