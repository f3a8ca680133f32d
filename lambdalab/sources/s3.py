"""S3 event notifications to Lambda, as S3 sends them.

moto keeps a bucket's NotificationConfiguration and, when an object is created or removed, builds
the event (``moto.s3.notifications._get_s3_event``) and hands it to each matching destination; for
Lambda it would call moto's own Lambda, which lambdalab replaces.  :func:`install` takes these over
(``sources.connect`` calls it once per process):

- the event is AWS's record (eventVersion 2.1, the caller's ``userIdentity``, ``requestParameters``
  with the source IP, ``responseElements``, the bucket's ``ownerIdentity``, the object's URL-encoded
  key, size, eTag, versionId and ``sequencer``; no size or eTag for a removal), for the SQS and SNS
  destinations moto serves too;
- the function is invoked asynchronously by ``s3.amazonaws.com`` with the bucket as
  ``aws:SourceArn`` and the bucket's owner as ``aws:SourceAccount``, judged by the function's
  resource-based policy like any call; S3 sends nothing when that policy no longer lets it in;
- a queue or topic receives the record (and the test event S3 sends when the configuration is
  saved) only while its policy lets ``s3.amazonaws.com`` send for the bucket (``sources.may_deliver``);
  a topic's message has S3's subject, "Amazon S3 Notification".

``PutBucketNotificationConfiguration`` is checked as S3 checks it (:func:`refusal`): a filter rule's
name is ``prefix`` or ``suffix`` in any case (kept and answered as ``Prefix`` and ``Suffix``), a
queue's or topic's ARN must parse, and, unless ``x-amz-skip-destination-validation`` is true, each
destination must exist and let S3 in for this bucket (S3 asks Lambda with a dry run, and so does this
module; a queue or topic is judged by its policy), every one that does not named in the one error.
AWS's answers are those LocalStack's AWS-validated ``TestS3NotificationsToSQS`` and
``TestS3NotificationsToSns`` tests recorded (``test_filter_rules_case_insensitive``,
``test_bucket_notification_with_invalid_filter_rules``, ``test_invalid_sqs_arn``,
``test_multiple_invalid_sqs_arns``, ``test_invalid_topic_arn``, ``test_object_created_put``); the
words for a topic that does not exist or does not let S3 in follow the queue's, as LocalStack has them.
"""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import json
import logging
import os
import re
import secrets
from typing import Any
from urllib.parse import parse_qs, quote_plus
from xml.etree import ElementTree

from .. import sources
from ..arns import parse_arn
from ..iam import principals
from ..iam.denials import Refused
from ..iam.guard import SERVING
from ..iam.resources import queue_of, topic_of

log = logging.getLogger(__name__)
S3 = "s3.amazonaws.com"
SUBJECT = "Amazon S3 Notification"  # what a topic's subscribers see as the message's subject
SOURCE_IP = "127.0.0.1"  # every request reaches the cloud over loopback
UNVALIDATED = "Unable to validate the following destination configurations"
_RULE_NAME = re.compile(rb"(<(?:\w+:)?Name>)(prefix|suffix)(?=</)", re.IGNORECASE)  # a FilterRule's name
_sequence = itertools.count(1)  # S3's sequencer grows with every event, so that events of a key can be ordered


def install() -> None:
    import moto.s3.models as models
    import moto.s3.notifications as notifications

    notifications._get_s3_event = event
    notifications._invoke_awslambda = invoke
    notifications._send_sqs_message = send_to_queue
    notifications._send_sns_message = send_to_topic
    if not getattr(models.Notification._key_matches, "lambdalab", False):
        models.Notification.__init__ = _rules_named_as_aws_answers(models.Notification.__init__)
        models.Notification._key_matches = _key_matches


def _rules_named_as_aws_answers(moto_init):
    """moto keeps a rule's name as sent (lower case, as :func:`refusal` hands it over); S3 answers
    ``Prefix`` and ``Suffix``."""

    def init(notification, *args: Any, **kwargs: Any) -> None:
        moto_init(notification, *args, **kwargs)
        for rule in (notification.filters or {}).get("S3Key", {}).get("FilterRule", []):
            rule["Name"] = rule["Name"].capitalize()

    return init


def _key_matches(notification: Any, key_name: str) -> bool:
    """Whether the key passes the configuration's prefix and suffix rules (named in any case)."""
    rules = {rule["Name"].lower(): rule["Value"] for rule in (notification.filters or {}).get("S3Key", {}).get(
        "FilterRule", [])}
    return key_name.startswith(rules.get("prefix", "")) and key_name.endswith(rules.get("suffix", ""))


_key_matches.lambdalab = True  # type: ignore[attr-defined]


def event(event_name: str, bucket: Any, key: Any, configuration_id: str) -> dict[str, Any]:
    """The record S3 sends for ``event_name`` (``s3:ObjectCreated:Put``, ...) on ``key`` of ``bucket``."""
    from moto.core.utils import iso_8601_datetime_with_milliseconds

    caller = SERVING.get()
    s3_object: dict[str, Any] = {"key": quote_plus(key.name, safe="/")}  # "/" stays, spaces become "+"
    if not event_name.startswith("s3:ObjectRemoved"):
        s3_object |= {"size": key.size, "eTag": key.etag.strip('"')}
    if bucket.is_versioned and getattr(key, "version_id", None):
        s3_object["versionId"] = key.version_id
    s3_object["sequencer"] = f"{next(_sequence):018X}"
    return {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": bucket.region_name,
        "eventTime": iso_8601_datetime_with_milliseconds(), "eventName": event_name.removeprefix("s3:"),
        "userIdentity": {"principalId": principal_id(caller)},
        "requestParameters": {"sourceIPAddress": SOURCE_IP},
        "responseElements": {"x-amz-request-id": secrets.token_hex(8).upper(),
                             "x-amz-id-2": base64.b64encode(os.urandom(56)).decode()},  # 76 characters
        "s3": {"s3SchemaVersion": "1.0", "configurationId": configuration_id,
               "bucket": {"name": bucket.name, "ownerIdentity": {"principalId": owner_id(bucket.account_id)},
                          "arn": bucket.arn},
               "object": s3_object}}]}


def principal_id(caller: principals.Caller | None) -> str:
    """Who made the request, as S3's events name them: ``AWS:`` and the IAM unique id of a user or role
    session, the account's canonical owner id for its root user."""
    if caller is None or caller.is_anonymous:
        return "ANONYMOUS_PRINCIPAL"
    return owner_id(caller.account) if caller.is_root else f"AWS:{caller.userid}"


def owner_id(account: str) -> str:
    """An account's id as S3 shows owners (``A`` and 13 upper-case letters and digits, stable per account)."""
    digest = hashlib.sha256(account.encode()).hexdigest().upper()
    return "A" + digest[:13]


def invoke(account_id: str, body: dict[str, Any], function_arn: str, region: str) -> None:
    """S3 invoking ``function_arn`` asynchronously for a bucket of ``account_id`` (moto's hook)."""
    sources.invoke(sources.for_resource(S3, _bucket_arn(body), account_id), function_arn, region, body)


def send_to_queue(account_id: str, body: dict[str, Any], queue_name: str, region: str) -> None:
    """S3 sending a record, or its test event, to a queue for a bucket of ``account_id`` (moto's hook)."""
    from moto.sqs.models import sqs_backends

    queue_arn = _configured_queue(account_id, body, queue_name, region)
    if sources.may_deliver(S3, _bucket_arn(body), account_id, queue_arn):
        try:
            sqs_backends[parse_arn(queue_arn).account][region].send_message(queue_name, json.dumps(body))
        except Exception as e:  # the queue is gone: S3's delivery is asynchronous, and fails alone
            log.info("S3 could not send to %s: %r", queue_arn, e)


def send_to_topic(account_id: str, body: dict[str, Any], topic_arn: str, region: str) -> None:
    """S3 publishing a record, or its test event, to a topic for a bucket of ``account_id`` (moto's hook)."""
    from moto.sns.models import sns_backends

    if sources.may_deliver(S3, _bucket_arn(body), account_id, topic_arn):
        try:
            sns_backends[account_id][region].publish(json.dumps(body), arn=topic_arn, subject=SUBJECT)
        except Exception as e:
            log.info("S3 could not publish to %s: %r", topic_arn, e)


def _configured_queue(account_id: str, body: dict[str, Any], queue_name: str, region: str) -> str:
    """The ARN of the queue the bucket's configuration names: moto hands over only its name and Region, and
    the queue may be another account's."""
    from moto.s3.models import s3_backends

    bucket = s3_backends[account_id]["aws"].buckets.get(_bucket_arn(body).removeprefix("arn:aws:s3:::"))
    configured = bucket.notification_configuration if bucket is not None else None
    return next((n.arn for n in (configured.queue if configured else [])
                 if n.arn.endswith(f":{queue_name}") and parse_arn(n.arn).region == region),
                f"arn:aws:sqs:{region}:{account_id}:{queue_name}")


def _bucket_arn(body: dict[str, Any]) -> str:
    """The bucket an S3 message is about: its record's, or the test event's ``Bucket``."""
    return body["Records"][0]["s3"]["bucket"]["arn"] if "Records" in body else f"arn:aws:s3:::{body['Bucket']}"


def refusal(environ: dict, body: bytes, region: str, account: str) -> Refused | None:
    """Why S3 refuses this PutBucketNotificationConfiguration, or None when it accepts it (or when the
    request is another one)."""
    if environ.get("REQUEST_METHOD") != "PUT" or "notification" not in parse_qs(
            environ.get("QUERY_STRING", ""), keep_blank_values=True):
        return None
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return None  # moto answers MalformedXML
    if refused := _rule_names(environ, body, root) or _unparsed(root):
        return refused
    bucket = environ.get("PATH_INFO", "/").strip("/").split("/", 1)[0]
    if environ.get("HTTP_X_AMZ_SKIP_DESTINATION_VALIDATION", "").lower() == "true" or \
            sources.lambda_api() is None or not _exists(bucket):  # moto answers NoSuchBucket
        return None
    failed = [failure for element in root.iter()
              if (failure := _unvalidated(element, f"arn:aws:s3:::{bucket}", region, account))]
    if not failed:
        return None
    fields = []
    for n, (name, value) in enumerate(failed, 1):
        fields += [(f"ArgumentName{n}", name), (f"ArgumentValue{n}", value)]
    return Refused("invalid-argument", UNVALIDATED, fields=tuple(fields))


def _unparsed(root: ElementTree.Element) -> Refused | None:
    """S3's refusal of a queue's or topic's ARN that does not parse, whether destinations are validated or not."""
    for element in root.iter():
        kind, text = _local(element.tag), (element.text or "").strip()
        if kind in _DESTINATIONS and parse_arn(text) is None:
            return Refused("invalid-argument", "The ARN could not be parsed",
                           fields=(("ArgumentName", kind), ("ArgumentValue", text)))
    return None


# element -> (its service, S3's word for it, what finds it)
_DESTINATIONS = {"Queue": ("sqs", "queue", queue_of), "Topic": ("sns", "topic", topic_of)}


def _unvalidated(element: ElementTree.Element, bucket_arn: str, region: str, account: str) -> tuple[str, str] | None:
    """(ArgumentName, ArgumentValue) of a destination S3 cannot validate, or None for one it can (or for an
    element that names none)."""
    kind, arn = _local(element.tag), (element.text or "").strip()
    if kind == "CloudFunction":  # S3 asks Lambda with a dry run
        s3 = sources.for_resource(S3, bucket_arn, account)
        if arn.startswith("arn:") and not sources.invoke(s3, arn, region, None, "DryRun"):
            return f"{arn}, null", f"Not authorized to invoke function [{arn}]"
        return None
    if kind not in _DESTINATIONS:
        return None
    service, word, find = _DESTINATIONS[kind]
    parsed = parse_arn(arn)  # not None: _unparsed refused the configuration otherwise
    if parsed.service != service:  # moto answers "The ARN is not well formed"
        return None
    if find(arn) is None:
        return arn, f"The destination {word} does not exist"
    if not sources.may_deliver(S3, bucket_arn, account, arn):
        return arn, f"Permissions on the destination {word} do not allow S3 to publish notifications from this bucket"
    return None


def _exists(bucket: str) -> bool:
    """Whether a bucket of that name exists, in any account (bucket names are global)."""
    from moto.s3.models import s3_backends

    return bucket in s3_backends.bucket_accounts


def _rule_names(environ: dict, body: bytes, root: ElementTree.Element) -> Refused | None:
    """S3's refusal of a filter rule named neither prefix nor suffix; otherwise the body goes on to moto
    with each name in lower case, the one case moto accepts (a name keeps its length, so the body does)."""
    names = [child for rule in root.iter() if _local(rule.tag) == "FilterRule"
             for child in rule if _local(child.tag) == "Name"]
    for name in names:
        if (name.text or "").lower() not in ("prefix", "suffix"):
            return Refused("invalid-argument", "filter rule name must be either prefix or suffix",
                           fields=(("ArgumentName", "FilterRule.Name"), ("ArgumentValue", name.text or "")))
    if any(name.text != name.text.lower() for name in names):
        environ["wsgi.input"] = io.BytesIO(_RULE_NAME.sub(lambda m: m[1] + m[2].lower(), body))
    return None


def _local(tag: str) -> str:
    """An element's name without its XML namespace (``{http://s3.amazonaws.com/doc/2006-03-01/}Name``)."""
    return tag.rsplit("}", 1)[-1]
