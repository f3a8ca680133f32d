"""What a request asks for, in IAM's terms: the actions, resource ARNs and condition keys it is judged on.

AWS does not judge an operation, it judges the IAM action(s) the operation needs on the resource(s)
it touches, as the Service Authorization Reference lists them: S3's ListObjectsV2 is ``s3:ListBucket``
on the bucket, CopyObject is ``s3:GetObject`` on the source and ``s3:PutObject`` on the target,
DynamoDB's BatchWriteItem is one ``dynamodb:BatchWriteItem`` per table.  The operation is read from
the wire as each protocol carries it: JSON services by ``X-Amz-Target``, query and EC2 services by
``Action=``, S3 (rest-xml, path-style) by method, path and subresource.  An operation this module
has no rule for is ``<prefix>:<Operation>`` on ``"*"``, as most unscoped actions are.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit
from xml.etree import ElementTree

from ..jackson import load_json


@dataclass(frozen=True)
class Call:
    """One action on one resource that a request needs allowed, with the condition keys it brings."""

    action: str
    resource: str
    context: dict[str, Any] = field(default_factory=dict)


PREFIX = {"monitoring": "cloudwatch"}  # SigV4 service name -> IAM service prefix, where they differ
GLOBAL_SERVICES = {"iam"}  # aws:RequestedRegion is us-east-1 for a global service
Params = Mapping[str, Any]
Needs = list[tuple[str, str] | tuple[str, str, dict[str, Any]]]  # (operation or action name, resource[, keys])


def describe(service: str, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes,
             region: str, account: str) -> list[Call]:
    """Every (action, resource, context) the request needs allowed; [] when it needs no permission.

    ``path`` is WSGI's PATH_INFO (percent-decoded, UTF-8 bytes as latin-1 per PEP 3333) and
    ``query`` the raw query string.  A request whose operation cannot be told asks for nothing:
    the service then rejects it on its own terms; a JSON body that cannot be read raises
    :class:`UnreadableBody`.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    prefix = PREFIX.get(service, service)
    at = _Account(region, account)
    if service == "s3":
        needs = _s3(method, path.encode("latin-1").decode("utf-8", "replace"),
                    dict(parse_qsl(query, keep_blank_values=True)), lower, body)
    else:
        name, params = operation(lower, query, body)
        if name is None:
            return []
        needs = _RESOLVERS.get(service, _anywhere)(name, params, at)
    requested = {"aws:RequestedRegion": "us-east-1" if service in GLOBAL_SERVICES else region}
    return [Call(f"{prefix}:{need[0]}", need[1], {**requested, **(need[2] if len(need) > 2 else {})})
            for need in needs]


@dataclass(frozen=True)
class _Account:
    region: str
    account: str

    def arn(self, service: str, resource: str, account: str | None = None, region: str | None = None) -> str:
        return f"arn:aws:{service}:{self.region if region is None else region}:" \
               f"{self.account if account is None else account}:{resource}"


class UnreadableBody(ValueError):
    """A JSON request body that AWS's front end would not read (not JSON, too deep, not UTF-8)."""


def operation(headers: Mapping[str, str], query: str, body: bytes) -> tuple[str | None, Params]:
    """(operation, parameters) of a JSON (X-Amz-Target) or query (Action=) request; header names in lower case.

    A JSON body that cannot be read raises :class:`UnreadableBody`: no service could serve it."""
    target = headers.get("x-amz-target")
    if target:
        try:
            params = load_json(body or b"{}")
        except ValueError as e:
            raise UnreadableBody(str(e)) from None
        return target.rsplit(".", 1)[-1], params if isinstance(params, dict) else {}
    params = dict(parse_qsl(query, keep_blank_values=True))
    if "x-www-form-urlencoded" in headers.get("content-type", ""):
        params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return params.get("Action"), params


def _list(params: Params, name: str) -> list[str]:
    """A list parameter, whether JSON (``name: [...]``) or query-flattened (``name.1``, ``name.member.1``)."""
    value = params.get(name)
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, str):
        return [value]
    pattern = re.compile(rf"{re.escape(name)}(?:\.member)?\.(\d+)$")
    numbered = sorted((int(m.group(1)), v) for k, v in params.items() if (m := pattern.match(k)))
    return [v for _, v in numbered]


def _first(params: Params, *names: str) -> str | None:
    return next((params[n] for n in names if params.get(n)), None)


def _anywhere(operation: str, params: Params, at: _Account) -> Needs:
    return [(operation, "*")]


# -- SQS: the queue comes from QueueUrl (/account/name); batch operations need the single action ----------------
_SQS_ACTIONS = {"SendMessageBatch": "SendMessage", "DeleteMessageBatch": "DeleteMessage",
                "ChangeMessageVisibilityBatch": "ChangeMessageVisibility"}


def _sqs(operation: str, params: Params, at: _Account) -> Needs:
    action = _SQS_ACTIONS.get(operation, operation)
    if url := params.get("QueueUrl"):
        *owner, name = urlsplit(url).path.strip("/").split("/")
        return [(action, at.arn("sqs", name, account=owner[-1] if owner else None))]
    if name := params.get("QueueName"):
        return [(action, at.arn("sqs", name, account=params.get("QueueOwnerAWSAccountId")))]
    return [(action, "*")]


# -- SNS: the topic ARN travels in the request, except for CreateTopic ---------------------------------------------
def _sns(operation: str, params: Params, at: _Account) -> Needs:
    action = "Publish" if operation == "PublishBatch" else operation
    if operation == "CreateTopic" and params.get("Name"):
        return [(action, at.arn("sns", params["Name"]))]
    return [(action, _first(params, "TopicArn", "TargetArn", "ResourceArn", "PhoneNumber") or "*")]


# -- DynamoDB: one call per table for batches and transactions; Query/Scan on an index act on the index -----------
_TRANSACT_ACTIONS = {"Get": "GetItem", "Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                     "ConditionCheck": "ConditionCheckItem"}


def _dynamodb(operation: str, params: Params, at: _Account) -> Needs:
    def table(name: str) -> str:
        return name if name.startswith("arn:") else at.arn("dynamodb", f"table/{name}")

    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [(operation, table(name)) for name in params.get("RequestItems") or {}]
    if operation in ("TransactGetItems", "TransactWriteItems"):
        return [(_TRANSACT_ACTIONS[kind], table(item["TableName"]))
                for entry in params.get("TransactItems") or [] for kind, item in entry.items()
                if kind in _TRANSACT_ACTIONS]
    if name := params.get("TableName"):
        index = params.get("IndexName")
        return [(operation, table(name) + (f"/index/{index}" if index else ""))]
    return [(operation, _first(params, "StreamArn", "ResourceArn") or "*")]


# -- CloudWatch Logs: judged on ...:log-group:G:log-stream:S, the stream part empty for group-level calls ----------
def _logs(operation: str, params: Params, at: _Account) -> Needs:
    group = _first(params, "logGroupName", "logGroupIdentifier")
    if group and group.startswith("arn:"):
        group = group.split(":log-group:", 1)[-1].removesuffix(":*")
    if group:
        stream = params.get("logStreamName") or ""
        return [(operation, at.arn("logs", f"log-group:{group}:log-stream:{stream}"))]
    if operation == "DescribeLogGroups":
        return [(operation, at.arn("logs", "log-group::log-stream:"))]
    return [(operation, _first(params, "resourceArn", "resourceIdentifier") or "*")]


# -- EventBridge: rules (rule/[bus/]name) and event buses (event-bus/name) ----------------------------------------
def _events(operation: str, params: Params, at: _Account) -> Needs:
    def bus_name(name: str | None) -> str:
        return (name or "default").split(":event-bus/", 1)[-1]

    def bus(name: str | None) -> str:
        return at.arn("events", f"event-bus/{bus_name(name)}")

    if operation == "PutEvents":
        buses = dict.fromkeys(bus(entry.get("EventBusName")) for entry in params.get("Entries") or [])
        return [(operation, arn) for arn in buses]
    rule = params.get("Rule") or (params.get("Name") if operation.endswith("Rule") else None)
    if rule:
        on_bus = bus_name(params.get("EventBusName"))
        return [(operation, at.arn("events", f"rule/{rule}" if on_bus == "default" else f"rule/{on_bus}/{rule}"))]
    if operation.endswith("EventBus") or operation in ("PutPermission", "RemovePermission"):
        return [(operation, bus(_first(params, "Name", "EventBusName")))]
    return [(operation, params.get("ResourceARN") or "*")]


# -- Step Functions: the state machine or execution ARN travels in the request -----------------------------------
def _states(operation: str, params: Params, at: _Account) -> Needs:
    if operation in ("CreateStateMachine", "CreateActivity") and params.get("name"):
        kind = "stateMachine" if operation == "CreateStateMachine" else "activity"
        return [(operation, at.arn("states", f"{kind}:{params['name']}"))]
    return [(operation, _first(params, "executionArn", "stateMachineArn", "activityArn", "mapRunArn",
                               "resourceArn") or "*")]


# -- CloudWatch metrics: metrics are unscoped (namespace is a condition key); alarms and dashboards have ARNs -----
def _cloudwatch(operation: str, params: Params, at: _Account) -> Needs:
    if operation == "PutMetricData":
        return [(operation, "*", {"cloudwatch:namespace": params.get("Namespace")})]
    if alarms := _list(params, "AlarmNames") or _list(params, "AlarmName"):
        return [(operation, at.arn("cloudwatch", f"alarm:{name}")) for name in alarms]
    if dashboards := _list(params, "DashboardNames") or _list(params, "DashboardName"):
        return [(operation, at.arn("cloudwatch", f"dashboard/{name}", region="")) for name in dashboards]
    return [(operation, params.get("ResourceARN") or "*")]


# -- EC2: Describe* are unscoped; calls on instances (or tagged resources) need the action on each one ------------
_EC2_TYPES = {"i": "instance", "vol": "volume", "sg": "security-group", "subnet": "subnet", "vpc": "vpc",
              "eni": "network-interface", "ami": "image", "snap": "snapshot"}
_EC2_PUBLIC = {"image", "snapshot"}  # ARNs without an account: arn:aws:ec2:region::image/ami-...


def _ec2(operation: str, params: Params, at: _Account) -> Needs:
    def arn(resource_id: str) -> str:
        kind = _EC2_TYPES.get(resource_id.split("-", 1)[0])
        if kind is None:
            return "*"
        return at.arn("ec2", f"{kind}/{resource_id}", account="" if kind in _EC2_PUBLIC else None)

    if operation.startswith("Describe"):
        return [(operation, "*")]
    if operation == "RunInstances":
        image = [(operation, arn(params["ImageId"]))] if params.get("ImageId") else []
        return [(operation, at.arn("ec2", "instance/*")), *image]
    ids = _list(params, "InstanceId") or _list(params, "ResourceId")
    return [(operation, arn(resource_id)) for resource_id in ids] or [(operation, "*")]


# -- STS: GetCallerIdentity needs no permission; AssumeRole acts on the role --------------------------------------
def _sts(operation: str, params: Params, at: _Account) -> Needs:
    if operation == "GetCallerIdentity":
        return []
    if role := params.get("RoleArn"):
        keys = {key: params[name] for key, name in (("sts:RoleSessionName", "RoleSessionName"),
                                                   ("sts:ExternalId", "ExternalId")) if params.get(name)}
        return [(operation, role, keys)]
    if operation == "GetFederationToken" and params.get("Name"):
        return [(operation, at.arn("sts", f"federated-user/{params['Name']}", region=""))]
    return [(operation, "*")]


# -- IAM: the entity named in the request, the container first (AddUserToGroup acts on the group) -----------------
_IAM_ENTITIES = (("InstanceProfileName", "instance-profile"), ("RoleName", "role"), ("GroupName", "group"),
                 ("UserName", "user"))


def _iam(operation: str, params: Params, at: _Account) -> Needs:
    keys: dict[str, Any] = {}
    if params.get("PolicyArn") and operation.startswith(("Attach", "Detach")):
        keys["iam:PolicyARN"] = params["PolicyArn"]
    if params.get("PermissionsBoundary"):
        keys["iam:PermissionsBoundary"] = params["PermissionsBoundary"]
    path = params.get("Path", "/") if operation.startswith("Create") else "/"
    named = [(kind, params[name]) for name, kind in _IAM_ENTITIES if params.get(name)]
    if not named and operation == "CreatePolicy" and params.get("PolicyName"):
        named = [("policy", params["PolicyName"])]
    if named:
        kind, name = named[0]
        resource = at.arn("iam", f"{kind}{path}{name}", region="")
    else:
        resource = _first(params, "PolicyArn", "OpenIDConnectProviderArn", "SAMLProviderArn") or "*"
    return [(operation, resource, keys)]


_RESOLVERS: dict[str, Callable[[str, Params, _Account], Needs]] = {
    "sqs": _sqs, "sns": _sns, "dynamodb": _dynamodb, "logs": _logs, "events": _events, "states": _states,
    "monitoring": _cloudwatch, "ec2": _ec2, "sts": _sts, "iam": _iam}


# -- S3 (rest-xml, path-style /bucket/key): method + subresource -> action --------------------------------------
# subresource -> (GET, PUT, DELETE) action; a DELETE of a configuration is often authorized as its Put action.
_BUCKET_SUBRESOURCES: dict[str, tuple[str | None, str | None, str | None]] = {
    "acl": ("GetBucketAcl", "PutBucketAcl", None),
    "policy": ("GetBucketPolicy", "PutBucketPolicy", "DeleteBucketPolicy"),
    "policyStatus": ("GetBucketPolicyStatus", None, None),
    "tagging": ("GetBucketTagging", "PutBucketTagging", "PutBucketTagging"),
    "versioning": ("GetBucketVersioning", "PutBucketVersioning", None),
    "notification": ("GetBucketNotification", "PutBucketNotification", None),
    "cors": ("GetBucketCORS", "PutBucketCORS", "PutBucketCORS"),
    "lifecycle": ("GetLifecycleConfiguration", "PutLifecycleConfiguration", "PutLifecycleConfiguration"),
    "website": ("GetBucketWebsite", "PutBucketWebsite", "DeleteBucketWebsite"),
    "encryption": ("GetEncryptionConfiguration", "PutEncryptionConfiguration", "PutEncryptionConfiguration"),
    "publicAccessBlock": ("GetBucketPublicAccessBlock", "PutBucketPublicAccessBlock", "PutBucketPublicAccessBlock"),
    "ownershipControls": ("GetBucketOwnershipControls", "PutBucketOwnershipControls", "PutBucketOwnershipControls"),
    "logging": ("GetBucketLogging", "PutBucketLogging", None),
    "replication": ("GetReplicationConfiguration", "PutReplicationConfiguration", "PutReplicationConfiguration"),
    "accelerate": ("GetAccelerateConfiguration", "PutAccelerateConfiguration", None),
    "requestPayment": ("GetBucketRequestPayment", "PutBucketRequestPayment", None),
    "object-lock": ("GetBucketObjectLockConfiguration", "PutBucketObjectLockConfiguration", None),
    "analytics": ("GetAnalyticsConfiguration", "PutAnalyticsConfiguration", "PutAnalyticsConfiguration"),
    "inventory": ("GetInventoryConfiguration", "PutInventoryConfiguration", "PutInventoryConfiguration"),
    "metrics": ("GetMetricsConfiguration", "PutMetricsConfiguration", "PutMetricsConfiguration"),
    "location": ("GetBucketLocation", None, None),
    "versions": ("ListBucketVersions", None, None),
    "uploads": ("ListBucketMultipartUploads", None, None),
}
_OBJECT_SUBRESOURCES: dict[str, tuple[str | None, str | None, str | None]] = {
    "acl": ("GetObjectAcl", "PutObjectAcl", None),
    "tagging": ("GetObjectTagging", "PutObjectTagging", "DeleteObjectTagging"),
    "retention": ("GetObjectRetention", "PutObjectRetention", None),
    "legal-hold": ("GetObjectLegalHold", "PutObjectLegalHold", None),
    "attributes": ("GetObjectAttributes", None, None),
    "uploadId": ("ListMultipartUploadParts", "PutObject", "AbortMultipartUpload"),  # UploadPart is PutObject
}
_VERB = {"GET": 0, "HEAD": 0, "PUT": 1, "DELETE": 2}
_OBJECT_POSTS = {"uploads": "PutObject", "uploadId": "PutObject", "restore": "RestoreObject", "select": "GetObject"}
_VERSIONED = {"GetObject", "GetObjectAcl", "PutObjectAcl", "GetObjectTagging", "PutObjectTagging",
              "DeleteObjectTagging", "DeleteObject", "GetObjectAttributes"}  # ...Object... -> ...ObjectVersion...
# Headers that set an object's ACL or tags as it is written: S3 then needs s3:PutObjectAcl or s3:PutObjectTagging too
_GRANTS = ("x-amz-acl", "x-amz-grant-read", "x-amz-grant-read-acp", "x-amz-grant-write-acp", "x-amz-grant-full-control")
_TAGS = ("x-amz-tagging",)
_LIST_KEYS = {"prefix": "s3:prefix", "delimiter": "s3:delimiter", "max-keys": "s3:max-keys"}
_HEADER_KEYS = {"x-amz-acl": "s3:x-amz-acl", "x-amz-server-side-encryption": "s3:x-amz-server-side-encryption"}
_PLAIN_PARAMS = {"list-type", "prefix", "delimiter", "max-keys", "encoding-type", "continuation-token",
                 "start-after", "fetch-owner", "marker", "key-marker", "version-id-marker", "upload-id-marker",
                 "max-uploads", "max-parts", "part-number-marker", "versionId", "partNumber", "id", "x-id"}


def _s3(method: str, path: str, query: dict[str, str], headers: Mapping[str, str], body: bytes) -> Needs:
    bucket, _, key = path.lstrip("/").partition("/")
    if not bucket:
        return [("ListAllMyBuckets", "arn:aws:s3:::*")]
    keys = {name: headers[header] for header, name in _HEADER_KEYS.items() if header in headers}
    if "versionId" in query:
        keys["s3:versionid"] = query["versionId"]
    if key:
        return _s3_object(method, bucket, key, query, headers, keys)
    resource = f"arn:aws:s3:::{bucket}"
    if method == "POST" and "delete" in query:
        return [("DeleteObject", f"{resource}/{k}", keys) for k in _deleted_keys(body)]
    if method == "POST":  # a browser-form upload: the key is inside the form
        return [("PutObject", f"{resource}/*", keys)]
    sub = _subresource(query, _BUCKET_SUBRESOURCES)
    action = _pick(_BUCKET_SUBRESOURCES, sub, method, "Bucket") if sub else \
        ("ListBucket", "CreateBucket", "DeleteBucket")[_VERB.get(method, 0)]
    if action in ("ListBucket", "ListBucketVersions") and method == "GET":
        keys.update({name: int(query[p]) if p == "max-keys" else query[p] for p, name in _LIST_KEYS.items()
                     if p in query})
    return [(action, resource, keys)]


def _s3_object(method: str, bucket: str, key: str, query: dict[str, str], headers: Mapping[str, str],
               keys: dict[str, Any]) -> Needs:
    resource = f"arn:aws:s3:::{bucket}/{key}"
    if method == "POST":
        sub = next((s for s in _OBJECT_POSTS if s in query), None)
        action = _OBJECT_POSTS[sub] if sub else "PutObject"
    else:
        sub = _subresource(query, _OBJECT_SUBRESOURCES)
        action = _pick(_OBJECT_SUBRESOURCES, sub, method, "Object") if sub else \
            ("GetObject", "PutObject", "DeleteObject")[_VERB.get(method, 0)]
    if "versionId" in query and action in _VERSIONED:
        action = action.replace("Object", "ObjectVersion", 1)
    source = headers.get("x-amz-copy-source")
    writes_whole = action == "PutObject" and "uploadId" not in query  # PutObject, CopyObject, CreateMultipartUpload
    extra: Needs = [(also, resource, keys) for also, sent in (("PutObjectAcl", _GRANTS), ("PutObjectTagging", _TAGS))
                    if writes_whole and any(header in headers for header in sent)]
    if not source or method != "PUT":
        return [(action, resource, keys), *extra]
    raw, _, version = source.partition("?versionId=")  # CopyObject / UploadPartCopy also read the source
    copied = unquote(raw).lstrip("/")
    return [(action, resource, {**keys, "s3:x-amz-copy-source": copied}), *extra,
            ("GetObjectVersion" if version else "GetObject", f"arn:aws:s3:::{copied}", {})]


def _subresource(query: Mapping[str, str], table: Mapping[str, Any]) -> str | None:
    """The query key that names the subresource: a known one, else any that is not a plain parameter."""
    return next((q for q in query if q in table), None) or \
        next((q for q in query if q not in _PLAIN_PARAMS and not q.startswith("response-")), None)


def _pick(table: Mapping[str, tuple[str | None, ...]], sub: str, method: str, noun: str) -> str:
    """The action for ``method`` on subresource ``sub``; an unmapped one is named after the pattern."""
    row = table.get(sub, (None, None, None))
    verb = _VERB.get(method, 1)
    return row[verb] or f"{('Get', 'Put', 'Delete')[verb]}{noun}{sub[:1].upper()}{sub[1:]}"


def _deleted_keys(body: bytes) -> list[str]:
    """The object keys of a DeleteObjects request body (``<Delete><Object><Key>``)."""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return []
    return [el.text or "" for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "Key"]
