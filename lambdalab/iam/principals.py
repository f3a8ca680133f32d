"""Who is calling: an access key id turned into a principal, the identity policies it carries and
the secret its requests must be signed with.

The IAM data (users, groups, roles, their inline and managed policies, access keys, the sessions
STS handed out) lives in moto; this module only reads it.  Each local account also has a root
user whose random access key the cloud hands to notebooks (``cloud.credentials``): like AWS's root
user it may do anything to its own account's resources, and needs a resource-based policy for
another account's.  An unsigned request is the anonymous principal, which only a resource-based
policy naming ``"*"`` lets in.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..arns import account_of
from .policy import Policy, Principal

ADMIN = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


@dataclass(frozen=True)
class Caller:
    """An authenticated principal and the identity-based policies that apply to its calls."""

    principal: Principal
    kind: str  # "Account" (root user), "User" or "AssumedRole", as aws:PrincipalType says
    userid: str
    username: str | None = None
    policies: tuple[Policy, ...] = field(default=(), repr=False)
    sources: tuple[tuple[str, str], ...] = ()  # a service's aws:SourceArn and aws:SourceAccount

    @property
    def arn(self) -> str:
        return self.principal.arn

    @property
    def account(self) -> str:
        return self.principal.account

    @property
    def is_root(self) -> bool:
        return self.kind == "Account"

    @property
    def is_anonymous(self) -> bool:
        return self.kind == "Anonymous"

    def context(self) -> dict[str, Any]:
        """The global condition keys that describe the principal (an anonymous one has no ARN or account)."""
        if self.principal.service:  # a service acting for a resource of an account: the keys that name them
            return {"aws:PrincipalServiceName": self.principal.service, **dict(self.sources)}
        keys: dict[str, Any] = {"aws:PrincipalType": self.kind, "aws:userid": self.userid}
        if not self.is_anonymous:
            keys |= {"aws:PrincipalArn": self.principal.role_arn or self.arn, "aws:PrincipalAccount": self.account}
        if self.username:
            keys["aws:username"] = self.username
        return keys


@dataclass(frozen=True)
class Secret:
    """What a signed request must prove it holds: the secret access key, and for an STS session the
    session token it must carry and the moment it stops working (naive UTC, as moto keeps it)."""

    key: str = field(repr=False)
    token: str | None = field(default=None, repr=False)
    expires: datetime | None = None


def root(account: str) -> Caller:
    return Caller(Principal(arn=f"arn:aws:iam::{account}:root", account=account), kind="Account", userid=account,
                  policies=(Policy("the root user's full access", ADMIN),))


def service(name: str, source_arn: str, source_account: str) -> Caller:
    """A service principal (``s3.amazonaws.com``) calling on behalf of a resource of an account, as S3 calls
    Lambda for a bucket's notification: only a resource-based policy lets it in, and its conditions see
    ``aws:SourceArn`` and ``aws:SourceAccount`` (the confused-deputy keys)."""
    return Caller(Principal(arn=name, account="", service=name), kind="Service", userid=name,
                  sources=(("aws:SourceArn", source_arn), ("aws:SourceAccount", source_account)))


ANONYMOUS = Caller(Principal(arn="anonymous", account="", anonymous=True), kind="Anonymous", userid="anonymous")


class Directory:
    """Looks callers and their secrets up by access key id: the root users' keys here, every other
    key in the local accounts' IAM (moto).

    ``_sessions`` caches the STS session of each session key (moto finds one by scanning every
    session ever made): a session never changes, and the IAM access key is looked up first on every
    request, so a deleted key or role still stops working at once.  Guarded by ``_lock``."""

    def __init__(self, roots: Mapping[str, tuple[str, str]] | None = None) -> None:
        self.roots = dict(roots or {})  # access key id -> (account of its root user, secret access key)
        self._sessions: dict[str, Any] = {}
        self._lock = threading.Lock()

    def lookup(self, access_key_id: str) -> tuple[Caller, Secret] | None:
        """The principal behind ``access_key_id`` and its secret, or None for a key the cloud never
        issued (or that was deleted or made inactive)."""
        found = self.roots.get(access_key_id)
        if found is not None:
            return root(found[0]), Secret(found[1])
        for account in list(_iam_backends()):
            iam = _iam(account)
            key = iam.access_keys.get(access_key_id)
            if key is None or key.status != "Active":
                continue
            if key.role_arn:
                session = self._session_of(account, access_key_id)
                caller = _session(session, account, key.role_arn) if session else None
                return (caller, Secret(key.secret_access_key, session.session_token, session.expiration)) \
                    if caller else None
            if key.user_name:
                caller = _user(iam, account, key.user_name)
                return (caller, Secret(key.secret_access_key)) if caller else None
        return None

    def _session_of(self, account: str, access_key_id: str):
        with self._lock:
            session = self._sessions.get(access_key_id)
        if session is None:
            from moto.sts.models import sts_backends

            session = sts_backends[account]["aws"].get_assumed_role_from_access_key(access_key_id)
            if session is not None:
                with self._lock:
                    self._sessions[access_key_id] = session
        return session

    def for_arn(self, arn: str) -> Caller | None:
        """The caller an IAM user or role ARN stands for (a role as one of its sessions), for simulations."""
        account = account_of(arn)
        if arn == f"arn:aws:iam::{account}:root":
            return root(account)
        if ":user/" in arn and account in _iam_backends():
            return _user(_iam(account), account, arn.rsplit("/", 1)[-1])
        role = find_role(arn)
        if role is None:
            return None
        return _role_session(role, account, "simulation")


def find_role(arn: str):
    """The moto Role of ``arn``, or None when it does not exist."""
    account = account_of(arn)
    if account not in _iam_backends():
        return None
    try:
        return _iam(account).get_role_by_arn(arn)
    except Exception:  # moto raises its own IAMNotFoundException
        return None


def _user(iam, account: str, name: str) -> Caller | None:
    user = iam.users.get(name)
    if user is None:
        return None
    policies = list(_attached("user", user))
    for group in iam.get_groups_for_user(name):
        policies.extend(_attached("group", group))
    return Caller(Principal(arn=user.arn, account=account), kind="User", userid=user.id, username=name,
                  policies=tuple(policies))


def _session(session, account: str, role_arn: str) -> Caller | None:
    role = find_role(role_arn)
    if role is None:  # the role was deleted: its sessions lose every permission
        return None
    return _role_session(role, account, session.session_name)


def _role_session(role, account: str, session_name: str) -> Caller:
    arn = f"arn:aws:sts::{account}:assumed-role/{role.name}/{session_name}"
    return Caller(Principal(arn=arn, account=account, role_arn=role.arn), kind="AssumedRole",
                  userid=f"{role.id}:{session_name}", policies=_attached("role", role))


def _attached(kind: str, holder) -> tuple[Policy, ...]:
    """Inline policies, then managed ones (their default version), named for explanations."""
    inline = [Policy(f'inline policy "{name}" of {kind} {holder.name}', document)
              for name, document in holder.policies.items()]
    managed = [Policy(f"managed policy {p.arn}", next(v.document for v in p.versions if v.is_default))
               for p in holder.managed_policies.values()]
    return tuple(inline + managed)


def _iam_backends():
    from moto.iam.models import iam_backends

    return iam_backends


def _iam(account: str):
    return _iam_backends()[account]["aws"]
