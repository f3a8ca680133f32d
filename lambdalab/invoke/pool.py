"""The environment pool: warm environments per function version, a new one for each concurrent invoke.

Environments belong to one version ($LATEST, "1", "2", ...) of one function, named by its ARN (a
name is unique only within an account and Region; the pool serves them all): a version's
environments never serve another version, as on AWS.  An idle environment is reused
most-recently-used first; it is reaped once it has been idle for the keep-alive (a timer on the
cloud's clock, so fast-forwarding time reaps it too) and retired as soon as $LATEST's code or
configuration changes (for $LATEST's environments) or its version is deleted.  Each environment
has at most one timer: when it fires early because the environment was used meanwhile, it is
simply re-armed.

The pool's lock guards ``_idle``, ``_busy``, ``_reapers``, ``_stopping`` and ``_closed``, and
nothing slow runs under it: an environment is created (a thread, a directory) and stopped (a
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
from ..sandbox.environment import ExecutionEnvironment, SandboxContext
from ..service.models import Function

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
        self._lock = threading.Lock()
        self._idle: dict[Key, list[ExecutionEnvironment]] = {}
        self._busy: set[ExecutionEnvironment] = set()
        self._reapers: dict[ExecutionEnvironment, Timer] = {}
        self._stopping: set[threading.Thread] = set()  # threads stopping an environment now
        self._closed = False
        ctx.quotas.subscribe(self._quota_changed)

    @contextmanager
    def environment(self, function: Function) -> Iterator[ExecutionEnvironment]:
        env = self._acquire(function)
        try:
            yield env
        finally:
            self._release(env)

    def _acquire(self, function: Function) -> ExecutionEnvironment:
        with self._lock:
            if self._closed:
                raise PoolClosed("the cloud is stopped")
            idle = self._idle.get(_key(function), [])
            while idle:
                env = idle.pop()
                if env.generation == function.generation and not env.stopped:
                    self._busy.add(env)
                    return env
                self._stop_later(env)
        env = ExecutionEnvironment(function, self._context_of(function))  # a cold start: made outside the lock
        with self._lock:
            if not self._closed:
                self._busy.add(env)
                return env
        env.stop()  # stop() ran meanwhile: this caller's own thread undoes what it made
        raise PoolClosed("the cloud is stopped")

    def _release(self, env: ExecutionEnvironment) -> None:
        with self._lock:
            self._busy.discard(env)
            if self._closed:
                return  # stop() has stopped it already
            if env.stale or env.stopped:
                self._stop_later(env)
                return
            self._idle.setdefault(_key(env.function), []).append(env)
            if env not in self._reapers:
                self._arm(env, self._ctx.quotas.keep_alive_s)

    def _arm(self, env: ExecutionEnvironment, delay: float) -> None:
        self._reapers[env] = self._ctx.clock.call_later(delay, lambda: self._reap(env))

    def _quota_changed(self, key: str) -> None:
        """A new keep-alive applies to environments that are idle already."""
        if key != "keep_alive_s":
            return
        with self._lock:
            for env in [e for idle in self._idle.values() for e in idle]:
                if timer := self._reapers.pop(env, None):
                    timer.cancel()
                idle_for = self._ctx.clock.time() - env.last_used
                self._arm(env, max(0.0, self._ctx.quotas.keep_alive_s - idle_for))

    def _reap(self, env: ExecutionEnvironment) -> None:
        """The keep-alive timer fired (on the clock's thread, which must not wait for a stop)."""
        with self._lock:
            if self._reapers.pop(env, None) is None:
                return
            idle = self._idle.get(_key(env.function), [])
            idle_for = self._ctx.clock.time() - env.last_used
            if env not in idle or idle_for < self._ctx.quotas.keep_alive_s:
                if env in idle or env in self._busy:  # used since the timer was set: wait again
                    self._arm(env, max(0.0, self._ctx.quotas.keep_alive_s - idle_for))
                return
            idle.remove(env)
            self._stop_later(env)

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
            for key in [k for k in self._idle if k[0] == arn]:
                old += [e for e in self._idle[key] if concerned(e) and not current(e)]
                self._idle[key] = [e for e in self._idle[key] if e not in old]
                if not self._idle[key]:
                    del self._idle[key]
            for env in old:
                self._stop_later(env)

    def environments(self, arn: str | None = None) -> list[ExecutionEnvironment]:
        """The environments alive now, oldest first: all, or those of the function with this unqualified ARN."""
        with self._lock:
            envs = [e for idle in self._idle.values() for e in idle] + list(self._busy)
        return sorted((e for e in envs if arn is None or e.function.arn == arn), key=lambda e: e.created)

    def stop(self, deadline_s: float = STOP_DEADLINE_S) -> None:
        """Stop every environment, all at once (busy ones too: their invocations fail), within a deadline."""
        with self._lock:
            self._closed = True
            for env in [e for idle in self._idle.values() for e in idle] + list(self._busy):
                self._stop_later(env)
            self._idle.clear()
            for timer in self._reapers.values():
                timer.cancel()
            self._reapers.clear()
            stopping = list(self._stopping)
        end = time.monotonic() + deadline_s
        for thread in stopping:
            thread.join(max(0.0, end - time.monotonic()))
        if late := [t.name for t in stopping if t.is_alive()]:
            log.warning("environments still stopping after %.1f s: %s", deadline_s, ", ".join(late))

    def _stop_later(self, env: ExecutionEnvironment) -> None:
        """Stop an environment on a thread of its own, off the caller's path (called with the lock held)."""
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
