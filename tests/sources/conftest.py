"""Fixtures of the event sources' tests: clients, and an execution role that may send the records."""

from __future__ import annotations

import pytest

from lambdalab.iam.roles import BASIC_EXECUTION
from lambdalab.packaging import execution_role


@pytest.fixture(scope="module")
def role(cloud) -> str:
    return execution_role(cloud.client("iam"), "sources-role", BASIC_EXECUTION,
                          statements=({"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"},))


@pytest.fixture
def s3(cloud):
    return cloud.client("s3")


@pytest.fixture
def sqs(cloud):
    return cloud.client("sqs")


@pytest.fixture
def sns(cloud):
    return cloud.client("sns")
