"""Function policies: the resource-based policy of each function, version and alias.

AddPermission turns its parameters into one IAM statement, stored exactly as AWS stores it, so
that GetPolicy shows learners the same document AWS would and the IAM evaluator reads what AWS
reads.  A policy belongs to one (function name, qualifier) pair: the unqualified function (which
is also ``$LATEST``'s), a version or an alias, each with its own statements.  As on AWS, the
policy's RevisionId is the RevisionId of what it is attached to, and a change to the policy
changes it.  No HTTP here: ``api.permissions`` translates.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..arns import FUNCTION_ARN
from .errors import (
    NOT_FOUND,
    InvalidParameterValueException,
    PolicyLengthExceededException,
    PreconditionFailedException,
    ResourceConflictException,
    ResourceNotFoundException,
)
from .models import Function, Located

if TYPE_CHECKING:
    from .functions import LambdaService

Key = tuple[str, "str | None"]  # (function name, qualifier); None is the function itself and $LATEST

ACCOUNT = re.compile(r"^\d{12}$")
IAM_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:(?:iam|sts)::\d{12}:\S+$")
# Service principals are domain-style names a service defines (s3.amazonaws.com,
# logs.us-east-1.amazonaws.com, alexa-appkit.amazon.com); AWS checks them against its list of services.
SERVICE = re.compile(r"^[a-z0-9][a-z0-9.-]*\.(?:amazonaws\.com(?:\.cn)?|amazon\.com)$")
INVALID_PRINCIPAL = "The provided principal was invalid. Please check the principal and try again."


class FunctionPolicies:
    """The resource-based policies of one :class:`LambdaService`'s functions."""

    def __init__(self, service: LambdaService) -> None:
        self._service = service
        self._policies: dict[Key, list[dict[str, Any]]] = {}
        self._lock = threading.RLock()
        service.subscribe(self._function_changed)

    # -- operations ------------------------------------------------------------------------------
    def add_permission(self, params: dict[str, Any]) -> dict[str, str]:
        qualifier = _qualifier(params["FunctionName"], params.get("Qualifier"))
        if qualifier == "$LATEST":
            raise InvalidParameterValueException("We currently do not support adding policies for $LATEST.")
        with self._lock:
            located = self._service.lookup(params["FunctionName"], params.get("Qualifier"))
            target, key = located.alias or located.function, (located.function.name, qualifier)
            if params.get("RevisionId") and params["RevisionId"] != target.revision_id:
                raise PreconditionFailedException("The Revision Id provided does not match the latest Revision Id. "
                                                  "Call the GetPolicy API to retrieve the latest Revision Id")
            statements = self._policies.get(key, [])
            sid = params["StatementId"]
            if any(s["Sid"] == sid for s in statements):
                raise ResourceConflictException(f"The statement id ({sid}) provided already exists. Please provide "
                                                "a new statement id, or remove the existing statement.")
            statement = build_statement(params, self._service.arn(located.function.name, qualifier))
            size = len(_text(_document([*statements, statement])).encode())
            limit = self._service.quotas.function_policy_max_bytes
            if size > limit:
                raise PolicyLengthExceededException(f"The final policy size ({size}) is bigger than the limit "
                                                    f"({limit}).")
            self._policies[key] = [*statements, statement]
            self._service.new_revision(located)
        return {"Statement": _text(statement)}

    def remove_permission(self, function_name: str, statement_id: str, qualifier: str | None = None,
                          revision_id: str | None = None) -> None:
        with self._lock:
            located = self._lookup(function_name, qualifier, lambda arn: f"No policy found for: {arn}")
            target, key = located.alias or located.function, (located.function.name, _normal(located.qualifier))
            statements = self._policies.get(key)
            if not statements:
                raise ResourceNotFoundException("No policy is associated with the given resource.")
            if not any(s["Sid"] == statement_id for s in statements):
                raise ResourceNotFoundException(f"Statement {statement_id} is not found in resource policy.")
            if revision_id and revision_id != target.revision_id:
                raise PreconditionFailedException(
                    "The Revision Id provided does not match the latest Revision Id. "
                    "Call the GetFunction/GetAlias API to retrieve the latest Revision Id")
            kept = [s for s in statements if s["Sid"] != statement_id]
            if kept:
                self._policies[key] = kept
            else:
                del self._policies[key]
            self._service.new_revision(located)

    def get_policy(self, function_name: str, qualifier: str | None = None) -> dict[str, str]:
        with self._lock:
            located = self._lookup(function_name, qualifier, lambda arn: NOT_FOUND)
            statements = self._policies.get((located.function.name, _normal(located.qualifier)))
            if not statements:
                raise ResourceNotFoundException(NOT_FOUND)
            target = located.alias or located.function
            return {"Policy": _text(_document(statements)), "RevisionId": target.revision_id}

    # -- for the IAM evaluator -------------------------------------------------------------------
    def policy_document(self, function_name: str, qualifier: str | None) -> dict | None:
        """The policy that governs a call to this function (or version, or alias), None without one.

        ``function_name`` may be a name or an ARN, as Invoke accepts it; an unqualified call is a
        call to ``$LATEST``, governed by the function's own policy.  A copy: the caller may keep it.
        """
        match = FUNCTION_ARN.match(function_name)
        if not match:
            return None
        with self._lock:
            statements = self._policies.get((match["name"], _normal(qualifier or match["qualifier"])))
            return copy.deepcopy(_document(statements)) if statements else None

    # -- helpers ---------------------------------------------------------------------------------
    def _lookup(self, function_name: str, qualifier: str | None, missing: Callable[[str], str]) -> Located:
        """What the call names; a function that does not exist at all is reported in the operation's own
        words (``missing(its ARN)``), as AWS reports it to GetPolicy and RemovePermission."""
        try:
            return self._service.lookup(function_name, qualifier)
        except ResourceNotFoundException:
            name = self._service.function_name(function_name)
            if self._service.version(name, "$LATEST") is None:
                raise ResourceNotFoundException(missing(self._service.arn(name))) from None
            raise

    def _function_changed(self, name: str, qualifier: str | None, function: Function | None) -> None:
        """A deleted version or alias takes its policy with it; a deleted function, every one of its own."""
        if function is None:
            with self._lock:
                for key in [k for k in self._policies if k[0] == name and qualifier in (None, k[1])]:
                    del self._policies[key]


def build_statement(params: dict[str, Any], resource: str) -> dict[str, Any]:
    """The statement AddPermission stores, keys and conditions laid out as AWS returns them."""
    statement: dict[str, Any] = {"Sid": params["StatementId"], "Effect": "Allow",
                                 "Principal": _principal(params["Principal"]), "Action": params["Action"],
                                 "Resource": resource}
    equals = {key: params[param] for param, key in (("FunctionUrlAuthType", "lambda:FunctionUrlAuthType"),
                                                    ("PrincipalOrgID", "aws:PrincipalOrgID"),
                                                    ("SourceAccount", "AWS:SourceAccount"),
                                                    ("EventSourceToken", "lambda:EventSourceToken"))
              if params.get(param)}
    condition: dict[str, Any] = {}
    if equals:
        condition["StringEquals"] = equals
    if params.get("SourceArn"):
        condition["ArnLike"] = {"AWS:SourceArn": params["SourceArn"]}
    if params.get("InvokedViaFunctionUrl"):
        condition["Bool"] = {"lambda:InvokedViaFunctionUrl": "true"}
    if condition:
        statement["Condition"] = condition
    return statement


def _principal(principal: str) -> str | dict[str, str]:
    if principal == "*":
        return "*"
    if ACCOUNT.match(principal):
        return {"AWS": f"arn:aws:iam::{principal}:root"}
    if IAM_ARN.match(principal):
        return {"AWS": principal}
    if SERVICE.match(principal):
        return {"Service": principal}
    raise InvalidParameterValueException(INVALID_PRINCIPAL)


def _document(statements: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Id": "default", "Statement": statements}


def _text(value: dict[str, Any]) -> str:
    """Compact JSON, as AWS returns policies (and as it measures them against the size limit)."""
    return json.dumps(value, separators=(",", ":"))


def _qualifier(function_name: str, qualifier: str | None) -> str | None:
    """The qualifier a call names, by parameter or at the end of its function ARN."""
    match = FUNCTION_ARN.match(function_name)
    return qualifier or (match["qualifier"] if match else None)


def _normal(qualifier: str | None) -> str | None:
    """``$LATEST`` has no policy of its own: it is governed by the function's."""
    return None if qualifier == "$LATEST" else qualifier

