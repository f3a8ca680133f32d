"""The price table: AWS's from data/, checked when read, and replaceable."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from lambdalab import billing
from lambdalab.billing.prices import MB_MS_PER_GB_SECOND, Prices, read_prices
from lambdalab.datafiles import DATA_DIR


@pytest.fixture
def aws_table() -> pd.DataFrame:
    return pd.read_csv(DATA_DIR / billing.AWS_PRICES, dtype=str, keep_default_na=False)


def test_the_table_in_force_is_aws_us_east_1_from_data():
    table = billing.prices()
    assert table.source.endswith("data/lambda_prices_us-east-1.csv")
    assert table.rate("requests", "arm64").usd == Decimal("0.0000002")
    assert table.rate("provisioned_concurrency", "x86_64").usage_type == "Lambda-Provisioned-Concurrency"
    assert [(t.start // MB_MS_PER_GB_SECOND, t.rate.usd) for t in table.tiers("x86_64")] == [
        (0, Decimal("0.0000166667")), (6_000_000_000, Decimal("0.0000150000")),
        (15_000_000_000, Decimal("0.0000133334"))]
    assert [t.end for t in table.tiers("arm64")] == [7_500_000_000 * MB_MS_PER_GB_SECOND,
                                                      18_750_000_000 * MB_MS_PER_GB_SECOND, None]
    assert (table.free_requests, table.free_mb_ms) == (1_000_000, 400_000 * MB_MS_PER_GB_SECOND)
    readme = (DATA_DIR / "README.md").read_text()
    assert "lambda_prices_us-east-1.csv" in readme and "effective 2025-10-01" in readme and "Price List API" in readme


def test_another_table_replaces_it_for_cost_and_bill(aws_table, tmp_path):
    doubled = aws_table.copy()
    doubled.loc[doubled["component"] == "requests", "usd_per_unit"] = "0.0000004"
    doubled.loc[doubled["component"] == "free_requests", "tier_end"] = "0"
    path = tmp_path / "doubled.csv"
    doubled.to_csv(path, index=False)
    one = pd.DataFrame([{"function": "f", "start": pd.Timestamp("2025-10-01", tz="UTC"), "memory_mb": 128,
                         "billed_ms": 0}])
    assert billing.cost(one.iloc[0]) == Decimal("0.0000002")
    try:
        assert billing.prices(path) is billing.prices()
        assert billing.cost(one.iloc[0]) == Decimal("0.0000004")
        assert billing.bill(one)["usd"].tolist() == [Decimal("0.0000004")]  # no free requests in that table
    finally:
        billing.prices(billing.AWS_PRICES)
    assert billing.cost(one.iloc[0]) == Decimal("0.0000002")
    # a table given to one call is used by that call only
    assert billing.cost(one.iloc[0], prices=read_prices(doubled)) == Decimal("0.0000004")
    assert billing.prices().source.endswith(billing.AWS_PRICES)
    table = read_prices(doubled)
    assert billing.prices(table) is table
    billing.prices(billing.AWS_PRICES)


def test_a_table_is_checked_when_read(aws_table):
    with pytest.raises(ValueError, match="no ephemeral_storage price for arm64"):
        arm_storage = (aws_table["component"] == "ephemeral_storage") & (aws_table["architecture"] == "arm64")
        read_prices(aws_table[~arm_storage])
    gap = aws_table.copy()
    gap.loc[(gap["component"] == "duration") & (gap["tier_start"] == "6000000000"), "tier_start"] = "7000000000"
    with pytest.raises(ValueError, match="without a gap"):
        read_prices(gap)
    wrong = aws_table.copy()
    wrong.loc[0, "usd_per_unit"] = "twenty cents"
    with pytest.raises(ValueError, match="not a number"):
        read_prices(wrong)
    with pytest.raises(ValueError, match="lacks the columns"):
        read_prices(aws_table.drop(columns=["usage_type"]))
    with pytest.raises(ValueError, match="free tier"):
        read_prices(aws_table[aws_table["component"] != "free_compute"])
    numbers = aws_table.copy()  # numbers rather than text read back to the same prices
    numbers["usd_per_unit"] = numbers["usd_per_unit"].astype(float)
    assert read_prices(numbers).rate("requests", "x86_64").usd == Decimal("0.0000002")
    assert isinstance(read_prices(numbers), Prices)
    assert read_prices(numbers).tiers("x86_64")[0].rate.usd == Decimal("0.0000166667")


def test_ec2_prices_for_the_server_comparison():
    ec2 = billing.ec2_prices()
    assert {"instance_type", "architecture", "vcpus", "memory_gib", "usd_per_hour", "publication_date"} <= set(ec2)
    t3 = ec2.set_index("instance_type").loc["t3.micro"]
    assert (t3["usd_per_hour"], t3["vcpus"], t3["memory_gib"], t3["architecture"]) == (0.0104, 2, 1, "x86_64")
    assert set(ec2["architecture"]) == {"x86_64", "arm64"} and (ec2["usd_per_hour"] > 0).all()
    assert "ec2_on_demand_us-east-1.csv" in (DATA_DIR / "README.md").read_text()
