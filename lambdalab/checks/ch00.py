"""Chapter 00 (welcome): a first exercise, to see how checks work."""

from __future__ import annotations

import numbers

from . import Exercise
from .judges import Expect

q1 = Exercise(
    name="ch00.q1",
    answer="invocations",
    judge=Expect(
        2, kind=numbers.Integral,
        mistakes={
            1: "One invocation would run 1,000 x 1.2 s = 1,200 s, longer than any function may run: the timeout "
               "stops it first. Look up the largest timeout in cloud.quotas.",
            84: "That is what a 15-second limit gives. The limit is 15 minutes, and the API counts the timeout in "
                "seconds: 900 s.",
            500: "That is what the default timeout, 3 s, gives. A function may have a longer one: the question asks "
                 "about the largest timeout you may choose.",
        },
        otherwise=lambda got, expected: (
            f"{got} is not it. Find 'Function timeout (maximum)' in cloud.quotas.table() (in seconds), work out "
            "how many whole files fit in one invocation, then how many invocations 1,000 files need.")),
    hints=("Find the row 'Function timeout (maximum)' in cloud.quotas.table(): its unit is seconds, and "
           "cloud.quotas.timeout_max_s gives the same number.",
           "One invocation processes as many whole files as fit in the timeout: 900 // 1.2 of them. "
           "math.ceil(1000 / files_per_invocation) invocations process all 1,000."),
    solution='''import math

max_timeout_s = cloud.quotas.timeout_max_s               # 900 s: 15 minutes
files_per_invocation = int(max_timeout_s // 1.2)           # 750 whole files fit in one invocation
invocations = math.ceil(1000 / files_per_invocation)      # 2''',
    mistake="invocations = 1  # 1,200 s of work in one invocation",
    praise="two invocations of 750 and 250 files. No invocation runs longer than 900 seconds (15 minutes): longer "
           "jobs are split into pieces, which chapter 10 chains with Step Functions.",
)

__all__ = ["q1"]
