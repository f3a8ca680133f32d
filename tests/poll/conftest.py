"""A cloud of their own for the pollers' tests (they move its clock), and the kit that builds in it."""

from __future__ import annotations

import pytest
from pollkit import Kit

import lambdalab


@pytest.fixture(scope="module")
def cloud():
    with lambdalab.start() as c:
        yield c


@pytest.fixture(scope="module")
def kit(cloud) -> Kit:
    return Kit(cloud)
