"""Versions through boto3: immutable snapshots, their ARNs, their own environments, and AWS's errors."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from deploy import ACCOUNT, arn, error_of, zip_source

# Says which code ran and what the environment told it about itself.
SOURCE = """
import os

def handler(event, context):
    return {"code": "%s", "color": os.environ.get("COLOR"), "version": context.function_version,
            "arn": context.invoked_function_arn, "stream": os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]}
"""


def deploy(fn, code: str = "one", color: str = "red") -> str:
    return fn.create(SOURCE % code, Environment={"Variables": {"COLOR": color}})


def change(lam, name: str, code: str, color: str) -> None:
    lam.update_function_code(FunctionName=name, ZipFile=zip_source(SOURCE % code))
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"COLOR": color}}, Timeout=9)


def test_a_version_is_an_immutable_snapshot_of_code_and_configuration(fn, lam):
    name = deploy(fn)
    latest = lam.get_function_configuration(FunctionName=name)
    published = lam.publish_version(FunctionName=name, Description="first")
    assert published["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert (published["Version"], published["FunctionArn"], published["Description"]) == ("1", arn(name, "1"), "first")
    assert (published["State"], published["LastUpdateStatus"]) == ("Active", "Successful")
    assert published["CodeSha256"] == latest["CodeSha256"] and published["RevisionId"] != latest["RevisionId"]

    change(lam, name, "two", "blue")
    assert fn.invoke(name, Qualifier="1")["Payload"]["code"] == "one"
    assert fn.invoke(name)["Payload"]["code"] == "two"
    v1 = lam.get_function_configuration(FunctionName=name, Qualifier="1")
    now = lam.get_function_configuration(FunctionName=name)
    assert (v1["Timeout"], v1["Environment"], v1["CodeSha256"]) == (3, {"Variables": {"COLOR": "red"}},
                                                                     published["CodeSha256"])
    assert (now["Timeout"], now["Environment"]) == (9, {"Variables": {"COLOR": "blue"}})
    assert now["CodeSha256"] != v1["CodeSha256"] and v1["RevisionId"] == published["RevisionId"]


def test_publishing_without_a_change_answers_with_the_last_version(fn, lam):
    name = deploy(fn)
    first = lam.publish_version(FunctionName=name)
    again = lam.publish_version(FunctionName=name, Description="ignored: nothing changed")
    assert (again["Version"], again["RevisionId"], again["Description"]) == ("1", first["RevisionId"], "")
    lam.update_function_configuration(FunctionName=name, MemorySize=256)
    assert lam.publish_version(FunctionName=name)["Version"] == "2"


def test_version_numbers_are_never_reused(fn, lam):
    name = deploy(fn)
    lam.publish_version(FunctionName=name)
    lam.update_function_configuration(FunctionName=name, Timeout=4)
    assert lam.publish_version(FunctionName=name)["Version"] == "2"
    lam.delete_function(FunctionName=name, Qualifier="2")
    assert lam.publish_version(FunctionName=name)["Version"] == "3"  # $LATEST is as version 2 was: a new number


def test_code_sha256_must_be_latest_s(fn, lam):
    name = deploy(fn)
    sha = lam.get_function_configuration(FunctionName=name)["CodeSha256"]
    with pytest.raises(ClientError) as e:
        lam.publish_version(FunctionName=name, CodeSha256="wrong")
    assert error_of(e) == ("InvalidParameterValueException", f"CodeSHA256 (wrong) is different from current CodeSHA256 "
                           f"in $LATEST ({sha}). Please try again with the CodeSHA256 in $LATEST.", 400)
    assert lam.publish_version(FunctionName=name, CodeSha256=sha)["Version"] == "1"


def test_revision_id_must_be_latest_s(fn, lam):
    name = deploy(fn)
    old = lam.get_function(FunctionName=name)["Configuration"]["RevisionId"]
    lam.update_function_configuration(FunctionName=name, Timeout=5)
    with pytest.raises(ClientError) as e:
        lam.publish_version(FunctionName=name, RevisionId=old)
    assert error_of(e) == ("PreconditionFailedException", "The Revision Id provided does not match the latest Revision "
                           "Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id", 412)
    current = lam.get_function(FunctionName=name)["Configuration"]["RevisionId"]
    assert lam.publish_version(FunctionName=name, RevisionId=current)["Version"] == "1"


def test_publishing_an_unknown_function_is_not_found(lam):
    with pytest.raises(ClientError) as e:
        lam.publish_version(FunctionName="no-such-function")
    assert error_of(e) == ("ResourceNotFoundException", f"Function not found: {arn('no-such-function')}", 404)


def test_list_versions_starts_with_latest_and_pages(fn, lam):
    name = deploy(fn)
    for timeout in (4, 5, 6):
        lam.update_function_configuration(FunctionName=name, Timeout=timeout)
        lam.publish_version(FunctionName=name)
    versions = lam.list_versions_by_function(FunctionName=name)["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1", "2", "3"]
    assert [v["FunctionArn"] for v in versions] == [arn(name, q) for q in ("$LATEST", "1", "2", "3")]
    assert [v["Timeout"] for v in versions] == [6, 4, 5, 6]
    assert not {"State", "LastUpdateStatus"} & set(versions[1])  # list entries leave the state out, as AWS
    pages = list(lam.get_paginator("list_versions_by_function").paginate(
        FunctionName=name, PaginationConfig={"PageSize": 3}))
    assert [[v["Version"] for v in p["Versions"]] for p in pages] == [["$LATEST", "1", "2"], ["3"]]
    assert lam.list_versions_by_function(FunctionName=name, MaxItems=1)["NextMarker"] == "1"


def test_a_qualified_name_reads_that_version_with_its_arn(fn, lam):
    name = deploy(fn)
    lam.publish_version(FunctionName=name)
    for how in ({"FunctionName": name, "Qualifier": "1"}, {"FunctionName": f"{name}:1"},
                {"FunctionName": arn(name, "1")}, {"FunctionName": f"{ACCOUNT}:function:{name}:1"}):
        conf = lam.get_function(**how)["Configuration"]
        assert (conf["Version"], conf["FunctionArn"]) == ("1", arn(name, "1")), how
    latest = lam.get_function_configuration(FunctionName=name, Qualifier="$LATEST")
    assert (latest["Version"], latest["FunctionArn"]) == ("$LATEST", arn(name, "$LATEST"))
    assert lam.get_function_configuration(FunctionName=name)["FunctionArn"] == arn(name)
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName=name, Qualifier="7")
    assert error_of(e) == ("ResourceNotFoundException", f"Function not found: {arn(name, '7')}", 404)
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName=f"{name}:7")
    assert error_of(e) == ("ResourceNotFoundException", f"Function not found: {arn(name, '7')}", 404)


def test_invoking_a_version_runs_it_and_says_so(fn, lam, cloud):
    name = deploy(fn)
    lam.publish_version(FunctionName=name)
    change(lam, name, "two", "blue")
    out = fn.invoke(name, Qualifier="1", LogType="Tail")
    assert out["ExecutedVersion"] == "1"
    assert out["Payload"]["version"] == "1" and out["Payload"]["arn"] == arn(name, "1")
    assert out["Payload"]["stream"].split("/")[-1].startswith("[1]")  # the log stream names the version
    assert " Version: 1\n" in base64.b64decode(out["LogResult"]).decode()  # the START line too
    latest = fn.invoke(name)
    assert latest["ExecutedVersion"] == "$LATEST" and latest["Payload"]["stream"].split("/")[-1].startswith("[$LATEST]")
    assert list(fn.records(name)["version"]) == ["1", "$LATEST"]


def test_each_version_has_its_own_environments(fn, lam, cloud):
    name = deploy(fn)
    lam.publish_version(FunctionName=name)
    fn.invoke(name, Qualifier="1")
    fn.invoke(name)
    envs = {e.function.version: e.id for e in cloud.environments(name)}
    assert set(envs) == {"1", "$LATEST"}
    change(lam, name, "two", "blue")  # retires $LATEST's environments, not version 1's
    assert {e.function.version: e.id for e in cloud.environments(name)} == {"1": envs["1"]}
    fn.invoke(name, Qualifier="1")
    fn.invoke(name)
    records = fn.records(name)
    assert list(records["cold"]) == [True, True, False, True]
    assert records["environment"][2] == envs["1"] and records["environment"][3] not in envs.values()
    assert len({e.id for e in cloud.environments(name)}) == 2


def test_deleting_a_version_removes_it_and_its_environments(fn, lam, cloud):
    name = deploy(fn)
    lam.publish_version(FunctionName=name)
    fn.invoke(name, Qualifier="1")
    root = Path(cloud.service.resolve(name, "1").code.root)
    change(lam, name, "two", "blue")
    assert root.exists()  # $LATEST moved on; version 1 still runs this package
    deleted = lam.delete_function(FunctionName=name, Qualifier="1")
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert [e.function.version for e in cloud.environments(name)] == []
    assert not root.exists()
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName=name, Qualifier="1")
    assert error_of(e)[0] == "ResourceNotFoundException"
    assert fn.invoke(name)["Payload"]["code"] == "two"
    assert lam.delete_function(FunctionName=name, Qualifier="1")["ResponseMetadata"]["HTTPStatusCode"] == 204


@pytest.mark.parametrize(("qualifier", "expected"), [
    ("$LATEST", ("InvalidParameterValueException",
                 "$LATEST version cannot be deleted without deleting the function.", 400)),
    ("live", ("InvalidParameterValueException", "Deletion of aliases is not currently supported.", 400)),
])
def test_deleting_latest_or_an_alias_by_qualifier_is_refused(fn, lam, qualifier, expected):
    name = deploy(fn)
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    with pytest.raises(ClientError) as e:
        lam.delete_function(FunctionName=name, Qualifier=qualifier)
    assert error_of(e) == expected
    assert lam.get_function(FunctionName=name, Qualifier="live")["Configuration"]["Version"] == "1"


def test_a_version_an_alias_runs_cannot_be_deleted(fn, lam):
    name = deploy(fn)
    lam.publish_version(FunctionName=name)
    lam.update_function_configuration(FunctionName=name, Timeout=4)
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="2")
    lam.create_alias(FunctionName=name, Name="canary", FunctionVersion="2",
                     RoutingConfig={"AdditionalVersionWeights": {"1": 0.1}})
    for version, aliases in (("2", "[canary, live]"), ("1", "[canary]")):
        with pytest.raises(ClientError) as e:
            lam.delete_function(FunctionName=name, Qualifier=version)
        assert error_of(e) == ("ResourceConflictException", "Unable to delete version because the following aliases "
                               f"reference it: {aliases}", 409)
    lam.update_alias(FunctionName=name, Name="canary", RoutingConfig={"AdditionalVersionWeights": {}})
    lam.delete_function(FunctionName=name, Qualifier="1")
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]] == ["$LATEST", "2"]


def test_deleting_the_function_takes_versions_aliases_and_packages(fn, lam, cloud):
    name = deploy(fn)
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    root = Path(cloud.service.resolve(name, "1").code.root)
    change(lam, name, "two", "blue")
    lam.delete_function(FunctionName=name)
    assert not root.exists()
    fn.create(SOURCE % "three", FunctionName=name)
    assert lam.publish_version(FunctionName=name)["Version"] == "1"  # numbering starts again
    assert lam.list_aliases(FunctionName=name)["Aliases"] == []
    assert fn.invoke(name, Qualifier="1")["Payload"]["code"] == "three"


def test_publish_flag_on_create_and_on_code_update(fn, lam):
    created = lam.create_function(FunctionName=f"pub-{uuid.uuid4().hex[:8]}", Runtime="python3.12",
                                  Handler="app.handler", Role=f"arn:aws:iam::{ACCOUNT}:role/lambda-role",
                                  Code={"ZipFile": zip_source(SOURCE % "one")}, Publish=True)
    name = created["FunctionName"]
    assert (created["Version"], created["FunctionArn"], created["State"]) == ("1", arn(name), "Pending")
    updated = lam.update_function_code(FunctionName=name, ZipFile=zip_source(SOURCE % "two"), Publish=True)
    assert (updated["Version"], updated["FunctionArn"]) == ("2", arn(name, "2"))
    assert fn.invoke(name, Qualifier="1")["Payload"]["code"] == "one"
    assert fn.invoke(name, Qualifier="2")["Payload"]["code"] == "two"
    lam.delete_function(FunctionName=name)


def test_list_functions_lists_latest_unless_all_versions_are_asked_for(fn, lam):
    name = deploy(fn)
    lam.publish_version(FunctionName=name)

    def listed(**kwargs) -> list[tuple[str, str]]:
        pages = lam.get_paginator("list_functions").paginate(**kwargs)
        return [(f["FunctionName"], f["Version"]) for p in pages for f in p["Functions"] if f["FunctionName"] == name]

    assert listed() == [(name, "$LATEST")]
    assert listed(FunctionVersion="ALL") == [(name, "$LATEST"), (name, "1")]
    assert listed(FunctionVersion="ALL", PaginationConfig={"PageSize": 1}) == [(name, "$LATEST"), (name, "1")]


def test_async_invoke_of_a_version_runs_that_version(fn, lam):
    name = deploy(fn)
    lam.publish_version(FunctionName=name)
    change(lam, name, "two", "blue")
    assert lam.invoke(FunctionName=name, Qualifier="1", InvocationType="Event")["StatusCode"] == 202
    assert list(fn.records_when(name, 1)["version"]) == ["1"]

