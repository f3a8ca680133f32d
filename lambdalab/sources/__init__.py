"""Event sources that fire by themselves: AWS services that invoke a function when something happens
to one of their resources (S3 for a bucket's notification configuration, SNS for a topic's ``lambda``
subscriptions, EventBridge for its rules, on a bus or on a schedule, and EventBridge Scheduler).

Each calls Lambda in-process through the Lambda API's own ``call``, as its service principal (the
function's resource-based policy decides, with the resource as ``aws:SourceArn`` and its owner as
``aws:SourceAccount``) or, for Scheduler, as the target's role (its policies decide), exactly as
Lambda decides for a learner's call; push sources invoke asynchronously, so the async queue's
retries, destinations and dead-letter queues apply to them.  What S3, SNS and EventBridge send to an
SQS queue or an SNS topic is judged the same way (:func:`may_deliver`): by the queue's or topic's
policy, which must let the service in.
moto keeps the resources (buckets, topics and their configurations) and calls hooks that
:func:`connect` puts in place; moto is one per process, so with several clouds running the newest
one's Lambda receives the events.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..iam import principals
from ..iam.resources import resource_side
from ..newest import Newest
from ..service.errors import LambdaError

if TYPE_CHECKING:
    from ..api import LambdaAPI
    from ..iam.authorizer import Authorizer
    from .schedules import Entry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Cloud:
    """What the sources reach of a running cloud: its Lambda API, and the authorizer that judges deliveries."""

    api: LambdaAPI
    authorizer: Authorizer


_clouds: Newest[_Cloud] = Newest()


def connect(api: LambdaAPI, authorizer: Authorizer) -> Callable[[], None]:
    """From now on, S3's, SNS's and EventBridge's events reach ``api``'s functions, and ``authorizer`` judges
    what they send to queues and topics; until the function returned is called."""
    cloud = _Cloud(api, authorizer)
    _clouds.add(cloud, install)
    return lambda: _clouds.remove(cloud)


def lambda_api() -> LambdaAPI | None:
    """The Lambda API the sources call (None when no cloud runs)."""
    cloud = _clouds.get()
    return cloud.api if cloud else None


def invoke(caller: principals.Caller, function_arn: str, region: str, event: Any,
           invocation_type: str = "Event") -> bool:
    """``caller`` (a service principal for a resource, or a role's session) invokes ``function_arn``;
    False when Lambda refuses (no such function, or the policies do not let the caller in), which a
    source logs and drops as AWS's do."""
    api = lambda_api()
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


def may_deliver(service: str, source_arn: str, source_account: str, target_arn: str) -> bool:
    """Whether ``service``, acting for its resource ``source_arn`` of ``source_account``, may send to the SQS
    queue or SNS topic ``target_arn``.  As for a function, only the target's resource-based policy lets a
    service in: a queue without one takes nothing from SNS, S3 or EventBridge, whose deliveries AWS then
    drops.  The cloud's authorizer judges and logs it, so ``cloud.decisions()`` shows why a message never
    arrived; with no cloud running, nothing judges and moto delivers."""
    cloud = _clouds.get()
    if cloud is None:
        return True
    action = "sqs:SendMessage" if target_arn.startswith("arn:aws:sqs:") else "sns:Publish"
    account, policy = resource_side(action, target_arn, source_account)
    decision = cloud.authorizer.decide(for_resource(service, source_arn, source_account), action, target_arn,
                                       resource_policy=policy, resource_account=account)
    if not decision.allowed:
        log.info("%s could not deliver to %s for %s: %s", service, target_arn, source_arn, decision.explain())
    return decision.allowed


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
