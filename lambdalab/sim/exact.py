"""The exact mode: every invocation of one function, event by event, in virtual time.

Each arrival (or async retry) asks :func:`lambdalab.rules.decide` for a slot and an environment,
exactly as the real cloud's lease and pool do; each completion gives the slot back with
:func:`lambdalab.rules.release`; idle environments are reaped by :func:`lambdalab.rules.reapable`;
an async event's throttle backoff and retries come from :class:`lambdalab.rules.AsyncRetry`.  The
loop only keeps time: a heap of completions and retries merged with the sorted arrivals, plain
floats and lists, and the DataFrame is built once at the end, so a million invocations take seconds.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from dataclasses import dataclass

import numpy as np

from lambdalab.rules import COLD, PROVISIONED, Account, FunctionState, Throttle, decide, reapable, release

from .settings import Settings, draws

RETRY, DONE = 0, 1  # heap entry kinds; a retry due at the same instant as a completion goes first


@dataclass
class Trace:
    """What happened, as parallel lists (the exact mode's raw output, turned into frames by ``frames``)."""

    event: list  # per invocation: the index of its arrival (its request id)
    attempt: list
    start: list  # s of virtual time the environment received the event (after INIT on a cold start)
    duration_ms: list
    init_ms: list  # nan when warm or provisioned
    environment: list  # environment number; provisioned ones are numbered first
    cold: list
    provisioned: list
    failed: list
    throttle_time: list
    throttle_reason: list
    throttle_event: list
    throttle_attempt: list
    dropped: list  # async events given up: too old after throttles (their arrival indexes)
    peak_environments: int
    peak_concurrency: int


def configure(settings: Settings) -> tuple[Account, FunctionState]:
    """The account and function state the settings describe, checked as AWS checks a configuration."""
    account = Account(settings.account_limit, settings.unreserved_min)
    key = settings.function_arn
    state = account.function(key)
    if settings.reserved is not None:
        refusal = account.check_reserved(key, settings.reserved)
        if refusal:
            raise ValueError(refusal.message)
        account.set_reserved(key, settings.reserved)
    if settings.provisioned:
        refusal = account.check_provisioned(key, settings.version, settings.provisioned)
        if refusal:
            raise ValueError(refusal.message)
        account.set_provisioned(key, settings.version, settings.provisioned)
        account.set_ready(key, settings.version, settings.provisioned)
    return account, state


def run(arrivals: np.ndarray, settings: Settings, rng: np.random.Generator) -> Trace:
    """Simulate the invocations arriving at ``arrivals`` (sorted seconds of virtual time)."""
    account, state = configure(settings)
    version, rate, keep_alive, retry = settings.version, settings.scaling, settings.keep_alive_s, settings.retry
    is_async, error_rate = settings.invocation == "async", settings.error_rate
    next_duration = draws(settings.duration_ms, rng).__next__
    next_init = draws(settings.init_ms, rng).__next__
    next_uniform = draws(lambda r, n: r.random(n), rng).__next__  # whether an attempt fails
    received = arrivals.tolist()
    heap: list = []
    seq = itertools.count().__next__
    idle: deque = deque()  # (last used, environment) of idle on-demand environments, least recently used first
    free = list(range(settings.provisioned))  # idle provisioned environments
    envs, alive, peak = settings.provisioned, settings.provisioned, settings.provisioned
    throttles: dict[int, int] = {}  # async event -> throttles in a row
    peak_running = 0
    nan = float("nan")
    ev, att, st, du, ini, en, co, pr, fa = ([] for _ in range(9))
    tt, tr, te, ta, dropped = [], [], [], [], []

    def attempt(now: float, i: int, n: int) -> None:
        nonlocal envs, alive, peak, peak_running
        while idle and reapable(idle[0][0], now, keep_alive):
            idle.popleft()
            alive -= 1
        decision = decide(account, state, version, bool(idle), now, rate)
        if decision.__class__ is Throttle:
            tt.append(now)
            tr.append(decision.reason)
            te.append(i)
            ta.append(n)
            if is_async:
                count = throttles[i] = throttles.get(i, 0) + 1
                due = now + retry.throttle_backoff(count)
                if retry.expired(received[i], due):
                    dropped.append(i)
                else:
                    heapq.heappush(heap, (due, RETRY, seq(), i, n, None, 0))
            return
        if is_async:
            throttles.pop(i, None)
        slot, where = decision
        if account.running > peak_running:
            peak_running = account.running
        duration = next_duration()
        if where == PROVISIONED:
            env, init, begin = free.pop(), nan, now
        elif where == COLD:
            init = next_init()
            env, begin = envs, now + init / 1000.0
            envs += 1
            alive += 1
            if alive > peak:
                peak = alive
        else:
            env, init, begin = idle.pop()[1], nan, now
        failed = error_rate and next_uniform() < error_rate
        ev.append(i)
        att.append(n)
        st.append(begin)
        du.append(duration)
        ini.append(init)
        en.append(env)
        co.append(where == COLD)
        pr.append(where == PROVISIONED)
        fa.append(bool(failed))
        heapq.heappush(heap, (begin + duration / 1000.0, DONE, seq(), i, n, slot, env, failed))

    def complete(entry) -> None:
        now, _, _, i, n, slot, env, failed = entry
        release(account, slot)
        if slot.kind == PROVISIONED:
            free.append(env)
        else:
            idle.append((now, env))
        if failed and is_async:
            delay = retry.retry_delay(n)
            if delay is not None and not retry.expired(received[i], now + delay):
                heapq.heappush(heap, (now + delay, RETRY, seq(), i, n + 1, None, 0))

    def due(entry) -> None:
        if entry[1] == DONE:
            complete(entry)
        else:
            attempt(entry[0], entry[3], entry[4])

    pop = heapq.heappop
    for i, now in enumerate(received):
        while heap and heap[0][0] <= now:
            due(pop(heap))
        attempt(now, i, 1)
    while heap:
        due(pop(heap))
    return Trace(ev, att, st, du, ini, en, co, pr, fa, tt, tr, te, ta, dropped, peak, peak_running)
