"""Layers: publish, read, list, delete, permissions; functions that use them see them at /opt."""

from __future__ import annotations

import io
import json
import sys
import urllib.request
import uuid
import zipfile

import pytest
from botocore.exceptions import ClientError

from lambdalab import zip_files

READ_OPT = """
import os, subprocess, sys
import greet

def handler(event, context):
    with open("/opt/data/motto.txt") as f:
        motto = f.read()
    writable = [bool(os.stat(p).st_mode & 0o222) for p in ("/opt", "/opt/data", "/opt/data/motto.txt")]
    tool = subprocess.run(["tool"], capture_output=True, text=True).stdout.strip()
    return {"greet": greet.hello(), "motto": motto, "listing": sorted(os.listdir("/opt")),
            "writable": writable, "tool": tool, "greet_file": greet.__file__,
            "ld": os.environ["LD_LIBRARY_PATH"].split(":")[-1]}
"""


def _layer(lam, files: dict[str, str], **kwargs) -> dict:
    """Publish a layer with a unique name from source text."""
    name = kwargs.pop("LayerName", f"layer-{uuid.uuid4().hex[:8]}")
    return lam.publish_layer_version(LayerName=name, Content={"ZipFile": zip_files(files, executable=("bin/tool",))},
                                     **kwargs)


def _error(call) -> tuple[str, str]:
    with pytest.raises(ClientError) as e:
        call()
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def test_a_handler_uses_a_layer_at_opt(fn, lam):
    layer = _layer(lam, {"python/greet.py": "def hello():\n    return 'hello from a layer'\n",
                         "data/motto.txt": "read-only", "bin/tool": "#!/bin/sh\necho tool ran\n"},
                   Description="shared code", CompatibleRuntimes=["python3.12"], LicenseInfo="MIT")
    assert layer["Version"] == 1 and layer["LayerVersionArn"] == f"{layer['LayerArn']}:1"
    assert layer["Content"]["CodeSize"] > 0 and layer["CompatibleRuntimes"] == ["python3.12"]
    name = fn.create(READ_OPT, Layers=[layer["LayerVersionArn"]])
    config = lam.get_function_configuration(FunctionName=name)
    assert config["Layers"] == [{"Arn": layer["LayerVersionArn"], "CodeSize": layer["Content"]["CodeSize"]}]
    out = fn.invoke(name)["Payload"]
    assert out["greet"] == "hello from a layer" and out["motto"] == "read-only"
    assert out["listing"] == ["bin", "data", "python"]
    assert out["writable"] == [False, False, False]  # read-only (as the task root is: root could still write)
    assert out["tool"] == "tool ran"  # /opt/bin is on PATH
    assert out["greet_file"].endswith("/python/greet.py") and out["ld"].endswith("/lib")


def test_sys_path_puts_the_task_root_first_then_site_packages_then_python(fn, lam):
    layer = _layer(lam, {"python/lib/python3.12/site-packages/where.py": "PLACE = 'site-packages'\n",
                         "python/where.py": "PLACE = 'python'\n", "python/only_in_layer.py": "X = 1\n"})
    source = {"app.py": "import sys, where, only_in_layer\n"
                        "def handler(event, context):\n    return {'place': where.PLACE, 'path': sys.path[:3]}\n"}
    name = fn.create(source, Layers=[layer["LayerVersionArn"]])
    out = fn.invoke(name)["Payload"]
    assert out["place"] == "site-packages"
    assert out["path"][0] == fn.code_root(name)
    assert out["path"][1].endswith("/python/lib/python3.12/site-packages") and out["path"][2].endswith("/python")
    shadowed = fn.create({**source, "where.py": "PLACE = 'task root'\n"}, Layers=[layer["LayerVersionArn"]])
    assert fn.invoke(shadowed)["Payload"]["place"] == "task root"


def test_later_layers_overwrite_earlier_ones_and_a_layer_is_shared(fn, lam):
    first = _layer(lam, {"python/shared.py": "WHO = 'first'\n", "python/first.py": ""})
    second = _layer(lam, {"python/shared.py": "WHO = 'second'\n"})
    source = "import shared, first\ndef handler(event, context):\n    return shared.WHO\n"
    a = fn.create(source, Layers=[first["LayerVersionArn"], second["LayerVersionArn"]])
    b = fn.create(source, Layers=[second["LayerVersionArn"], first["LayerVersionArn"]])
    c = fn.create(source, Layers=[first["LayerVersionArn"]])
    assert [fn.invoke(n)["Payload"] for n in (a, b, c)] == ["second", "first", "first"]


def test_layers_are_replaced_by_update_function_configuration(fn, lam):
    one = _layer(lam, {"python/mod.py": "V = 1\n"})
    two = _layer(lam, {"python/mod.py": "V = 2\n"}, LayerName=one["LayerArn"].rsplit(":", 1)[1])
    assert two["Version"] == 2
    name = fn.create("import mod\ndef handler(event, context):\n    return mod.V\n", Layers=[one["LayerVersionArn"]])
    assert fn.invoke(name)["Payload"] == 1
    lam.update_function_configuration(FunctionName=name, Layers=[two["LayerVersionArn"]])
    assert fn.invoke(name)["Payload"] == 2
    lam.update_function_configuration(FunctionName=name, Layers=[])
    assert "Layers" not in lam.get_function_configuration(FunctionName=name)
    assert fn.invoke(name)["FunctionError"] == "Unhandled"  # No module named 'mod'


def test_a_deleted_version_keeps_working_for_functions_that_use_it(fn, lam):
    layer = _layer(lam, {"python/kept.py": "V = 'still here'\n"})
    layer_name, arn = layer["LayerArn"].rsplit(":", 1)[1], layer["LayerVersionArn"]
    name = fn.create("import kept\ndef handler(event, context):\n    return kept.V\n", Layers=[arn])
    lam.delete_layer_version(LayerName=layer_name, VersionNumber=1)
    lam.delete_layer_version(LayerName=layer_name, VersionNumber=1)  # deleting again is not an error
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"NEW": "environment"}})
    assert fn.invoke(name)["Payload"] == "still here"  # a new environment, after the deletion
    assert _error(lambda: lam.get_layer_version(LayerName=layer_name, VersionNumber=1)) == (
        "ResourceNotFoundException", "The resource you requested does not exist.")
    assert _error(lambda: fn.create("", Layers=[arn])) == ("InvalidParameterValueException",
                                                          f"Layer version {arn} does not exist.")
    assert _layer(lam, {"x.txt": ""}, LayerName=layer_name)["Version"] == 2  # numbers are not reused
    assert lam.list_layer_versions(LayerName=layer_name)["LayerVersions"][0]["Version"] == 2


def test_function_layer_errors_are_aws_errors(fn, lam, cloud):
    layers = [_layer(lam, {f"python/m{i}.py": ""})["LayerVersionArn"] for i in range(6)]
    assert _error(lambda: fn.create("", Layers=layers)) == ("InvalidParameterValueException",
                                                           "Cannot reference more than 5 layers.")
    assert "Layers" in lam.get_function_configuration(FunctionName=fn.create("", Layers=layers[:5]))
    second = _layer(lam, {"y.txt": ""}, LayerName=layers[0].split(":")[-2])["LayerVersionArn"]
    assert _error(lambda: fn.create("", Layers=[layers[0], second])) == (
        "InvalidParameterValueException", "Two different versions of the same layer are not allowed to be "
        f"referenced in the same function. {layers[0]} and {second} are versions of the same layer.")
    elsewhere = layers[0].replace(cloud.region, "eu-west-3")
    assert _error(lambda: fn.create("", Layers=[elsewhere])) == (
        "InvalidParameterValueException",
        f"Layers are not in the same region as the function. Layers are expected to be in region {cloud.region}.")
    assert _error(lambda: fn.create("", Layers=["not-an-arn"]))[0] == "ValidationException"


def test_code_and_layers_together_must_fit_the_unzipped_quota(fn, lam, cloud):
    layer = _layer(lam, {"python/big.py": "x" * 3000})
    cloud.quotas.set(unzipped_max_bytes=4000)
    try:
        code, message = _error(lambda: fn.create({"app.py": "y" * 1500}, Layers=[layer["LayerVersionArn"]]))
        name = fn.create({"app.py": "y" * 500}, Layers=[layer["LayerVersionArn"]])
        bigger = zip_files({"app.py": "z" * 1500})
        grown = _error(lambda: lam.update_function_code(FunctionName=name, ZipFile=bigger))
        bare = fn.create({"app.py": "y" * 1500})
        attach = _error(lambda: lam.update_function_configuration(FunctionName=bare,
                                                                  Layers=[layer["LayerVersionArn"]]))
    finally:
        cloud.quotas.set(unzipped_max_bytes=250 * 1024 * 1024)
    assert code == "InvalidParameterValueException"
    assert message == ("Function code combined with layers exceeds the maximum allowed size of 4000 bytes. "
                       "The actual size is 4500 bytes.")
    assert grown == attach == (code, message)


def test_layer_versions_are_read_listed_and_downloaded(lam, cloud):
    name = f"layer-{uuid.uuid4().hex[:8]}"
    v1 = _layer(lam, {"python/a.py": "A = 1\n"}, LayerName=name, CompatibleRuntimes=["python3.12"],
                CompatibleArchitectures=["x86_64"])
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="layer.zip", Body=zip_files({"python/a.py": "A = 2\n"}))
    v2 = lam.publish_layer_version(LayerName=name, Content={"S3Bucket": name, "S3Key": "layer.zip"},
                                   CompatibleRuntimes=["python3.13"], CompatibleArchitectures=["arm64"])
    assert lam.get_layer_version(LayerName=name, VersionNumber=1)["LayerVersionArn"] == v1["LayerVersionArn"]
    by_arn = lam.get_layer_version_by_arn(Arn=v2["LayerVersionArn"])
    assert by_arn["Version"] == 2 and by_arn["Content"]["CodeSha256"] == v2["Content"]["CodeSha256"]
    with urllib.request.urlopen(by_arn["Content"]["Location"]) as response:
        archive = zipfile.ZipFile(io.BytesIO(response.read()))
    assert archive.read("python/a.py") == b"A = 2\n"

    assert [v["Version"] for v in lam.list_layer_versions(LayerName=name)["LayerVersions"]] == [2, 1]
    assert [v["Version"] for v in lam.list_layer_versions(LayerName=v1["LayerArn"],
                                                          CompatibleRuntime="python3.12")["LayerVersions"]] == [1]
    assert [v["Version"] for v in lam.list_layer_versions(LayerName=name,
                                                          CompatibleArchitecture="arm64")["LayerVersions"]] == [2]
    listed = {item["LayerName"]: item for item in lam.list_layers()["Layers"]}
    assert listed[name]["LatestMatchingVersion"]["Version"] == 2
    assert listed[name]["LayerArn"] == v1["LayerArn"]
    matching = {i["LayerName"]: i for i in lam.list_layers(CompatibleRuntime="python3.12")["Layers"]}
    assert matching[name]["LatestMatchingVersion"]["Version"] == 1
    page = lam.list_layer_versions(LayerName=name, MaxItems=1)
    assert [v["Version"] for v in page["LayerVersions"]] == [2]
    rest = lam.list_layer_versions(LayerName=name, Marker=page["NextMarker"])
    assert [v["Version"] for v in rest["LayerVersions"]] == [1] and "NextMarker" not in rest
    assert lam.list_layer_versions(LayerName="no-such-layer")["LayerVersions"] == []
    assert _error(lambda: lam.get_layer_version_by_arn(Arn=f"{v1['LayerArn']}:9"))[0] == "ResourceNotFoundException"


def test_layer_version_permissions(lam, cloud):
    layer = _layer(lam, {"a.txt": ""})
    name, arn = layer["LayerArn"].rsplit(":", 1)[1], layer["LayerVersionArn"]
    assert _error(lambda: lam.get_layer_version_policy(LayerName=name, VersionNumber=1)) == (
        "ResourceNotFoundException", "No policy is associated with the given resource.")
    added = lam.add_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="xaccount",
                                             Action="lambda:GetLayerVersion", Principal="210987654321")
    assert json.loads(added["Statement"]) == {
        "Sid": "xaccount", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::210987654321:root"},
        "Action": "lambda:GetLayerVersion", "Resource": arn}
    org = lam.add_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="org", Principal="*",
                                           Action="lambda:GetLayerVersion", OrganizationId="o-abcdefghij",
                                           RevisionId=added["RevisionId"])
    assert json.loads(org["Statement"])["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}}
    policy = lam.get_layer_version_policy(LayerName=name, VersionNumber=1)
    assert policy["RevisionId"] == org["RevisionId"]
    assert [s["Sid"] for s in json.loads(policy["Policy"])["Statement"]] == ["xaccount", "org"]
    assert _error(lambda: lam.add_layer_version_permission(
        LayerName=name, VersionNumber=1, StatementId="org", Principal="*", Action="lambda:GetLayerVersion")) == (
        "ResourceConflictException", "The statement id (org) provided already exists. Please provide a new "
        "statement id, or remove the existing statement.")
    assert _error(lambda: lam.remove_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="org",
                                                              RevisionId=added["RevisionId"]))[0] == \
        "PreconditionFailedException"
    lam.remove_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="org")
    assert _error(lambda: lam.remove_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="org")) \
        == ("ResourceNotFoundException", "Statement org is not found in resource policy.")
    assert _error(lambda: lam.add_layer_version_permission(
        LayerName=name, VersionNumber=7, StatementId="s", Principal="*", Action="lambda:GetLayerVersion")) == (
        "ResourceNotFoundException", f"Layer version {layer['LayerArn']}:7 does not exist.")
    assert _error(lambda: lam.add_layer_version_permission(
        LayerName=name, VersionNumber=1, StatementId="s", Principal="*", Action="lambda:InvokeFunction"))[0] == \
        "ValidationException"


def test_a_custom_runtime_bootstrap_can_come_from_a_layer(fn, lam):
    loop = (f"#!{sys.executable}\nimport json, os, urllib.request\n"
            "api = 'http://' + os.environ['AWS_LAMBDA_RUNTIME_API'] + '/2018-06-01/runtime/invocation/'\n"
            "while True:\n"
            "    with urllib.request.urlopen(api + 'next') as r:\n"
            "        rid = r.headers['Lambda-Runtime-Aws-Request-Id']\n"
            "    body = json.dumps('from the layer bootstrap').encode()\n"
            "    urllib.request.urlopen(urllib.request.Request(api + rid + '/response', data=body)).read()\n")
    runtime = lam.publish_layer_version(LayerName=f"runtime-{uuid.uuid4().hex[:8]}",
                                        Content={"ZipFile": zip_files({"bootstrap": loop})})
    name = fn.create({"handler.txt": ""}, handler="x.y", Runtime="provided.al2023",
                     Layers=[runtime["LayerVersionArn"]])
    assert fn.invoke(name)["Payload"] == "from the layer bootstrap"
