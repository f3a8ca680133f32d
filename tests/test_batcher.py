"""The batcher behind logs and metrics: flush() returns only once what was queued before it is delivered."""

from __future__ import annotations

import sys
import threading

from lambdalab.observe.batcher import Batcher


def test_flush_waits_for_everything_queued_before_it():
    delivered: list[int] = []
    batcher = Batcher(lambda key, items: delivered.extend(items), name="test-batcher", interval=0)
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often, so put() lands inside the thread's bookkeeping
    try:
        for i in range(20000):  # the thread drains while we put: flush races its bookkeeping each time
            batcher.put("k", i)
            if i % 3 == 0:
                batcher.flush(timeout=10)
                assert delivered[-1] == i, f"flush returned before item {i} was delivered"
    finally:
        sys.setswitchinterval(switch)
        batcher.stop()


def test_flush_waits_for_a_slow_delivery_and_for_what_was_queued_behind_it():
    entered, release = threading.Event(), threading.Event()
    delivered: list[str] = []

    def deliver(key, items):
        if items == ["first"]:
            entered.set()
            assert release.wait(10)
        delivered.extend(items)

    batcher = Batcher(deliver, name="test-batcher-slow", interval=0)
    try:
        batcher.put("k", "first")
        assert entered.wait(10)
        batcher.put("k", "second")  # queued while "first" is being delivered
        flushed = threading.Event()
        waiter = threading.Thread(target=lambda: batcher.flush(timeout=10) and flushed.set(), name="test-flush")
        waiter.start()
        assert not flushed.wait(0.2)  # bounded look: still delivering "first", so flush has not returned
        release.set()
        waiter.join(10)
        assert flushed.is_set() and delivered == ["first", "second"]
    finally:
        release.set()
        batcher.stop()


def test_a_failing_store_does_not_stop_delivery_nor_flush():
    delivered: list[str] = []

    def deliver(key, items):
        if key == "broken":
            raise RuntimeError("store down")
        delivered.extend(items)

    batcher = Batcher(deliver, name="test-batcher-broken", interval=0)
    try:
        batcher.put("broken", "lost")
        batcher.put("ok", "kept")
        assert batcher.flush(timeout=10) and delivered == ["kept"]
    finally:
        batcher.stop()


def test_stop_delivers_what_is_queued_and_flush_after_stop_returns_at_once():
    delivered: list[int] = []
    batcher = Batcher(lambda key, items: delivered.extend(items), name="test-batcher-stop", interval=10)
    for i in range(5):
        batcher.put("k", i)
    batcher.stop()
    assert delivered == [0, 1, 2, 3, 4]
    assert batcher.flush(timeout=10)
