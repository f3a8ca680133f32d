"""Chapter 06 (concurrency and scaling): three predictions.

q1 applies Little's law; q2 names the throttle a function without a reservation meets when another
function's reservation leaves little of the account; q3 counts the cold starts of two bursts beyond
provisioned concurrency. The answers are what the local cloud does: tests/course/test_ch06_checks.py
runs both scenarios and compares.
"""

from __future__ import annotations

import numbers

from . import Chapter, Exercise
from .judges import Expect

q1 = Exercise(
    name="ch06.q1",
    answer="concurrency",
    judge=Expect(10, kind=numbers.Real, normalize=lambda v: round(float(v), 1), mistakes={
        250.0: "50 requests a second for 0.2 seconds each: multiply the rate by the duration in seconds, not in "
               "milliseconds... and then check the units again.",
        0.0: "each request keeps an environment busy while it runs: with requests arriving all the time, some are "
             "always running."}),
    hints=("Little's law: the invocations in flight on average = arrival rate x time each one takes.",
           "50 requests per second x 0.2 seconds."),
    solution="concurrency = 50 * 0.2",
    mistake="concurrency = 50 * 200 / 40",
    praise="about 10 invocations in flight, so about 10 environments: rate x duration, whatever the memory size.",
)

q2 = Exercise(
    name="ch06.q2",
    answer="reason",
    judge=Expect("ConcurrentInvocationLimitExceeded", kind=str, normalize=str.strip, mistakes={
        "ReservedFunctionConcurrentInvocationLimitExceeded": "this function has no reservation of its own. The other "
            "function's 8 are out of its reach, and it shares the 2 left with every function without one: which "
            "limit is that?",
        "TooManyRequestsException": "that is the error code; the Reason field says which limit was reached.",
        "FunctionInvocationRateLimitExceeded": "that is the scaling rate (new environments per 10 seconds): three "
                                               "requests are far from it."}),
    hints=("A reservation is taken out of the account's limit: what is left is shared by the functions that have "
           "none.",
           "10 - 8 = 2 environments for every function without a reservation. Section 3 printed the Reason of a "
           "request that found the account's shared room full."),
    solution='reason = "ConcurrentInvocationLimitExceeded"',
    mistake='reason = "ReservedFunctionConcurrentInvocationLimitExceeded"',
    praise="the other function's reservation leaves 2 of the account's 10 to everyone else; the third request finds "
           "them taken, and the limit it meets is the account's, even though the account runs only two.",
)

q3 = Exercise(
    name="ch06.q3",
    answer="cold_starts",
    judge=Expect(4, kind=numbers.Integral, mistakes={
        8: "the four on-demand environments of the first wave are still warm when the second arrives: they serve "
           "its spillover without an INIT.",
        0: "provisioned concurrency removes the cold starts of the requests it serves, not of those beyond it.",
        14: "three requests of each wave run in the provisioned environments, initialised in advance: no Init "
            "Duration for them."}),
    hints=("Each wave: the provisioned environments serve 3 requests at once; the others spill over to on-demand "
           "environments.",
           "In the first wave no on-demand environment exists yet: each spillover is a cold start. After it, those "
           "environments stay warm."),
    solution="cold_starts = 7 - 3",
    mistake="cold_starts = 2 * (7 - 3)",
    praise="the first wave's four spillover requests start four on-demand environments (cold); the second wave "
           "finds them warm. Provisioned concurrency sized below the peak still leaves cold starts, once.",
)


exercises = Chapter(q1, q2, q3)
