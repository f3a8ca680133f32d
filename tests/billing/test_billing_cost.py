"""billing.cost: each invocation's cost, rule by rule, against amounts worked out by hand (exact Decimals)."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from lambdalab import billing
from lambdalab.observe.records import InvocationRecord

REQUEST = Decimal("0.0000002")
X86, ARM = Decimal("0.0000166667"), Decimal("0.0000133334")  # first tier, USD per GB-second
STORAGE = Decimal("0.0000000309")
PROVISIONED_DURATION = Decimal("0.0000097222")


def record(**fields) -> dict:
    """One invocation as cloud.invocations() records it (the fields billing reads)."""
    return {"function": "f", "start": pd.Timestamp("2025-10-01", tz="UTC"), "duration_ms": 27.55, "init_ms": None,
            "billed_ms": 28, "memory_mb": 128, "architecture": "x86_64", "ephemeral_storage_mb": 512} | fields


def frame(*records: dict) -> pd.DataFrame:
    return pd.DataFrame(list(records))


def test_a_request_and_its_gb_seconds_at_1_ms():
    # 128 MB for 1 ms: 0.125 GB x 0.001 s = 0.000125 GB-s
    assert billing.cost(record(duration_ms=0.4, billed_ms=1)) == REQUEST + Decimal("0.000125") * X86
    # AWS's own REPORT example, Duration 27.55 ms -> Billed Duration 28 ms, at 1,024 MB: 0.028 GB-s
    assert billing.cost(record(memory_mb=1024)) == REQUEST + Decimal("0.028") * X86 == Decimal("0.0000006666676")


def test_a_cold_start_pays_for_its_init_and_did_not_before_august_2025():
    cold = record(duration_ms=27.55, init_ms=184.13, billed_ms=212)  # ceil(27.55 + 184.13)
    assert billing.cost(cold) == REQUEST + Decimal("0.125") * Decimal("0.212") * X86 == Decimal("0.00000064166755")
    assert billing.cost(cold, init_billed=False) == REQUEST + Decimal("0.125") * Decimal("0.028") * X86
    assert list(billing.billed_ms(frame(cold), init_billed=False)) == [28]


def test_the_old_100_ms_granularity_rounds_every_invocation_up_to_the_next_100_ms():
    warm, cold = record(duration_ms=27.55), record(duration_ms=27.55, init_ms=184.13, billed_ms=212)
    assert list(billing.billed_ms(frame(warm, cold), granularity_ms=100)) == [100, 300]
    assert list(billing.billed_ms(frame(warm, cold), granularity_ms=100, init_billed=False)) == [100, 100]
    assert billing.cost(warm, granularity_ms=100) == REQUEST + Decimal("0.0125") * X86 == Decimal("0.00000040833375")
    assert billing.cost(record(duration_ms=100.0), granularity_ms=100) == billing.cost(warm, granularity_ms=100)
    assert billing.cost(record(duration_ms=100.001), granularity_ms=100) == REQUEST + Decimal("0.025") * X86
    for wrong in (0, 2.5, True):
        with pytest.raises(ValueError, match="granularity_ms"):
            billing.cost(warm, granularity_ms=wrong)


def test_arm64_is_priced_as_arm64():
    arm = record(memory_mb=1024, architecture="arm64")
    assert billing.cost(arm) == REQUEST + Decimal("0.028") * ARM == Decimal("0.0000005733352")
    assert billing.cost(arm) < billing.cost(record(memory_mb=1024))
    with pytest.raises(ValueError, match="unknown architecture"):
        billing.cost(record(architecture="aarch64"))


def test_ephemeral_storage_is_billed_above_512_mb_only():
    second = {"memory_mb": 1024, "duration_ms": 999.2, "billed_ms": 1000}  # 1 GB-s of duration
    assert billing.cost(record(**second, ephemeral_storage_mb=512)) == REQUEST + X86
    # 10,240 MB of /tmp: 9,728 MB above the free 512 = 9.5 GB, for 1 s
    assert billing.cost(record(**second, ephemeral_storage_mb=10240)) == REQUEST + X86 + Decimal("9.5") * STORAGE \
        == Decimal("0.00001716025")
    assert billing.cost(record(**second, ephemeral_storage_mb=513)) == REQUEST + X86 + STORAGE / 1024
    assert billing.cost({k: v for k, v in record(**second).items() if k != "ephemeral_storage_mb"}) == REQUEST + X86


def test_an_invocation_on_a_provisioned_environment_pays_the_lower_duration_price():
    on_pc = record(memory_mb=1024, duration_ms=99.9, billed_ms=100, provisioned=True)
    assert billing.cost(on_pc) == REQUEST + Decimal("0.1") * PROVISIONED_DURATION == Decimal("0.00000117222")
    assert billing.cost(on_pc | {"provisioned": False}) == REQUEST + Decimal("0.1") * X86
    arm = on_pc | {"architecture": "arm64"}
    assert billing.cost(arm) == REQUEST + Decimal("0.1") * Decimal("0.0000077778")


def test_a_frame_gets_one_float_per_record_each_the_nearest_double_to_the_exact_cost():
    longest = record(memory_mb=10240, billed_ms=900_000, architecture="arm64", ephemeral_storage_mb=10240)
    records = frame(record(), longest, record(init_ms=184.13, billed_ms=212, provisioned=False))
    records.index = [10, 20, 30]
    floats, exact = billing.cost(records), billing.cost(records, exact=True)
    assert list(floats.index) == [10, 20, 30] and floats.dtype == "float64"
    assert all(isinstance(v, Decimal) for v in exact)
    assert [float(v) for v in exact] == list(floats)
    assert list(exact) == [billing.cost(row) for _, row in records.iterrows()]
    assert exact[20] == REQUEST + 10 * 900 * ARM + Decimal("9.5") * 900 * STORAGE
    assert billing.cost(records.iloc[:0]).empty


def test_one_record_in_any_of_its_forms_costs_the_same():
    one = record(init_ms=184.13, billed_ms=212)
    row = frame(one).iloc[0]
    fields = {k: v for k, v in one.items() if k not in ("architecture", "ephemeral_storage_mb")}
    dataclass = InvocationRecord(request_id="r", version="$LATEST", invocation_type="RequestResponse",
                                 max_memory_used_mb=40, cold=True, environment="e", error_type=None, status="success",
                                 architecture="x86_64", ephemeral_storage_mb=512, **fields)
    expected = billing.cost(one)
    assert billing.cost(row) == billing.cost(dataclass) == billing.cost(next(frame(one).itertuples())) == expected
    with pytest.raises(TypeError, match=r"cloud\.invocations"):
        billing.cost(42)


def test_billing_counts_whole_milliseconds_and_megabytes():
    with pytest.raises(ValueError, match="billed_ms must hold whole"):
        billing.cost(record(billed_ms=27.5))
    with pytest.raises(ValueError, match="memory_mb has empty"):
        billing.cost(record(memory_mb=None))


def test_amounts_beyond_64_bits_stay_exact():
    """A summary row of a long simulation can hold more MB-ms x price than 64 bits or a double's 53 bits carry."""
    for billed_ms in (10**9, 10**12):  # the first needs more than 53 bits, the second more than 64
        row = record(memory_mb=10240, billed_ms=billed_ms, invocations=1000)
        expected = 1000 * REQUEST + 10 * Decimal(billed_ms) / 1000 * X86
        assert billing.cost(row) == expected
        assert billing.cost(frame(row)).tolist() == [float(expected)]
