"""Chapter 00 (welcome): a first exercise, to see how checks work."""

from __future__ import annotations

from . import Exercise


def _check_max_timeout(max_timeout_s) -> str | None:
    if isinstance(max_timeout_s, bool) or not isinstance(max_timeout_s, (int, float)):
        return (f"`max_timeout_s` should be a number of seconds, such as 60; you gave {max_timeout_s!r} "
                f"({type(max_timeout_s).__name__}).")
    if max_timeout_s == 900:
        return None
    if max_timeout_s == 15:
        return "15 is the limit in minutes. The API counts the timeout in seconds: how many seconds are 15 minutes?"
    if max_timeout_s == 3:
        return ("3 seconds is the default timeout, what a function gets when you do not choose one. "
                "The question asks for the largest timeout you may choose.")
    if max_timeout_s == 5400:
        return ("5,400 seconds is allowed only for Lambda Managed Instances. A standard (on-demand) function "
                "stops earlier: look for 'Function timeout (maximum)' in cloud.quotas.table().")
    return (f"{max_timeout_s} seconds is not the limit. Look for 'Function timeout (maximum)' in "
            "cloud.quotas.table(); the value column is in seconds.")


q1 = Exercise(
    name="ch00.q1",
    variables=("max_timeout_s",),
    checker=_check_max_timeout,
    hint_text=("Run cloud.quotas.table() and find the row 'Function timeout (maximum)'. "
               "The quota is often quoted in minutes, but the API wants seconds."),
    solution_code="max_timeout_s = 900  # 15 minutes: no single invocation runs longer",
    wrong_code="max_timeout_s = 15",
    praise="900 seconds (15 minutes) is the most one invocation can run. Longer jobs are split into steps "
           "(chapter 10 does that with Step Functions).",
)

__all__ = ["q1"]
