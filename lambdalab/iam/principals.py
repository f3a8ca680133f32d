"""Who is calling: an access key id turned into a principal and the identity policies it carries.

The IAM data (users, groups, roles, their inline and managed policies, access keys, the sessions
STS handed out) lives in moto; this module only reads it.  Each local account also has a root
user whose access key the cloud hands to notebooks: like AWS's root user it may do anything to
its own account's resources, and needs a resource-based policy for another account's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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

    @property
    def arn(self) -> str:
        return self.principal.arn

    @property
    def account(self) -> str:
        return self.principal.account

    @property
    def is_root(self) -> bool:
        return self.kind == "Account"

    def context(self) -> dict[str, Any]:
        """The global condition keys that describe the principal."""
        keys: dict[str, Any] = {"aws:PrincipalArn": self.principal.role_arn or self.arn,
                                "aws:PrincipalAccount": self.account, "aws:PrincipalType": self.kind,
                                "aws:userid": self.userid}
        if self.username:
            keys["aws:username"] = self.username
        return keys


def root(account: str) -> Caller:
    return Caller(Principal(arn=f"arn:aws:iam::{account}:root", account=account), kind="Account", userid=account,
                  policies=(Policy("the root user's full access", ADMIN),))


class Directory:
    """Looks callers up by access key id, in the local accounts' IAM (moto)."""

    def __init__(self, root_keys: dict[str, str]) -> None:
        self.root_keys = dict(root_keys)  # access key id -> account whose root user it belongs to

    def caller(self, access_key_id: str) -> Caller | None:
        """The principal behind ``access_key_id``, or None for a key the cloud never issued (or made inactive)."""
        account = self.root_keys.get(access_key_id)
        if account is not None:
            return root(account)
        for account in list(_iam_backends()):
            iam = _iam(account)
            key = iam.access_keys.get(access_key_id)
            if key is None or key.status != "Active":
                continue
            if key.role_arn:
                return _session(account, access_key_id, key.role_arn)
            if key.user_name:
                return _user(iam, account, key.user_name)
        return None


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


def _session(account: str, access_key_id: str, role_arn: str) -> Caller | None:
    from moto.sts.models import sts_backends

    session = sts_backends[account]["aws"].get_assumed_role_from_access_key(access_key_id)
    role = find_role(role_arn)
    if session is None or role is None:  # the role was deleted: its sessions lose every permission
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
