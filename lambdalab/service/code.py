"""Deployment packages: check a zip against Lambda's size quotas and unpack it read-only.

A package is unpacked once per upload into its own directory; every execution environment of
that code uses it as the task root, read-only as ``/var/task`` is in AWS.  The archive itself is
kept beside it, as AWS keeps it, so that GetFunction's download is the very file that was uploaded.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import stat
import zipfile
from pathlib import Path

from .errors import InvalidParameterValueException, RequestEntityTooLargeException
from .models import Code
from .quotas import Quotas


def unpack(zip_bytes: bytes, dest: Path, quotas: Quotas, layer_bytes: int = 0) -> Code:
    """Validate ``zip_bytes`` and unpack it into ``dest`` (which must not exist yet).

    ``layer_bytes`` is the unzipped size of the layers the function uses: they count against the
    same quota, so a package that fits alone may still be refused.
    """
    if len(zip_bytes) > quotas.zip_direct_max_bytes:
        raise RequestEntityTooLargeException(f"Zipped size must be smaller than {quotas.zip_direct_max_bytes} bytes")
    try:
        archive = zipfile.ZipFile(io.BytesIO(zip_bytes))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError):
        raise InvalidParameterValueException(
            "Could not unzip uploaded file. Please check your file, then try to upload again.") from None
    unzipped = sum(m.file_size for m in members)
    check_unzipped(unzipped, layer_bytes, quotas)
    dest.mkdir(parents=True)
    try:
        for member in members:
            target = (dest / member.filename).resolve()
            if not target.is_relative_to(dest.resolve()):
                raise InvalidParameterValueException(
                    "Could not unzip uploaded file. Please check your file, then try to upload again.")
            archive.extract(member, dest)
            if (member.external_attr >> 16) & stat.S_IXUSR:  # keep the executable bit (a custom bootstrap)
                os.chmod(target, 0o755)
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    make_read_only(dest)
    archive_path(dest).write_bytes(zip_bytes)
    digest = base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode()
    return Code(sha256=digest, size=len(zip_bytes), unzipped_size=unzipped, root=dest)


def remove(code: Code) -> None:
    """Delete an unpacked package and its archive."""
    remove_tree(code.root)
    archive_path(code.root).unlink(missing_ok=True)


def remove_tree(root: Path) -> None:
    """Delete a read-only tree (its directories get their write bit back first)."""
    for dirpath, _dirs, _files in os.walk(root):
        os.chmod(dirpath, stat.S_IRWXU)
    shutil.rmtree(root, ignore_errors=True)


def archive_path(root: Path) -> Path:
    """Where the uploaded .zip of the package unpacked at ``root`` is kept."""
    return root.with_name(root.name + ".zip")


def check_unzipped(code_bytes: int, layer_bytes: int, quotas: Quotas) -> None:
    """The unzipped quota (250 MB), for a package alone and then with its function's layers."""
    limit = quotas.unzipped_max_bytes
    if code_bytes > limit:
        raise InvalidParameterValueException(f"Unzipped size must be smaller than {limit} bytes")
    if code_bytes + layer_bytes > limit:
        raise InvalidParameterValueException(f"Function code combined with layers exceeds the maximum allowed size "
                                             f"of {limit} bytes. The actual size is {code_bytes + layer_bytes} bytes.")


def make_read_only(root: Path) -> None:
    for dirpath, _dirs, files in os.walk(root, topdown=False):
        for name in files:
            path = os.path.join(dirpath, name)
            mode = os.stat(path).st_mode
            os.chmod(path, 0o555 if mode & stat.S_IXUSR else 0o444)
        os.chmod(dirpath, 0o555)
