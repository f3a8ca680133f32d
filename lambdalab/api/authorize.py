"""Who may make a Lambda API call: the IAM actions and resources each operation is judged on.

Lambda judges an operation as the Service Authorization Reference lists it: ``Invoke`` is
``lambda:InvokeFunction`` on the function's ARN (qualified when the call names a version or an
alias, as are the four EventInvokeConfig operations that name one), ``GetLayerVersionByArn`` is
``lambda:GetLayerVersion``, listing is unscoped (``*``) and every other operation is the action of
its own name on the function or layer it names (``lambda:PutFunctionEventInvokeConfig``, ...).  An
event source mapping is its own resource (``...:event-source-mapping:UUID``) but
CreateEventSourceMapping is unscoped, as in the reference; both carry the ``lambda:FunctionArn``
condition key.  Creating
or reconfiguring a function also needs ``iam:PassRole`` on its execution role.  Authorization comes
before existence: a caller without permission learns nothing about whether a function exists.
The function's (or the layer version's) resource-based policy takes part in every decision.
:func:`locate` says what a call acts on without any service, so the API can pick the account and
Region whose service answers it; that service's :class:`LambdaAuthorization` then judges it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..arns import FUNCTION_ARN, LAYER_ARN, account_of
from ..iam.authorizer import Authorizer
from ..iam.denials import denial_message
from ..iam.policy import Policy
from ..iam.principals import Caller
from ..service.errors import AccessDeniedException, ResourceNotFoundException, function_not_found
from ..service.functions import LambdaService
from ..service.mappings import NOT_FOUND

_RENAMED = {"Invoke": "InvokeFunction", "GetLayerVersionByArn": "GetLayerVersion"}
_UNSCOPED = {"ListFunctions", "ListLayers", "GetAccountSettings", "ListEventSourceMappings"}
_MAPPING_OPS = {"CreateEventSourceMapping", "GetEventSourceMapping", "UpdateEventSourceMapping",
                "DeleteEventSourceMapping"}
_PASSES_ROLE = {"CreateFunction", "UpdateFunctionConfiguration"}
# Judged on the qualified ARN when the call names a version or an alias (the Service Authorization Reference
# lists the function's version and alias as resources of these actions).
_QUALIFIED = {"Invoke", "PutFunctionEventInvokeConfig", "UpdateFunctionEventInvokeConfig",
              "GetFunctionEventInvokeConfig", "DeleteFunctionEventInvokeConfig"}
LAMBDA_SERVICE = "lambda.amazonaws.com"


@dataclass(frozen=True)
class Target:
    """What one call acts on: its ARN, the account that owns it and the resource policy that governs it."""

    arn: str
    account: str
    policy: Policy | None = None
    context: dict[str, Any] | None = None  # condition keys the operation sets (lambda:FunctionArn)


def function_policy(service: LambdaService, function_name: str, qualifier: str | None = None) -> Policy | None:
    """The resource-based policy that governs calls to this function (or version, or alias), for IAM."""
    document = service.policies.policy_document(function_name, qualifier)
    match = FUNCTION_ARN.match(function_name)
    return Policy(f"resource-based policy of function {match['name']}", document, kind="resource") \
        if document and match else None


def locate(home: str, region: str, operation: str, p: dict[str, Any]) -> Target:
    """What a call by a caller of account ``home``, signed for ``region``, acts on (without its policy)."""
    if operation in _UNSCOPED:
        return Target("*", home)
    if "FunctionName" in p:
        match = FUNCTION_ARN.match(p["FunctionName"])
        if match is None:  # the service will refuse the name; judge it on what it says
            return Target(f"arn:aws:lambda:{region}:{home}:function:{p['FunctionName']}", home)
        account = match["account"] or home
        qualifier = p.get("Qualifier") or match["qualifier"]
        arn = f"arn:aws:lambda:{match['region'] or region}:{account}:function:{match['name']}"
        return Target(arn + f":{qualifier}" if operation in _QUALIFIED and qualifier else arn, account)
    if "Resource" in p:  # tags: the function ARN itself
        return Target(p["Resource"], account_of(p["Resource"], home))
    layer = p.get("Arn") or p.get("LayerName")
    if layer:
        match = LAYER_ARN.match(layer)
        arn = layer if match else f"arn:aws:lambda:{region}:{home}:layer:{layer}"
        if p.get("VersionNumber") is not None:
            arn = f"{arn.rsplit(':', 1)[0] if match and match['version'] else arn}:{p['VersionNumber']}"
        return Target(arn, match["account"] if match else home)
    return Target("*", home)


class LambdaAuthorization:
    """Judges Lambda API calls for one :class:`LambdaService` (one account in one Region)."""

    def __init__(self, service: LambdaService, authorizer: Authorizer, check_role: Callable[[str], None]) -> None:
        self.service, self.authorizer, self.check_role = service, authorizer, check_role

    def check(self, caller: Caller, operation: str, params: dict[str, Any], located: Target) -> None:
        """Raise AccessDeniedException unless ``caller`` may make this call on what :func:`locate` found;
        then check what it passes."""
        if operation in _MAPPING_OPS:  # a mapping is found by its UUID, in the caller's own account
            target = self._mapping_target(caller.account, operation, params)
        else:
            target = self._governed(located, params)
        self._judge(caller, f"lambda:{_RENAMED.get(operation, operation)}", target, target.context)
        role = params.get("Role") if operation in _PASSES_ROLE else None
        if role:
            self._judge(caller, "iam:PassRole", Target(role, account_of(role)),
                        {"iam:PassedToService": LAMBDA_SERVICE, "iam:AssociatedResourceArn": target.arn})
        if target.account != self.service.account:  # allowed, yet by an account this cloud does not have
            if operation in _MAPPING_OPS:
                raise ResourceNotFoundException(NOT_FOUND)
            raise function_not_found(target.arn)
        if role:
            if operation == "UpdateFunctionConfiguration":  # a missing function is reported before its role
                self.service.resolve(params["FunctionName"])
            self.check_role(role)

    def _governed(self, target: Target, p: dict[str, Any]) -> Target:
        """``target`` with the resource-based policy of this service's function or layer version, if it has one."""
        if target.account != self.service.account or target.arn == "*" or "Resource" in p:
            return target
        if "FunctionName" in p:
            policy = function_policy(self.service, p["FunctionName"], p.get("Qualifier"))
        elif document := self.service.layers.policy_document(target.arn):
            policy = Policy(f"resource-based policy of layer version {target.arn}", document, kind="resource")
        else:
            policy = None
        return Target(target.arn, target.account, policy, target.context)

    def _mapping_target(self, home: str, operation: str, p: dict[str, Any]) -> Target:
        """An event source mapping's ARN (unscoped for Create), with the function it names as lambda:FunctionArn."""
        mapping = self.service.mappings.find(p["UUID"]) if "UUID" in p and home == self.service.account else None
        function = p.get("FunctionName") or (mapping.function_arn if mapping else None)
        if function and not function.startswith("arn:"):
            function = self.service.arn(function)
        context = {"lambda:FunctionArn": function} if function else None
        if operation == "CreateEventSourceMapping":
            return Target("*", home, context=context)
        return Target(f"arn:aws:lambda:{self.service.region}:{home}:event-source-mapping:{p['UUID']}", home,
                      context=context)

    def _judge(self, caller: Caller, action: str, target: Target, context: dict[str, Any] | None = None) -> None:
        context = {"aws:RequestedRegion": self.service.region, **(context or {})}
        decision = self.authorizer.decide(caller, action, target.arn, context, target.policy, target.account)
        if not decision.allowed:
            raise AccessDeniedException(denial_message(caller.arn, action, target.arn, decision.denial_phrase(),
                                                       "lambda"))
