"""ARNs: the one parser, and Lambda's grammars for the names that may stand for an ARN.

``arn:partition:service:region:account:resource``, where the resource may hold ``:`` and ``/``
itself (``function:name:1``, ``role/path/name``, ``layer:name:3``).  moto ships a
``parse_arn`` too; it is not used because it raises on anything that is not an ARN (most of
our callers must accept a plain name in the same place), drops the partition and offers no
way to keep the colons of a Lambda resource apart.  This one returns None for a non-ARN and
splits once, at the five colons that every ARN has.

A Lambda function or layer may be named by a plain name, a partial ARN or a full ARN, with a
qualifier or version: :data:`FUNCTION_ARN` and :data:`LAYER_ARN` are those grammars (the
botocore model's ``FunctionName`` and ``LayerName`` patterns, with named groups).
"""

from __future__ import annotations

import re
from typing import NamedTuple


class Arn(NamedTuple):  # a tuple: cheap enough for the invoke path (the metrics' Resource dimension)
    partition: str
    service: str
    region: str  # "" for global services (IAM, S3)
    account: str  # "" for S3 buckets; "aws" for AWS's own managed policies
    resource: str  # everything after the account: "function:name:1", "role/path/name"

    @property
    def resource_id(self) -> str:
        """``name:1`` of ``function:name:1``, ``path/name`` of ``role/path/name``; the whole resource without a type."""
        kind, sep, rest = self.resource.partition(_separator(self.resource))
        return rest if sep else kind

    def __str__(self) -> str:
        return f"arn:{self.partition}:{self.service}:{self.region}:{self.account}:{self.resource}"


def parse_arn(text: str) -> Arn | None:
    """The parts of an ARN; None when ``text`` is not one (a plain name, a partial ARN, an account id)."""
    parts = text.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return None
    return Arn._make(parts[1:])


def account_of(text: str, default: str = "") -> str:
    """The account an ARN names (``default`` for a non-ARN, or for one without a numeric account)."""
    arn = parse_arn(text)
    return arn.account if arn is not None and arn.account.isdigit() else default


def _separator(resource: str) -> str:
    """A resource's type (``function``, ``role``, ``layer``) ends at its first ':' or '/'."""
    colon, slash = resource.find(":"), resource.find("/")
    return "/" if slash >= 0 and (colon < 0 or slash < colon) else ":"


FUNCTION_ARN = re.compile(
    r"^(?:arn:aws[a-zA-Z-]*:lambda:(?P<region>[a-z0-9-]+):)?(?:(?P<account>\d{12}):)?(?:function:)?"
    r"(?P<name>[a-zA-Z0-9-_]+)(?::(?P<qualifier>\$LATEST|[a-zA-Z0-9-_]+))?$")
LAYER_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):layer:"
                       r"(?P<name>[a-zA-Z0-9-_]+)(?::(?P<version>[0-9]+))?$")
