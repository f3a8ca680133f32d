"""Deployment packages from source text, and execution roles, for notebooks, exercises and tests.

In AWS you would zip a folder; in a notebook the code is a string, so this builds the same
``.zip`` in memory (files keep their executable bit when marked, as a custom ``bootstrap`` needs).
A handler that calls another service needs a role that allows it: ``execution_role`` makes one
with the IAM calls a learner would make.  (``lambdalab.course`` deploys and invokes functions.)
"""

from __future__ import annotations

import io
import json
import textwrap
import zipfile

LAMBDA_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def zip_files(files: dict[str, str] | str, executable: tuple[str, ...] = ("bootstrap",)) -> bytes:
    """A zip of ``{"app.py": source, ...}`` (or just the source of ``app.py``), dedented."""
    if isinstance(files, str):
        files = {"app.py": files}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o755 if name in executable else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, textwrap.dedent(text))
    return buffer.getvalue()


def execution_role(iam, name: str, *managed_policy_arns: str, statements: tuple[dict, ...] = ()) -> str:
    """The ARN of role ``name``, which Lambda may assume, made once with these policies attached.

    ``managed_policy_arns`` are attached as they are (AWS managed ones such as
    ``arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess``); ``statements`` become an inline policy.
    An existing role of that name is returned as it is.
    """
    try:
        return iam.get_role(RoleName=name)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        pass
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))["Role"]["Arn"]
    for policy in managed_policy_arns:
        iam.attach_role_policy(RoleName=name, PolicyArn=policy)
    if statements:
        iam.put_role_policy(RoleName=name, PolicyName=f"{name}-permissions", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": list(statements)}))
    return arn
