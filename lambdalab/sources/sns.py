"""SNS subscriptions of protocol ``lambda``: a Publish invokes every subscribed function, as SNS does.

moto keeps topics and subscriptions, applies each subscription's filter policy and hands the message
to ``Subscription.publish``; for ``lambda`` it would call moto's own Lambda, which lambdalab replaces.
:func:`install` wraps that method so a ``lambda`` subscription invokes the function asynchronously
as ``sns.amazonaws.com``, with the topic as ``aws:SourceArn`` and its owner as
``aws:SourceAccount``, judged by the function's resource-based policy like any call, with SNS's
record: ``EventSource``, ``EventVersion``, ``EventSubscriptionArn`` and ``Sns`` (``Type``,
``MessageId``, ``TopicArn``, ``Subject``, null when the message has none, ``Message``,
``Timestamp``, ``SignatureVersion``, a ``Signature`` moto makes with the topic's key and the
``SigningCertUrl`` that serves its certificate, ``UnsubscribeUrl``, ``MessageAttributes``).  The
other protocols stay moto's.
"""

from __future__ import annotations

import functools
from typing import Any

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
    signed = subscription.get_post_data(message, message_id, subject)  # moto signs with the topic's key
    region = subscription.topic.arn.split(":")[3]
    attributes = {name: {"Type": value["Type"], "Value": value["Value"]}
                  for name, value in (message_attributes or {}).items()}
    return {"Records": [{
        "EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": subscription.arn,
        "Sns": {"Type": "Notification", "MessageId": message_id, "TopicArn": subscription.topic.arn,
                "Subject": subject or None, "Message": message, "Timestamp": signed["Timestamp"],
                "SignatureVersion": signed["SignatureVersion"], "Signature": signed["Signature"],
                "SigningCertUrl": signed["SigningCertURL"],
                "UnsubscribeUrl": f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn="
                                  f"{subscription.arn}",
                "MessageAttributes": attributes}}]}
