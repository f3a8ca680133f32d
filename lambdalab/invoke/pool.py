"""The environment pool: warm environments per function version, a new one for each concurrent invoke.

Environments belong to one version ($LATEST, "1", "2", ...) of one function, named by its ARN (a
name is unique only within an account and Region; the pool serves them all): a version's
environments never serve another version, as on AWS.  An idle environment is reused
most-recently-used first; it is reaped once it has been idle for the keep-alive (a timer on the
cloud's clock, so fast-forwarding time reaps it too; the rule is :mod:`lambdalab.rules.keepalive`)
and retired as soon as $LATEST's code or configuration changes (for $LATEST's environments) or its
version is deleted.  Each environment has at most one timer: when it fires early because the
environment was used meanwhile, it is simply re-armed.

Provisioned environments (``provision``) are made ahead for a version, initialised with
``AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency``, serve only invocations whose lease is
provisioned, and are never reaped nor stopped to make room: they live until their configuration
asks for fewer.  A new on-demand environment is made only if the lease's function may scale
(:meth:`Lease.may_add`, the scaling rate) and the machine has room for it
(:class:`lambdalab.rules.MachineCapacity`: idle environments are stopped, least recently used
first, then the invocation waits up to ``machine_wait_s``, then it is throttled).

The pool's lock (a Condition: invocations waiting for room wait on it) guards ``_idle``, ``_busy``,
``_provisioned``, ``_free``, ``_held``, ``_making``, ``_reapers``, ``_stopping`` and ``_closed``,
and nothing slow runs under it: an environment is created (a thread, a directory) and stopped (a
kill, a join) outside it.  Stops never run on the caller's thread either (an API request, the
clock's thread that reaps): each gets a short-lived named thread, and ``stop()`` stops every
environment at once and waits for all of them together, with a deadline.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ..clock import Timer
from ..rules import MACHINE_CAPACITY_EXCEEDED, MachineCapacity, budget_mb, keepalive
from ..rules.concurrency import THROTTLE_MESSAGE
from ..sandbox.environment import PROVISIONED_CONCURRENCY, ExecutionEnvironment, SandboxContext
from ..service.errors import TooManyRequestsException
from ..service.models import Function
from . import machine
from .lease import Lease

log = logging.getLogger(__name__)
Key = tuple[str, str]  # (function ARN, version)
STOP_DEADLINE_S = 5.0  # how long stop() waits for all environments together


class PoolClosed(RuntimeError):
    """The cloud is stopping: no environment is handed out any more."""


def _key(function: Function) -> Key:
    return function.arn, function.version


class EnvironmentPool:
    def __init__(self, ctx: SandboxContext,
                 context_of: Callable[[Function], SandboxContext] | None = None) -> None:
        """``ctx`` holds what every environment shares (quotas, clock); ``context_of(function)`` is the
        context of the function's account and Region its environments are made with (default ``ctx``)."""
        self._ctx = ctx
        self._context_of = context_of or (lambda function: ctx)
        self._lock = threading.Condition()
        self._idle: dict[Key, list[ExecutionEnvironment]] = {}  # on-demand, most recently used last
        self._busy: set[ExecutionEnvironment] = set()
        self._provisioned: dict[Key, list[ExecutionEnvironment]] = {}  # every provisioned one, idle or busy
        self._free: dict[Key, list[ExecutionEnvironment]] = {}  # ... the idle ones
        self._held: dict[ExecutionEnvironment, int] = {}  # every environment alive, and its MemorySize
        self._making = (0, 0)  # environments being made (count, MB): their room is taken already
        self._reapers: dict[ExecutionEnvironment, Timer] = {}
        self._stopping: set[threading.Thread] = set()  # threads stopping an environment now
        self._closed = False
        self._budget_mb = budget_mb(machine.available_mb())  # 3/4 of what the machine had when the cloud started
        if not ctx.quotas.machine_memory_mb:  # shown in force in the quotas table
            ctx.quotas.set(machine_memory_mb=self._budget_mb)
        ctx.quotas.subscribe(self._quota_changed)

    @property
    def capacity(self) -> MachineCapacity:
        """What this machine holds: ``quotas.machine_memory_mb`` (0: the budget measured when the cloud started)."""
        return MachineCapacity(self._ctx.quotas.machine_memory_mb or self._budget_mb)

    @contextmanager
    def environment(self, function: Function, lease: Lease) -> Iterator[ExecutionEnvironment]:
        env = self._acquire(function, lease)
        try:
            yield env
        finally:
            self._release(env)

    def _acquire(self, function: Function, lease: Lease) -> ExecutionEnvironment:
        key, scaled, deadline = _key(function), False, None
        while True:
            with self._lock:
                if self._closed:
                    raise PoolClosed("the cloud is stopped")
                if lease.provisioned and (free := self._free.get(key)):
                    env = free.pop()
                    self._busy.add(env)
                    return env
                idle = self._idle.get(key, [])
                while idle:
                    env = idle.pop()
                    if env.generation == function.generation and not env.stopped:
                        self._busy.add(env)
                        return env
                    self._stop_later(env)
                if scaled:  # a cold start the scaling rate allowed: the machine must hold it
                    refusal = self._room_for(function.memory_size)
                    if refusal is None:
                        break
                    now = time.monotonic()
                    deadline = deadline or now + self._ctx.quotas.machine_wait_s
                    if now >= deadline:
                        log.warning("throttled for want of room on this machine: %s", refusal)
                        raise TooManyRequestsException(f"{THROTTLE_MESSAGE} {refusal}",
                                                       Reason=MACHINE_CAPACITY_EXCEEDED)
                    self._lock.wait(deadline - now)  # for an environment to end (or to come back idle)
                    continue
            lease.may_add()  # a cold start: the function's scaling rate must allow it (outside the pool's lock)
            scaled = True
        env = self._make(function)  # made outside the lock
        with self._lock:
            if not self._closed:
                self._busy.add(env)
                return env
            self._stop_later(env)  # stop() ran meanwhile: undo what was made
        raise PoolClosed("the cloud is stopped")

    def _release(self, env: ExecutionEnvironment) -> None:
        with self._lock:
            self._busy.discard(env)
            if self._closed:
                return  # stop() has stopped it already
            if env.stale or env.stopped:
                self._stop_later(env)
                return
            key = _key(env.function)
            if env.initialization_type == PROVISIONED_CONCURRENCY:
                if env in self._provisioned.get(key, ()):
                    self._free.setdefault(key, []).append(env)
                else:  # its configuration asked for fewer while it ran
                    self._stop_later(env)
                return
            self._idle.setdefault(key, []).append(env)
            if env not in self._reapers:
                self._arm(env, self._ctx.quotas.keep_alive_s)
            self._lock.notify_all()  # an idle environment may be stopped to make room for another

    # -- provisioned environments ----------------------------------------------------------------
    def provision(self, function: Function, count: int) -> tuple[list[ExecutionEnvironment], str | None]:
        """Keep ``count`` provisioned environments of this version: stop the surplus, make the missing.

        Returns the environments made now (their INIT is running) and, when the machine could not
        hold them all, why (those made stay; their configuration will not turn READY).
        """
        key, made, refusal = _key(function), [], None
        with self._lock:
            envs = self._provisioned.setdefault(key, [])
            while len(envs) > count:  # the idle ones go first; busy ones stop when released
                free = self._free.get(key, [])
                env = free.pop(0) if free else envs[-1]
                envs.remove(env)
                if env not in self._busy:
                    self._stop_later(env)
            missing = count - len(envs)
            if not envs:
                self._provisioned.pop(key, None)
        for _ in range(missing):
            with self._lock:
                if self._closed:
                    raise PoolClosed("the cloud is stopped")
                refusal = self._room_for(function.memory_size)
            if refusal:
                break
            env = self._make(function, PROVISIONED_CONCURRENCY)
            with self._lock:
                if self._closed:
                    self._stop_later(env)
                    break
                self._provisioned.setdefault(key, []).append(env)
                self._free.setdefault(key, []).append(env)
            made.append(env)
        return made, refusal

    def provisioned_versions(self, arn: str) -> set[str]:
        """The versions of the function with this unqualified ARN that have provisioned environments."""
        with self._lock:
            return {version for fn, version in self._provisioned if fn == arn}

    def provisioned(self, function: Function) -> list[ExecutionEnvironment]:
        """The provisioned environments of this version."""
        with self._lock:
            return list(self._provisioned.get(_key(function), ()))

    # -- room on this machine --------------------------------------------------------------------
    def _room_for(self, memory_mb: int) -> str | None:
        """Take room for a new environment of ``memory_mb`` (lock held), stopping idle on-demand environments,
        least recently used first, if need be; else why there is none."""
        capacity, (making, making_mb) = self.capacity, self._making
        held_mb, alive = sum(self._held.values()) + making_mb, len(self._held) + making
        idle = sorted((e for envs in self._idle.values() for e in envs), key=lambda e: e.last_used)
        stop = capacity.to_free(held_mb, alive, memory_mb, [e.function.memory_size for e in idle])
        if stop is None:
            return capacity.refusal(held_mb, memory_mb)
        for env in idle[:stop]:
            self._idle[_key(env.function)].remove(env)
            self._stop_later(env)
        self._making = (making + 1, making_mb + memory_mb)
        return None

    def _make(self, function: Function, initialization_type: str | None = None) -> ExecutionEnvironment:
        """A new environment, in the room ``_room_for`` took for it (given back if it cannot be made)."""
        env = None
        try:
            ctx = self._context_of(function)  # its account's and Region's
            env = ExecutionEnvironment(function, ctx) if initialization_type is None \
                else ExecutionEnvironment(function, ctx, initialization_type)
        finally:
            with self._lock:
                making, making_mb = self._making
                self._making = (making - 1, making_mb - function.memory_size)
                if env is None:
                    self._lock.notify_all()
                else:
                    self._held[env] = function.memory_size
        return env

    # -- keep-alive ------------------------------------------------------------------------------
    def _arm(self, env: ExecutionEnvironment, delay: float) -> None:
        self._reapers[env] = self._ctx.clock.call_later(delay, lambda: self._reap(env))

    def _quota_changed(self, key: str) -> None:
        """A new keep-alive applies to environments that are idle already; more room wakes waiting invocations."""
        with self._lock:
            self._lock.notify_all()
            if key != "keep_alive_s":
                return
            for env in [e for idle in self._idle.values() for e in idle]:
                if timer := self._reapers.pop(env, None):
                    timer.cancel()
                now, keep_alive = self._ctx.clock.time(), self._ctx.quotas.keep_alive_s
                self._arm(env, keepalive.remaining(env.last_used, now, keep_alive))

    def _reap(self, env: ExecutionEnvironment) -> None:
        """The keep-alive timer fired (on the clock's thread, which must not wait for a stop)."""
        with self._lock:
            if self._reapers.pop(env, None) is None:
                return
            idle = self._idle.get(_key(env.function), [])
            now, keep_alive = self._ctx.clock.time(), self._ctx.quotas.keep_alive_s
            if env not in idle or not keepalive.reapable(env.last_used, now, keep_alive):
                if env in idle or env in self._busy:  # used since the timer was set: wait again
                    self._arm(env, keepalive.remaining(env.last_used, now, keep_alive))
                return
            idle.remove(env)
            self._stop_later(env)

    # -- changes and the end ---------------------------------------------------------------------
    def retire(self, arn: str, qualifier: str | None, function: Function | None) -> None:
        """A function (by its unqualified ARN) changed: the environments it concerns that no longer match it go away.

        ``qualifier`` None: the whole function was deleted; "$LATEST": $LATEST changed (``function``)
        and its environments of older generations go; a version (``function`` None): it was deleted.
        An alias's change concerns no environment: they belong to versions.
        """
        def concerned(env: ExecutionEnvironment) -> bool:
            return env.function.arn == arn and qualifier in (None, env.function.version)

        def current(env: ExecutionEnvironment) -> bool:
            return function is not None and env.generation == function.generation

        with self._lock:
            for env in self._busy:
                if concerned(env):
                    env.stale = not current(env)
            old = []
            for pool in (self._idle, self._free, self._provisioned):
                for key in [k for k in pool if k[0] == arn]:
                    old += [e for e in pool[key] if concerned(e) and not current(e) and e not in old]
                    pool[key] = [e for e in pool[key] if e not in old]
                    if not pool[key]:
                        del pool[key]
            for env in old:
                if env not in self._busy:
                    self._stop_later(env)

    def environments(self, arn: str | None = None) -> list[ExecutionEnvironment]:
        """The environments alive now, oldest first: all, or those of the function with this unqualified ARN."""
        with self._lock:
            envs = [e for pool in (self._idle, self._free) for idle in pool.values() for e in idle] + list(self._busy)
        return sorted((e for e in envs if arn is None or e.function.arn == arn), key=lambda e: e.created)

    def stop(self, deadline_s: float = STOP_DEADLINE_S) -> None:
        """Stop every environment, all at once (busy ones too: their invocations fail), within a deadline."""
        with self._lock:
            self._closed = True
            for env in list(self._held):
                self._stop_later(env)
            self._idle.clear()
            self._free.clear()
            self._provisioned.clear()
            for timer in self._reapers.values():
                timer.cancel()
            self._reapers.clear()
            self._lock.notify_all()
            stopping = list(self._stopping)
        end = time.monotonic() + deadline_s
        for thread in stopping:
            thread.join(max(0.0, end - time.monotonic()))
        if late := [t.name for t in stopping if t.is_alive()]:
            log.warning("environments still stopping after %.1f s: %s", deadline_s, ", ".join(late))

    def _stop_later(self, env: ExecutionEnvironment) -> None:
        """Stop an environment on a thread of its own, off the caller's path (called with the lock held);
        its room on the machine is free from now on."""
        if self._held.pop(env, None) is None:
            return  # stopped already
        self._lock.notify_all()
        if timer := self._reapers.pop(env, None):
            timer.cancel()
        thread = threading.Thread(target=self._stop, args=(env,), name=f"lambdalab-stop-{env.id[:8]}", daemon=True)
        self._stopping.add(thread)
        thread.start()

    def _stop(self, env: ExecutionEnvironment) -> None:
        try:
            env.stop()
        except Exception:
            log.exception("environment %s did not stop cleanly", env.id)
        finally:
            with self._lock:
                self._stopping.discard(threading.current_thread())
