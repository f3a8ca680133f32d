"""Isolation: what one function (and its environment) can and cannot see."""

from __future__ import annotations

import os

from lambdalab.packaging import execution_role

WHO = """
import os
def handler(event, context):
    if event.get("write"):
        open("/tmp/secret.txt", "w").write(event["write"])
    return {
        "cwd": os.getcwd(), "task_root": os.environ["LAMBDA_TASK_ROOT"], "tmp": os.environ["TMPDIR"],
        "tmp_files": sorted(os.listdir("/tmp")), "env": dict(os.environ),
        "parent_listing": _list(os.path.dirname(os.environ["TMPDIR"].rstrip("/").rsplit("/", 1)[0])),
    }

def _list(path):
    try:
        return os.listdir(path)
    except OSError as e:
        return e.strerror
"""


def test_standard_environment_variables(fn, cloud):
    name = fn.create(WHO, MemorySize=256, Environment={"Variables": {"GREETING": "hi"}})
    env = fn.invoke(name)["Payload"]["env"]
    expected = {"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "AWS_LAMBDA_FUNCTION_NAME": name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand", "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
                "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12", "_HANDLER": "app.handler", "TZ": ":UTC",
                "GREETING": "hi", "AWS_ENDPOINT_URL": cloud.endpoint_url}
    assert {k: env.get(k) for k in expected} == expected
    assert env["AWS_LAMBDA_RUNTIME_API"].startswith("127.0.0.1:")
    assert env["_X_AMZN_TRACE_ID"].startswith("Root=1-")
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "LAMBDA_TASK_ROOT",
            "AWS_LAMBDA_LOG_STREAM_NAME"} <= set(env)
    assert not ({"HOME", "VIRTUAL_ENV", "PYTEST_CURRENT_TEST"} & set(env)), "the notebook's environment leaked in"


def test_task_root_is_the_working_directory_and_read_only(fn):
    name = fn.create(WHO)
    out = fn.invoke(name)["Payload"]
    assert out["cwd"] == out["task_root"]
    mode = os.stat(os.path.join(out["task_root"], "app.py")).st_mode
    assert not mode & 0o222


def test_functions_do_not_share_tmp(fn):
    first, second = fn.create(WHO), fn.create(WHO)
    a = fn.invoke(first, {"write": "mine"})["Payload"]
    b = fn.invoke(second)["Payload"]
    assert a["tmp_files"] == ["secret.txt"] and b["tmp_files"] == []
    assert a["tmp"] != b["tmp"]
    assert b["parent_listing"] == "Permission denied" or os.geteuid() == 0  # root reads any directory


def test_handlers_reach_the_local_cloud_with_plain_boto3(fn, cloud):
    cloud.client("s3").create_bucket(Bucket="from-handler")
    name = fn.create("""
import boto3
def handler(event, context):
    s3 = boto3.client("s3")
    s3.put_object(Bucket="from-handler", Key="k.txt", Body=b"written inside Lambda")
    return [o["Key"] for o in s3.list_objects_v2(Bucket="from-handler")["Contents"]]
""", Timeout=30, Role=execution_role(cloud.client("iam"), "bucket-writer", statements=(
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:ListBucket"],
         "Resource": ["arn:aws:s3:::from-handler", "arn:aws:s3:::from-handler/*"]},)))
    assert fn.invoke(name)["Payload"] == ["k.txt"]
    body = cloud.client("s3").get_object(Bucket="from-handler", Key="k.txt")["Body"].read()
    assert body == b"written inside Lambda"


def test_a_function_can_invoke_another(fn, cloud):
    callee = fn.create("def handler(e, c):\n    return e['x'] * 2\n")
    invoker = execution_role(cloud.client("iam"), f"invoker-of-{callee}", statements=(
        {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": cloud.service.arn(callee)},))
    caller = fn.create(f"""
import boto3, json
def handler(event, context):
    out = boto3.client("lambda").invoke(FunctionName="{callee}", Payload=json.dumps({{"x": 21}}))
    return json.loads(out["Payload"].read())
""", Timeout=30, Role=invoker)
    assert fn.invoke(caller)["Payload"] == 42
