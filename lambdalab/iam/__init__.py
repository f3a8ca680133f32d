"""IAM for the local cloud: who is calling, what each call asks for, and AWS's decision on it.

moto stores the IAM data (users, groups, roles, policies, access keys); lambdalab decides.  A
request travels: ``guard`` (at the endpoint) -> ``principals`` (the access key names the caller
and its identity policies) -> ``actions`` (the actions, resources and condition keys the request
is judged on) -> ``resources`` (who owns each resource, and its own policy) -> ``authorizer``
(the decision, logged) -> ``policy`` (AWS's evaluation rules, and the statement that decided) ->
``denials`` (a refusal as that service words it).  ``roles`` holds what Lambda needs of its
execution roles.
"""
