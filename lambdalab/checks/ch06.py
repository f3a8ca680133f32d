"""Chapter 06 (concurrency and scaling): three predictions, each judged by the rules the local cloud
applies (``lambdalab.rules``), so the answers change with them.

q1 applies Little's law; q2 names the throttle a capped function's callers get; q3 counts the cold
starts of a burst beyond provisioned concurrency.
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
    judge=Expect("ReservedFunctionConcurrentInvocationLimitExceeded", kind=str, normalize=str.strip, mistakes={
        "ConcurrentInvocationLimitExceeded": "that is the account's limit, shared by every function without a "
                                             "reservation. This function has a reservation of its own.",
        "TooManyRequestsException": "that is the error code; the Reason field says which limit was reached.",
        "FunctionInvocationRateLimitExceeded": "that is the scaling rate (new environments per 10 seconds): three "
                                               "requests are far from it."}),
    hints=("Reserved concurrency both guarantees and caps a function.",
           "Section 3 printed the Reason of a capped function's throttles."),
    solution='reason = "ReservedFunctionConcurrentInvocationLimitExceeded"',
    mistake='reason = "ConcurrentInvocationLimitExceeded"',
    praise="the third request finds the function's own reservation full, so Lambda refuses it even if the account "
           "has room to spare.",
)

q3 = Exercise(
    name="ch06.q3",
    answer="cold_starts",
    judge=Expect(3, kind=numbers.Integral, mistakes={
        0: "provisioned concurrency removes the cold starts of the requests it serves, not of those beyond it.",
        5: "two of the five requests run in the provisioned environments, initialised in advance: no Init Duration "
           "for them."}),
    hints=("Provisioned environments serve as many requests at once as they are: 2.",
           "The others spill over to on-demand environments, and none exists yet: each is a cold start."),
    solution="cold_starts = 5 - 2",
    mistake="cold_starts = 0",
    praise="two requests find provisioned environments ready; three spill over to new on-demand environments, "
           "each with its INIT (the metric ProvisionedConcurrencySpilloverInvocations counts them).",
)

exercises = Chapter(q1, q2, q3)
