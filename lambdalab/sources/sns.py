"""SNS subscriptions of protocol ``lambda``: a Publish invokes every subscribed function, as SNS does.

moto keeps topics and subscriptions, applies each subscription's filter policy and hands the message
to ``Subscription.publish``; for ``lambda`` it would call moto's own Lambda, which lambdalab replaces.
:func:`install` wraps that method so a ``lambda`` subscription invokes the function asynchronously
as ``sns.amazonaws.com``, with the topic as ``aws:SourceArn`` and its owner as
``aws:SourceAccount``, judged by the function's resource-based policy like any call, with SNS's
record: ``EventSource``, ``EventVersion``, ``EventSubscriptionArn`` and ``Sns`` (``Type``,
``MessageId``, ``TopicArn``, ``Subject``, null when the message has none, ``Message``,
``Timestamp``, ``SignatureVersion``, a ``Signature`` made with the Region's key, the
``SigningCertUrl`` that serves its certificate, ``UnsubscribeUrl``, ``MessageAttributes``).  The
other protocols stay moto's, but the notification they carry is made here (:func:`notification`,
in place of moto's ``get_post_data``) and signed the same way, with the topic's ``SignatureVersion``
as SQS receives it in LocalStack's AWS-validated ``test_publish_sqs_verify_signature``; an SQS
subscription's envelope is sent from here too, its fields in AWS's order (moto sorts them); a FIFO
topic's is numbered and not signed, and carries the topic's content-based deduplication id; Publish
answers with that number, which moto leaves out.

A queue receives the topic's messages, enveloped or raw, only when its policy lets ``sns.amazonaws.com``
send to it for the topic (``sources.may_deliver``): AWS drops them otherwise, and so does this module.

``SignatureVersion`` is "1" whatever the topic's: AWS writes "1" in what it sends Lambda even when the
topic signs with SHA256 (its ``SignatureVersion`` 2), as LocalStack's AWS-validated
``test_publish_lambda_verify_signature`` recorded.  The signature is over AWS's string to sign (the
Subject included when there is one), with SHA1, or SHA256 for a topic of version 2.

As in AWS, one key and certificate per Region sign every topic's messages (moto would make an RSA
key per subscription and a certificate per message, and keep every certificate): each is made when
its Region first publishes, and kept for the process.  ``SigningCertUrl`` has AWS's form,
``https://sns.<region>.amazonaws.com/SimpleNotificationService-<id>.pem``; the certificate is public, as
in AWS, and the gateway serves its path to anyone (:func:`certificate`).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import itertools
import json
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from .. import sources
from ..arns import parse_arn

SNS = "sns.amazonaws.com"


def install() -> None:
    from moto.sns.models import Subscription
    from moto.sns.responses import SNSResponse

    if not getattr(Subscription.publish, "lambdalab", False):
        Subscription.publish = _publishing(Subscription.publish)
        Subscription.get_post_data = notification  # what SQS and HTTP(S) subscriptions receive, signed as AWS does
        SNSResponse.publish = _answering_sequence_numbers(SNSResponse.publish)
        SNSResponse.publish_batch = _answering_sequence_numbers(SNSResponse.publish_batch)


def _answering_sequence_numbers(moto_action):
    """Publish and PublishBatch answer each message to a FIFO topic with its ``SequenceNumber``, as the API
    model says AWS does (moto leaves it out): the number its subscriptions receive."""

    @functools.wraps(moto_action)
    def action(response: Any) -> Any:
        result = moto_action(response)
        topic = response.backend.topics.get(response._get_param("TopicArn") or response._get_param("TargetArn"))
        if getattr(topic, "fifo_topic", False):
            answer = result.result
            for published in answer.get("Successful", [answer]):
                published["SequenceNumber"] = _sequence_number(topic, published["MessageId"])
        return result

    return action


def _publishing(moto_publish):
    @functools.wraps(moto_publish)
    def publish(subscription, message: str, message_id: str, subject: str | None = None,
                message_attributes: dict[str, Any] | None = None, group_id: str | None = None,
                deduplication_id: str | None = None, message_structure: str | None = None) -> None:
        protocol = subscription.protocol
        if protocol not in ("lambda", "sqs"):
            return moto_publish(subscription, message, message_id, subject, message_attributes, group_id,
                                deduplication_id, message_structure)
        matcher = subscription._filter_policy_matcher
        if matcher is not None and not matcher.matches(message_attributes, message):
            return None
        topic = subscription.topic
        if protocol == "sqs" and not sources.may_deliver(SNS, topic.arn, subscription.account_id,
                                                         subscription.endpoint):
            return None  # the queue's policy does not let the topic in: AWS drops the message
        if protocol == "sqs" and subscription.attributes.get("RawMessageDelivery"):
            return moto_publish(subscription, message, message_id, subject, message_attributes, group_id,
                                deduplication_id, message_structure)
        published = message
        if message_structure == "json":  # the protocol's entry of the message, else its "default"
            message = subscription._parse_message_structure(message, protocol)
        if protocol == "sqs":
            if deduplication_id is None and getattr(topic, "content_based_deduplication", False):
                # the topic's content-based id: SHA-256 of the message (AWS's, in test_message_to_fifo_sqs[True])
                deduplication_id = hashlib.sha256(published.encode()).hexdigest()
            _send_to_queue(subscription, notification(subscription, message, message_id, subject, message_attributes),
                           group_id, deduplication_id)
            return None
        sources.invoke(sources.for_resource(SNS, topic.arn, subscription.account_id), subscription.endpoint,
                       _region(topic), record(subscription, message, message_id, subject, message_attributes))
        return None

    publish.lambdalab = True
    return publish


def _send_to_queue(subscription: Any, envelope: dict[str, Any], group_id: str | None,
                   deduplication_id: str | None) -> None:
    """Put the notification in the subscribed queue as moto would, but with its fields in AWS's order
    (moto sorts them)."""
    from moto.sqs.models import sqs_backends

    queue = parse_arn(subscription.endpoint)
    body = json.dumps(envelope, indent=2, separators=(",", ": "))  # moto's layout: AWS's is not recorded
    sqs_backends[subscription.account_id][queue.region].send_message(
        queue.resource, body, deduplication_id=deduplication_id, group_id=group_id, validate_group_id=False)


def record(subscription: Any, message: str, message_id: str, subject: str | None,
           message_attributes: dict[str, Any] | None) -> dict[str, Any]:
    """The event SNS sends a subscribed function for one message: SignatureVersion "1" whatever the topic's,
    Subject null when there is none, MessageAttributes always."""
    signed = _signed(subscription, message, message_id, subject, message_attributes, "1")
    return {"Records": [{
        "EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": subscription.arn,
        "Sns": {_LAMBDA_NAMES.get(field, field): value for field, value in signed.items()}}]}


def notification(subscription: Any, message: str, message_id: str, subject: str | None = None,
                 message_attributes: dict[str, Any] | None = None) -> dict[str, Any]:
    """What SNS sends an SQS queue or an HTTP(S) endpoint for one message (moto's ``get_post_data``, replaced):
    the topic's SignatureVersion, Subject and MessageAttributes only when there are some."""
    topic = subscription.topic
    if getattr(topic, "fifo_topic", False):
        fields = _numbered(subscription, message, message_id, subject, message_attributes)
    else:
        fields = _signed(subscription, message, message_id, subject, message_attributes, _version(topic))
    return {field: value for field, value in fields.items() if value not in (None, {})}


_SIGNED = ("Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp")  # in AWS's order
_LAMBDA_NAMES = {"SigningCertURL": "SigningCertUrl", "UnsubscribeURL": "UnsubscribeUrl"}  # a record's spelling


def _signed(subscription: Any, message: str, message_id: str, subject: str | None,
            message_attributes: dict[str, Any] | None, version: str) -> dict[str, Any]:
    """A notification's fields in AWS's order, saying ``version`` and signed with its Region's key
    (by the topic's own version, whatever ``version`` says)."""
    from moto.core.utils import iso_8601_datetime_with_milliseconds  # the cloud's clock (mototime)

    region = _region(subscription.topic)
    signer = _signer(region)
    fields = dict(zip(_SIGNED, ("Notification", message_id, subscription.topic.arn, subject or None, message,
                                iso_8601_datetime_with_milliseconds()), strict=True))
    return {**fields, "SignatureVersion": version, "Signature": _signature(signer.key, subscription.topic, fields),
            "SigningCertURL": f"https://sns.{region}.amazonaws.com/{signer.name}",
            **_addressed(subscription, message_attributes)}


def _numbered(subscription: Any, message: str, message_id: str, subject: str | None,
              message_attributes: dict[str, Any] | None) -> dict[str, Any]:
    """A FIFO topic's notification, as AWS puts it in a queue (LocalStack's AWS-validated
    ``test_message_to_fifo_sqs``): numbered in the topic's order, and not signed."""
    from moto.core.utils import iso_8601_datetime_with_milliseconds

    topic = subscription.topic
    return {"Type": "Notification", "MessageId": message_id, "SequenceNumber": _sequence_number(topic, message_id),
            "TopicArn": topic.arn, "Subject": subject or None, "Message": message,
            "Timestamp": iso_8601_datetime_with_milliseconds(), **_addressed(subscription, message_attributes)}


def _addressed(subscription: Any, message_attributes: dict[str, Any] | None) -> dict[str, Any]:
    """A notification's last fields: where to unsubscribe, and the message's attributes (Type and Value)."""
    return {"UnsubscribeURL": f"https://sns.{_region(subscription.topic)}.amazonaws.com/?Action=Unsubscribe"
                              f"&SubscriptionArn={subscription.arn}",
            "MessageAttributes": {name: {"Type": value["Type"], "Value": value["Value"]}
                                  for name, value in (message_attributes or {}).items()}}


@dataclass
class _Numbering:
    """A FIFO topic's message numbers: the next one, and those of its latest messages (each subscription
    receives its message's one number, whether delivered in turn or from two publishing threads at once)."""

    following: Any = field(default_factory=lambda: itertools.count(1))
    latest: OrderedDict = field(default_factory=OrderedDict)  # message id -> its number, the newest last


_RECENT = 256  # messages whose numbers a topic remembers: far more than are published at once
_sequences: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # FIFO topic -> its _Numbering (_lock)


def _sequence_number(topic: Any, message_id: str) -> str:
    """The number of a FIFO topic's message, the same for every subscription: 20 digits, rising with each
    message (AWS's are 128-bit numbers that rise but skip; how they skip is not published)."""
    with _lock:
        numbering = _sequences.setdefault(topic, _Numbering())
        number = numbering.latest.get(message_id)
        if number is None:
            number = numbering.latest[message_id] = f"{10**19 + next(numbering.following)}"
            if len(numbering.latest) > _RECENT:
                numbering.latest.popitem(last=False)
        return number


def _region(topic: Any) -> str:
    return parse_arn(topic.arn).region


def _version(topic: Any) -> str:
    """The topic's SignatureVersion, "1" or "2" (moto keeps it under the name CreateTopic or
    SetTopicAttributes gave it)."""
    return str(getattr(topic, "SignatureVersion", None) or getattr(topic, "signature_version", None) or "1")


def _signature(key: rsa.RSAPrivateKey, topic: Any, fields: dict[str, Any]) -> str:
    """AWS's signature of a notification: its fields, each name and value on a line of its own, in this
    order, the Subject only when there is one; SHA256 for a topic of SignatureVersion 2, else SHA1."""
    text = "".join(f"{field}\n{fields[field]}\n" for field in
                   ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type") if fields[field] is not None)
    algorithm = hashes.SHA256() if _version(topic) == "2" else hashes.SHA1()
    return base64.b64encode(key.sign(text.encode(), padding.PKCS1v15(), algorithm)).decode()


@dataclass(frozen=True)
class _Signer:
    """A Region's signing key, and the name and PEM of the certificate that carries its public key."""

    key: rsa.RSAPrivateKey
    name: str
    pem: bytes


_lock = threading.Lock()  # guards writing _signers, once per Region (read without: it only grows), and _sequences
_signers: dict[str, _Signer] = {}  # Region -> its signer, kept for the process


def _signer(region: str) -> _Signer:
    """The Region's signer, made the first time the Region signs."""
    if (made := _signers.get(region)) is not None:
        return made
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # ~0.1 s: outside the lock
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    issuer = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
                        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Amazon"),
                        x509.NameAttribute(NameOID.COMMON_NAME, "Amazon RSA 2048 M01")])
    now = datetime.now(timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=365))
                   .sign(key, hashes.SHA256()))
    pem = certificate.public_bytes(serialization.Encoding.PEM)
    name = f"SimpleNotificationService-{hashlib.sha256(pem).hexdigest()[:32]}.pem"  # AWS's: 32 hex digits
    with _lock:
        return _signers.setdefault(region, _Signer(key, name, pem))


def certificate(name: str) -> bytes | None:
    """The PEM of the certificate named ``name`` (the last part of a record's ``SigningCertUrl``), if any."""
    return next((signer.pem for signer in list(_signers.values()) if signer.name == name), None)
