"""Deployment packages from source text, for notebooks, exercises and tests.

In AWS you would zip a folder; in a notebook the code is a string, so this builds the same
``.zip`` in memory (files keep their executable bit when marked, as a custom ``bootstrap`` needs)
and deploys it with the same boto3 calls a learner would make.
"""

from __future__ import annotations

import io
import textwrap
import zipfile
from typing import Any

COURSE_ROLE = "arn:aws:iam::123456789012:role/lambda-role"


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


def deploy(lam, name: str, files: dict[str, str] | str, *, handler: str = "app.handler",
           runtime: str = "python3.12", role: str = COURSE_ROLE, **config: Any) -> None:
    """Create function ``name`` from source text, or give an existing one this code and configuration.

    Returns once the function can be invoked (what boto3's waiters check). ``config`` takes
    CreateFunction's other parameters (MemorySize, Timeout, Environment, ...).
    """
    package = zip_files(files)
    try:
        lam.create_function(FunctionName=name, Runtime=runtime, Role=role, Handler=handler,
                            Code={"ZipFile": package}, **config)
        lam.get_waiter("function_active_v2").wait(FunctionName=name)
    except lam.exceptions.ResourceConflictException:
        lam.update_function_code(FunctionName=name, ZipFile=package)
        lam.get_waiter("function_updated_v2").wait(FunctionName=name)
        lam.update_function_configuration(FunctionName=name, Runtime=runtime, Role=role, Handler=handler, **config)
        lam.get_waiter("function_updated_v2").wait(FunctionName=name)
