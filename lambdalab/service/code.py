"""Deployment packages: check a zip against Lambda's size quotas and unpack it read-only.

A package is unpacked once per upload into its own directory; every execution environment of
that code uses it as the task root, read-only as ``/var/task`` is in AWS.  The archive itself is
kept beside it, as AWS keeps it, so that GetFunction's download is the very file that was uploaded.
Layers are unpacked the same way.

An upload is untrusted input, so the unpacking trusts nothing the archive says about itself:

* sizes are counted as the bytes come out (a header may lie, a "zip bomb" may expand a thousand
  times); past the unzipped quota the upload is refused with AWS's "Unzipped size must be
  smaller than 262144000 bytes", and a member whose data does not match its header (size or
  CRC) is refused as AWS refuses an archive it cannot read: InvalidParameterValueException
  "Could not unzip uploaded file. Please check your file, then try to upload again.";
* nothing is written outside the package's directory: absolute names, ``..`` and a member
  beneath a symbolic link are refused with that same error, every file is created anew
  (``O_EXCL | O_NOFOLLOW``, so a duplicate name is refused too) and no permission is changed
  through a link;
* symbolic links are kept as links, wherever they point, because AWS keeps them (``zip
  --symlinks`` packages run there: ``node_modules/.bin``, pnpm's layout, a link to a layer's
  ``/opt/...``; see aws-sam-cli#4364 and terraform-aws-lambda#596): the link is data, and what
  the function may read through it is the sandbox's business, not the unpacker's;
* at most ``zip_entries_max`` members (a limit of this machine, not of AWS).
"""

from __future__ import annotations

import base64
import errno
import hashlib
import io
import os
import shutil
import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from .errors import InvalidParameterValueException, RequestEntityTooLargeException
from .models import Code
from .quotas import Quotas

COULD_NOT_UNZIP = "Could not unzip uploaded file. Please check your file, then try to upload again."
_CHUNK = 1 << 20
_LINK_MAX = 4096  # PATH_MAX: a longer link target is not a link
# What an archive that cannot be read raises in zipfile: a bad header or CRC, a truncated stream,
# an unknown compression method, an encrypted member, a name that is not UTF-8 despite its flag.
_UNREADABLE = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError)
# What the file system says of a name the archive should not have had (too long, a file where a
# directory is, a duplicate, a link in the way).
_BAD_NAME = {errno.ENAMETOOLONG, errno.EEXIST, errno.ENOTDIR, errno.EISDIR, errno.ELOOP, errno.EINVAL}


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
    except _UNREADABLE:
        raise InvalidParameterValueException(COULD_NOT_UNZIP) from None
    if len(members) > quotas.zip_entries_max:
        raise InvalidParameterValueException(COULD_NOT_UNZIP)
    check_unzipped(sum(m.file_size for m in members), layer_bytes, quotas)  # what the headers claim, first
    dest.mkdir(parents=True)
    try:
        unzipped = _extract(archive, members, dest, quotas.unzipped_max_bytes)
        check_unzipped(unzipped, layer_bytes, quotas)
        make_read_only(dest)
    except BaseException as e:
        remove_tree(dest)
        if isinstance(e, _UNREADABLE) or (isinstance(e, OSError) and e.errno in _BAD_NAME):
            raise InvalidParameterValueException(COULD_NOT_UNZIP) from None
        raise
    archive_path(dest).write_bytes(zip_bytes)
    digest = base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode()
    return Code(sha256=digest, size=len(zip_bytes), unzipped_size=unzipped, root=dest)


def _extract(archive: zipfile.ZipFile, members: list[zipfile.ZipInfo], dest: Path, limit: int) -> int:
    """Write every member under ``dest`` and return the bytes that came out (refused past ``limit``)."""
    unzipped = 0
    for member in members:
        parts = _parts(member.filename)
        if not parts:
            continue  # the archive's root directory itself
        parent = _directory(dest, parts[:-1])
        target = os.path.join(parent, parts[-1])
        mode = member.external_attr >> 16
        if member.is_dir():
            _mkdir(target)
        elif stat.S_ISLNK(mode):
            with archive.open(member) as source:
                link = source.read(_LINK_MAX + 1)
            unzipped += len(link)
            if len(link) != member.file_size or len(link) > _LINK_MAX or not link or b"\0" in link:
                raise zipfile.BadZipFile("not a link target")
            os.symlink(os.fsdecode(link), target)
        else:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
            written = 0
            with archive.open(member) as source, os.fdopen(os.open(target, flags, 0o600), "wb") as out:
                while chunk := source.read(_CHUNK):
                    written += len(chunk)
                    if unzipped + written > limit:
                        return unzipped + written  # the caller refuses it with the quota's message
                    out.write(chunk)
            unzipped += written
            if written != member.file_size:  # zipfile checks the CRC, not that the size was true
                raise zipfile.BadZipFile(f"{member.filename}: {written} bytes, not {member.file_size}")
            if mode & stat.S_IXUSR:  # keep the executable bit (a custom bootstrap), nothing else
                os.chmod(target, 0o700, follow_symlinks=False)
    return unzipped


def _parts(name: str) -> tuple[str, ...]:
    """The path components of a member's name, refusing any that would leave the package."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or any(part in ("..", "") for part in path.parts) or "\0" in name:
        raise zipfile.BadZipFile(f"unsafe member name {name!r}")
    return tuple(part for part in path.parts if part != ".")


def _directory(dest: Path, parts: tuple[str, ...]) -> str:
    """The directory ``dest/parts``, created as needed, where every component is a real directory."""
    path = str(dest)
    for part in parts:
        path = os.path.join(path, part)
        _mkdir(path)
    return path


def _mkdir(path: str) -> None:
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        if not stat.S_ISDIR(os.lstat(path).st_mode):  # a file, or a link: nothing goes beneath it
            raise


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
    """Files 0444 (0555 if executable), directories 0555; links are left alone (chmod would follow them)."""
    for dirpath, _dirs, files in os.walk(root, topdown=False):
        for name in files:
            path = os.path.join(dirpath, name)
            mode = os.lstat(path).st_mode
            if stat.S_ISREG(mode):
                os.chmod(path, 0o555 if mode & stat.S_IXUSR else 0o444)
        os.chmod(dirpath, 0o555)
