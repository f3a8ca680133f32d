"""billing.bill: a month's line items against bills worked out by hand, several of them AWS's own examples.

Large months are written as summary rows (``invocations`` and their total ``billed_ms``), the form
a long simulation hands to billing; a few tests check that records and summaries bill alike.
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from lambdalab import billing

OCT = pd.Timestamp("2025-10-01", tz="UTC")


def usage(invocations: int, gb_s: int, *, at: pd.Timestamp = OCT, memory_mb: int = 1024, **fields) -> dict:
    """A summary row: ``invocations`` that used ``gb_s`` GB-seconds together at ``memory_mb``."""
    billed_ms = gb_s * 1000 * 1024 // memory_mb
    assert billed_ms * memory_mb == gb_s * 1000 * 1024, "pick a memory size that divides the GB-seconds"
    return {"function": "f", "start": at, "memory_mb": memory_mb, "architecture": "x86_64", "invocations": invocations,
            "billed_ms": billed_ms} | fields


def lines(*rows: dict, **options) -> pd.DataFrame:
    return billing.bill(pd.DataFrame(list(rows)), **options)


def amounts(items: pd.DataFrame) -> dict[tuple[str, str], tuple[Decimal, Decimal]]:
    """(usage type, description) -> (quantity, usd), to compare a bill with one worked out by hand."""
    return {(r.usage_type, r.description): (r.quantity, r.usd) for r in items.itertuples()}


def total(items: pd.DataFrame) -> Decimal:
    return sum(items["usd"], Decimal(0))


def test_aws_pricing_example_512_mb_3_million_invocations_of_1_s():
    """aws.amazon.com/lambda/pricing, example 1: 1,500,000 GB-s - 400,000 free = 1,100,000 billed; 3M - 1M free
    requests = 2M billed at $0.20 per million (AWS shows $18.34 with the rate rounded to $0.00001667)."""
    items = lines(usage(3_000_000, 1_500_000, memory_mb=512))
    assert amounts(items) == {
        ("Request", "AWS Lambda - Requests Free Tier - 1,000,000 Requests"): (1_000_000, 0),
        ("Request", "$0.20 per 1M requests"): (2_000_000, Decimal("0.40")),
        ("Lambda-GB-Second", "AWS Lambda - Compute Free Tier - 400,000 GB-Seconds"): (400_000, 0),
        ("Lambda-GB-Second", "$0.0000166667 per GB-second for the first 6 billion GB-seconds of the month"):
            (1_100_000, Decimal("18.33337")),
    }
    assert total(items) == Decimal("18.73337")
    assert set(items["month"]) == {"2025-10"} and list(items.columns) == list(billing.LINE_COLUMNS)


def test_tiers_crossed_within_a_month_the_aws_blog_example():
    """AWS Compute Blog, tiered pricing: 2 GB x 60 s x 75 million invocations = 9 billion GB-s in a month, x86."""
    tier1 = ("Lambda-GB-Second", "$0.0000166667 per GB-second for the first 6 billion GB-seconds of the month")
    tier2 = ("Lambda-GB-Second", "$0.0000150000 per GB-second from 6 billion to 15 billion GB-seconds of the month")
    # the month's usage comes in two parts; the second one crosses the 6 billion boundary
    first, second = usage(50_000_000, 6_000_000_000, memory_mb=2048), usage(25_000_000, 3_000_000_000,
                                                                            at=OCT + pd.Timedelta(days=20),
                                                                            memory_mb=2048)
    items = amounts(lines(first, second, free_tier=False))
    assert items[tier1] == (6_000_000_000, Decimal("100000.2"))
    assert items[tier2] == (3_000_000_000, Decimal("45000"))
    assert items["Request", "$0.20 per 1M requests"] == (75_000_000, Decimal("15"))
    assert len(items) == 3
    # with the free tier, its 400,000 GB-s come off before the tiers count, and 1M requests are free
    items = lines(first, second)
    assert amounts(items)[tier2] == (2_999_600_000, Decimal("44994"))
    assert total(items) == Decimal("100000.2") + Decimal("44994") + Decimal("14.8")


def test_arm64_tiers_and_over_15_billion():
    arm = usage(1, 20_000_000_000, architecture="arm64")
    items = amounts(lines(arm, free_tier=False))
    assert {k[1]: v for k, v in items.items() if k[0] == "Lambda-GB-Second-ARM"} == {
        "$0.0000133334 per GB-second for the first 7.5 billion GB-seconds of the month":
            (7_500_000_000, Decimal("100000.5")),
        "$0.0000120001 per GB-second from 7.5 billion to 18.75 billion GB-seconds of the month":
            (11_250_000_000, Decimal("135001.125")),
        "$0.0000106667 per GB-second over 18.75 billion GB-seconds of the month": (1_250_000_000, Decimal("13333.375")),
    }
    x86 = amounts(lines(usage(1, 16_000_000_000), free_tier=False))
    assert x86["Lambda-GB-Second", "$0.0000133334 per GB-second over 15 billion GB-seconds of the month"] == \
        (1_000_000_000, Decimal("13333.4"))


def test_each_month_has_its_own_tiers_and_free_tier():
    october, november = usage(600_000, 5_000_000_000), usage(600_000, 5_000_000_000, at=OCT + pd.Timedelta(days=31))
    items = lines(october, november)
    assert list(items["month"].unique()) == ["2025-10", "2025-11"]
    for month, part in items.groupby("month"):
        assert amounts(part)["Lambda-GB-Second", "AWS Lambda - Compute Free Tier - 400,000 GB-Seconds"][0] == 400_000, \
            month
        assert len(part) == 3  # free requests, free and first-tier GB-s: no second tier, no paid requests
    assert total(items) == 2 * (5_000_000_000 - 400_000) * Decimal("0.0000166667")


def test_the_free_tier_is_shared_by_both_architectures_in_the_order_of_use():
    x86 = usage(600_000, 300_000)
    arm = usage(600_000, 300_000, architecture="arm64", at=OCT + pd.Timedelta(minutes=1))
    items = amounts(lines(x86, arm))
    assert items == {
        ("Request", "AWS Lambda - Requests Free Tier - 1,000,000 Requests"): (600_000, 0),
        ("Lambda-GB-Second", "AWS Lambda - Compute Free Tier - 400,000 GB-Seconds"): (300_000, 0),
        ("Request-ARM", "AWS Lambda - Requests Free Tier - 1,000,000 Requests"): (400_000, 0),
        ("Request-ARM", "$0.20 per 1M requests"): (200_000, Decimal("0.04")),
        ("Lambda-GB-Second-ARM", "AWS Lambda - Compute Free Tier - 400,000 GB-Seconds"): (100_000, 0),
        ("Lambda-GB-Second-ARM", "$0.0000133334 per GB-second for the first 7.5 billion GB-seconds of the month"):
            (200_000, Decimal("2.66668")),
    }
    # the same usage the other way round: arm64 came first, and x86_64 pays for what is left
    later = lines(x86 | {"start": OCT + pd.Timedelta(minutes=2)}, arm)
    assert total(later) == 200_000 * Decimal("0.0000166667") + Decimal("0.04")


def test_provisioned_concurrency_aws_pricing_example():
    """aws.amazon.com/lambda/pricing, provisioned concurrency example: 1,024 MB, concurrency 1,000 for 2 hours,
    1.2 million invocations of 1 s on it. The free tier does not apply to the function."""
    allocation = {"function": "f", "memory_mb": 1024, "concurrency": 1000, "start": "2025-10-01 08:00",
                  "end": "2025-10-01 10:00"}
    items = lines(usage(1_200_000, 1_200_000, provisioned=True), allocations=[allocation])
    assert amounts(items) == {
        ("Request", "$0.20 per 1M requests"): (1_200_000, Decimal("0.24")),
        ("Lambda-Provisioned-Concurrency", "$0.0000041667 per GB-second of provisioned concurrency"):
            (7_200_000, Decimal("30.00024")),
        ("Lambda-Provisioned-GB-Second", "$0.0000097222 per GB-second of duration on provisioned concurrency"):
            (1_200_000, Decimal("11.66664")),
    }
    assert total(items) == Decimal("41.90688")


def test_provisioned_concurrency_is_billed_in_5_minute_steps_and_split_at_month_end():
    one_minute = {"function": "pc", "memory_mb": 2048, "concurrency": 3, "start": "2025-10-05 12:00:00.4",
                  "end": "2025-10-05 12:01:00", "architecture": "arm64"}
    items = lines(allocations=pd.DataFrame([one_minute]))
    assert list(items["quantity"]) == [2 * 3 * 300]  # 2 GB x 3 environments x 5 minutes
    assert list(items["usage_type"]) == ["Lambda-Provisioned-Concurrency-ARM"]
    assert list(items["usd"]) == [1800 * Decimal("0.0000033334")]
    across = {"function": "pc", "memory_mb": 1024, "concurrency": 1, "start": "2025-10-31 23:58",
              "end": "2025-11-01 00:06"}  # 8 minutes, billed as 10: 2 in October, 8 in November
    items = lines(allocations=[across])
    assert list(zip(items["month"], items["quantity"], strict=True)) == [("2025-10", 120), ("2025-11", 480)]
    with pytest.raises(ValueError, match="ends"):
        lines(allocations=[across | {"end": "2025-10-31 23:00"}])
    with pytest.raises(ValueError, match="lack the columns"):
        lines(allocations=[{"function": "pc"}])


def test_a_function_with_provisioned_concurrency_gets_no_free_tier_even_on_demand():
    allocation = {"function": "pc", "memory_mb": 1024, "concurrency": 1, "start": OCT,
                  "end": OCT + pd.Timedelta(hours=1)}
    spilled = usage(1, 1, function="pc")  # ran on demand: beyond its provisioned environment
    other = usage(1, 1, function="other", at=OCT + pd.Timedelta(seconds=1))
    items = amounts(lines(spilled, other, allocations=[allocation]))
    assert items["Request", "AWS Lambda - Requests Free Tier - 1,000,000 Requests"] == (1, 0)
    assert items["Request", "$0.20 per 1M requests"] == (1, Decimal("0.0000002"))
    assert items["Lambda-GB-Second", "AWS Lambda - Compute Free Tier - 400,000 GB-Seconds"] == (1, 0)
    assert items["Lambda-GB-Second", "$0.0000166667 per GB-second for the first 6 billion GB-seconds of the month"] \
        == (1, Decimal("0.0000166667"))
    # without the allocation, both fit in the free tier
    assert total(lines(spilled, other)) == 0


def test_ephemeral_storage_line():
    items = amounts(lines(usage(10, 100, ephemeral_storage_mb=10240, memory_mb=1024), free_tier=False))
    # 100 GB-s of duration at 1 GB: 100 s, with 9.5 GB of /tmp above the free 512 MB
    assert items["Lambda-Storage-GB-Second", "$0.0000000309 per GB-second of ephemeral storage above 512 MB"] == \
        (Decimal("950"), Decimal("0.000029355"))


def test_records_and_their_rules_bill_as_their_costs_add_up():
    base = {"function": "f", "memory_mb": 128, "architecture": "x86_64", "ephemeral_storage_mb": 512}
    records = pd.DataFrame([base | {"start": OCT + pd.Timedelta(seconds=i), "duration_ms": 27.55 + i,
                                    "init_ms": 184.13 if i == 0 else None, "billed_ms": 212 if i == 0 else 28 + i}
                            for i in range(5)])
    for options in ({}, {"granularity_ms": 100}, {"init_billed": False}, {"granularity_ms": 100, "init_billed": False}):
        items = billing.bill(records, free_tier=False, **options)
        assert total(items) == sum(billing.cost(records, exact=True, **options)), options
    # 100 ms: 300 + 4 x 100 ms at 128 MB = 0.0875 GB-s
    assert billing.bill(records, free_tier=False, granularity_ms=100)["quantity"].tolist() == [5, Decimal("0.0875")]
    summary = pd.DataFrame([base | {"start": OCT, "invocations": 5, "billed_ms": int(records["billed_ms"].sum())}])
    assert billing.bill(summary).equals(billing.bill(records))
    with pytest.raises(ValueError, match="summary row"):
        billing.bill(summary, granularity_ms=100)


def test_an_empty_month_has_no_lines_and_a_readable_table_has_a_total():
    assert billing.bill(pd.DataFrame(columns=["function", "start", "memory_mb", "billed_ms"])).empty
    items = lines(usage(3_000_000, 1_500_000, memory_mb=512))
    shown = billing.bill_table(items).to_html()
    assert "$0.0000166667" in shown and "$18.33337" in shown and "$18.73337" in shown and "2E-7" not in shown


def test_each_account_has_its_own_bill_and_free_tier_shared_by_its_regions():
    def arn(account: str, region: str) -> str:
        return f"arn:aws:lambda:{region}:{account}:function:f"

    us, eu, other = arn("111111111111", "us-east-1"), arn("111111111111", "eu-west-1"), arn("222222222222", "us-east-1")
    rows = [usage(600_000, 0, function_arn=place) for place in (us, eu, other)]
    with pytest.raises(ValueError, match="2 accounts"):
        lines(*rows)
    first = lines(*rows, account="111111111111")
    requests = first[first["usage_type"].str.contains("Request")]
    assert requests["quantity"].sum() == 1_200_000  # both Regions of the account
    assert requests["usd"].sum() == Decimal("200000") * Decimal("0.0000002")  # one free tier: 1 M free in all
    second = lines(*rows, account="222222222222")
    assert second["usd"].sum() == 0  # its 600,000 requests fall within its own free tier
