"""Every recorded case against the local cloud: lambdalab must answer as AWS answered.

A case that lists the differences lambdalab still has (``"differs"``) is a strict xfail: it passes
only while lambdalab differs in exactly those ways, so fixing one turns the case red until its
``differs`` entry is removed, and a new or changed difference fails it at once.
"""

from __future__ import annotations

import pytest
from harness import KnownDifference, load_cases, run_case


def _param(case):
    marks = []
    if case.differs:
        marks.append(pytest.mark.xfail(strict=True, raises=KnownDifference, reason="; ".join(case.differs)))
    return pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in load_cases()])
def test_recorded_case(cloud, case):
    diffs = run_case(cloud, case.data)
    if case.differs and diffs == case.differs:
        raise KnownDifference("\n".join(diffs))
    known = "\n".join(f"  {d}" for d in case.differs) or "  (none)"
    found = "\n".join(f"  {d}" for d in diffs) or "  (none)"
    assert diffs == case.differs, f"{case.id} ({case.path.name}) differs from AWS's recording:\n{found}\n" \
                                  f"known differences:\n{known}"
