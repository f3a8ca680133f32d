"""Fast-forward plays time in order: each timer fires at its own time, work it starts finishes first."""

from __future__ import annotations

import threading

from lambdalab.clock import Clock


def test_advance_reads_in_minutes_and_hours_and_moves_exactly_that_far():
    clock = Clock()
    before = clock.offset
    clock.advance(seconds=30, minutes=2, hours=1)
    assert clock.offset - before == 3600 + 120 + 30
    clock.advance(15)  # seconds, positionally
    assert clock.offset - before == 3765
    clock.stop()


def test_a_timer_scheduled_by_a_timer_inside_the_advance_fires_at_its_own_time():
    """A retry scheduled 2 minutes after a failure that itself happened inside the advance."""
    clock = Clock()
    fired: list[tuple[str, float]] = []
    start = clock.time()

    def first() -> None:
        fired.append(("first", clock.time() - start))
        clock.call_later(120, lambda: fired.append(("second", clock.time() - start)))

    clock.call_later(60, first)
    clock.advance(minutes=5)
    assert [name for name, _ in fired] == ["first", "second"]
    assert 60 <= fired[0][1] < 61 and 180 <= fired[1][1] < 181  # not at 300 s, where a jump would have put it
    clock.stop()


def test_advance_waits_for_held_work_before_time_moves_on():
    clock = Clock()
    clock.hold()
    released, moved = threading.Event(), threading.Event()

    def fast_forward() -> None:
        clock.advance(minutes=1)
        moved.set()

    before = clock.offset
    threading.Thread(target=fast_forward, name="test-advance").start()
    assert not moved.wait(0.2), "advance() moved on while work was held"
    assert clock.offset == before
    clock.call_later(30, released.set)  # the held work schedules what comes next, then is done
    clock.release()
    assert moved.wait(5) and released.is_set()
    assert clock.offset - before == 60
    clock.stop()


def test_advance_returns_when_the_clock_stops():
    clock = Clock()
    clock.hold()
    done = threading.Event()
    threading.Thread(target=lambda: (clock.advance(60), done.set()), name="test-advance").start()
    clock.stop()
    assert done.wait(5)
