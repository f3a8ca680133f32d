"""Chapter 08 (billing): three estimates made before the numbers are shown, each judged against AWS's
price table as lambdalab reads it (``lambdalab.billing.prices()``), so a new table changes the answers
with it.

q1 prices a million invocations by hand, q2 a month of provisioned concurrency below its break-even,
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
    praise="$0.20 for the million requests and $1.00 for the 60,000 GB-seconds: at this size, duration costs five "
           "times what the requests do.",
)


# -- q2: a month of provisioned concurrency below its break-even ---------------------------------
PROVISIONED_GB_S = 10 * 1 * MONTH_S  # ten environments of 1,024 MB, all month
BUSY = Decimal("0.45")


def _provisioned_month(busy: Decimal = BUSY) -> Decimal:
    allocated, used = _first_tier("provisioned_concurrency"), _first_tier("provisioned_duration")
    return PROVISIONED_GB_S * (allocated + busy * used)


def _on_demand_month() -> Decimal:
    return PROVISIONED_GB_S * BUSY * _first_tier("duration")


def _q2_mistakes(ctx) -> dict:
    on_demand, used = _on_demand_month(), PROVISIONED_GB_S * BUSY * _first_tier("provisioned_duration")
    return {
        round(used - on_demand):
            "that compares only the time they work; the allocation is paid for every second of the month, busy or "
            "not.",
        round(_provisioned_month()): "that is the provisioned bill alone: how much more is it than on demand?",
        round(_provisioned_month(Decimal(1)) - on_demand):
            "the provisioned duration price is paid for the time the environments work (45%), not for the whole "
            "month.",
    }


q2 = Exercise(
    name="ch08.q2",
    answer="extra_usd",
    judge=Expect(lambda ctx: round(_provisioned_month() - _on_demand_month()), kind=numbers.Real,
                 normalize=lambda v: round(float(v)), mistakes=_q2_mistakes),
    hints=("Ten environments of 1 GB for 30 days are 10 x 2,592,000 GB-seconds of capacity. Provisioned, each of "
           "them costs the allocation price, plus the provisioned duration price for the 45% of it that works; on "
           "demand, only that 45% is paid, at the on-demand price.",
           "extra = capacity x (allocation + 0.45 x provisioned duration price) - capacity x 0.45 x on-demand "
           "price."),
    solution="""capacity = 10 * 1 * 30 * 24 * 3600  # GB-seconds
extra_usd = capacity * (float(table.rate("provisioned_concurrency", "x86_64").usd)
                        + 0.45 * float(table.rate("provisioned_duration", "x86_64").usd)) \
    - capacity * 0.45 * float(table.tiers("x86_64")[0].rate.usd)""",
    mistake='extra_usd = 10 * 30 * 24 * 3600 * 0.45 * (float(table.rate("provisioned_duration", "x86_64").usd) '
            '- float(table.tiers("x86_64")[0].rate.usd))',
    given={"table": prices()},
    praise="below the break-even (about 60% busy), provisioned concurrency costs more than the same work on demand: "
           "here about 14% more. It buys the absence of cold starts, not a discount.",
)


# -- q3: the rate at which a function costs as much as a server the figure does not show ------------
SERVER = "t4g.large"


def _crossover(instance: str = SERVER) -> int:
    server = ec2_prices().set_index("instance_type").loc[instance, "usd_per_hour"]
    per_request = float(_first_tier("requests")) + 0.5 * 0.100 * float(_first_tier("duration"))
    return round(float(server) * MONTH_S / 3600 / per_request / MONTH_S)


q3 = Exercise(
    name="ch08.q3",
    answer="crossover_rps",
    judge=Expect(lambda ctx: _crossover(), kind=numbers.Real, normalize=lambda v: round(float(v)),
                 mistakes=lambda ctx: {
                     0: "even one request a second costs something, but far less than a server that runs all month.",
                     _crossover("t4g.medium"): "that is where the figure's t4g.medium crosses Lambda; price the "
                                               "t4g.large."}),
    hints=("The server costs its hourly price x 720 hours, whatever it serves. Each request costs the request "
           "charge plus 0.5 GB x 0.1 s at the GB-second price.",
           "Divide the server's month by one request's cost: that many requests a month. Then divide by the seconds "
           "of 30 days (2,592,000)."),
    solution="""server_month = float(servers.set_index("instance_type").loc["t4g.large", "usd_per_hour"]) * 720
per_request = float(table.rate("requests", "x86_64").usd) + 0.5 * 0.100 * float(table.tiers("x86_64")[0].rate.usd)
crossover_rps = server_month / per_request / (30 * 24 * 3600)""",
    mistake="crossover_rps = 100",
    given={"table": prices(), "servers": ec2_prices()},
    praise="a function that answers in 100 ms at 512 MB costs less than a t4g.large until it sees about that many "
           "requests every second of the month; above it, the server is cheaper, if one server is enough and "
           "someone runs it.",
)

exercises = Chapter(q1, q2, q3)
