"""Chapter 08 (billing): three estimates made before the numbers are shown, each judged against AWS's
price table as lambdalab reads it (``lambdalab.billing.prices()``), so a new table changes the answers
with it.

q1 prices a million invocations by hand, q2 finds provisioned concurrency's break-even utilisation,
q3 the request rate at which a function costs as much as a small server running all month.
"""

from __future__ import annotations

import numbers
from decimal import Decimal

from ..billing import ec2_prices, prices
from . import Chapter, Exercise
from .judges import Expect

MONTH_S = 30 * 24 * 3600  # the chapter's month: 30 days


def _first_tier(component: str, architecture: str = "x86_64") -> Decimal:
    table = prices()
    return table.tiers(architecture)[0].rate.usd if component == "duration" else table.rate(component, architecture).usd


def _number(value) -> float:
    return float(value)


# -- q1: a million invocations at 512 MB, 120 ms billed, beyond the free tier ----------------------
def _million() -> Decimal:
    gb_s = Decimal(512) / 1024 * Decimal("0.120") * 1_000_000
    return 1_000_000 * _first_tier("requests") + gb_s * _first_tier("duration")


def _q1_expected(ctx) -> float:
    return round(float(_million()), 2)


def _q1_mistakes(ctx) -> dict:
    gb_s = Decimal(512) / 1024 * Decimal("0.120") * 1_000_000
    return {
        round(float(gb_s * _first_tier("duration")), 2):
            "that is the duration alone: every request costs its own charge as well (per million requests).",
        round(float(1_000_000 * _first_tier("requests") + Decimal(512) * Decimal("0.120") * 1_000_000
                    * _first_tier("duration")), 2):
            "memory counts in GB: 512 MB is 0.5 GB, not 512.",
        round(float(1_000_000 * _first_tier("requests") + Decimal(512) / 1024 * 120 * 1_000_000
                    * _first_tier("duration")), 2):
            "the price is per GB-second: 120 ms is 0.12 s.",
    }


q1 = Exercise(
    name="ch08.q1",
    answer="million_usd",
    judge=Expect(_q1_expected, kind=numbers.Real, normalize=lambda v: round(float(v), 2), mistakes=_q1_mistakes),
    hints=("Two charges: one per request, one per GB-second of memory x billed duration.",
           "GB-seconds = 512 / 1024 GB x 0.120 s x 1,000,000. Multiply by the first tier's price per GB-second "
           "and add 1,000,000 x the price of one request."),
    solution="""million_usd = 1_000_000 * float(table.rate("requests", "x86_64").usd) + \\
    512 / 1024 * 0.120 * 1_000_000 * float(table.tiers("x86_64")[0].rate.usd)""",
    mistake="million_usd = 512 / 1024 * 0.120 * 1_000_000 * float(table.tiers('x86_64')[0].rate.usd)",
    given={"table": prices()},
    praise="about one dollar for a million requests and the rest for 60,000 GB-seconds: at this size, duration "
           "costs five times what the requests do.",
)


# -- q2: provisioned concurrency's break-even utilisation ------------------------------------------
def _break_even() -> int:
    allocated = _first_tier("provisioned_concurrency")
    used = _first_tier("provisioned_duration")
    on_demand = _first_tier("duration")
    return round(100 * allocated / (on_demand - used))


q2 = Exercise(
    name="ch08.q2",
    answer="break_even_percent",
    judge=Expect(lambda ctx: _break_even(), kind=numbers.Real, normalize=lambda v: round(float(v)), mistakes={
        25: "that is the allocation price over the on-demand price: the provisioned environment's own duration "
            "price is paid too, for the time it runs.",
        42: "the allocation is paid per GB-second whether the environment works or not; the saving is on the time "
            "it works: on-demand price minus provisioned duration price."}),
    hints=("An environment kept ready costs its allocation price every second; each second it works costs the "
           "provisioned duration price instead of the on-demand one.",
           "Break-even: allocation = utilisation x (on-demand price - provisioned duration price). Solve for the "
           "utilisation, in percent."),
    solution="""break_even_percent = 100 * float(table.rate("provisioned_concurrency", "x86_64").usd) / (
    float(table.tiers("x86_64")[0].rate.usd) - float(table.rate("provisioned_duration", "x86_64").usd))""",
    mistake="break_even_percent = 25",
    given={"table": prices()},
    praise="below about 60% of its time busy, a provisioned environment costs more than the on-demand ones it "
           "replaces: it buys the absence of cold starts, not a discount.",
)


# -- q3: the rate at which a function costs as much as a small server ------------------------------
def _crossover() -> int:
    server = ec2_prices().set_index("instance_type").loc["t4g.medium", "usd_per_hour"]
    per_request = float(_first_tier("requests")) + 0.5 * 0.100 * float(_first_tier("duration"))
    return round(float(server) * MONTH_S / 3600 / per_request / MONTH_S)


q3 = Exercise(
    name="ch08.q3",
    answer="crossover_rps",
    judge=Expect(lambda ctx: _crossover(), kind=numbers.Real, normalize=lambda v: round(float(v)), mistakes={
        0: "even one request a second costs something, but far less than a server that runs all month."}),
    hints=("The server costs its hourly price x 720 hours, whatever it serves. Each request costs the request "
           "charge plus 0.5 GB x 0.1 s at the GB-second price.",
           "Divide the server's month by one request's cost: that many requests a month. Then divide by the seconds "
           "of 30 days (2,592,000)."),
    solution="""server_month = float(servers.set_index("instance_type").loc["t4g.medium", "usd_per_hour"]) * 720
per_request = float(table.rate("requests", "x86_64").usd) + 0.5 * 0.100 * float(table.tiers("x86_64")[0].rate.usd)
crossover_rps = server_month / per_request / (30 * 24 * 3600)""",
    mistake="crossover_rps = 100",
    given={"table": prices(), "servers": ec2_prices()},
    praise="a function that answers in 100 ms at 512 MB costs less than the smallest useful server until it sees "
           "about that many requests every second of the month; above it, the server is cheaper, if one server "
           "is enough.",
)

exercises = Chapter(q1, q2, q3)
