"""Updates of a function: unpacked outside the service's lock, immutable values, one at a time per function."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from deploy import arn, error_of

from lambdalab import zip_files
from lambdalab.service import code as packages

HELLO = "def handler(event, context):\n    return 'v1'\n"
HELLO2 = "def handler(event, context):\n    return 'v2'\n"


class HeldUnpack:
    """Replaces ``code.unpack`` so that the next unpack waits until released: an upload that takes its time."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.started, self.release = threading.Event(), threading.Event()
        real = packages.unpack

        def unpack(*args, **kwargs):
            if not self.started.is_set():
                self.started.set()
                assert self.release.wait(30), "the test never released the unpack"
            return real(*args, **kwargs)

        monkeypatch.setattr(packages, "unpack", unpack)


def in_thread(call) -> tuple[threading.Thread, dict]:
    """Run ``call`` on a named thread; the dict gets its result or its exception."""
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["result"] = call()
        except Exception as e:  # handed to the test, which asserts on it
            outcome["error"] = e

    thread = threading.Thread(target=run, name="test-update", daemon=True)
    thread.start()
    return thread, outcome


def test_an_upload_being_unpacked_does_not_hold_up_invokes_or_lookups(fn, lam, monkeypatch):
    other = fn.create(HELLO)
    name = fn.create(HELLO)
    held = HeldUnpack(monkeypatch)
    thread, outcome = in_thread(lambda: lam.update_function_code(FunctionName=name, ZipFile=zip_files(HELLO2)))
    assert held.started.wait(10)
    try:  # while the update of `name` unpacks, the rest of the service answers
        assert fn.invoke(other)["Payload"] == "v1"
        assert fn.invoke(name)["Payload"] == "v1"  # the old code runs until the new one is in place
        assert lam.get_function(FunctionName=name)["Configuration"]["FunctionName"] == name
    finally:
        held.release.set()
    thread.join(30)
    assert "error" not in outcome
    assert fn.invoke(name)["Payload"] == "v2"


def test_a_second_update_during_an_update_is_refused_as_aws_refuses_it(fn, lam, monkeypatch):
    name = fn.create(HELLO)
    held = HeldUnpack(monkeypatch)
    thread, outcome = in_thread(lambda: lam.update_function_code(FunctionName=name, ZipFile=zip_files(HELLO2)))
    assert held.started.wait(10)
    busy = ("ResourceConflictException", "The operation cannot be performed at this time. An update is in "
            f"progress for resource: {arn(name)}", 409)
    try:
        for call in (lambda: lam.update_function_code(FunctionName=name, ZipFile=zip_files(HELLO)),
                     lambda: lam.update_function_configuration(FunctionName=name, Timeout=9),
                     lambda: lam.publish_version(FunctionName=name)):
            with pytest.raises(ClientError) as e:
                call()
            assert error_of(e) == busy
    finally:
        held.release.set()
    thread.join(30)
    assert outcome["result"]["LastUpdateStatus"] == "InProgress"
    lam.update_function_configuration(FunctionName=name, Timeout=9)  # the slot is free again
    assert lam.get_function_configuration(FunctionName=name)["Timeout"] == 9


def test_a_name_being_created_is_taken(fn, lam, monkeypatch):
    name = "being-created"
    held = HeldUnpack(monkeypatch)
    thread, outcome = in_thread(lambda: fn.create(HELLO, FunctionName=name))
    assert held.started.wait(10)
    try:
        with pytest.raises(ClientError) as e:
            fn.create(HELLO, FunctionName=name)
        assert error_of(e) == ("ResourceConflictException", f"Function already exist: {name}", 409)
    finally:
        held.release.set()
    thread.join(30)
    assert outcome["result"] == name
    lam.delete_function(FunctionName=name)


def test_a_function_deleted_during_its_update_keeps_no_package(fn, lam, cloud, monkeypatch):
    name = fn.create(HELLO)
    held = HeldUnpack(monkeypatch)
    thread, outcome = in_thread(lambda: lam.update_function_code(FunctionName=name, ZipFile=zip_files(HELLO2)))
    assert held.started.wait(10)
    before = set((cloud.workdir / "code").iterdir())
    lam.delete_function(FunctionName=name)
    held.release.set()
    thread.join(30)
    error = outcome["error"].response["Error"]
    assert (error["Code"], error["Message"]) == ("ResourceNotFoundException", f"Function not found: {arn(name)}")
    assert set((cloud.workdir / "code").iterdir()) <= before  # the new package went with it


def test_an_update_replaces_the_configuration_rather_than_changing_it(fn, lam, cloud):
    name = fn.create(HELLO, Timeout=3, Environment={"Variables": {"AB": "1"}})
    held = cloud.service.resolve(name)  # what an environment or an in-flight invocation holds
    lam.update_function_configuration(FunctionName=name, Timeout=7, Environment={"Variables": {"AB": "2"}})
    lam.tag_resource(Resource=arn(name), Tags={"team": "x"})
    lam.add_permission(FunctionName=name, StatementId="s", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com")
    assert (held.timeout, held.environment, held.tags) == (3, {"AB": "1"}, {})
    now = cloud.service.resolve(name)
    assert (now.timeout, now.environment, now.tags) == (7, {"AB": "2"}, {"team": "x"})
    assert now.revision_id == lam.get_function(FunctionName=name)["Configuration"]["RevisionId"] != held.revision_id
    with pytest.raises(AttributeError):
        held.timeout = 9  # a frozen value


def test_a_versions_revision_changes_with_its_policy(fn, lam):
    name = fn.create(HELLO)
    version = lam.publish_version(FunctionName=name)
    lam.add_permission(FunctionName=name, Qualifier=version["Version"], StatementId="s",
                       Action="lambda:InvokeFunction", Principal="s3.amazonaws.com")
    after = lam.get_function_configuration(FunctionName=name, Qualifier=version["Version"])["RevisionId"]
    assert after != version["RevisionId"]
    alias = lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version["Version"])
    lam.add_permission(FunctionName=name, Qualifier="live", StatementId="s", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com")
    assert lam.get_alias(FunctionName=name, Name="live")["RevisionId"] != alias["RevisionId"]


def test_layers_mounted_at_once_share_one_directory(cloud, fn, lam):
    package = zip_files({"shared-mount.txt": "x"})
    layer = lam.publish_layer_version(LayerName="shared-mount", Content={"ZipFile": package})
    layers = cloud.service.layers.resolve([layer["LayerVersionArn"]])
    roots: list[Path] = []
    threads = [threading.Thread(target=lambda: roots.append(cloud.service.layers.mount(layers)), name=f"mount-{i}")
               for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(roots)) == 1 and (roots[0] / "shared-mount.txt").read_text() == "x"
    mounts = [p for p in (cloud.workdir / "opt").iterdir() if (p / "shared-mount.txt").exists()]
    assert mounts == roots[:1]  # the losers' copies were removed
