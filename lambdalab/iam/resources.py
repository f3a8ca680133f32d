"""The resource side of a decision: the account that owns what a call acts on, and the policy on it.

S3 buckets (bucket policies), SQS queues (queue policies), SNS topics (topic policies) and IAM
roles (trust policies, which every sts:AssumeRole needs) carry resource-based policies, kept in
moto; any other resource belongs to the account its ARN names and has none.  The owner decides
whether a call crosses accounts, where both sides must allow; a root user needs no allow at home.
Lambda's own functions and layers are the Lambda API's business (``api/authorize.py``).
"""

from __future__ import annotations

from ..arns import account_of, parse_arn
from .policy import Policy
from .principals import find_role


def resource_side(action: str, arn: str, home: str) -> tuple[str, Policy | None]:
    """(owning account, resource-based policy or None) of ``arn``; ``home`` when the ARN names no account."""
    if action == "sts:AssumeRole":
        role = find_role(arn)
        return (role.account_id, trust_policy(role)) if role else (_account(arn, home), None)
    if arn.startswith("arn:aws:s3:::"):
        return _bucket(arn.removeprefix("arn:aws:s3:::").split("/", 1)[0], home)
    if arn.startswith("arn:aws:sqs:"):
        return _queue(arn, home)
    if arn.startswith("arn:aws:sns:"):
        return _topic(arn, home)
    return _account(arn, home), None


def trust_policy(role) -> Policy:
    """The trust policy of a moto Role, the resource-based policy every sts:AssumeRole of it needs."""
    return Policy(f"trust policy of role {role.name}", role.assume_role_policy_document, kind="trust")


def _account(arn: str, home: str) -> str:
    """The account an ARN names; ``home`` for none, or for AWS's own (``arn:aws:iam::aws:policy/...``)."""
    return account_of(arn, home)


def _bucket(name: str, home: str) -> tuple[str, Policy | None]:
    from moto.s3.models import s3_backends

    _partition, account = s3_backends.bucket_accounts.get(name, ("aws", home))
    bucket = s3_backends[account]["aws"].buckets.get(name)
    policy = bucket.policy if bucket is not None else None
    return account, Policy(f"bucket policy of {name}", policy.decode(), kind="resource") if policy else None


def _queue(arn: str, home: str) -> tuple[str, Policy | None]:
    parsed = parse_arn(arn)
    if parsed is None:
        return home, None
    queue = queue_of(arn)
    policy = queue.policy if queue is not None else None
    return parsed.account, Policy(f"queue policy of {parsed.resource}", policy, kind="resource") if policy else None


def _topic(arn: str, home: str) -> tuple[str, Policy | None]:
    parsed = parse_arn(arn)
    if parsed is None:  # a phone number or a target the request names otherwise
        return home, None
    topic = topic_of(arn)
    policy = topic.policy if topic is not None else None
    return parsed.account, Policy(f"topic policy of {parsed.resource}", policy, kind="resource") if policy else None


def queue_of(arn: str):
    """moto's SQS queue of that ARN, or None (no such queue, account or Region)."""
    from moto.sqs.models import sqs_backends

    backend = _backend(sqs_backends, arn)
    return backend.queues.get(parse_arn(arn).resource) if backend is not None else None


def topic_of(arn: str):
    """moto's SNS topic of that ARN, or None (no such topic, account or Region)."""
    from moto.sns.models import sns_backends

    backend = _backend(sns_backends, arn)
    return backend.topics.get(arn) if backend is not None else None


def _backend(backends, arn: str):
    """A moto service's backend for the account and Region an ARN names; None for an account moto has not
    made, or a Region that does not exist."""
    parsed = parse_arn(arn)
    if parsed is None or parsed.account not in backends:
        return None
    try:
        return backends[parsed.account][parsed.region]
    except KeyError:
        return None
