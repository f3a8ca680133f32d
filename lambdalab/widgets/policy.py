"""A policy explorer: pick a principal and a call, see IAM's decision and the statement behind it.

    >>> from lambdalab.widgets.policy import PolicyExplorer
    >>> PolicyExplorer(cloud, "arn:aws:iam::123456789012:user/alice", "s3:GetObject", "arn:aws:s3:::b/k")

It asks the cloud's authorizer the question the real call would ask (the principal's policies as
they are in IAM now, the resource's own policy - a function's, a bucket's, a queue's, a topic's,
a role's trust policy - and the condition keys given), without making the call, like IAM's policy
simulator.  Contract for tests: :meth:`PolicyExplorer.decide` returns the Decision and fills
:attr:`PolicyExplorer.result`, an HTML widget whose text starts with "Allowed" or "Denied".
"""

from __future__ import annotations

import html
import json
from typing import Any

import ipywidgets as widgets

from ..api.authorize import function_policy
from ..iam.policy import Decision, Policy
from ..iam.principals import Directory
from ..iam.resources import resource_side
from ..service.functions import FUNCTION_ARN
from . import stopped


def deciding_statement(policies: list[Policy], decision: Decision) -> dict | None:
    """The statement that decided, as written in its policy (None for an implicit deny)."""
    for policy in policies:
        if policy.name == decision.policy and decision.statement is not None:
            return policy.statements()[decision.statement]
    return None


def resource_policy(cloud, action: str, resource: str, home: str) -> tuple[str, Policy | None]:
    """(owning account, resource-based policy) of ``resource``, as the real call would be judged."""
    match = FUNCTION_ARN.match(resource) if resource.startswith("arn:aws:lambda:") else None
    if match is None:
        return resource_side(action, resource, home)
    return match["account"], function_policy(cloud.service, resource) if match["account"] == cloud.account else None


class PolicyExplorer(widgets.VBox):
    """Principal, action, resource and condition keys in; the decision, its reason and statement out."""

    def __init__(self, cloud, principal: str | None = None, action: str = "s3:GetObject",
                 resource: str = "*", context: dict[str, Any] | None = None) -> None:
        self.cloud = cloud
        self.decision: Decision | None = None
        self.principal = widgets.Dropdown(description="Principal", options=self._principals(),
                                          layout=widgets.Layout(width="640px"))
        if principal:
            self.principal.value = principal
        self.action = widgets.Text(value=action, description="Action", layout=widgets.Layout(width="400px"))
        self.resource = widgets.Text(value=resource, description="Resource", layout=widgets.Layout(width="640px"))
        self.context = widgets.Textarea(value=json.dumps(context or {}, indent=1), description="Context",
                                        placeholder='{"s3:prefix": "home/alice/"}',
                                        layout=widgets.Layout(width="640px", height="70px"))
        self.button = widgets.Button(description="Decide", button_style="primary", icon="balance-scale")
        self.result = widgets.HTML()
        self.button.on_click(lambda _: self.decide())
        super().__init__([self.principal, self.action, self.resource, self.context, self.button, self.result])
        self.decide()

    def decide(self) -> Decision | None:
        if note := stopped(self.cloud, "explorer"):
            self.result.value = note
            return None
        caller = Directory({}).for_arn(self.principal.value or "")
        try:
            context = json.loads(self.context.value or "{}")
        except ValueError as e:
            self.result.value = f"<b>Context is not JSON</b>: {html.escape(str(e))}"
            return None
        if caller is None:
            self.result.value = "<b>No such principal</b> in the account's IAM."
            return None
        action, resource = self.action.value.strip(), self.resource.value.strip()
        account, policy = resource_policy(self.cloud, action, resource, caller.account)
        self.decision = self.cloud.authorizer.simulate(caller, action, resource, context, policy, account)
        self.result.value = self._render([*caller.policies, *([policy] if policy else [])], self.decision)
        return self.decision

    def _principals(self) -> list[str]:
        iam = self.cloud.client("iam")
        users = [u["Arn"] for u in iam.list_users()["Users"]]
        roles = [r["Arn"] for r in iam.list_roles()["Roles"]]
        roots = [f"arn:aws:iam::{account}:root" for account in (self.cloud.account, self.cloud.other_account)]
        return [roots[0], *users, *roles, roots[1]]

    @staticmethod
    def _render(policies: list[Policy], decision: Decision) -> str:
        colour = "#1d8102" if decision.allowed else "#d13212"
        parts = [f'<div style="color:{colour}"><b>{"Allowed" if decision.allowed else "Denied"}</b> '
                 f"({html.escape(decision.reason)})</div>", f"<div>{html.escape(decision.explain())}</div>"]
        statement = deciding_statement(policies, decision)
        if statement is not None:
            parts.append(f"<pre>{html.escape(json.dumps(statement, indent=2))}</pre>")
        names = ", ".join(html.escape(p.name) for p in policies) or "none"
        parts.append(f"<div style='color:#555'>Policies considered: {names}</div>")
        return "".join(parts)
