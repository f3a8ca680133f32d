"""The recorded cases run against a cloud of their own, stopped when they are done."""

from __future__ import annotations

import pytest

import lambdalab


@pytest.fixture(scope="module")
def cloud():
    with lambdalab.start() as c:
        yield c
