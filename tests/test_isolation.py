"""Isolation: what one function (and its environment) can and cannot see."""

from __future__ import annotations

import os
import socket
import subprocess

import psutil
import pytest
from deploy import Deployer

import lambdalab
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
        return os.listdir("/proc/self/root" + path)  # not through the runtime's /tmp mapping: the real directory
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


# -- what one handler may try against the others and the cloud -------------------------------------
ATTEMPT = """
import os, signal, socket

def attempt(action):
    try:
        action()
        return "ok"
    except OSError as e:
        return e.strerror

def handler(event, context):
    out = {}
    for name, pid in event.get("stop", {}).items():
        out[name + " SIGSTOP"] = attempt(lambda: os.kill(pid, signal.SIGSTOP))
    for name, pid in event.get("kill", {}).items():
        out[name + " SIGKILL"] = attempt(lambda: os.kill(pid, signal.SIGKILL))
    # Through /proc/self/root: the runtime maps paths under /tmp to the environment's own /tmp, an attacker would not
    for name, path in event.get("read", {}).items():
        out[name] = attempt(lambda: open("/proc/self/root" + path, "rb").read(64))
    for name, path in event.get("list", {}).items():
        out[name] = attempt(lambda: os.listdir("/proc/self/root" + path))
    for name, address in event.get("connect", {}).items():
        host, _, port = address.rpartition(":")
        out[name] = attempt(lambda: socket.create_connection((host, int(port)), timeout=5).close())
    if event.get("kill everything"):
        out["kill(-1)"] = attempt(lambda: os.kill(-1, signal.SIGKILL))
    return out
"""
VICTIM = """
import os
SECRET = os.environ["SECRET"]
def handler(event, context):
    open("/tmp/secret.txt", "w").write(SECRET)
    return os.getpid()
"""


def protections(cloud) -> dict[str, tuple[bool, str]]:
    return {row.protection: (row.active, row.detail) for row in cloud.isolation().itertuples()}


def require(cloud, *names: str) -> None:
    """Skip, saying why, when this machine does not give the protection a test is about."""
    table = protections(cloud)
    for name in names:
        active, detail = table[name]
        if not active:
            pytest.skip(f"{name} is not active here: {detail}")


def victim(fn, cloud):
    """A function with a secret in its environment variables and in its /tmp, and its idle environment."""
    name = fn.create(VICTIM, Environment={"Variables": {"SECRET": "s3cr3t"}})
    fn.invoke(name)
    return name, cloud.environments(name)[0]


def healthy(fn) -> None:
    """Another function still answers."""
    assert fn.invoke(fn.create("def handler(e, c):\n    return 'fine'\n"))["Payload"] == "fine"


def test_isolation_table_names_each_protection(cloud):
    table = cloud.isolation()
    assert list(table.columns) == ["protection", "active", "detail"]
    assert {"file system (Landlock)", "signals", "TCP connect", "a user per environment",
            "processes and threads: 1,024 per environment", "nothing outlives its environment"} <= set(table.protection)
    assert table.detail.str.len().min() > 10  # every row says what it does, or why not


def test_a_handler_cannot_signal_the_cloud_the_reaper_or_other_environments(fn, cloud):
    require(cloud, "signals")
    _, env = victim(fn, cloud)
    bystander = subprocess.Popen(["sleep", "60"])  # any other process of the cloud's user
    reaper = cloud._isolation.reaper.pid
    try:
        out = fn.invoke(fn.create(ATTEMPT), {
            "stop": {"reaper": reaper, "bystander": bystander.pid, "other runtime": env._proc.pid},
            "kill": {"reaper": reaper, "bystander": bystander.pid, "other runtime": env._proc.pid},
            "kill everything": True})["Payload"]
        refused = {"Operation not permitted"}
        assert {k: v for k, v in out.items() if k != "kill(-1)"} == dict.fromkeys(
            [f"{n} {s}" for s in ("SIGSTOP", "SIGKILL") for n in ("reaper", "bystander", "other runtime")],
            *refused)
        assert psutil.Process(reaper).status() != psutil.STATUS_STOPPED
        assert bystander.poll() is None and psutil.Process(bystander.pid).status() != psutil.STATUS_STOPPED
        assert env._proc.poll() is None
        healthy(fn)
    finally:
        bystander.kill()
        bystander.wait()


def test_a_handler_cannot_signal_its_parent(fn, cloud):
    """The attack from the issue, verbatim: the parent is now the reaper, which outlives the attempt."""
    require(cloud, "signals")
    name = fn.create("import os, signal\ndef handler(e, c):\n    os.kill(os.getppid(), getattr(signal, e['sig']))\n")
    for sig in ("SIGSTOP", "SIGKILL"):
        out = fn.invoke(name, {"sig": sig})["Payload"]
        assert (out["errorType"], out["errorMessage"]) == ("PermissionError", "[Errno 1] Operation not permitted")
    assert psutil.Process(cloud._isolation.reaper.pid).status() not in (psutil.STATUS_STOPPED, psutil.STATUS_ZOMBIE)
    healthy(fn)


def test_a_handler_cannot_read_another_function_or_the_cloud(fn, cloud):
    require(cloud, "file system (Landlock)", "other processes' /proc (environ, mem, cwd)")
    name, env = victim(fn, cloud)
    pid, me, reaper, secret = env._proc.pid, os.getpid(), cloud._isolation.reaper.pid, str(env.tmp / "secret.txt")
    out = fn.invoke(fn.create(ATTEMPT), {
        "read": {"its environ": f"/proc/{pid}/environ", "its memory": f"/proc/{pid}/mem",
                 "its /tmp file": secret, "its code": os.path.join(fn.code_root(name), "app.py"),
                 "its code through /proc": f"/proc/{pid}/cwd/app.py",
                 "its /tmp through /proc": f"/proc/{pid}/root{secret}",
                 "cloud environ": f"/proc/{me}/environ", "cloud memory": f"/proc/{me}/mem",
                 "reaper environ": f"/proc/{reaper}/environ"},
        "list": {"its /tmp": str(env.tmp), "its cwd": f"/proc/{pid}/cwd", "work directory": str(cloud.workdir),
                 "code directories": str(cloud.workdir / "code"), "environments": str(cloud.workdir / "envs")}})
    assert set(out["Payload"].values()) <= {"Permission denied", "Operation not permitted"}, out["Payload"]
    healthy(fn)


def test_a_handler_cannot_reach_another_environments_runtime_api(fn, cloud):
    require(cloud, "TCP connect")
    _, env = victim(fn, cloud)
    out = fn.invoke(fn.create(ATTEMPT), {"connect": {"other Runtime API": env._api.address,
                                                      "cloud endpoint": cloud.endpoint_url[len("http://"):]}})
    assert out["Payload"] == {"other Runtime API": "Permission denied", "cloud endpoint": "ok"}
    assert fn.invoke(fn.create(WHO))["Payload"]["tmp_files"] == []  # the victim's own API still serves it
    healthy(fn)


def test_allowed_tcp_ports_are_a_setting():
    allowed, other = socket.create_server(("127.0.0.1", 0)), socket.create_server(("127.0.0.1", 0))
    with allowed, other, lambdalab.start(isolation={"tcp_ports": (allowed.getsockname()[1],)}) as cloud:
        require(cloud, "TCP connect")
        fn = Deployer(cloud)
        out = fn.invoke(fn.create(ATTEMPT), {"connect": {
            "allowed": f"127.0.0.1:{allowed.getsockname()[1]}", "other": f"127.0.0.1:{other.getsockname()[1]}"}})
        assert out["Payload"] == {"allowed": "ok", "other": "Permission denied"}
        assert str(allowed.getsockname()[1]) in protections(cloud)["TCP connect"][1]


def test_separate_users_alone_keep_environments_apart():
    """As root without Landlock: the environments' own uids still refuse signals, /proc and /tmp."""
    with lambdalab.start(isolation={"landlock": False}) as cloud:
        require(cloud, "a user per environment")
        fn = Deployer(cloud)
        _, env = victim(fn, cloud)
        pid = env._proc.pid
        out = fn.invoke(fn.create(ATTEMPT), {
            "kill": {"other runtime": pid, "reaper": cloud._isolation.reaper.pid},
            "read": {"its environ": f"/proc/{pid}/environ", "its /tmp file": str(env.tmp / "secret.txt")},
            "list": {"its /tmp": str(env.tmp), "code directories": str(cloud.workdir / "code")}})["Payload"]
        assert out == {"other runtime SIGKILL": "Operation not permitted", "reaper SIGKILL": "Operation not permitted",
                       "its environ": "Permission denied", "its /tmp file": "Permission denied",
                       "its /tmp": "Permission denied", "code directories": "Permission denied"}
        uids = {psutil.Process(e._proc.pid).uids().real for e in cloud.environments()}
        assert len(uids) == len(cloud.environments()) and 0 not in uids
        healthy(fn)


def test_the_cloud_process_is_not_dumpable_while_it_runs(cloud):
    from lambdalab.sandbox import linux

    assert linux.prctl(linux.PR_GET_DUMPABLE) == 0
    me = psutil.Process()
    assert me.memory_info().rss > 0 and me.cpu_times().user >= 0 and me.num_threads() > 1  # self-reads still work


def test_everyday_handlers_work_inside_the_sandbox(fn):
    """What real handlers import and do still works with every protection on: the confinement is not a diet."""
    name = fn.create("""
import json, os, socket, ssl, subprocess, sys, tempfile, time, uuid, zoneinfo
import boto3
def handler(event, context):
    out = {"boto3": boto3.__version__, "cpus": os.cpu_count(), "uuid": len(str(uuid.uuid4())),
           "tz": str(zoneinfo.ZoneInfo("Europe/Paris")), "localhost": socket.getaddrinfo("localhost", 80)[0][4][0],
           "tls": ssl.create_default_context().verify_mode == ssl.CERT_REQUIRED,
           "ls": subprocess.run(["ls", "/usr"], capture_output=True, text=True).returncode,
           "python": subprocess.run([sys.executable, "-c", "print(6 * 7)"], capture_output=True, text=True).stdout}
    with tempfile.TemporaryDirectory() as d:
        open(os.path.join(d, "x"), "w").write("y")
        out["tempdir"] = os.listdir(d)
    try:
        import numpy
        out["numpy"] = int(numpy.arange(10).sum())
    except ImportError:
        out["numpy"] = 45
    return out
""", Timeout=30, MemorySize=512)
    out = fn.invoke(name)["Payload"]
    assert out == {**out, "cpus": os.cpu_count(), "uuid": 36, "tz": "Europe/Paris", "tls": True, "ls": 0,
                   "python": "42\n", "tempdir": ["x"], "numpy": 45}, out
    assert out["localhost"] in ("127.0.0.1", "::1")
