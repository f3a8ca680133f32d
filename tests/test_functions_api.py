"""The control plane through boto3: shapes, states, pagination and AWS's errors."""

from __future__ import annotations

import base64
import hashlib
import io
import urllib.request
import zipfile

import botocore.config
import pytest
from botocore.exceptions import ClientError
from deploy import ROLE, zip_source

HELLO = "def handler(event, context):\n    return 'hi'\n"


def error_of(excinfo) -> tuple[str, str, int]:
    err = excinfo.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


def test_create_function_answers_pending_then_is_active(fn, lam):
    package = zip_source(HELLO)
    created = lam.create_function(FunctionName="shapes", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                                  Code={"ZipFile": package}, Description="d", Environment={"Variables": {"AB": "1"}})
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["State"] == "Pending" and created["StateReasonCode"] == "Creating"
    assert "LastUpdateStatus" not in created
    assert created["FunctionArn"] == "arn:aws:lambda:us-east-1:123456789012:function:shapes"
    assert created["CodeSha256"] == base64.b64encode(hashlib.sha256(package).digest()).decode()
    assert created["CodeSize"] == len(package)
    assert (created["Timeout"], created["MemorySize"], created["EphemeralStorage"]) == (3, 128, {"Size": 512})
    assert created["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": "/aws/lambda/shapes"}
    lam.get_waiter("function_active_v2").wait(FunctionName="shapes")
    conf = lam.get_function_configuration(FunctionName="shapes")
    assert conf["State"] == "Active" and conf["LastUpdateStatus"] == "Successful"
    assert conf["Environment"] == {"Variables": {"AB": "1"}}


def download(location: str) -> bytes:
    with urllib.request.urlopen(location) as response:
        return response.read()


def test_get_function_gives_back_the_uploaded_package(fn, lam):
    name = fn.create({"app.py": HELLO, "lib/util.py": "X = 1\n"})
    got = lam.get_function(FunctionName=name)
    assert got["Configuration"]["FunctionName"] == name
    assert got["Code"]["RepositoryType"] == "S3"
    package = download(got["Code"]["Location"])
    assert sorted(zipfile.ZipFile(io.BytesIO(package)).namelist()) == ["app.py", "lib/util.py"]
    assert base64.b64encode(hashlib.sha256(package).digest()).decode() == got["Configuration"]["CodeSha256"]


def test_a_versions_download_is_its_own_package(fn, lam):
    name = fn.create(HELLO)
    lam.publish_version(FunctionName=name)
    lam.update_function_code(FunctionName=name, ZipFile=zip_source("def handler(e, c):\n    return 2\n"))
    for qualifier in ("1", "$LATEST"):
        got = lam.get_function(FunctionName=name, Qualifier=qualifier)
        package = download(got["Code"]["Location"])
        assert base64.b64encode(hashlib.sha256(package).digest()).decode() == got["Configuration"]["CodeSha256"]
    assert lam.get_function(FunctionName=name, Qualifier="1")["Configuration"]["CodeSha256"] != \
        lam.get_function(FunctionName=name)["Configuration"]["CodeSha256"]


def test_function_can_be_named_by_arn_and_partial_arn(fn, lam):
    name = fn.create(HELLO)
    for ref in (f"arn:aws:lambda:us-east-1:123456789012:function:{name}", f"123456789012:function:{name}"):
        assert lam.get_function_configuration(FunctionName=ref)["FunctionName"] == name


def test_list_functions_paginates_by_marker(cloud, fn):
    lam = cloud.client("lambda")
    names = {fn.create(HELLO) for _ in range(3)}
    seen, pages = [], 0
    for page in lam.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 2}):
        pages += 1
        assert len(page["Functions"]) <= 2
        seen += [f["FunctionName"] for f in page["Functions"]]
    assert names <= set(seen) and len(seen) == len(set(seen)) and pages >= 2


def test_update_code_and_configuration(fn, lam):
    name = fn.create(HELLO)
    new = zip_source("def handler(e, c):\n    return 'v2'\n")
    updated = lam.update_function_code(FunctionName=name, ZipFile=new)
    assert updated["LastUpdateStatus"] == "InProgress" and updated["State"] == "Active"
    assert updated["CodeSha256"] == base64.b64encode(hashlib.sha256(new).digest()).decode()
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    conf = lam.update_function_configuration(FunctionName=name, MemorySize=256, Timeout=10,
                                             Environment={"Variables": {"KEY": "v"}})
    assert (conf["MemorySize"], conf["Timeout"], conf["Environment"]) == (256, 10, {"Variables": {"KEY": "v"}})
    assert lam.get_function_configuration(FunctionName=name)["LastUpdateStatus"] == "Successful"


def test_revision_id_guards_updates(fn, lam):
    name = fn.create(HELLO)
    with pytest.raises(ClientError) as e:
        lam.update_function_configuration(FunctionName=name, Timeout=5, RevisionId="stale")
    assert error_of(e) == ("PreconditionFailedException", "The Revision Id provided does not match the latest "
                           "Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id", 412)


def test_delete_function_then_not_found(fn, lam):
    name = fn.create(HELLO)
    assert lam.delete_function(FunctionName=name)["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName=name)
    assert error_of(e) == ("ResourceNotFoundException",
                           f"Function not found: arn:aws:lambda:us-east-1:123456789012:function:{name}", 404)


def test_create_existing_function_conflicts(fn, lam):
    name = fn.create(HELLO)
    with pytest.raises(ClientError) as e:
        fn.create(HELLO, FunctionName=name)
    assert error_of(e) == ("ResourceConflictException", f"Function already exist: {name}", 409)


@pytest.mark.parametrize("runtime", ["python3.7", "python2.7", "nodejs12.x"])
def test_deprecated_runtime_is_refused(fn, runtime):
    with pytest.raises(ClientError) as e:
        fn.create(HELLO, Runtime=runtime)
    assert error_of(e) == ("InvalidParameterValueException",
                           f"The runtime parameter of {runtime} is no longer supported for creating or updating "
                           "AWS Lambda functions. We recommend you use a supported runtime while creating or "
                           "updating functions.", 400)


def test_runtime_outside_the_enum_is_an_invalid_parameter_value(cloud, fn):
    """The Lambda service, not the front end, refuses an unknown runtime (recorded: err-create-invalid-runtime)."""
    lam = cloud.client("lambda", config=botocore.config.Config(parameter_validation=False))
    name = fn.create(HELLO)
    for call in (lambda: lam.create_function(FunctionName="x", Runtime="cobol85", Role=ROLE, Handler="a.b",
                                             Code={"ZipFile": zip_source(HELLO)}),
                 lambda: lam.update_function_configuration(FunctionName=name, Runtime="cobol85")):
        with pytest.raises(ClientError) as e:
            call()
        code, message, status = error_of(e)
        assert (code, status) == ("InvalidParameterValueException", 400)
        assert message.startswith("Value cobol85 at 'runtime' failed to satisfy constraint: Member must satisfy "
                                  "enum value set: [nodejs20.x, python3.14, ")
        assert message.endswith(", java8.al2] or be a valid ARN")


@pytest.mark.parametrize(("field", "value", "message"), [
    ("MemorySize", 10241, "Value '10241' at 'memorySize' failed to satisfy constraint: Member must have value "
                          "less than or equal to 10240"),
    ("MemorySize", 64, "Value '64' at 'memorySize' failed to satisfy constraint: Member must have value greater "
                       "than or equal to 128"),
    ("Timeout", 901, "Value '901' at 'timeout' failed to satisfy constraint: Member must have value less than or "
                     "equal to 900"),
    ("Timeout", 0, "Value '0' at 'timeout' failed to satisfy constraint: Member must have value greater than or "
                   "equal to 1"),
    ("EphemeralStorage", {"Size": 10241}, "Value '10241' at 'ephemeralStorage.size' failed to satisfy constraint: "
                                          "Member must have value less than or equal to 10240"),
])
def test_configuration_ranges(cloud, field, value, message):
    lam = cloud.client("lambda", config=botocore.config.Config(parameter_validation=False))
    with pytest.raises(ClientError) as e:
        lam.create_function(FunctionName="ranges", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                            Code={"ZipFile": zip_source(HELLO)}, **{field: value})
    assert error_of(e) == ("ValidationException", f"1 validation error detected: {message}", 400)


def test_environment_variables_limits(fn):
    with pytest.raises(ClientError) as e:
        fn.create(HELLO, Environment={"Variables": {"AWS_REGION": "eu-west-1", "OK": "1"}})
    assert error_of(e)[0] == "InvalidParameterValueException"
    assert error_of(e)[1].endswith("Reserved keys used in this request: AWS_REGION")
    big = {f"K{i}": "x" * 100 for i in range(40)}
    with pytest.raises(ClientError) as e:
        fn.create(HELLO, Environment={"Variables": big})
    assert error_of(e)[1].startswith("Lambda was unable to configure your environment variables because the "
                                     "environment variables you have provided exceeded the 4KB limit. "
                                     'String measured: {"K0":"')


def test_environment_variable_names_must_match_the_pattern(cloud):
    lam = cloud.client("lambda", config=botocore.config.Config(parameter_validation=False))
    with pytest.raises(ClientError) as e:
        lam.create_function(FunctionName="envname", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                            Code={"ZipFile": zip_source(HELLO)}, Environment={"Variables": {"1BAD": "x"}})
    assert error_of(e) == ("ValidationException", "1 validation error detected: Value at 'environment.variables' "
                           "failed to satisfy constraint: Map keys must satisfy constraint: [Member must satisfy "
                           "regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]", 400)


def test_package_checks(fn, lam, cloud):
    with pytest.raises(ClientError) as e:
        lam.create_function(FunctionName="notzip", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                            Code={"ZipFile": b"this is not a zip"})
    assert error_of(e) == ("InvalidParameterValueException",
                           "Could not unzip uploaded file. Please check your file, then try to upload again.", 400)
    cloud.quotas.set(unzipped_max_bytes=1000)
    try:
        with pytest.raises(ClientError) as e:
            fn.create({"app.py": HELLO, "big.txt": "x" * 2000})
        assert error_of(e) == ("InvalidParameterValueException", "Unzipped size must be smaller than 1000 bytes", 400)
    finally:
        cloud.quotas.set(unzipped_max_bytes=250 * 1024 * 1024)


def test_zipped_package_over_50_mb_is_refused(fn, cloud):
    cloud.quotas.set(zip_direct_max_bytes=1000)
    try:
        with pytest.raises(ClientError) as e:
            fn.create({"app.py": HELLO, "noise.bin": base64.b64encode(bytes(range(256)) * 20).decode()})
        assert error_of(e) == ("RequestEntityTooLargeException", "Zipped size must be smaller than 1000 bytes", 413)
    finally:
        cloud.quotas.set(zip_direct_max_bytes=50 * 1024 * 1024)


def test_code_from_the_local_s3(fn, cloud, lam):
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket="code-bucket")
    s3.put_object(Bucket="code-bucket", Key="pkg.zip", Body=zip_source("def handler(e, c):\n    return 's3'\n"))
    lam.create_function(FunctionName="from-s3", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                        Code={"S3Bucket": "code-bucket", "S3Key": "pkg.zip"})
    assert fn.invoke("from-s3")["Payload"] == "s3"
    with pytest.raises(ClientError) as e:
        lam.create_function(FunctionName="from-s3-missing", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                            Code={"S3Bucket": "code-bucket", "S3Key": "missing.zip"})
    assert error_of(e) == ("InvalidParameterValueException", "Error occurred while GetObject. S3 Error Code: "
                           "NoSuchKey. S3 Error Message: The specified key does not exist.", 400)


def test_account_settings(fn, lam):
    fn.create(HELLO)
    settings = lam.get_account_settings()
    assert settings["AccountLimit"] == {"TotalCodeSize": 80530636800, "CodeSizeUnzipped": 262144000,
                                        "CodeSizeZipped": 52428800, "ConcurrentExecutions": 1000,
                                        "UnreservedConcurrentExecutions": 1000}
    assert settings["AccountUsage"]["FunctionCount"] >= 1


def test_unknown_operation_is_an_aws_error_not_a_traceback(cloud):
    lam = cloud.client("lambda")
    with pytest.raises(ClientError) as e:
        lam.list_aliases(FunctionName="anything")
    assert error_of(e)[2] in (400, 404)
    assert "Traceback" not in error_of(e)[1]
