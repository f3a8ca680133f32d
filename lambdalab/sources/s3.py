"""S3 event notifications to Lambda, as S3 sends them.

moto keeps a bucket's NotificationConfiguration and, when an object is created or removed, builds
the event (``moto.s3.notifications._get_s3_event``) and hands it to each matching destination; for
Lambda it would call moto's own Lambda, which lambdalab replaces.  :func:`install` takes both over
(``sources.connect`` calls it once per process):

- the event is AWS's record (eventVersion 2.1, the caller's ``userIdentity``, ``requestParameters``
  with the source IP, ``responseElements``, the bucket's ``ownerIdentity``, the object's URL-encoded
  key, size, eTag, versionId and ``sequencer``; no size or eTag for a removal), for the SQS and SNS
  destinations moto serves too;
- the function is invoked asynchronously by ``s3.amazonaws.com`` with the bucket as
  ``aws:SourceArn`` and the bucket's owner as ``aws:SourceAccount``, judged by the function's
  resource-based policy like any call; S3 sends nothing when that policy no longer lets it in.

``PutBucketNotificationConfiguration`` is checked as S3 checks it (:func:`refusal`): a filter rule's
name is ``prefix`` or ``suffix`` in any case (kept and answered as ``Prefix`` and ``Suffix``), and
each function must exist and let S3 invoke it for this bucket, unless
``x-amz-skip-destination-validation`` is true; S3 asks Lambda with a dry run, and so does this module.
AWS's answers are those LocalStack's AWS-validated ``TestS3NotificationsToSQS`` tests recorded
(``test_filter_rules_case_insensitive``, ``test_bucket_notification_with_invalid_filter_rules``).
"""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import os
import re
import secrets
from typing import Any
from urllib.parse import parse_qs, quote_plus
from xml.etree import ElementTree

from .. import sources
from ..iam import principals
from ..iam.denials import Refused
from ..iam.guard import SERVING

S3 = "s3.amazonaws.com"
SOURCE_IP = "127.0.0.1"  # every request reaches the cloud over loopback
UNVALIDATED = "Unable to validate the following destination configurations"
_RULE_NAME = re.compile(rb"(<(?:\w+:)?Name>)(prefix|suffix)(?=</)", re.IGNORECASE)  # a FilterRule's name
_sequence = itertools.count(1)  # S3's sequencer grows with every event, so that events of a key can be ordered


def install() -> None:
    import moto.s3.models as models
    import moto.s3.notifications as notifications

    notifications._get_s3_event = event
    notifications._invoke_awslambda = invoke
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
    caller = sources.for_resource(S3, body["Records"][0]["s3"]["bucket"]["arn"], account_id)
    sources.invoke(caller, function_arn, region, body)


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
    if refused := _rule_names(environ, body, root):
        return refused
    if environ.get("HTTP_X_AMZ_SKIP_DESTINATION_VALIDATION", "").lower() == "true" or \
            sources.lambda_api() is None:
        return None
    bucket = environ.get("PATH_INFO", "/").strip("/").split("/", 1)[0]
    s3 = sources.for_resource(S3, f"arn:aws:s3:::{bucket}", account)
    failed = [arn for arn in _function_arns(root)  # S3 asks Lambda with a dry run
              if arn.startswith("arn:") and not sources.invoke(s3, arn, region, None, "DryRun")]
    if not failed:
        return None
    fields = []
    for n, arn in enumerate(failed, 1):
        fields += [(f"ArgumentName{n}", f"{arn}, null"),
                   (f"ArgumentValue{n}", f"Not authorized to invoke function [{arn}]")]
    return Refused("invalid-argument", UNVALIDATED, fields=tuple(fields))


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


def _function_arns(root: ElementTree.Element) -> list[str]:
    """The CloudFunction ARNs of a NotificationConfiguration document (namespaced or not)."""
    return [(element.text or "").strip() for element in root.iter() if _local(element.tag) == "CloudFunction"]


def _local(tag: str) -> str:
    """An element's name without its XML namespace (``{http://s3.amazonaws.com/doc/2006-03-01/}Name``)."""
    return tag.rsplit("}", 1)[-1]
