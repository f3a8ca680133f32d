"""SNS subscriptions of protocol ``lambda``: a Publish invokes every subscribed function, as SNS does.

moto keeps topics and subscriptions, applies each subscription's filter policy and hands the message
to ``Subscription.publish``; for ``lambda`` it would call moto's own Lambda, which lambdalab replaces.
:func:`install` wraps that method so a ``lambda`` subscription invokes the function asynchronously
as ``sns.amazonaws.com``, with the topic as ``aws:SourceArn`` and its owner as
``aws:SourceAccount``, judged by the function's resource-based policy like any call, with SNS's
record: ``EventSource``, ``EventVersion``, ``EventSubscriptionArn`` and ``Sns`` (``Type``,
``MessageId``, ``TopicArn``, ``Subject``, null when the message has none, ``Message``,
``Timestamp``, ``SignatureVersion``, a ``Signature`` made with the topic's key, the
``SigningCertUrl`` that serves its certificate, ``UnsubscribeUrl``, ``MessageAttributes``).  The
other protocols stay moto's.

``SignatureVersion`` is "1" whatever the topic's: AWS writes "1" in what it sends Lambda even when the
topic signs with SHA256 (its ``SignatureVersion`` 2), as LocalStack's AWS-validated
``test_publish_lambda_verify_signature`` recorded.  The signature is over AWS's string to sign (the
Subject included when there is one), with SHA1, or SHA256 for a topic of version 2.
"""

from __future__ import annotations

import base64
import functools
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from .. import sources

SNS = "sns.amazonaws.com"


def install() -> None:
    from moto.sns.models import Subscription

    if not getattr(Subscription.publish, "lambdalab", False):
        Subscription.publish = _publishing(Subscription.publish)


def _publishing(moto_publish):
    @functools.wraps(moto_publish)
    def publish(subscription, message: str, message_id: str, subject: str | None = None,
                message_attributes: dict[str, Any] | None = None, group_id: str | None = None,
                deduplication_id: str | None = None, message_structure: str | None = None) -> None:
        if subscription.protocol != "lambda":
            return moto_publish(subscription, message, message_id, subject, message_attributes, group_id,
                                deduplication_id, message_structure)
        matcher = subscription._filter_policy_matcher
        if matcher is not None and not matcher.matches(message_attributes, message):
            return None
        if message_structure == "json":  # the "lambda" entry of the message, else its "default"
            message = subscription._parse_message_structure(message, "lambda")
        topic = subscription.topic
        region = topic.arn.split(":")[3]
        sources.invoke(sources.for_resource(SNS, topic.arn, subscription.account_id), subscription.endpoint, region,
                       record(subscription, message, message_id, subject, message_attributes))
        return None

    publish.lambdalab = True
    return publish


def record(subscription: Any, message: str, message_id: str, subject: str | None,
           message_attributes: dict[str, Any] | None) -> dict[str, Any]:
    """The event SNS sends a subscribed function for one message."""
    signed = subscription.get_post_data(message, message_id, subject)  # registers the certificate moto serves
    region = subscription.topic.arn.split(":")[3]
    attributes = {name: {"Type": value["Type"], "Value": value["Value"]}
                  for name, value in (message_attributes or {}).items()}
    sns = {"Type": "Notification", "MessageId": message_id, "TopicArn": subscription.topic.arn,
           "Subject": subject or None, "Message": message, "Timestamp": signed["Timestamp"]}
    return {"Records": [{
        "EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": subscription.arn,
        "Sns": {**sns, "SignatureVersion": "1", "Signature": signature(subscription, sns),
                "SigningCertUrl": signed["SigningCertURL"],
                "UnsubscribeUrl": f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn="
                                  f"{subscription.arn}",
                "MessageAttributes": attributes}}]}


def signature(subscription: Any, sns: dict[str, Any]) -> str:
    """AWS's signature of a notification: its fields, each name and value on a line of its own, in this
    order, the Subject only when there is one; SHA256 for a topic of SignatureVersion 2, else SHA1."""
    text = "".join(f"{field}\n{sns[field]}\n" for field in
                   ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type") if sns[field] is not None)
    topic = subscription.topic  # moto keeps the attribute under the name CreateTopic or SetTopicAttributes gave it
    version = getattr(topic, "SignatureVersion", None) or getattr(topic, "signature_version", "1")
    algorithm = hashes.SHA256() if str(version) == "2" else hashes.SHA1()
    raw = subscription.private_key().sign(text.encode(), padding.PKCS1v15(), algorithm)
    return base64.b64encode(raw).decode()
