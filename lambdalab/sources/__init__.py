"""Event sources that fire by themselves: AWS services that invoke a function when something happens
to one of their resources (S3 for a bucket's notification configuration, SNS for a topic's ``lambda``
subscriptions, EventBridge for its rules, on a bus or on a schedule).

Each calls Lambda in-process as its service principal, through the Lambda API's own ``call``: the
function's resource-based policy decides, with the resource as ``aws:SourceArn`` and its owner as
``aws:SourceAccount``, exactly as it decides for a learner's call, and push sources invoke
asynchronously, so the async queue's retries, destinations and dead-letter queues apply to them.
moto keeps the resources (buckets, topics and their configurations) and calls hooks that
:func:`connect` puts in place; moto is one per process, so with several clouds running the newest
one's Lambda receives the events.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from ..iam import principals
from ..newest import Newest
from ..service.errors import LambdaError

if TYPE_CHECKING:
    from ..api import LambdaAPI

log = logging.getLogger(__name__)
_apis: Newest[LambdaAPI] = Newest()  # the running clouds' Lambda APIs


def connect(api: LambdaAPI) -> None:
    """From now on (until :func:`disconnect`), S3's and SNS's events reach ``api``'s functions."""
    _apis.add(api, _install)


def disconnect(api: LambdaAPI) -> None:
    _apis.remove(api)


def lambda_api() -> LambdaAPI | None:
    """The Lambda API the sources call (None when no cloud runs)."""
    return _apis.get()


def invoke(service: str, function_arn: str, region: str, source_arn: str, source_account: str,
           event: dict[str, Any] | None, invocation_type: str = "Event") -> bool:
    """``service`` (``s3.amazonaws.com``) invokes ``function_arn`` for its resource ``source_arn`` of
    ``source_account``; False when Lambda refuses (no such function, or its policy does not let the
    service in), which a source's sender logs and drops as AWS's do."""
    api = _apis.get()
    if api is None:
        return False
    caller = principals.service(service, source_arn, source_account)
    params: dict[str, Any] = {"FunctionName": function_arn, "InvocationType": invocation_type}
    if event is not None:
        params["Payload"] = json.dumps(event).encode()
    try:
        api.call(caller, region, "Invoke", params)
    except LambdaError as e:
        log.info("%s could not invoke %s for %s: %s", service, function_arn, source_arn, e.message)
        return False
    return True


def _install() -> None:
    from . import events, s3, sns

    s3.install()
    sns.install()
    events.install()
