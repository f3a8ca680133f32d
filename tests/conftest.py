"""Shared fixtures: one local cloud for the session, and a deployer bound to it."""

from __future__ import annotations

import pytest
from deploy import Deployer
from gate import TEST_ISOLATION

import lambdalab


@pytest.fixture(scope="session")
def cloud():
    with lambdalab.start(isolation=TEST_ISOLATION) as c:
        yield c


@pytest.fixture
def fn(cloud) -> Deployer:
    return Deployer(cloud)


@pytest.fixture
def lam(cloud):
    return cloud.client("lambda")
