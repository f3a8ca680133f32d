"""ExecutionEnvironment: one sandbox process and its lifecycle, INIT -> INVOKE... -> SHUTDOWN.

The environment is a state machine with the phases of AWS's lifecycle (and the statuses of
LocalStack's Lambda provider, whose ``ExecutionEnvironment`` checks each change under a lock)::

    INITIALIZING --the runtime asked for its first event, or could not start--> READY
    INITIALIZING --init failed or timed out-----------------------------------> RESETTING
    READY        --an invocation is taken---------------------------------------> INVOKING
    READY        --the runtime died between invocations--------------------------> RESETTING
    INVOKING     --the invocation ended and the runtime lives--------------------> READY
    INVOKING     --the runtime crashed, timed out, ran out of memory, was shut
                   down, or the init folded into the invocation failed-----------> RESETTING
    RESETTING    --the runtime is killed and reaped (/tmp stays)------------------> READY
    READY        --stop requested----------------------------------------------> STOPPING
    any but STOPPING/STOPPED --the environment's thread failed (a bug)--------> STOPPING
    STOPPING     --everything released------------------------------------------> STOPPED

READY covers the time between invocations: the runtime is parked in ``/next`` and frozen
(SIGSTOP), or still finishing the last invocation, or, after a reset, absent (the next invocation
starts one: a suppressed init folded into its Duration).  Any other change raises
:class:`IllegalTransition`: it is a bug, and the invocation at hand fails loudly.

Threads, and what each owns:

* The environment's thread (``lambdalab-env-...``) is the only writer of the state and the only
  one to touch the runtime (spawn, reap), its output pipe, the Runtime API sockets and the
  selector; it owns ``_runtime``, ``_current``, ``_answer`` and the log counters.  The timeout is
  enforced here: it serves the Runtime API until the deadline, then kills the process group.
* Callers post to a mailbox: ``invoke()`` an invocation (``_pending``), ``begin_stop()`` a stop
  (``_stop_requested``).  ``_lock`` protects the mailbox, the state and ``_wake_armed`` (the thread
  may be blocked in ``select`` and the wake pipe is open: only then is a wake byte written, under
  the lock, so nothing is ever written to a descriptor teardown has closed).  It is held for
  memory operations and one non-blocking write, never for I/O, /proc, signals or joins.
* The :mod:`governor` enforces memory, process count and CPU share while an invocation runs.
  It, like this thread, signals the runtime only through its :class:`ProcessGroup`, which this
  thread closes before it reaps the runtime, so no signal can reach a recycled process group.
* An :class:`Invocation` is completed once, by whoever settles it (see there).
"""

from __future__ import annotations

import collections
import enum
import logging
import math
import os
import re
import secrets
import selectors
import shutil
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .. import runtimes
from ..clock import Clock
from ..observe import logs
from ..observe.records import InvocationRecord, Records
from ..runtimes.interpreters import Interpreters
from ..service.models import Function
from ..service.quotas import MB, Quotas
from .governor import Governor, Watch, cpu_share, measure, peak_rss
from .invocation import Invocation, error_body
from .isolation import Isolation
from .process import Sandbox, exit_error, kill_tree
from .process_group import ProcessGroup
from .runtime_api import PREFIX, Connection, Request, RuntimeAPIServer

log = logging.getLogger(__name__)
_INVOCATION_PATH = re.compile(r"/runtime/invocation/([^/]+)/(response|error)$")
_ACCEPTED = b'{"status": "OK"}'  # the Runtime API's 202 to a posted answer, encoded once
LOG_CAP_NOTE = "lambdalab: {} bytes of log output beyond the per-invocation cap of {} bytes were dropped"
EXIT_STATUS_TIMEOUT = 5.0  # seconds to wait for the reaper to report an exit the pidfd has shown
STOP_TIMEOUT = 1.0  # seconds stop() waits for the environment's thread; it only kills, reaps and cleans up
# What an invocation gets when SHUTDOWN ends it: the platform's own error type, in the form of the
# platform-made errors ("RequestId: <id> Error: <what>", aws-lambda-runtime-interface-emulator rapid/exit.go).
SHUT_DOWN = "The execution environment was shut down"
PROVISIONED_CONCURRENCY = "provisioned-concurrency"  # AWS_LAMBDA_INITIALIZATION_TYPE of an environment made ahead


class State(enum.Enum):
    INITIALIZING = "initializing"
    READY = "ready"
    INVOKING = "invoking"
    RESETTING = "resetting"
    STOPPING = "stopping"
    STOPPED = "stopped"


_FAILED = frozenset({State.STOPPING})  # where the thread goes from anywhere when it fails
TRANSITIONS: dict[State, frozenset[State]] = {
    State.INITIALIZING: frozenset({State.READY, State.RESETTING}) | _FAILED,
    State.READY: frozenset({State.INVOKING, State.RESETTING}) | _FAILED,
    State.INVOKING: frozenset({State.READY, State.RESETTING}) | _FAILED,
    State.RESETTING: frozenset({State.READY}) | _FAILED,
    State.STOPPING: frozenset({State.STOPPED}),
    State.STOPPED: frozenset(),
}


class IllegalTransition(RuntimeError):
    """A change of state that :data:`TRANSITIONS` does not allow: a bug in the environment."""


class Lifecycle:
    """The environment's state, the states it went through, and the check every change passes."""

    def __init__(self, lock: threading.Condition) -> None:
        self._lock = lock
        self.state = State.INITIALIZING
        self._history: collections.deque[State] = collections.deque([self.state], maxlen=64)

    @property
    def history(self) -> tuple[State, ...]:
        """The last 64 states, oldest first (for the course's lifecycle chapter, and for tests)."""
        with self._lock:
            return tuple(self._history)

    def to(self, new: State) -> None:
        with self._lock:
            if new not in TRANSITIONS[self.state]:
                log.error("illegal transition of an execution environment: %s -> %s", self.state.value, new.value)
                raise IllegalTransition(f"{self.state.value} -> {new.value}")
            self.state = new
            self._history.append(new)


@dataclass
class SandboxContext:
    """What every environment of one cloud shares."""

    quotas: Quotas
    clock: Clock
    governor: Governor
    isolation: Isolation
    interpreters: Interpreters
    logs: logs.LogShipper
    records: Records
    workdir: Path
    endpoint_url: str
    region: str
    credentials: Callable[[Function], dict[str, str]]  # a new session of the function's execution role
    freeze: bool = True
    cpu_throttle: bool = True


@dataclass(eq=False)
class _Runtime:
    """The runtime process of one INIT, and what the environment's thread knows of it."""

    proc: Sandbox
    group: ProcessGroup
    init_ms: float | None = None  # Init Duration, for its first invocation to report (None: folded in)
    fresh: bool = True  # no event delivered yet: its first invocation is a cold start
    returncode: int | None = None  # set once the leader exited; it stays unreaped until the reset
    next_conn: Connection | None = field(default=None, repr=False)  # its GET /next, waiting for an event
    frozen: bool = False

    @property
    def exited(self) -> bool:
        return self.returncode is not None


class ExecutionEnvironment:
    def __init__(self, function: Function, ctx: SandboxContext, initialization_type: str = "on-demand") -> None:
        """``initialization_type`` "provisioned-concurrency" makes an environment initialised ahead of any
        invocation: the runtime sees it, and its first invocation is no cold start (no Init Duration)."""
        self.id = secrets.token_hex(16)
        self.initialization_type = initialization_type
        self.function = function  # the configuration this environment was made for (an immutable value)
        self.generation = function.generation
        self.ctx = ctx
        self.log_stream = logs.stream_name(ctx.clock.now(), self.id, function.version)  # [1] or [$LATEST]
        self.created = ctx.clock.time()
        self.last_used = self.created
        self.invocations = 0
        self.stale = False  # its function changed while it ran: retire it when released
        self._dir = ctx.workdir / "envs" / secrets.token_hex(16)
        self.tmp = self._dir / "tmp"
        self._uid = ctx.isolation.make_tmp(self.tmp)  # as root, the environment's own user owns it
        # shared with callers, under _lock
        self._lock = threading.Condition()
        self._lifecycle = Lifecycle(self._lock)
        self._pending: Invocation | None = None
        self._stop_requested = False
        self._wake_armed = True
        self._ran_here = False  # a caller ran an invocation itself (set and cleared with the turn held)
        # The turn: whoever holds it drives the runtime (the selector, the Runtime API, the signals). The
        # environment's thread holds it but while it waits idle, with the runtime parked or gone; then a
        # caller may take it and run its invocation itself, sparing two thread hand-offs. Taken before _lock.
        self._turn = threading.Lock()
        self._turn.acquire()
        # the turn's (the environment's thread's but while a caller runs an invocation itself)
        self._sel = selectors.DefaultSelector()
        self._api = RuntimeAPIServer(self._sel, max_body=ctx.quotas.sync_response_max_bytes)
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._sel.register(self._wake_r, selectors.EVENT_READ, self._on_wake)
        self._runtime: _Runtime | None = None
        self._init_error: tuple[str, bytes] | None = None  # from /runtime/init/error, or a failed spawn
        self._initialized = threading.Event()  # the first INIT is over (or the environment ended before it)
        self._init_ok = False  # ... and the runtime was ready (written by the thread before the event)
        self._current: Invocation | None = None
        self._answer: tuple[str, str | None, bytes] | None = None  # (status, error type, body) of _current
        self._ack: Connection | None = None  # the runtime's POST of _answer, not yet answered 202
        self._tail: list[str] = []  # _current's log lines
        self._out = bytearray()
        self._logged = 0
        self._dropped = 0
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"lambdalab-env-{function.name}-{self.id[:8]}")
        self._thread.start()

    # -- called by other threads -----------------------------------------------------------------
    @property
    def state(self) -> State:
        return self._lifecycle.state

    @property
    def history(self) -> tuple[State, ...]:
        return self._lifecycle.history

    @property
    def stopped(self) -> bool:
        """Stopping or stopped: it takes no more invocations."""
        return self._stop_requested

    @property
    def _proc(self) -> Sandbox | None:
        """The runtime's process (None between a reset and the next init); read by bench and tests."""
        runtime = self._runtime
        return runtime.proc if runtime is not None else None

    def invoke(self, inv: Invocation) -> Invocation:
        """Run one invocation here and return it completed (response or error filled in): on the caller's
        own thread when the environment is idle with its runtime parked, else on the environment's."""
        if self._turn.acquire(blocking=False):
            try:
                ran = self._run_here(inv)
            finally:
                self._turn.release()
            if ran:
                return inv
        with self._lock:
            refused = self._stop_requested
            if not refused:
                if self._pending is not None:
                    raise RuntimeError(f"environment {self.id} already has an invocation waiting")
                self._pending = inv
                self._lock.notify()
                if self._wake_armed:
                    self._wake()
        if refused:
            _shut_down(inv)
            return inv
        limit = self.function.timeout + 2 * self.ctx.quotas.init_timeout_s + 30
        if not inv.done.wait(limit):  # the thread enforces deadlines itself: this is a last resort
            log.error("environment %s did not finish %s; stopping it", self.id, inv.request_id)
            self.begin_stop()  # its thread fails what it holds as it stops...
            if not inv.done.wait(STOP_TIMEOUT) and not _shut_down(inv):  # ...or, wedged, gets overtaken
                inv.done.wait(STOP_TIMEOUT)  # it settled the invocation just now: let it finish
        return inv

    def _run_here(self, inv: Invocation) -> bool:
        """With the turn: run ``inv`` as the environment's thread would (False: not idle and parked, so not here)."""
        rt = self._runtime
        with self._lock:
            if (self._stop_requested or self._pending is not None or self._ran_here or rt is None or rt.exited
                    or rt.next_conn is None or self._lifecycle.state is not State.READY):
                return False
            self._lifecycle.to(State.INVOKING)
            self._wake_armed = True  # a stop now writes to the wake pipe, which this _serve listens to
        try:
            self._freeze(False)
            self._invoke(inv)
        except Exception:  # as the thread would: this environment is done for
            log.exception("environment %s failed", self.id)
            self.begin_stop()
            _shut_down(inv)
        with self._lock:  # set before the turn is given back: the thread answers the runtime's POST first
            self._ran_here = True
            self._lock.notify()
        return True

    def wait_initialized(self, timeout: float | None = None) -> bool:
        """Wait for the INIT that runs when the environment is made; whether its runtime came up ready
        (False: INIT failed or timed out, the environment stopped, or ``timeout`` passed first)."""
        return self._initialized.wait(timeout) and self._init_ok

    def begin_stop(self) -> None:
        """SHUTDOWN, without waiting: the thread kills the runtime (no extensions, so no grace
        period), fails the invocation in flight and any waiting one, and frees everything."""
        with self._lock:
            if self._stop_requested:
                return
            self._stop_requested = True
            self._lock.notify()
            if self._wake_armed:
                self._wake()

    def wait_stopped(self, timeout: float | None = None) -> bool:
        """Wait until the environment's thread has ended; False if it is still running."""
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def stop(self, timeout: float = STOP_TIMEOUT) -> bool:
        """begin_stop() and wait_stopped(); to stop many at once, begin them all, then wait."""
        self.begin_stop()
        return self.wait_stopped(timeout)

    def _wake(self) -> None:
        """Wake the thread out of select (called with _lock held, while _wake_armed)."""
        try:
            os.write(self._wake_w, b"!")
        except BlockingIOError:  # the pipe is full: a wake is pending anyway
            pass

    # -- the environment's own thread ------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._init()
            self._initialized.set()
            while (inv := self._next_invocation()) is not None:
                self._invoke(inv)
                self._acknowledge()
        except Exception:
            log.exception("environment %s failed", self.id)
        finally:
            self._teardown()
            self._initialized.set()

    def _init(self) -> None:
        """INIT, when the environment is created: 10 s, then it is retried inside the first invoke."""
        if self._start_runtime("init", time.monotonic() + self.ctx.quotas.init_timeout_s):
            self._init_ok = True
            if self.initialization_type == PROVISIONED_CONCURRENCY:  # made ahead: no cold start to report
                self._runtime.fresh, self._runtime.init_ms = False, None
            self._lifecycle.to(State.READY)
        elif self._runtime is not None:
            self._reset()
        else:  # the runtime could not even be spawned
            self._lifecycle.to(State.READY)

    def _start_runtime(self, phase: str, deadline: float) -> bool:
        """Spawn the runtime and serve it until it asks for its first event."""
        fn, q = self.function, self.ctx.quotas
        self._logged = self._dropped = 0
        python = self.ctx.interpreters.get(fn.runtime) if fn.runtime not in runtimes.CUSTOM else None
        if python is not None and python.warning:
            self._log(python.warning)
        self._log(logs.init_start_line(*runtimes.version(fn.runtime, self.ctx.region)))
        self._init_error = None
        t0 = time.perf_counter()
        try:
            proc = self.ctx.isolation.spawn(
                runtimes.command(fn.runtime, fn.code.root, fn.opt, fn.environment.get("AWS_LAMBDA_EXEC_WRAPPER"),
                                 python),
                env=self._environ(), cwd=str(fn.code.root),
                uid=self._uid, tmp=self.tmp, opt=fn.opt, runtime_api=self._api.address,
                max_files=q.file_descriptors_max, max_procs=q.processes_max, max_file_bytes=fn.ephemeral_storage * MB)
        except OSError as e:  # no bootstrap, or not executable: the platform's error, as in AWS
            return self._entrypoint_failed(phase, e, (time.perf_counter() - t0) * 1000)
        rt = self._runtime = _Runtime(proc, ProcessGroup(proc.pid))
        out = proc.stdout.fileno()
        os.set_blocking(out, False)
        self._sel.register(out, selectors.EVENT_READ, self._read_output)
        if rt.group.fileno() is not None:
            self._sel.register(rt.group.fileno(), selectors.EVENT_READ, self._on_exit)
        self._serve(lambda: rt.next_conn is not None or rt.exited, deadline)
        ms = (time.perf_counter() - t0) * 1000
        if rt.next_conn is not None:
            rt.init_ms = ms if phase == "init" else None
            return True
        if rt.group.kill_reason == "shutdown":
            return False
        status = "timeout" if rt.group.kill_reason == "timeout" else "error"
        error_type = self._init_error[0] if self._init_error else None
        if status == "error" and error_type is None:
            error_type = "Runtime.ExitError"
        self._log(logs.init_report_line(ms, phase, status, error_type))
        return False

    def _entrypoint_failed(self, phase: str, error: OSError, ms: float) -> bool:
        reason = "Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]" \
            if isinstance(error, FileNotFoundError) else f"fork/exec {error.filename}: {error.strerror.lower()}"
        message = f"RequestId: {self._current.request_id if self._current else ''} Error: {reason}"
        self._log(f"{message}\nRuntime.InvalidEntrypoint")
        self._init_error = ("Runtime.InvalidEntrypoint", error_body("Runtime.InvalidEntrypoint", message))
        self._log(logs.init_report_line(ms, phase, "error", "Runtime.InvalidEntrypoint"))
        return False

    def _next_invocation(self) -> Invocation | None:
        """READY: wait for the next invocation (frozen once the runtime asks for its next event);
        None once a stop is requested."""
        while True:
            if self._ran_here:  # a caller ran an invocation itself: answer its runtime's POST, then as below
                self._ran_here = False
                self._acknowledge()
            rt = self._runtime
            if rt is not None and rt.exited:
                self._reset()
                continue
            parked = rt is None or rt.next_conn is not None
            idle = self._pending is None and not self._stop_requested  # a hint: decided under the lock
            if idle and not parked:  # still finishing the last invocation: serve it until it asks
                self._serve(lambda rt=rt: rt.next_conn is not None or rt.exited or self._pending is not None
                            or self._stop_requested, None)
                continue
            if idle:
                self._drain_output()
                self._freeze(True)
            with self._lock:
                if self._stop_requested:
                    self._lifecycle.to(State.STOPPING)
                    self._wake_armed = False
                    return None
                if self._pending is not None:
                    inv, self._pending = self._pending, None
                    self._lifecycle.to(State.INVOKING)
                    break
                self._wake_armed = False  # waiting on the condition: invoke() and stop() notify it
                self._turn.release()  # idle: a caller may run an invocation itself meanwhile
                self._lock.wait_for(lambda: self._pending is not None or self._stop_requested or self._ran_here)
                self._wake_armed = True
            self._turn.acquire()  # (never under _lock: a caller holding the turn takes _lock)
        self._freeze(False)
        return inv

    def _invoke(self, inv: Invocation) -> None:
        fn, clock = self.function, self.ctx.clock
        self.invocations += 1
        self._current, self._answer, self._tail = inv, None, []
        self._logged = self._dropped = 0
        cold = self._runtime is None or self._runtime.fresh
        started_at = clock.time()
        t0 = time.perf_counter()
        deadline = time.monotonic() + fn.timeout
        init_ms, peak = None, 0
        if self._runtime is None and not self._start_runtime("invoke", deadline):
            self._log(logs.start_line(inv.request_id, fn.version))
            self._fail_init(inv)
            return self._end(inv, cold, init_ms, started_at, (time.perf_counter() - t0) * 1000, 0)
        rt = self._runtime
        self._log(logs.start_line(inv.request_id, fn.version))
        if rt.next_conn is None:  # a runtime that is slow to ask for work still gets the deadline
            self._serve(lambda: rt.next_conn is not None or rt.exited, deadline)
        if rt.next_conn is not None:
            init_ms, rt.init_ms, rt.fresh = rt.init_ms, None, False
            share = cpu_share(fn.memory_size, self.ctx.quotas.mb_per_vcpu, self.ctx.quotas.vcpus_max)
            share = share if self.ctx.cpu_throttle else None
            # the CPU meter starts at delivery, not at the governor's first look (late under load)
            cpu0 = measure(rt.group.pid).cpu if share is not None else 0.0
            t_deliver = time.perf_counter()
            self._deliver(inv, int((time.time() + deadline - time.monotonic()) * 1000))
            watch = Watch(group=rt.group, memory_limit=fn.memory_size * MB, max_tasks=self.ctx.quotas.processes_max,
                          share=share, cpu0=cpu0)
            self._serve(lambda: self._answer is not None or rt.exited, deadline, watch)
            self.ctx.governor.unwatch(watch)
            peak = watch.peak
            if init_ms is None and not cold:
                t0 = t_deliver  # a warm invocation's Duration starts when the event is delivered
        duration = (time.perf_counter() - t0) * 1000
        if self._answer is None:
            self._runtime_died(inv, fn.timeout)
        oom = self._answer[1] == "Runtime.OutOfMemory"
        used = fn.memory_size if oom else min(fn.memory_size, round(max(peak, self._peak()) / MB))
        self._end(inv, cold, init_ms, started_at, duration, used)

    def _end(self, inv: Invocation, cold: bool, init_ms: float | None, started_at: float, duration_ms: float,
             max_memory_used_mb: int) -> None:
        """Complete the invocation, then reset the runtime if it is gone or going."""
        self._finish(inv, cold, init_ms, started_at, duration_ms, max_memory_used_mb)
        rt = self._runtime
        if rt is not None and (rt.exited or rt.group.kill_reason):
            self._reset()
        else:
            self._lifecycle.to(State.READY)

    def _deliver(self, inv: Invocation, deadline_ms: int) -> None:
        headers = {"Lambda-Runtime-Aws-Request-Id": inv.request_id, "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                   "Lambda-Runtime-Invoked-Function-Arn": inv.invoked_arn, "Content-Type": "application/json"}
        if inv.trace_id:
            headers["Lambda-Runtime-Trace-Id"] = inv.trace_id
        if inv.client_context:
            headers["Lambda-Runtime-Client-Context"] = inv.client_context
        rt = self._runtime
        conn, rt.next_conn = rt.next_conn, None
        conn.respond(200, inv.payload, headers)

    def _acknowledge(self) -> None:
        """The 202 to the runtime's POST of the last answer, sent once the caller has it (by the thread)."""
        conn, self._ack = self._ack, None
        if conn is not None and conn in self._api.connections:  # a reset dropped it with its runtime
            conn.respond(202, _ACCEPTED)

    def _fail(self, error_type: str, message: str, status: str = "error") -> None:
        self._answer = (status, error_type, error_body(error_type, message))

    def _runtime_died(self, inv: Invocation, timeout: int) -> None:
        """Turn the end of the process (or its kill) into the error AWS reports."""
        rt = self._runtime
        if not rt.exited:
            rt.group.kill("timeout")
            self._serve(lambda: rt.exited, None)
        reason = rt.group.kill_reason
        if reason == "timeout":
            # Since 2025 AWS logs no "Task timed out" line; the REPORT line's "Status: timeout" says it.
            self._fail("Sandbox.Timedout", f"RequestId: {inv.request_id} Error: Task timed out after {timeout:.2f} "
                       "seconds", status="timeout")
        elif reason == "shutdown":
            self._fail("Sandbox.Failure", f"RequestId: {inv.request_id} Error: {SHUT_DOWN}")
        else:
            error_type = "Runtime.OutOfMemory" if reason == "oom" else "Runtime.ExitError"
            killed = reason in ("oom", "tasks")  # the governor's SIGKILL
            message = f"RequestId: {inv.request_id} Error: {exit_error(-signal.SIGKILL if killed else rt.returncode)}"
            self._log(f"{message}\n{error_type}")
            self._fail(error_type, message)

    def _fail_init(self, inv: Invocation) -> None:
        """The init that ran inside this invocation failed: the caller gets the init's error."""
        rt = self._runtime
        if rt is not None and rt.group.kill_reason in ("timeout", "shutdown"):
            self._runtime_died(inv, self.function.timeout)
        elif self._init_error is not None:
            self._answer = ("error", *self._init_error)
        else:
            message = f"RequestId: {inv.request_id} Error: {exit_error(rt.returncode if rt is not None else 0)}"
            self._log(f"{message}\nRuntime.ExitError")
            self._fail("Runtime.ExitError", message)

    def _finish(self, inv: Invocation, cold: bool, init_ms: float | None, started_at: float, duration_ms: float,
                max_memory_used_mb: int) -> None:
        """Write the outcome, the END and REPORT lines and the record, then let the caller go."""
        fn = self.function
        self._drain_output()
        if not inv.settle():  # the caller gave up on this environment and answered it itself
            log.warning("environment %s finished %s after its caller gave up", self.id, inv.request_id)
            self._current, self._tail = None, []
            return
        try:
            inv.status, inv.error_type, inv.response = self._answer
            measured_ms = duration_ms
            if inv.status == "timeout":  # AWS reports (and bills) a timed-out invocation as lasting its timeout exactly
                duration_ms = fn.timeout * 1000.0
            inv.log = self._tail
            if self._dropped:
                self._log(LOG_CAP_NOTE.format(self._dropped, self.ctx.quotas.log_bytes_per_invocation), force=True)
            inv.environment_id, inv.cold, inv.init_ms = self.id, cold, init_ms
            inv.duration_ms, inv.max_memory_used_mb = duration_ms, max_memory_used_mb
            inv.billed_ms = math.ceil(duration_ms + (init_ms or 0))
            self._log(logs.end_line(inv.request_id), force=True)
            status = logs.report_status(inv.status, inv.error_type)
            self._log(logs.report_line(inv.request_id, duration_ms, inv.billed_ms, fn.memory_size,
                                       inv.max_memory_used_mb, inv.init_ms, status,
                                       inv.error_type if status == "error" else None), force=True)
            self.ctx.records.add(InvocationRecord(
                request_id=inv.request_id, function=fn.name, version=fn.version, invocation_type=inv.invocation_type,
                start=self.ctx.clock.now().fromtimestamp(started_at, tz=self.ctx.clock.now().tzinfo),
                duration_ms=duration_ms, billed_ms=inv.billed_ms, init_ms=inv.init_ms, memory_mb=fn.memory_size,
                architecture=fn.architectures[0], ephemeral_storage_mb=fn.ephemeral_storage,
                max_memory_used_mb=inv.max_memory_used_mb, cold=inv.cold, environment=self.id,
                error_type=inv.error_type, status=inv.status, invocation_model=inv.invocation_model,
                attempt=inv.attempt, event_source_mapping=inv.event_source_mapping,
                event_source_arn=inv.event_source_arn, batch_size=inv.batch_size,
                provisioned=self.initialization_type == PROVISIONED_CONCURRENCY, measured_ms=measured_ms))
            self.last_used = self.ctx.clock.time()
        finally:
            self._current, self._tail = None, []
            inv.done.set()

    # -- the select loop and what it dispatches --------------------------------------------------
    def _serve(self, done: Callable[[], bool], deadline: float | None, watch: Watch | None = None) -> None:
        """Handle the runtime's requests, output and exit until ``done()``; kill it at the deadline,
        or as soon as a stop is requested.  ``watch`` goes to the governor when its first look is due,
        so an invocation that ends sooner never wakes the governor's thread."""
        rt = self._runtime
        while not done():
            now = time.monotonic()
            timeout = None if deadline is None else deadline - now
            if timeout is not None and timeout <= 0:
                rt.group.kill("timeout")
                deadline = None
                continue
            if watch is not None:
                if now >= watch.next_check:
                    self.ctx.governor.watch(watch)
                    watch = None
                    continue
                timeout = watch.next_check - now if timeout is None else min(timeout, watch.next_check - now)
            if self._stop_requested and rt.group.kill_reason is None:
                rt.group.kill("shutdown")
            if rt.group.fileno() is None and not rt.exited:  # no pidfd (macOS): look for the exit
                timeout = 0.05 if timeout is None else min(timeout, 0.05)
                if rt.proc.poll() is not None:
                    self._on_exit()
                    continue
            for key, _ in self._sel.select(timeout):
                for request in key.data() or ():
                    self._dispatch(request)

    def _dispatch(self, req: Request) -> None:
        conn, route = req.conn, req.path[len(PREFIX):] if req.path.startswith(PREFIX) else None
        if req.method == "GET" and route == "/runtime/invocation/next":
            self._runtime.next_conn = conn
            return
        if req.method == "POST" and route == "/runtime/init/error":
            error_type = req.headers.get("lambda-runtime-function-error-type") or "Runtime.Unknown"
            self._init_error = (error_type, req.body)
            return conn.respond(202, {"status": "OK"})
        match = _INVOCATION_PATH.match(route or "")
        if req.method == "POST" and match:
            inv = self._current
            if inv is None or self._answer is not None or match[1] != inv.request_id:
                return conn.respond(400, {"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"})
            limit = self.ctx.quotas.sync_response_max_bytes
            if req.too_large:
                conn.respond(413, {"errorMessage": f"Exceeded maximum allowed payload size ({limit} bytes).",
                                   "errorType": "RequestEntityTooLarge"})
                message = f"Response payload size exceeded maximum allowed payload size ({limit} bytes)."
                self._log(f"{message}\nFunction.ResponseSizeTooLarge")
                return self._fail("Function.ResponseSizeTooLarge", message)
            self._ack = conn  # answered 202 once the caller has the response: the caller goes first
            if match[2] == "response":
                self._answer = ("success", None, req.body)
            else:
                error_type = req.headers.get("lambda-runtime-function-error-type") or "Function.Unknown"
                self._answer = ("error", error_type, req.body)
            return
        conn.respond(404, {"errorMessage": f"Unknown Runtime API request {req.method} {req.path}",
                           "errorType": "InvalidRequest"})

    def _on_wake(self) -> None:
        try:
            os.read(self._wake_r, 4096)
        except BlockingIOError:
            pass

    def _on_exit(self) -> None:
        """The runtime exited: note how, and stop listening to it; it is reaped by the reset."""
        rt = self._runtime
        self._drain_output()
        # The reaper, the runtime's parent, reports its exit status (and keeps it unreaped until the release).
        rt.returncode = rt.proc.wait(timeout=EXIT_STATUS_TIMEOUT)
        for fd in (rt.group.fileno(), rt.proc.stdout.fileno()):
            if fd is not None and fd in self._sel.get_map():
                self._sel.unregister(fd)

    def _read_output(self) -> None:
        fd = self._runtime.proc.stdout.fileno()
        while True:
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                if fd in self._sel.get_map():
                    self._sel.unregister(fd)
                break
            self._out += data
            *lines, rest = self._out.split(b"\n")
            self._out = bytearray(rest)
            for line in lines:  # one event per line; AWS writes no event for an empty line
                if line.strip(b"\r"):
                    self._log(*_event(line.decode("utf-8", "replace")))
        if self._out:  # the pipe closed on a last line without a newline
            self._log(self._out.decode("utf-8", "replace"))
            self._out.clear()

    def _drain_output(self) -> None:
        rt = self._runtime
        if rt is not None and rt.proc.stdout.fileno() in self._sel.get_map():
            self._read_output()

    def _log(self, message: str, end: str = "\n", force: bool = False) -> None:
        """One log event, to CloudWatch Logs and to the current invocation's tail; the platform's
        events and a handler's printed lines end with a newline, the runtime's framed records do not
        (``end``; recorded: tests/fidelity/cases/log-*.json)."""
        size = len(message) + 1
        if not force:
            if self._logged + size > self.ctx.quotas.log_bytes_per_invocation:
                self._dropped += size
                return
            self._logged += size
        self.ctx.logs.put(self.function.log_group, self.log_stream, self.ctx.clock.time(), message + end)
        if self._current is not None:
            self._tail.append(message)

    # -- process management ----------------------------------------------------------------------
    def _freeze(self, frozen: bool) -> None:
        rt = self._runtime
        if self.ctx.freeze and rt is not None and not rt.exited and frozen != rt.frozen:
            rt.group.signal(signal.SIGSTOP if frozen else signal.SIGCONT)
            rt.frozen = frozen

    def _peak(self) -> int:
        rt = self._runtime
        if rt is None or rt.exited:
            return 0
        return peak_rss(rt.proc.pid)

    def _reset(self) -> None:
        """RESETTING: the runtime goes, the environment (and its /tmp) stays for the next init."""
        self._lifecycle.to(State.RESETTING)
        self._release_runtime()
        self._lifecycle.to(State.READY)

    def _release_runtime(self) -> None:
        """The one place a runtime ends: close its group handle (no signal can reach the group
        through it any more), then kill the group while its leader is still unreaped, and reap it."""
        rt = self._runtime
        if rt is None:
            return
        pidfd = rt.group.fileno()
        if pidfd is not None and pidfd in self._sel.get_map():
            self._sel.unregister(pidfd)
        rt.group.close()
        kill_tree(rt.proc)
        self._drain_output()
        out = rt.proc.stdout.fileno()
        if out in self._sel.get_map():
            self._sel.unregister(out)
        rt.proc.stdout.close()
        for conn in list(self._api.connections):
            self._api.drop(conn)
        self._runtime = None

    def _teardown(self) -> None:
        """STOPPING -> STOPPED: the runtime goes, and every invocation still here fails."""
        try:
            self._release_runtime()
        finally:
            with self._lock:
                self._stop_requested = True
                self._wake_armed = False  # from here on nobody writes to the wake pipe
                if self._lifecycle.state is not State.STOPPING:  # the thread failed
                    self._lifecycle.to(State.STOPPING)
                pending, self._pending = self._pending, None
            for inv in (self._current, pending):
                if inv is not None:
                    _shut_down(inv)
            self._api.close()
            self._sel.close()
            os.close(self._wake_r)
            os.close(self._wake_w)
            shutil.rmtree(self._dir, ignore_errors=True)
            self.ctx.isolation.release(self._uid)
            self._lifecycle.to(State.STOPPED)

    def _environ(self) -> dict[str, str]:
        fn, ctx = self.function, self.ctx
        opt = fn.opt  # the function's layers, extracted (an empty directory without layers)
        env = {
            "PATH": os.pathsep.join([os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"), str(opt / "bin")]),
            # AWS's LD_LIBRARY_PATH ends with /var/task, /var/task/lib and /opt/lib
            "LD_LIBRARY_PATH": os.pathsep.join([str(fn.code.root), str(fn.code.root / "lib"), str(opt / "lib")]),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "_HANDLER": fn.handler,
            "AWS_REGION": ctx.region,
            "AWS_DEFAULT_REGION": ctx.region,
            "AWS_LAMBDA_FUNCTION_NAME": fn.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
            "AWS_LAMBDA_FUNCTION_VERSION": fn.version,
            "AWS_LAMBDA_INITIALIZATION_TYPE": self.initialization_type,
            "AWS_LAMBDA_LOG_GROUP_NAME": fn.log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": self.log_stream,
            "AWS_LAMBDA_RUNTIME_API": self._api.address,
            "LAMBDA_TASK_ROOT": str(fn.code.root),
            "LAMBDA_RUNTIME_DIR": str(runtimes.PYTHON_DIR),
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            "AWS_XRAY_DAEMON_ADDRESS": "169.254.100.1:2000",
            "_AWS_XRAY_DAEMON_ADDRESS": "169.254.100.1",
            "_AWS_XRAY_DAEMON_PORT": "2000",
            "PWD": str(fn.code.root),  # the working directory, as AWS's /var/task
            "AWS_ENDPOINT_URL": ctx.endpoint_url,
            "TMPDIR": str(self.tmp),
            **ctx.credentials(fn),
        }
        if fn.runtime not in runtimes.CUSTOM:  # AWS's Python runtimes; the LAMBDALAB_ pair is the runtime's to take
            env.update(PYTHONPATH=str(runtimes.PYTHON_DIR), SHLVL="0", LAMBDALAB_TMP_ROOT=str(self.tmp),
                       LAMBDALAB_OPT_ROOT=str(opt))
        if runtimes.execution_env(fn.runtime):
            env["AWS_EXECUTION_ENV"] = runtimes.execution_env(fn.runtime)
        if fn.log_format == "JSON":
            env["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
        env.update(fn.environment)
        return env

    def __repr__(self) -> str:
        return (f"<ExecutionEnvironment {self.id[:8]} of {self.function.name}: {self.state.value}, "
                f"{self.invocations} invocations>")


def _shut_down(inv: Invocation) -> bool:
    """Fail an invocation the environment will not run (or no longer can); False if already settled."""
    if not inv.settle():
        return False
    inv.fail("Sandbox.Failure", f"RequestId: {inv.request_id} Error: {SHUT_DOWN}")
    inv.done.set()
    return True


_RUNTIME_LOG = re.compile(r"\[(ERROR|WARNING|INFO|DEBUG|CRITICAL)\]")


def _event(line: str) -> tuple[str, str]:
    """A line of the runtime's output as the log event AWS stores, and how it ends: a ``print``'s line
    ends with a newline and its \\r stays a \\r, but the runtime's own records (``[ERROR] ...`` with its
    traceback, ``logging``'s ``[WARNING] ...``) reach AWS framed, with their inner newlines and none at
    the end, and travel through this pipe with each newline written as \\r."""
    if _RUNTIME_LOG.match(line):
        return line.replace("\r", "\n"), ""
    return line, "\n"
