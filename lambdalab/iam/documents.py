"""Policy documents IAM refuses: ``MalformedPolicyDocument`` for the operations that store one.

AWS reads every policy document it is given and refuses one it cannot read, in words a learner
looks up: "This policy contains invalid Json" for text that is not JSON (recorded against AWS:
``tests/fidelity/cases/iam-malformed-trust-policy.json``), "Syntax errors in policy." for JSON that
is no policy, "Has prohibited field Resource" for a trust policy that names resources.  moto
stores CreateRole's trust policy without a look and words text that is not JSON as a syntax error,
and the policy engine would then meet a document it cannot read.  So the guard asks
:func:`malformed` about every IAM call it has authorized, before moto sees it: the text is read as
AWS's parser reads it (:mod:`lambdalab.jackson`: no nesting deeper than 1,000, no NaN), then checked
by moto's own policy grammar, and its messages are given in AWS's words.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..jackson import load_json
from . import actions

INVALID_JSON = "This policy contains invalid Json"
# operation -> (the parameter holding its document, whether it is a role's trust policy)
_DOCUMENTS = {"CreateRole": ("AssumeRolePolicyDocument", True), "UpdateAssumeRolePolicy": ("PolicyDocument", True),
              "PutRolePolicy": ("PolicyDocument", False), "PutUserPolicy": ("PolicyDocument", False),
              "PutGroupPolicy": ("PolicyDocument", False), "CreatePolicy": ("PolicyDocument", False),
              "CreatePolicyVersion": ("PolicyDocument", False)}
_AWS_WORDS = {"Has prohibited field Resource.": "Has prohibited field Resource"}  # moto's -> AWS's, where they differ


def malformed(service: str, headers: Mapping[str, str], query: str, body: bytes) -> str | None:
    """Why IAM refuses the policy document this request stores (MalformedPolicyDocument's message), else None."""
    if service != "iam":
        return None
    operation, params = actions.operation({k.lower(): v for k, v in headers.items()}, query, body)
    document = params.get(_DOCUMENTS[operation][0]) if operation in _DOCUMENTS else None
    return problem_of(document, trust=_DOCUMENTS[operation][1]) if isinstance(document, str) else None


def problem_of(document: str, trust: bool = False) -> str | None:
    """Why IAM refuses ``document`` (a role's trust policy when ``trust``), in AWS's words; None if it takes it."""
    from moto.iam.exceptions import MalformedPolicyDocument
    from moto.iam.policy_validation import IAMPolicyDocumentValidator, IAMTrustPolicyDocumentValidator

    try:
        load_json(document)
    except ValueError:
        return INVALID_JSON
    grammar = IAMTrustPolicyDocumentValidator if trust else IAMPolicyDocumentValidator
    try:
        grammar(document).validate()
    except MalformedPolicyDocument as e:
        return _AWS_WORDS.get(e.message, e.message)
    return None
