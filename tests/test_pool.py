"""The environment pool: nothing slow under its lock, no stop on the clock's thread, stop() in parallel."""

from __future__ import annotations

import threading

import pytest
from deploy import Deployer

import lambdalab
from lambdalab.invoke import pool as pool_module
from lambdalab.sandbox.environment import ExecutionEnvironment

QUICK = "def handler(event, context):\n    return 'ok'\n"


def test_a_cold_start_being_made_does_not_hold_up_warm_invokes(cloud, fn, monkeypatch: pytest.MonkeyPatch):
    warm, cold = fn.create(QUICK), fn.create(QUICK)
    assert fn.invoke(warm)["Payload"] == "ok"  # an idle environment now waits for it
    making, release, stuck = threading.Event(), threading.Event(), threading.Event()

    class SlowToMake(ExecutionEnvironment):
        def __init__(self, function, ctx) -> None:
            if function.name == cold and not making.is_set():
                making.set()
                if not release.wait(10):
                    stuck.set()  # nobody got through while this one was being made
            super().__init__(function, ctx)

    monkeypatch.setattr(pool_module, "ExecutionEnvironment", SlowToMake)
    outcome: dict = {}
    thread = threading.Thread(target=lambda: outcome.update(fn.invoke(cold)), name="test-cold")
    thread.start()
    try:
        assert making.wait(10)
        assert fn.invoke(warm)["Payload"] == "ok"  # the pool's lock is free while `cold` is being made
        assert not stuck.is_set()
    finally:
        release.set()
    thread.join(30)
    assert outcome["Payload"] == "ok"


def test_reaping_does_not_stop_environments_on_the_clocks_thread(monkeypatch: pytest.MonkeyPatch):
    with lambdalab.start() as cloud:
        fn = Deployer(cloud)
        name = fn.create(QUICK)
        fn.invoke(name)
        (env,) = cloud.environments(name)
        stopping, release, stuck = threading.Event(), threading.Event(), threading.Event()
        real_stop = env.stop

        def slow_stop() -> None:
            stopping.set()
            if not release.wait(10):
                stuck.set()
            real_stop()

        monkeypatch.setattr(env, "stop", slow_stop)
        try:
            cloud.clock.advance(cloud.quotas.keep_alive_s + 1)  # the keep-alive passes: the clock's thread reaps
            assert stopping.wait(10) and not stuck.is_set()
            ticked = threading.Event()
            cloud.clock.call_later(0, ticked.set)
            assert ticked.wait(10), "the clock's thread is stuck in a stop"
            assert cloud.environments(name) == []
        finally:
            release.set()


def test_stop_stops_every_environment_at_once(monkeypatch: pytest.MonkeyPatch):
    """Each stop waits at a barrier for the others: stopped one after another, the first would never return."""
    with lambdalab.start() as cloud:
        fn = Deployer(cloud)
        names = [fn.create(QUICK) for _ in range(3)]
        for name in names:
            fn.invoke(name)
        envs = cloud.environments()
        assert len(envs) == 3
        barrier = threading.Barrier(len(envs), timeout=10)
        for env in envs:
            real_stop = env.stop

            def together(real_stop=real_stop) -> None:
                barrier.wait()
                real_stop()

            monkeypatch.setattr(env, "stop", together)
        cloud.pool.stop()
        assert not barrier.broken
        assert all(env.stopped for env in envs)
        assert not [t for t in threading.enumerate() if t.name.startswith("lambdalab-stop-")]
