"""Hostile deployment packages: each is refused with AWS's error or unpacked safely, never a 500, never outside."""

from __future__ import annotations

import io
import os
import stat
import struct
import warnings
import zipfile
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from deploy import ROLE, error_of

from lambdalab.service.code import COULD_NOT_UNZIP, unpack
from lambdalab.service.errors import InvalidParameterValueException
from lambdalab.service.quotas import Quotas

HANDLER = "def handler(event, context):\n    return open('link.txt').read()\n"


def archive(*members: tuple[str | zipfile.ZipInfo, bytes | str], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w", method) as z:
        warnings.simplefilter("ignore")  # duplicate names are what some tests are about
        for name, data in members:
            z.writestr(name, data)
    return buffer.getvalue()


def link(name: str, target: str) -> tuple[zipfile.ZipInfo, str]:
    """A symbolic link as ``zip --symlinks`` stores it: mode S_IFLNK, the target as the member's data."""
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target


def patch(data: bytes, local_offset: int, central_offset: int, fmt: str, value: int) -> bytes:
    """Overwrite one field of the first member, in its local header and in the central directory."""
    out = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", local_offset), (b"PK\x01\x02", central_offset)):
        at = out.index(signature) + offset
        out[at:at + struct.calcsize(fmt)] = struct.pack(fmt, value)
    return bytes(out)


def refused(data: bytes, tmp_path: Path, quotas: Quotas | None = None) -> str:
    """Unpack and return the message it was refused with; nothing may be left in ``tmp_path``."""
    with pytest.raises(InvalidParameterValueException) as e:
        unpack(data, tmp_path / "pkg", quotas or Quotas())
    assert list(tmp_path.iterdir()) == []
    return e.value.message


def test_a_size_header_that_lies_is_refused(tmp_path):
    data = archive(("a.txt", "x" * 1000))
    assert refused(patch(data, 22, 24, "<I", 10), tmp_path) == COULD_NOT_UNZIP  # says 10 bytes, holds 1000
    assert refused(patch(data, 22, 24, "<I", 5000), tmp_path) == COULD_NOT_UNZIP  # says 5000, ends early


def test_a_crc_that_lies_is_refused(tmp_path):
    assert refused(patch(archive(("a.txt", "hello")), 14, 16, "<I", 1234), tmp_path) == COULD_NOT_UNZIP


def test_encrypted_and_unknown_compression_members_are_refused(tmp_path):
    data = archive(("a.txt", "hello"))
    assert refused(patch(data, 6, 8, "<H", 1), tmp_path) == COULD_NOT_UNZIP  # the encrypted flag
    assert refused(patch(data, 8, 10, "<H", 99), tmp_path) == COULD_NOT_UNZIP  # AES, unsupported


def test_a_zip_bomb_is_refused_with_the_unzipped_size_message(tmp_path):
    quotas = Quotas({"unzipped_max_bytes": 1_000_000})
    bomb = archive(("zeros.bin", bytes(10_000_000)))
    assert len(bomb) < 20_000  # a ratio of 500 and more
    assert refused(bomb, tmp_path, quotas) == "Unzipped size must be smaller than 1000000 bytes"
    # the same bytes shared by many central-directory entries count once per entry
    many = archive(*[(f"part{i}.bin", bytes(300_000)) for i in range(4)])
    assert refused(many, tmp_path, quotas) == "Unzipped size must be smaller than 1000000 bytes"


def test_at_the_default_quota_the_message_is_awss(tmp_path):
    quotas = Quotas()
    data = patch(archive(("a.txt", "x")), 22, 24, "<I", 262144001)
    assert refused(data, tmp_path, quotas) == "Unzipped size must be smaller than 262144000 bytes"


@pytest.mark.parametrize("name", ["/etc/evil.txt", "../evil.txt", "a/../../evil.txt", "a/./../../evil.txt",
                                  "..\\evil.txt"])
def test_names_that_leave_the_package_are_refused(tmp_path, name):
    assert refused(archive(("ok.txt", "ok"), (name, "evil")), tmp_path) == COULD_NOT_UNZIP
    assert not (tmp_path.parent / "evil.txt").exists()


def test_too_many_members_are_refused(tmp_path):
    quotas = Quotas({"zip_entries_max": 10})
    assert refused(archive(*[(f"f{i}.txt", "") for i in range(11)]), tmp_path, quotas) == COULD_NOT_UNZIP
    code = unpack(archive(*[(f"f{i}.txt", "") for i in range(10)]), tmp_path / "pkg", quotas)
    assert len(list(code.root.iterdir())) == 10


@pytest.mark.parametrize("members", [
    [("a.txt", "one"), ("a.txt", "two")],  # the same file twice
    [("a", "file"), ("a/b.txt", "beneath a file")],
    [("d/x.txt", "x"), link("d", "elsewhere")],  # a link over a directory
])
def test_duplicate_and_clashing_names_are_refused(tmp_path, members):
    assert refused(archive(*members), tmp_path) == COULD_NOT_UNZIP


def test_a_name_that_is_not_utf8_despite_its_flag_is_refused(tmp_path):
    data = archive(("é.txt", "x"))  # flagged UTF-8: c3 a9
    assert refused(data.replace("é".encode(), b"\xff\xfe"), tmp_path) == COULD_NOT_UNZIP


def test_a_name_without_the_utf8_flag_is_read_as_cp437(tmp_path):
    data = archive(("e.txt", "x")).replace(b"e.txt", b"\x82.txt")  # 0x82 is é in code page 437
    code = unpack(data, tmp_path / "pkg", Quotas())
    assert [p.name for p in code.root.iterdir()] == ["é.txt"]


def test_links_inside_the_package_are_kept_as_links(tmp_path):
    data = archive(("real/data.txt", "data"), link("link.txt", "real/data.txt"), link("dir", "real"))
    code = unpack(data, tmp_path / "pkg", Quotas())
    assert os.readlink(code.root / "link.txt") == "real/data.txt"
    assert (code.root / "link.txt").read_text() == (code.root / "dir" / "data.txt").read_text() == "data"


def test_a_link_outside_is_kept_but_nothing_is_done_through_it(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("host file")
    outside.chmod(0o640)
    code = unpack(archive(link("host.txt", str(outside)), link("hostdir", str(tmp_path))), tmp_path / "pkg",
                  Quotas())
    assert os.readlink(code.root / "host.txt") == str(outside)
    assert stat.S_IMODE(outside.stat().st_mode) == 0o640  # making the package read-only did not follow it
    assert stat.S_IMODE(tmp_path.stat().st_mode) != 0o555


def test_a_file_beneath_a_directory_link_is_refused(tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    data = archive(link("lib", str(victim)), ("lib/planted.txt", "planted"))
    with pytest.raises(InvalidParameterValueException) as e:
        unpack(data, tmp_path / "pkg", Quotas())
    assert e.value.message == COULD_NOT_UNZIP
    assert list(victim.iterdir()) == [] and not (tmp_path / "pkg").exists()


def test_only_the_executable_bit_is_kept(tmp_path):
    info = zipfile.ZipInfo("bootstrap")
    info.external_attr = (stat.S_IFREG | 0o4777) << 16  # setuid, world-writable
    code = unpack(archive((info, "#!/bin/sh\n"), ("plain.txt", "x")), tmp_path / "pkg", Quotas())
    assert stat.S_IMODE((code.root / "bootstrap").stat().st_mode) == 0o555
    assert stat.S_IMODE((code.root / "plain.txt").stat().st_mode) == 0o444


def test_hostile_uploads_through_the_api_are_400s_not_500s(cloud, lam, tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    for data in (archive(("app.py", HANDLER), link("lib", str(victim)), ("lib/planted.txt", "x")),
                 archive(("app.py", HANDLER), ("../../escaped.txt", "x")),
                 patch(archive(("app.py", HANDLER)), 14, 16, "<I", 1)):
        with pytest.raises(ClientError) as e:
            lam.create_function(FunctionName="hostile", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                                Code={"ZipFile": data})
        assert error_of(e) == ("InvalidParameterValueException", COULD_NOT_UNZIP, 400)
    assert list(victim.iterdir()) == []


def test_a_packaged_link_works_in_the_function(cloud, lam, fn):
    data = archive(("app.py", HANDLER), ("data/real.txt", "through the link"), link("link.txt", "data/real.txt"))
    lam.create_function(FunctionName="with-link", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": data})
    assert fn.invoke("with-link")["Payload"] == "through the link"


def test_a_layers_links_are_copied_as_links(cloud, lam, tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("host file")
    outside.chmod(0o640)
    data = archive(("python/inside.txt", "in"), link("python/in-link", "inside.txt"),
                   link("python/out-link", str(outside)), link("python/dir-link", str(tmp_path)))
    layer = lam.publish_layer_version(LayerName="links", Content={"ZipFile": data})
    opt = cloud.service.layers.mount(cloud.service.layers.resolve([layer["LayerVersionArn"]]))
    assert os.readlink(opt / "python" / "in-link") == "inside.txt"
    assert os.readlink(opt / "python" / "out-link") == str(outside)
    assert os.readlink(opt / "python" / "dir-link") == str(tmp_path)
    assert stat.S_IMODE(outside.stat().st_mode) == 0o640 and outside.stat().st_nlink == 1
