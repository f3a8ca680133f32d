"""The cloud's clock and the quotas table: the two things lessons change on purpose."""

from __future__ import annotations

import threading
import time

import pytest

from lambdalab.clock import Clock
from lambdalab.service.quotas import DEFAULTS, Quotas


def test_advance_fires_due_timers_at_once_and_in_order():
    clock = Clock()
    fired: list[str] = []
    done = threading.Event()
    clock.call_later(3600, lambda: fired.append("hour"))
    clock.call_later(60, lambda: fired.append("minute"))
    clock.call_later(86400, lambda: (fired.append("day"), done.set()))
    cancelled = clock.call_later(120, lambda: fired.append("cancelled"))
    cancelled.cancel()
    clock.advance(86400)
    assert done.is_set()  # advance() returns once the timers that fell due have run
    assert fired == ["minute", "hour", "day"]
    before = time.time()
    now = clock.time()
    assert clock.offset == 86400 and before + 86400 <= now <= time.time() + 86400
    clock.stop()


def test_advance_steps_through_a_chain_of_timers_each_at_its_own_time():
    """A timer that schedules the next (a retry after a failure) still falls within one advance."""
    clock = Clock()
    seen: list[float] = []
    start = clock.time()

    def step():
        seen.append(clock.time() - start)
        if len(seen) < 4:
            clock.call_later(60 * len(seen), step)

    clock.call_later(60, step)
    clock.advance(3600)
    assert [round(t) for t in seen] == [60, 120, 240, 420]  # 60, then 60, 120, 180 later
    assert clock.offset == pytest.approx(3600, abs=0.5)
    clock.stop()


def test_advance_waits_for_the_work_a_timer_holds():
    clock = Clock()
    stamps: list[float] = []

    def handed_off():
        time.sleep(0.1)  # work on another thread, still at the timer's moment of cloud time
        stamps.append(clock.time())
        clock.call_later(10, lambda: stamps.append(clock.time()))
        clock.release()

    def fire():
        clock.hold()
        threading.Thread(target=handed_off).start()

    start = clock.time()
    clock.call_later(30, fire)
    clock.advance(100)
    assert len(stamps) == 2, "advance returned before the held work and the timer it set"
    assert stamps[0] - start == pytest.approx(30, abs=0.5) and stamps[1] - stamps[0] == pytest.approx(10, abs=0.5)
    clock.stop()


def test_a_failing_timer_does_not_stop_the_clock():
    clock = Clock()
    done = threading.Event()
    clock.call_later(0, lambda: 1 / 0)
    clock.call_later(0.01, done.set)
    assert done.wait(60)  # 10 ms unless the failing timer stopped the clock
    clock.stop()


def test_clock_only_moves_forward():
    with pytest.raises(ValueError):
        Clock().advance(-1)


def test_sleep_returns_early_when_time_is_advanced():
    clock = Clock()
    asleep, schedule = threading.Event(), clock.call_later

    def call_later(delay, callback):  # sleep() waits on a timer: the sleeper is asleep once it is scheduled
        timer = schedule(delay, callback)
        asleep.set()
        return timer

    clock.call_later = call_later
    sleeper = threading.Thread(target=clock.sleep, args=(3600,), name="test-sleeper", daemon=True)
    sleeper.start()
    assert asleep.wait(60)
    clock.advance(3600)
    sleeper.join(60)  # an hour if advance() did not wake it
    assert not sleeper.is_alive()
    clock.stop()


def test_quotas_have_aws_defaults_and_can_be_changed_by_key():
    quotas = Quotas({"timeout_max_s": 60})
    assert quotas.memory_max_mb == 10240 and quotas.timeout_max_s == 60
    quotas.set(memory_max_mb=3008)
    assert quotas.memory_max_mb == 3008
    assert "memory_max_mb=3008" in repr(quotas)
    with pytest.raises(KeyError, match="unknown quota"):
        quotas.set(no_such_quota=1)


def test_quotas_table_puts_the_value_in_force_beside_aws():
    quotas = Quotas({"keep_alive_s": 5})
    table = quotas.table().set_index("key")
    assert len(table) == len(DEFAULTS)
    assert table.loc["keep_alive_s", "value"] == 5 and table.loc["keep_alive_s", "aws_default"] == 600
    assert table.loc["memory_max_mb", "source"] == "Q26"
    assert set(table["source"]) <= {"Q26", "BC", "ENV", "DG23", "obs", "lambdalab"}


def test_a_lesson_quota_changes_what_the_api_accepts():
    import botocore.exceptions
    from deploy import Deployer

    import lambdalab

    with lambdalab.start(quotas={"memory_max_mb": 3008}) as cloud:
        fn = Deployer(cloud)
        with pytest.raises(botocore.exceptions.ClientError) as e:
            fn.create("def handler(e, c):\n    return 1\n", MemorySize=4096)
        assert "Member must have value less than or equal to 3008" in str(e.value)
