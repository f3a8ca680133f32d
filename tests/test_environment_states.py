"""The execution environment's state machine, and SHUTDOWN from every state it can be in.

These tests drive :class:`ExecutionEnvironment` directly, on a sandbox context of their own (so a
stopped environment is not one the session cloud's pool still holds), with functions created in
the session cloud.  A handler or an init says "I am running now" by connecting to a beacon socket,
so the tests wait for that event rather than for time to pass.
"""

from __future__ import annotations

import collections
import json
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable
from urllib.parse import urlsplit

import psutil
import pytest
from deploy import arn
from gate import TEST_ISOLATION, listener

import lambdalab
from lambdalab.clock import Clock
from lambdalab.observe.logs import LogShipper
from lambdalab.observe.records import Records
from lambdalab.runtimes.interpreters import Interpreters
from lambdalab.sandbox.environment import (
    TRANSITIONS,
    ExecutionEnvironment,
    IllegalTransition,
    Lifecycle,
    SandboxContext,
    State,
)
from lambdalab.sandbox.governor import Governor
from lambdalab.sandbox.invocation import Invocation
from lambdalab.sandbox.isolation import Isolation, Settings
from lambdalab.service.quotas import Quotas

INITIALIZING, READY, INVOKING, RESETTING, STOPPING, STOPPED = State
SHUT_DOWN = "The execution environment was shut down"

BEACON = """
import json, os, socket, sys, time

def beacon(port):
    socket.create_connection(("127.0.0.1", int(port))).close()

if os.environ.get("BEACON_AT_INIT"):
    beacon(os.environ["BEACON_AT_INIT"])
    time.sleep(30)

def handler(event, context):
    if event.get("beacon"):
        beacon(event["beacon"])
    if event.get("spin"):
        while True:
            pass
    time.sleep(event.get("hold", 0))
    if event.get("crash"):
        os._exit(3)
    return {"echo": event.get("n")}
"""


class Beacon:
    """A listening socket; ``wait()`` returns once some handler (or init) has connected to it."""

    def __init__(self) -> None:
        self.server = listener()
        self.port = self.server.getsockname()[1]

    def wait(self, timeout: float = 15.0) -> bool:
        self.server.settimeout(timeout)
        try:
            self.server.accept()[0].close()
        except TimeoutError:
            return False
        return True


@pytest.fixture
def beacon():
    b = Beacon()
    yield b
    b.server.close()


@pytest.fixture(scope="module")
def events():
    """Every log event the module's environments ship, by log stream."""
    return collections.defaultdict(list)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory, cloud, events):
    workdir = tmp_path_factory.mktemp("sandbox")
    clock = Clock()
    governor = Governor(enforce_processes=os.geteuid() == 0)
    interpreters = Interpreters()
    isolation = Isolation(workdir, urlsplit(cloud.endpoint_url).port, Settings.of(TEST_ISOLATION),
                          interpreters.paths())
    shipper = LogShipper(lambda account, region, group, stream, batch: events[stream].extend(
        e["message"] for e in batch))
    ctx = SandboxContext(quotas=Quotas(), clock=clock, governor=governor, isolation=isolation,
                         interpreters=interpreters, logs=shipper,
                         records=Records(), workdir=workdir, endpoint_url=cloud.endpoint_url, region="us-east-1",
                         credentials=lambda fn: {})
    yield ctx
    governor.stop()
    isolation.close()
    shipper.stop()
    clock.stop()


@pytest.fixture(scope="module")
def function(cloud):
    """Make a function in the session cloud (extra configuration as keywords) and return its model."""
    from deploy import Deployer

    def make(**config):
        name = Deployer(cloud).create(BEACON, **config)
        return cloud.service.resolve(name)
    return make


def invocation(function, **event) -> Invocation:
    return Invocation(request_id=str(uuid.uuid4()), payload=json.dumps(event).encode(), invoked_arn=arn(function.name))


def invoke_in_background(env: ExecutionEnvironment, inv: Invocation) -> threading.Thread:
    thread = threading.Thread(target=env.invoke, args=(inv,), name=f"test-invoke-{inv.request_id[:8]}")
    thread.start()
    return thread


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll a condition that no event announces (a process's scheduler state)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def process_state(pid: int) -> str:
    with open(f"/proc/{pid}/stat", "rb") as f:
        return f.read().rsplit(b")", 1)[1].split()[0].decode()


def assert_left_nothing(env: ExecutionEnvironment, pids: list[int]) -> None:
    assert env.state is STOPPED
    assert [p for p in pids if psutil.pid_exists(p)] == []
    assert [t.name for t in threading.enumerate() if t.name.endswith(env.id[:8])] == []
    assert not env.tmp.exists()


def assert_shut_down(inv: Invocation) -> None:
    assert inv.done.is_set()
    assert (inv.error_type, inv.status) == ("Sandbox.Failure", "error")
    assert json.loads(inv.response) == {"errorType": "Sandbox.Failure",
                                        "errorMessage": f"RequestId: {inv.request_id} Error: {SHUT_DOWN}"}


# -- the table -----------------------------------------------------------------------------------
def test_every_state_but_stopped_can_stop_and_only_stopping_reaches_stopped():
    assert all(STOPPING in TRANSITIONS[s] for s in State if s not in (STOPPING, STOPPED))
    assert [s for s in State if STOPPED in TRANSITIONS[s]] == [STOPPING]
    assert TRANSITIONS[STOPPED] == frozenset()


@pytest.mark.parametrize(("path", "illegal"), [
    ((), INVOKING),  # an invocation before INIT ended
    ((READY,), STOPPED),  # stopped without stopping
    ((READY, INVOKING), INVOKING),  # two invocations at once
    ((RESETTING,), INVOKING),  # an invocation while the runtime is being killed
    ((READY, STOPPING), READY),  # back from SHUTDOWN
    ((READY, STOPPING, STOPPED), STOPPING),  # stopped twice
])
def test_illegal_transitions_are_refused_loudly(path, illegal, caplog):
    life = Lifecycle(threading.Condition())
    for state in path:
        life.to(state)
    with pytest.raises(IllegalTransition, match=f"{life.state.value} -> {illegal.value}"):
        life.to(illegal)
    assert life.state is (path[-1] if path else INITIALIZING)  # refused: nothing changed
    assert life.history == (INITIALIZING, *path)
    assert f"illegal transition of an execution environment: {life.state.value} -> {illegal.value}" in caplog.text


def test_a_cold_then_warm_invocation_walks_init_ready_invoking(sandbox, function):
    fn = function()
    env = ExecutionEnvironment(fn, sandbox)
    first, second = invocation(fn, n=1), invocation(fn, n=2)
    assert json.loads(env.invoke(first).response) == {"echo": 1} and first.cold
    assert json.loads(env.invoke(second).response) == {"echo": 2} and not second.cold
    assert env.stop()  # the history is complete once the thread has ended
    assert env.history == (INITIALIZING, READY, INVOKING, READY, INVOKING, READY, STOPPING, STOPPED)


def test_a_crash_resets_and_the_next_invocation_inits_again(sandbox, function):
    fn = function()
    env = ExecutionEnvironment(fn, sandbox)
    crashed = env.invoke(invocation(fn, crash=True))
    assert crashed.error_type == "Runtime.ExitError"
    again = env.invoke(invocation(fn, n=3))
    assert json.loads(again.response) == {"echo": 3} and again.cold
    assert env.stop()
    assert env.history == (INITIALIZING, READY, INVOKING, RESETTING, READY, INVOKING, READY, STOPPING, STOPPED)


# -- SHUTDOWN from every state -------------------------------------------------------------------
def test_stop_during_init(sandbox, function, beacon):
    fn = function(Environment={"Variables": {"BEACON_AT_INIT": str(beacon.port)}})
    env = ExecutionEnvironment(fn, sandbox)
    assert beacon.wait(), "the init never ran"
    assert env.state is INITIALIZING
    pid = env._proc.pid
    assert env.stop(), f"still {env.state.value} 1 s after stop()"
    assert_left_nothing(env, [pid])
    assert env.history == (INITIALIZING, RESETTING, READY, STOPPING, STOPPED)


@pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm"])
def test_stop_during_an_invocation_fails_it_with_sandbox_failure(sandbox, function, beacon, events, warm):
    """Cold, the environment's thread runs the invocation; warm (idle, runtime parked and frozen), its caller's
    thread does, and a stop must reach it there just the same."""
    fn = function(Timeout=60)
    env = ExecutionEnvironment(fn, sandbox)
    if warm:
        env.invoke(invocation(fn, n=0))
        assert wait_until(lambda: process_state(env._proc.pid) == "T"), "the idle runtime was never frozen"
    inv = invocation(fn, beacon=beacon.port, hold=30)
    caller = invoke_in_background(env, inv)
    assert beacon.wait(), "the handler never ran"
    pid = env._proc.pid
    time.sleep(0.1)  # past the governor's first look (10 ms): handing it the watch would wake the loop anyway
    assert env.stop(), f"still {env.state.value} 1 s after stop()"
    caller.join(1)
    assert not caller.is_alive()
    assert_shut_down(inv)
    assert inv.log[-1].startswith(f"REPORT RequestId: {inv.request_id}\t")
    assert inv.log[-1].endswith("\tStatus: error\tError Type: Sandbox.Failure")
    assert_left_nothing(env, [pid])


def test_stop_while_frozen(sandbox, function):
    fn = function()
    env = ExecutionEnvironment(fn, sandbox)
    env.invoke(invocation(fn, n=1))
    pid = env._proc.pid
    assert wait_until(lambda: process_state(pid) == "T"), "the idle runtime was never frozen"
    assert env.state is READY
    assert env.stop(), f"still {env.state.value} 1 s after stop()"
    assert_left_nothing(env, [pid])


def test_stop_while_the_governor_holds_the_group_stopped_for_cpu(sandbox, function, beacon):
    fn = function(MemorySize=128, Timeout=60)  # 7% of a vCPU: a spinning handler is stopped at once
    env = ExecutionEnvironment(fn, sandbox)
    inv = invocation(fn, beacon=beacon.port, spin=True)
    caller = invoke_in_background(env, inv)
    assert beacon.wait(), "the handler never ran"
    pid = env._proc.pid
    assert wait_until(lambda: process_state(pid) == "T"), "the governor never stopped the spinning handler"
    assert env.state is INVOKING
    assert env.stop(), f"still {env.state.value} 1 s after stop()"
    caller.join(1)
    assert not caller.is_alive()
    assert_shut_down(inv)
    assert_left_nothing(env, [pid])


@pytest.mark.parametrize("seed", range(8))
def test_stop_concurrent_with_an_arriving_invoke(sandbox, function, seed):
    """Whichever comes first, the invocation completes (run, or refused) and stop() returns."""
    fn = function()
    env = ExecutionEnvironment(fn, sandbox)
    env.invoke(invocation(fn, n=0))  # warm and frozen: the racing invoke would thaw it
    pid = env._proc.pid
    inv = invocation(fn, n=1)
    start = threading.Barrier(2)
    stopped: list[bool] = []
    jitter = random.Random(seed).random() * 0.002

    def stop() -> None:
        start.wait()
        time.sleep(jitter)  # shifts the race, it waits for nothing
        stopped.append(env.stop())

    stopper = threading.Thread(target=stop, name="test-stopper")
    stopper.start()
    start.wait()
    env.invoke(inv)
    stopper.join(2)
    assert stopped == [True]
    assert inv.done.is_set()
    if inv.error_type is None:
        assert json.loads(inv.response) == {"echo": 1}
    else:
        assert_shut_down(inv)
    assert_left_nothing(env, [pid])


def test_an_invoke_after_stop_is_refused_at_once(sandbox, function):
    fn = function()
    env = ExecutionEnvironment(fn, sandbox)
    assert env.stop()
    inv = env.invoke(invocation(fn, n=1))
    assert_shut_down(inv)
    assert env.history[-1] is STOPPED


def test_a_storm_of_invokes_and_stops_completes_every_invocation_exactly_once(sandbox, function, events):
    """Seeded: 4 environments, each fed 12 invocations in a row by its own caller, while a stopper
    stops them one by one as the count of finished invocations reaches seeded marks."""
    rng = random.Random(20261202)
    fn = function(Timeout=10)
    envs = [ExecutionEnvironment(fn, sandbox) for _ in range(4)]
    plans = [[invocation(fn, n=i, hold=rng.choice([0, 0, 0.005, 0.02])) for i in range(12)] for _ in envs]
    marks = sorted(rng.sample(range(4, 40), len(envs)))
    finished = threading.Condition()
    count = [0]

    def feed(env: ExecutionEnvironment, plan: list[Invocation]) -> None:
        for inv in plan:
            env.invoke(inv)
            with finished:
                count[0] += 1
                finished.notify_all()

    def stop_at_marks() -> None:
        for env, mark in zip(rng.sample(envs, len(envs)), marks, strict=True):
            with finished:
                finished.wait_for(lambda mark=mark: count[0] >= mark, timeout=30)
            env.begin_stop()

    threads = [threading.Thread(target=feed, args=(e, p), name=f"test-feed-{i}") for i, (e, p) in
               enumerate(zip(envs, plans, strict=True))]
    threads.append(threading.Thread(target=stop_at_marks, name="test-stop-at-marks"))
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    assert all(env.wait_stopped(1.0) for env in envs)

    every = [inv for plan in plans for inv in plan]
    assert all(inv.done.is_set() for inv in every)
    assert not any(inv.settle() for inv in every)  # each was settled by someone already
    ran = {r.request_id for r in sandbox.records.rows() if r.function == fn.name}
    sandbox.logs.flush()
    reports = collections.Counter(line.split("\t")[0].split()[-1] for env in envs for line in events[env.log_stream]
                                  if line.startswith("REPORT RequestId: "))
    for inv in every:
        if inv.error_type is None:
            assert json.loads(inv.response) == {"echo": json.loads(inv.payload)["n"]}
        else:
            assert_shut_down(inv)
        assert reports[inv.request_id] == (inv.request_id in ran)  # one REPORT for each that ran, none else
    assert len(ran) == sum(1 for inv in every if inv.environment_id)
    assert ran and len(ran) < len(every)  # the storm really cut some short
    for env in envs:
        assert_left_nothing(env, [])


def test_no_write_lands_on_a_descriptor_reused_after_teardown(sandbox, function):
    fn = function()
    env = ExecutionEnvironment(fn, sandbox)
    env.invoke(invocation(fn, n=1))
    assert env.stop()
    # The lowest free descriptors, the environment's closed ones among them, now belong to these:
    pairs = [socket.socketpair() for _ in range(16)]
    try:
        env.stop()
        env.invoke(invocation(fn, n=2))
        for a, b in pairs:
            for end in (a, b):
                end.setblocking(False)
                with pytest.raises(BlockingIOError):
                    end.recv(1)
    finally:
        for a, b in pairs:
            a.close()
            b.close()


def test_cloud_stop_with_invocations_in_flight(beacon):
    """Synchronous and asynchronous invocations in flight: stop() ends them and returns at once."""
    from deploy import Deployer

    cloud = lambdalab.start(isolation=TEST_ISOLATION)
    fn = Deployer(cloud)
    name = fn.create(BEACON, Timeout=60)
    results: list[dict] = []
    callers = [threading.Thread(target=lambda: results.append(fn.invoke(name, {"beacon": beacon.port, "hold": 30})),
                                name=f"test-sync-{i}") for i in range(2)]
    for caller in callers:
        caller.start()
    for _ in range(2):
        fn.lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"beacon": beacon.port,
                                                                                     "hold": 30}))
    for _ in range(4):
        assert beacon.wait(), "a handler never ran"
    pids = [env._proc.pid for env in cloud.environments(name)]
    t0 = time.monotonic()
    cloud.stop()
    took = time.monotonic() - t0
    assert took < 1.0, f"cloud.stop() took {took:.2f} s with invocations in flight"
    for caller in callers:
        caller.join(5)
    assert [r["Payload"]["errorType"] for r in results] == ["Sandbox.Failure"] * 2
    assert [r["FunctionError"] for r in results] == ["Unhandled"] * 2
    assert [p for p in pids if psutil.pid_exists(p)] == []
