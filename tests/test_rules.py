"""lambdalab.rules on its own: pure functions over explicit state and time, as a simulator drives them."""

from __future__ import annotations

import pytest

from lambdalab import rules
from lambdalab.rules import (
    ACCOUNT_LIMIT_EXCEEDED,
    COLD,
    ON_DEMAND,
    PROVISIONED,
    RESERVED_LIMIT_EXCEEDED,
    SCALING_RATE_EXCEEDED,
    WARM,
    Account,
    AsyncRetry,
    MachineCapacity,
    ScalingBucket,
    ScalingRate,
    Throttle,
    admit,
    decide,
    release,
)

RATE = ScalingRate(environments=3, period_s=10.0)


def test_the_account_limit_throttles_functions_without_reserved_concurrency():
    account = Account(limit=2)
    a, b = account.function("a"), account.function("b")
    first, second = admit(account, a, "$LATEST"), admit(account, b, "1")
    assert (first.kind, second.kind) == (ON_DEMAND, ON_DEMAND)
    assert admit(account, a, "$LATEST") == Throttle(ACCOUNT_LIMIT_EXCEEDED, "Rate Exceeded.")
    assert (account.running, account.unreserved_running, a.running) == (2, 2, 1)
    release(account, first)
    assert admit(account, a, "$LATEST").kind == ON_DEMAND  # its slot is free again


def test_reserved_concurrency_both_caps_a_function_and_protects_it_from_the_others():
    account = Account(limit=10, unreserved_min=2)
    account.set_reserved("critical", 3)
    critical, noisy = account.function("critical"), account.function("noisy")
    taken = [admit(account, noisy, "$LATEST") for _ in range(7)]  # the whole unreserved pool: 10 - 3
    assert all(slot.kind == ON_DEMAND for slot in taken)
    assert admit(account, noisy, "$LATEST").reason == ACCOUNT_LIMIT_EXCEEDED
    mine = [admit(account, critical, "$LATEST") for _ in range(3)]  # the noisy function could not take these
    assert all(slot.kind == ON_DEMAND and not slot.shared for slot in mine)
    assert admit(account, critical, "$LATEST").reason == RESERVED_LIMIT_EXCEEDED
    assert (account.running, account.unreserved_running) == (10, 7)


def test_reserved_zero_throttles_every_invocation():
    account = Account()
    account.set_reserved("off", 0)
    assert admit(account, account.function("off"), "$LATEST").reason == RESERVED_LIMIT_EXCEEDED


def test_provisioned_environments_serve_first_then_invocations_spill_over():
    account = Account(limit=10, unreserved_min=1)
    account.set_provisioned("f", "live", 2)
    state = account.function("f")
    assert admit(account, state, "1").kind == ON_DEMAND  # configured, not ready: on-demand meanwhile
    account.set_ready("f", "1", 2)
    p1, p2 = admit(account, state, "1"), admit(account, state, "1")
    assert (p1.kind, p2.kind) == (PROVISIONED, PROVISIONED)
    spill = admit(account, state, "1")
    assert (spill.kind, spill.spillover) == (ON_DEMAND, True)
    assert admit(account, state, "$LATEST").spillover is False  # another version has no provisioned environments
    assert (state.busy["1"], state.provisioned_busy, state.running) == (2, 2, 5)
    release(account, p1)
    assert admit(account, state, "1").kind == PROVISIONED


def test_provisioned_concurrency_counts_against_the_limits_as_soon_as_it_is_configured():
    account = Account(limit=10, unreserved_min=1)
    account.set_provisioned("f", "1", 4)
    assert account.unreserved() == 6
    others = [admit(account, account.function("g"), "$LATEST") for _ in range(6)]
    assert all(slot.kind == ON_DEMAND for slot in others)
    assert admit(account, account.function("g"), "$LATEST").reason == ACCOUNT_LIMIT_EXCEEDED
    account.set_provisioned("f", "1", None)
    assert account.unreserved() == 10


def test_reserved_concurrency_all_provisioned_leaves_latest_nothing():
    account = Account(limit=20, unreserved_min=1)
    account.set_provisioned("f", "1", 2)
    account.set_reserved("f", 2)
    account.set_ready("f", "1", 2)
    state = account.function("f")
    assert admit(account, state, "$LATEST").reason == RESERVED_LIMIT_EXCEEDED
    assert admit(account, state, "1").kind == PROVISIONED
    assert account.unreserved() == 18  # the provisioned part is inside the reserved part, counted once


def test_unreserved_minimum_is_a_hundred_or_the_limit_if_lower():
    account = Account(limit=1000)
    refusal = account.check_reserved("f", 901)
    assert refusal == rules.Refusal("Specified ReservedConcurrentExecutions for function decreases account's "
                                    "UnreservedConcurrentExecution below its minimum value of [100].", typed=False)
    assert account.check_reserved("f", 900) is None
    small = Account(limit=10)
    assert small.minimum == 10
    assert "[10]" in small.check_reserved("f", 1).message  # a new account's 10 cannot be reserved
    assert small.check_reserved("f", 0) is None  # 0 takes nothing: always allowed


def test_reserved_concurrency_replaces_its_own_claim():
    account = Account(limit=1000)
    account.set_reserved("f", 900)
    assert account.unreserved() == 100
    assert account.check_reserved("f", 900) is None  # the same again: unreserved stays at its minimum
    assert account.check_reserved("g", 1) is not None


def test_provisioned_configuration_checks_in_aws_order():
    account = Account(limit=1000)
    assert account.check_provisioned("f", "1", 1001).message == (
        "Specified ConcurrentExecutions for function is greater than account's unreserved concurrency [1000].")
    assert account.check_provisioned("f", "1", 1000).message.endswith("below its minimum value of [100].")
    assert account.check_provisioned("f", "1", 900) is None
    account.set_reserved("f", 2)
    account.set_provisioned("f", "1", 2)
    refusal = account.check_provisioned("f", "2", 1)
    assert refusal == rules.Refusal("Requested Provisioned Concurrency should not be greater than the "
                                    "reservedConcurrentExecution for function", typed=True)
    assert account.check_provisioned("f", "1", 2) is None  # the same qualifier, put again
    assert account.check_reserved("f", 1).message == (" ReservedConcurrentExecutions  1 should not be lower than "
                                                      "function's total provisioned concurrency [2].")


def test_a_deleted_function_gives_its_claims_back_and_its_running_invocations_still_release():
    account = Account(limit=10, unreserved_min=1)
    state = account.function("f")
    slot = admit(account, state, "$LATEST")
    account.set_provisioned("f", "1", 3)
    account.forget("f")
    assert account.unreserved() == 10 and "f" not in account.functions
    release(account, slot)
    assert (account.running, account.shared, account.unreserved_running) == (0, 0, 0)


def test_the_scaling_bucket_refills_continuously_and_banks_no_more_than_one_period():
    bucket = ScalingBucket()
    assert [bucket.take(100.0, 3, 10.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.level(100.0, 3, 10.0) == 0.0
    assert bucket.level(105.0, 3, 10.0) == pytest.approx(1.5)  # half a period: half the environments
    assert bucket.take(105.0, 3, 10.0) and not bucket.take(105.0, 3, 10.0)
    assert bucket.level(1000.0, 3, 10.0) == 3.0  # a long quiet time banks one period's worth, no more
    assert bucket.level(1000.0, 1000, 10.0) == pytest.approx(1000.0)  # a rate raised meanwhile applies at once


def test_decide_places_an_invocation_warm_cold_or_provisioned_and_throttles_beyond_the_scaling_rate():
    account = Account(limit=100, unreserved_min=1)
    state = account.function("f")
    slot, kind = decide(account, state, "$LATEST", idle=True, now=0.0, rate=RATE)
    assert kind == WARM  # a warm environment takes nothing from the scaling rate
    release(account, slot)
    cold = [decide(account, state, "$LATEST", idle=False, now=0.0, rate=RATE) for _ in range(3)]
    assert [kind for _, kind in cold] == [COLD] * 3
    assert decide(account, state, "$LATEST", idle=False, now=0.0, rate=RATE).reason == SCALING_RATE_EXCEEDED
    assert account.running == 3  # the throttled invocation's slot was given back
    assert decide(account, state, "$LATEST", idle=False, now=10 / 3, rate=RATE)[1] == COLD
    account.set_provisioned("f", "1", 1)
    account.set_ready("f", "1", 1)
    assert decide(account, state, "1", idle=False, now=0.0, rate=RATE)[1] == PROVISIONED


def test_keep_alive_reaps_idle_on_demand_environments_only():
    assert rules.expires_at(100.0, 600.0) == 700.0
    assert rules.remaining(100.0, 400.0, 600.0) == 300.0
    assert not rules.reapable(100.0, 699.0, 600.0)
    assert rules.reapable(100.0, 700.0, 600.0)
    assert not rules.reapable(100.0, 10_000.0, 600.0, provisioned=True)


def test_the_machine_holds_environments_up_to_its_budget_and_one_always():
    machine = MachineCapacity(memory_mb=512)
    assert machine.fits(held_mb=384, alive=3, memory_mb=128)
    assert not machine.fits(held_mb=512, alive=4, memory_mb=128)
    assert machine.fits(held_mb=0, alive=0, memory_mb=10240)  # alone, however large
    assert machine.to_free(held_mb=512, alive=4, memory_mb=256, idle_mb=[128, 128, 128]) == 2
    assert machine.to_free(held_mb=512, alive=4, memory_mb=128, idle_mb=[]) is None
    assert machine.to_free(held_mb=128, alive=1, memory_mb=10240, idle_mb=[128]) == 1
    assert "LambdalabMachineCapacityExceeded" == rules.MACHINE_CAPACITY_EXCEEDED
    assert rules.budget_mb(2000) == 1500


def test_the_async_schedule_retries_twice_and_backs_off_throttles_to_five_minutes():
    schedule = AsyncRetry()
    assert [schedule.retry_delay(n) for n in (1, 2, 3)] == [60.0, 120.0, None]
    assert AsyncRetry(max_retries=0).retry_delay(1) is None
    assert [schedule.throttle_backoff(n) for n in (1, 2, 3, 9, 10, 20)] == [1, 2, 4, 256, 300, 300]
    assert not schedule.expired(received=0.0, at=21600.0)
    assert schedule.expired(received=0.0, at=21600.5)
