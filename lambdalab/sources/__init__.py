"""Event sources that fire by themselves: AWS services that invoke a function when something happens
to one of their resources (S3 for a bucket's notification configuration, SNS for a topic's ``lambda``
subscriptions, EventBridge for its rules, on a bus or on a schedule, and EventBridge Scheduler).

Each calls Lambda in-process through the Lambda API's own ``call``, as its service principal (the
function's resource-based policy decides, with the resource as ``aws:SourceArn`` and its owner as
``aws:SourceAccount``) or, for Scheduler, as the target's role (its policies decide), exactly as
Lambda decides for a learner's call; push sources invoke asynchronously, so the async queue's
retries, destinations and dead-letter queues apply to them.
moto keeps the resources (buckets, topics and their configurations) and calls hooks that
:func:`connect` puts in place; moto is one per process, so with several clouds running the newest
one's Lambda receives the events.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ..iam import principals
from ..newest import Newest
from ..service.errors import LambdaError

if TYPE_CHECKING:
    from ..api import LambdaAPI
    from .schedules import Entry

log = logging.getLogger(__name__)
_apis: Newest[LambdaAPI] = Newest()  # the running clouds' Lambda APIs


def connect(api: LambdaAPI) -> None:
    """From now on (until :func:`disconnect`), S3's and SNS's events reach ``api``'s functions."""
    _apis.add(api, install)


def disconnect(api: LambdaAPI) -> None:
    _apis.remove(api)


def lambda_api() -> LambdaAPI | None:
    """The Lambda API the sources call (None when no cloud runs)."""
    return _apis.get()


def invoke(caller: principals.Caller, function_arn: str, region: str, event: Any,
           invocation_type: str = "Event") -> bool:
    """``caller`` (a service principal for a resource, or a role's session) invokes ``function_arn``;
    False when Lambda refuses (no such function, or the policies do not let the caller in), which a
    source logs and drops as AWS's do."""
    api = _apis.get()
    if api is None:
        return False
    params: dict[str, Any] = {"FunctionName": function_arn, "InvocationType": invocation_type}
    if event is not None:
        params["Payload"] = json.dumps(event).encode()
    try:
        api.call(caller, region, "Invoke", params)
    except LambdaError as e:
        log.info("%s could not invoke %s: %s", caller.arn, function_arn, e.message)
        return False
    return True


def for_resource(service: str, source_arn: str, source_account: str) -> principals.Caller:
    """``service`` (``s3.amazonaws.com``) acting for its resource ``source_arn`` of ``source_account``."""
    return principals.service(service, source_arn, source_account)


def schedule_entries(accounts: Iterable[str]) -> Iterator[Entry]:
    """Every enabled schedule of these accounts: scheduled rules, then Scheduler's schedules."""
    from . import events, scheduler

    yield from events.entries(accounts)
    yield from scheduler.entries(accounts)


def install() -> None:
    """Put lambdalab's hooks into moto (once per process; each is idempotent)."""
    from ..invoke import recursion
    from . import events, s3, scheduler, sns

    recursion.install()  # SQS keeps the trace header a function's message came with
    s3.install()
    sns.install()
    events.install()
    scheduler.install()
