"""Configuration responses: every setting answered back in AWS's shape (recorded: tests/fidelity/cases/cfg-*)."""

from __future__ import annotations

import time
import uuid

import pytest
from botocore.exceptions import ClientError
from deploy import error_of

from lambdalab import runtimes
from lambdalab.iam.roles import BASIC_EXECUTION
from lambdalab.packaging import execution_role

ECHO = "def handler(event, context):\n    print('hello')\n    return event\n"


@pytest.fixture
def lam(cloud):
    return cloud.client("lambda")


def settings(lam, name: str) -> dict:
    return lam.get_function_configuration(FunctionName=name)


def test_an_environment_given_is_echoed_even_without_variables(fn, lam):
    bare, empty = fn.create(ECHO), fn.create(ECHO, Environment={"Variables": {}})
    assert "Environment" not in settings(lam, bare)
    assert settings(lam, empty)["Environment"] == {"Variables": {}}
    assert lam.update_function_configuration(FunctionName=bare, Environment={})["Environment"] == {"Variables": {}}
    assert settings(lam, bare)["Environment"] == {"Variables": {}}


def log_messages(cloud, group: str) -> list[str]:
    """The events of a log group once the invocation's REPORT line is in (the last line it writes)."""
    logs, deadline = cloud.client("logs"), time.monotonic() + 10
    while True:
        cloud.logs.flush()
        messages = [e["message"] for e in logs.filter_log_events(logGroupName=group)["events"]]
        if any(m.startswith("REPORT") for m in messages) or time.monotonic() > deadline:
            return messages


def test_runtime_version_config_is_the_arn_the_init_start_line_names(cloud, fn, lam):
    name = fn.create(ECHO, Runtime="python3.12")
    arn = settings(lam, name)["RuntimeVersionConfig"]["RuntimeVersionArn"]
    assert arn == runtimes.version("python3.12", "us-east-1")[1]
    lam.invoke(FunctionName=name)
    assert any(f"Runtime Version ARN: {arn}" in m for m in log_messages(cloud, f"/aws/lambda/{name}"))
    updated = lam.update_function_configuration(FunctionName=name, Runtime="python3.13")
    assert updated["RuntimeVersionConfig"]["RuntimeVersionArn"] == runtimes.version("python3.13", "us-east-1")[1]
    assert lam.publish_version(FunctionName=name)["RuntimeVersionConfig"] == updated["RuntimeVersionConfig"]
    listed = [f for page in lam.get_paginator("list_functions").paginate() for f in page["Functions"]
              if f["FunctionName"] == name]  # every page: the session's account holds many functions
    assert listed and "RuntimeVersionConfig" not in listed[0]  # list operations leave it out, as AWS does


def test_json_logging_brings_log_levels_and_text_drops_them(fn, lam):
    name = fn.create(ECHO)
    assert settings(lam, name)["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"}
    answer = lam.update_function_configuration(FunctionName=name, LoggingConfig={"LogFormat": "JSON",
                                                                                  "SystemLogLevel": "DEBUG"})
    assert answer["LoggingConfig"] == {"LogFormat": "JSON", "LogGroup": f"/aws/lambda/{name}",
                                       "ApplicationLogLevel": "INFO", "SystemLogLevel": "DEBUG"}
    lam.update_function_configuration(FunctionName=name, LoggingConfig={"ApplicationLogLevel": "WARN"})
    assert settings(lam, name)["LoggingConfig"] == {"LogFormat": "JSON", "LogGroup": f"/aws/lambda/{name}",
                                                    "ApplicationLogLevel": "WARN", "SystemLogLevel": "DEBUG"}
    lam.update_function_configuration(FunctionName=name, LoggingConfig={"LogFormat": "Text"})
    assert settings(lam, name)["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"}
    with pytest.raises(ClientError) as caught:
        lam.update_function_configuration(FunctionName=name, LoggingConfig={"ApplicationLogLevel": "DEBUG"})
    assert error_of(caught) == ("InvalidParameterValueException", 'LogLevel is not supported when LogFormat is set '
                                'to "Text". Remove LogLevel from your request or change the LogFormat to "JSON" and '
                                "try again.", 400)


def test_a_custom_log_group_receives_the_functions_logs(cloud, fn, lam):
    group = f"/custom/{fn.create(ECHO)}"
    name = fn.create(ECHO, LoggingConfig={"LogGroup": group})
    assert settings(lam, name)["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": group}
    lam.invoke(FunctionName=name)
    assert any(m.startswith("hello") for m in log_messages(cloud, group))
    assert cloud.client("logs").describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{name}")["logGroups"] == []
    lam.update_function_configuration(FunctionName=name, LoggingConfig={"LogGroup": f"/aws/lambda/{name}"})
    assert settings(lam, name)["LoggingConfig"]["LogGroup"] == f"/aws/lambda/{name}"


def test_a_dead_letter_config_is_kept_until_its_target_is_emptied(cloud, fn, lam):
    queue = cloud.client("sqs").create_queue(QueueName=f"dlq-{fn.create(ECHO)}")["QueueUrl"]
    target = cloud.client("sqs").get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    # AWS checks that the execution role may send to the dead-letter queue (TestLambdaDLQ, Nov 2025)
    role = execution_role(cloud.client("iam"), f"dlq-sender-{uuid.uuid4().hex[:8]}", BASIC_EXECUTION,
                          statements=({"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": target},))
    name = fn.create(ECHO, Role=role, DeadLetterConfig={"TargetArn": target})
    assert settings(lam, name)["DeadLetterConfig"] == {"TargetArn": target}
    # AWS answered an update with DeadLetterConfig={} with the target still set (TestLambdaDLQ, Nov 2025)
    assert lam.update_function_configuration(FunctionName=name, DeadLetterConfig={})["DeadLetterConfig"] == \
        {"TargetArn": target}
    lam.update_function_configuration(FunctionName=name, DeadLetterConfig={"TargetArn": ""})
    assert "DeadLetterConfig" not in settings(lam, name)


def test_snap_start_applies_to_published_versions_of_runtimes_that_have_it(fn, lam):
    name = fn.create(ECHO, Runtime="python3.12", SnapStart={"ApplyOn": "PublishedVersions"})
    assert settings(lam, name)["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}
    version = lam.publish_version(FunctionName=name)
    assert version["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}
    lam.update_function_configuration(FunctionName=name, SnapStart={"ApplyOn": "None"})
    assert settings(lam, name)["SnapStart"] == {"ApplyOn": "None", "OptimizationStatus": "Off"}
    with pytest.raises(ClientError) as caught:
        fn.create(ECHO, Runtime="python3.11", SnapStart={"ApplyOn": "PublishedVersions"})
    assert error_of(caught) == ("InvalidParameterValueException",
                                "python3.11 is not supported for SnapStart enabled functions.", 400)


def test_update_function_code_may_change_the_architecture(fn, lam):
    from lambdalab import zip_files

    name = fn.create(ECHO)
    answer = lam.update_function_code(FunctionName=name, ZipFile=zip_files(ECHO), Architectures=["arm64"])
    assert answer["Architectures"] == ["arm64"]
    assert settings(lam, name)["Architectures"] == ["arm64"]
