"""lambdalab.course: the helpers every chapter uses, against the session's cloud."""

from __future__ import annotations

import json
import uuid

import pytest

from lambdalab.course import Functions, attempt, log_events, policy, queue, quota_table, readable, report_figures

ECHO = ("def handler(event, context):\n    print('got', event)\n"
        "    return {'echo': event, 'memory': context.memory_limit_in_mb}\n")
FAILS = "def handler(event, context):\n    raise ValueError('no ' + event.get('why', 'reason'))\n"


@pytest.fixture
def fn(cloud) -> Functions:
    return Functions(cloud)


def name() -> str:
    return f"helpers-{uuid.uuid4().hex[:8]}"


def test_deploy_creates_with_the_course_role_waits_and_returns_the_name(fn, cloud):
    created = fn.deploy(name(), ECHO, MemorySize=256)
    config = fn.lam.get_function_configuration(FunctionName=created)
    assert config["State"] == "Active" and config["MemorySize"] == 256
    assert config["Role"] == f"arn:aws:iam::{cloud.account}:role/lambda-role"
    assert fn.invoke(created, {"a": 1}) == {"echo": {"a": 1}, "memory": "256"}


def test_deploy_again_replaces_code_and_configuration(fn):
    fn_name = fn.deploy(name(), ECHO)
    fn.deploy(fn_name, "def handler(event, context):\n    return 'new'\n", MemorySize=512)
    assert fn.invoke(fn_name) == "new"
    assert fn.lam.get_function_configuration(FunctionName=fn_name)["MemorySize"] == 512


def test_call_decodes_the_whole_response(fn):
    fn_name = fn.deploy(name(), ECHO)
    done = fn.call(fn_name, {"x": 2})
    assert (done.status, done.version, done.error) == (200, "$LATEST", None)
    assert done.payload == {"echo": {"x": 2}, "memory": "128"}
    assert "got {'x': 2}" in done.log and done.report.startswith(f"REPORT RequestId: {done.request_id}")
    assert set(done.figures) >= {"Duration", "Billed Duration", "Memory Size", "Max Memory Used", "Init Duration"}
    warm = fn.call(fn_name, tail=False)
    assert warm.log == "" and warm.report == "" and warm.request_id != done.request_id


def test_a_failed_function_is_an_error_document_not_an_exception(fn):
    fn_name = fn.deploy(name(), FAILS)
    done = fn.call(fn_name, {"why": "way"})
    assert done.status == 200 and done.error == "Unhandled" and done.error_type == "ValueError"
    assert fn.invoke(fn_name)["errorMessage"] == "no reason"


def test_invoke_at_once_needs_as_many_environments(fn, cloud):
    fn_name = fn.deploy(name(), "import time\n\ndef handler(event, context):\n    time.sleep(0.3)\n    return 1\n")
    results = fn.invoke_at_once(fn_name, 3)
    assert [r.payload for r in results] == [1, 1, 1]
    assert len(cloud.environments(fn_name)) == 3 == fn.records(fn_name)["environment"].nunique()


def test_records_new_environments_and_delete(fn, cloud):
    fn_name = fn.deploy(name(), ECHO)
    fn.invoke(fn_name)
    fn.invoke(fn_name)
    fn.new_environments(fn_name)
    fn.invoke(fn_name)
    assert list(fn.records(fn_name)["cold"]) == [True, False, True]
    assert list(fn.records(fn_name, last=2)["cold"]) == [False, True]
    assert fn.arn(fn_name).endswith(f":function:{fn_name}")
    assert cloud.environments(fn_name)
    fn.delete(fn_name, "never-existed")
    assert cloud.environments(fn_name) == []
    with pytest.raises(fn.lam.exceptions.ResourceNotFoundException):
        fn.lam.get_function(FunctionName=fn_name)


def test_a_principal_of_its_own(fn, cloud):
    iam = cloud.client("iam")
    user = name()
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    nobody = Functions(cloud, client=cloud.client("lambda", credentials=key))
    with pytest.raises(nobody.lam.exceptions.ClientError, match="AccessDenied"):
        nobody.deploy(name(), ECHO)


def test_attempt_prints_ok_or_the_error_and_cuts_long_messages(fn, capsys):
    assert attempt(lambda: 42) == 42
    assert attempt(lambda: fn.lam.get_function(FunctionName="no-such-function")) is None
    fn_name = fn.deploy(name(), ECHO)
    assert attempt(lambda: fn.configure(fn_name, Environment={"Variables": {"BIG": "x" * 5000}})) is None
    ok, missing, big = capsys.readouterr().out.splitlines()
    assert ok == "OK"
    assert missing.startswith("ResourceNotFoundException: Function not found:")
    assert big.startswith("InvalidParameterValueException: Lambda was unable to configure your environment variables")
    assert big.endswith("more characters)") and len(big) < 420


def test_log_events_waits_for_every_line(fn, cloud):
    fn_name = fn.deploy(name(), ECHO)
    ids = [fn.call(fn_name, {"n": n}).request_id for n in range(3)]
    events = log_events(cloud, fn_name)
    messages = [e["message"] for e in events]
    assert messages[0].startswith("INIT_START")
    assert [m.split()[2] for m in messages if m.startswith("REPORT")] == ids
    assert [e["message"] for e in log_events(cloud, fn_name, "REPORT")] == [m for m in messages if "REPORT" in m]
    assert log_events(cloud, "no-such-function") == []


def test_queue_takes_python_values_and_answers_url_and_arn(cloud):
    sqs = cloud.client("sqs")
    dlq_url, dlq_arn = queue(sqs, f"{name()}-dlq")
    url, arn = queue(sqs, name(), VisibilityTimeout=45, RedrivePolicy={"deadLetterTargetArn": dlq_arn,
                                                                      "maxReceiveCount": 3})
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["QueueArn"] == arn and arn.endswith(":" + url.rsplit("/", 1)[1])
    assert attributes["VisibilityTimeout"] == "45"
    assert json.loads(attributes["RedrivePolicy"]) == {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3}
    assert queue(sqs, url.rsplit("/", 1)[1], VisibilityTimeout=45) == (url, arn), "an existing queue is found"
    assert dlq_url != url


def test_policy_document():
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
    assert policy(statement) == '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", ' \
                                '"Action": "s3:GetObject", "Resource": "*"}]}'


@pytest.mark.parametrize(("value", "unit", "shown"), [
    (52428800, "bytes", "50 MB"), (262144000, "bytes", "250 MB"), (80530636800, "bytes", "75 GB"),
    (4096, "bytes", "4 KB"), (6 * 1024 * 1024 + 100, "bytes", "6 MB + 100 bytes"),
    (3583, "bytes", "3,583 bytes"), (70167211, "bytes", "66.9 MB (70,167,211 bytes)"),
    (10240, "MB", "10,240 MB"), (900, "s", "900 s"), (5, "count", "5"),
])
def test_readable_units(value, unit, shown):
    assert readable(value, unit) == shown


def test_quota_table_has_no_raw_byte_counts(cloud):
    table = quota_table(cloud.quotas)
    assert list(table.columns) == ["quota", "value", "aws_default", "key", "source", "note"]
    raw = cloud.quotas.table()
    large = table[(raw["unit"] == "bytes") & (raw["value"] >= 1024 * 1024)]
    assert len(large) > 5 and large["value"].str.contains(r"^[\d,.]+ (?:MB|GB)\b").all(), large["value"].tolist()
    assert quota_table(cloud.quotas, ["zip_direct_max_bytes"])["value"].tolist() == ["50 MB"]


def test_report_figures():
    line = ("REPORT RequestId: x\tDuration: 2.07 ms\tBilled Duration: 87 ms\tMemory Size: 128 MB\t"
            "Max Memory Used: 36 MB\tInit Duration: 84.00 ms\t")
    assert report_figures(line) == {"Duration": 2.07, "Billed Duration": 87, "Memory Size": 128,
                                    "Max Memory Used": 36, "Init Duration": 84.0}
