"""IAM for the local cloud: who is calling, what each call asks for, and AWS's decision on it.

moto stores the IAM data (users, groups, roles, policies, access keys); lambdalab decides:
``policy`` evaluates documents as AWS does and says which statement decided, ``actions`` maps a
request of each service to the action, resource and condition keys it is judged on, ``denials``
answers a refused call with the error that service sends.
"""
