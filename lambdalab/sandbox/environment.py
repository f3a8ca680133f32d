"""ExecutionEnvironment: one sandbox process and its lifecycle, INIT -> INVOKE... -> SHUTDOWN.

The environment owns a thread that is the only one to touch its process, its Runtime API
sockets and its output pipe, so the state machine below has a single writer::

    STARTING --init ok--> READY <--> INVOKING --stop/reap--> STOPPED
         \\-- init failed, crash, timeout, OOM: the process is reset; the next invoke inits again

* The **timeout** is enforced here: the thread serves the Runtime API until the invocation's
  deadline, then kills the process group (``Sandbox.Timedout``).
* While idle the process is **frozen** (SIGSTOP once the runtime asks for the next event), so a
  handler's background threads do not run between invocations, as in AWS.
* Memory, process count and CPU share are enforced by the :mod:`governor` while it runs.
"""

from __future__ import annotations

import copy
import enum
import json
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
from dataclasses import dataclass
from pathlib import Path

from .. import runtimes
from ..clock import Clock
from ..observe import logs
from ..observe.records import InvocationRecord, Records
from ..service.models import Function
from ..service.quotas import MB, Quotas
from .governor import Governor, Watch, cpu_share, measure, peak_rss
from .invocation import Invocation
from .isolation import Isolation
from .process import describe_exit, kill_tree, signal_group
from .runtime_api import PREFIX, Request, RuntimeAPIServer

log = logging.getLogger(__name__)
_INVOCATION_PATH = re.compile(r"/runtime/invocation/([^/]+)/(response|error)$")
LOG_CAP_NOTE = "lambdalab: {} bytes of log output beyond the per-invocation cap of {} bytes were dropped"


class State(enum.Enum):
    STARTING = "starting"
    READY = "ready"
    INVOKING = "invoking"
    STOPPED = "stopped"


@dataclass
class SandboxContext:
    """What every environment of one cloud shares."""

    quotas: Quotas
    clock: Clock
    governor: Governor
    isolation: Isolation
    logs: logs.LogShipper
    records: Records
    workdir: Path
    endpoint_url: str
    region: str
    credentials: Callable[[Function], dict[str, str]]  # a new session of the function's execution role
    freeze: bool = True
    cpu_throttle: bool = True


class ExecutionEnvironment:
    def __init__(self, function: Function, ctx: SandboxContext) -> None:
        self.id = secrets.token_hex(16)
        self.function = copy.copy(function)  # the configuration this environment was made for
        self.generation = function.generation
        self.ctx = ctx
        self.log_stream = logs.stream_name(ctx.clock.now(), self.id, function.version)  # [1] or [$LATEST]
        self.created = ctx.clock.time()
        self.last_used = self.created
        self.invocations = 0
        self.stale = False  # its function changed while it ran: retire it when released
        self.state = State.STARTING
        self._dir = ctx.workdir / "envs" / secrets.token_hex(16)
        self.tmp = self._dir / "tmp"
        self._uid = ctx.isolation.make_tmp(self.tmp)  # as root, the environment's own user owns it
        self._cond = threading.Condition()
        self._pending: Invocation | None = None
        self._stopping = False
        self._sel = selectors.DefaultSelector()
        self._api = RuntimeAPIServer(self._sel, max_body=ctx.quotas.sync_response_max_bytes)
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._sel.register(self._wake_r, selectors.EVENT_READ, self._on_wake)
        self._proc = None
        self._pidfd: int | None = None
        self._exited = True
        self._last_returncode: int | None = None
        self._frozen = False
        self._kill_reason: str | None = None
        self._next_conn = None
        self._init_error: tuple[str, bytes] | None = None
        self._init_ms: float | None = None  # Init Duration, reported by the first invocation
        self._needs_init_report = True
        self._current: Invocation | None = None
        self._answered = False
        self._out = bytearray()
        self._logged = 0
        self._dropped = 0
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"lambdalab-env-{function.name}-{self.id[:8]}")
        self._thread.start()

    # -- called by other threads -----------------------------------------------------------------
    def invoke(self, inv: Invocation) -> Invocation:
        """Run one invocation here and return it completed (response or error filled in)."""
        with self._cond:
            if self._stopping or self.state is State.STOPPED:
                inv.fail("Sandbox.Failure", "The execution environment was shut down.")
                return inv
            self._pending = inv
            self._cond.notify_all()
        os.write(self._wake_w, b"!")
        limit = self.function.timeout + 2 * self.ctx.quotas.init_timeout_s + 30
        if not inv.done.wait(limit):  # the thread enforces deadlines itself; this is a last resort
            log.error("environment %s did not finish %s; stopping it", self.id, inv.request_id)
            self.stop()
            if not inv.done.wait(10):
                inv.fail("Sandbox.Failure", "The execution environment stopped responding.")
        return inv

    def stop(self) -> None:
        """SHUTDOWN: kill the process (no extensions, so no grace period) and free everything."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._kill("shutdown")
        try:
            os.write(self._wake_w, b"!")
        except OSError:
            pass
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=10)

    @property
    def stopped(self) -> bool:
        return self._stopping or self.state is State.STOPPED

    def _kill(self, reason: str) -> None:
        proc = self._proc
        if proc is not None:
            if self._kill_reason is None:
                self._kill_reason = reason
            signal_group(proc.pid, signal.SIGKILL)

    # -- the environment's own thread ------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._start_runtime("init", time.monotonic() + self.ctx.quotas.init_timeout_s)
            while (inv := self._wait_for_invocation()) is not None:
                self._invoke(inv)
        except Exception:
            log.exception("environment %s failed", self.id)
            for inv in (self._current, self._pending):
                if inv is not None and not inv.done.is_set():
                    inv.fail("Sandbox.Failure", "The execution environment failed.")
                    inv.done.set()
        finally:
            self._teardown()

    def _start_runtime(self, phase: str, deadline: float) -> bool:
        """Spawn the runtime and serve it until it asks for its first event (INIT)."""
        fn, q = self.function, self.ctx.quotas
        self._logged = self._dropped = 0
        self._log(logs.init_start_line(*runtimes.version(fn.runtime, self.ctx.region)))
        self._init_error, self._next_conn, self._kill_reason = None, None, None
        t0 = time.perf_counter()
        try:
            self._proc = self.ctx.isolation.spawn(
                runtimes.command(fn.runtime, fn.code.root, fn.opt), env=self._environ(), cwd=str(fn.code.root),
                uid=self._uid, tmp=self.tmp, opt=fn.opt, runtime_api=self._api.address,
                max_files=q.file_descriptors_max, max_procs=q.processes_max, max_file_bytes=fn.ephemeral_storage * MB)
        except OSError as e:  # no bootstrap, or not executable: the platform's error, as in AWS
            return self._entrypoint_failed(phase, e, (time.perf_counter() - t0) * 1000)
        self._exited = False
        out = self._proc.stdout.fileno()
        os.set_blocking(out, False)
        self._sel.register(out, selectors.EVENT_READ, self._read_output)
        if hasattr(os, "pidfd_open"):
            self._pidfd = os.pidfd_open(self._proc.pid)
            self._sel.register(self._pidfd, selectors.EVENT_READ, self._on_exit)
        self._serve(lambda: self._next_conn is not None or self._exited, deadline)
        ms = (time.perf_counter() - t0) * 1000
        if self._next_conn is not None:
            self._init_ms = ms if phase == "init" else None
            return True
        status = "timeout" if self._kill_reason == "timeout" else "error"
        error_type = self._init_error[0] if self._init_error else None
        if status == "error" and error_type is None:
            error_type = "Runtime.ExitError"
        self._log(logs.init_report_line(ms, phase, status, error_type))
        self._reset()
        return False

    def _entrypoint_failed(self, phase: str, error: OSError, ms: float) -> bool:
        reason = "Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]" \
            if isinstance(error, FileNotFoundError) else f"fork/exec {error.filename}: {error.strerror.lower()}"
        message = f"RequestId: {self._current.request_id if self._current else ''} Error: {reason}"
        self._log(f"{message}\nRuntime.InvalidEntrypoint")
        self._init_error = ("Runtime.InvalidEntrypoint",
                            json.dumps({"errorType": "Runtime.InvalidEntrypoint", "errorMessage": message}).encode())
        self._log(logs.init_report_line(ms, phase, "error", "Runtime.InvalidEntrypoint"))
        return False

    def _wait_for_invocation(self) -> Invocation | None:
        while True:
            with self._cond:
                if self._stopping:
                    return None
                if self._pending is not None:
                    inv, self._pending = self._pending, None
                    self.state = State.INVOKING
                    return inv
                if self._next_conn is not None or self._proc is None:
                    self.state = State.READY
                    self._drain_output()
                    self._freeze(True)
                    self._cond.wait_for(lambda: self._pending is not None or self._stopping)
                    self._freeze(False)
                    continue
            # The runtime has not asked for its next event yet: serve it until it does.
            self._serve(lambda: self._next_conn is not None or self._exited or self._pending is not None, None)
            if self._exited and self._next_conn is None:
                self._reset()

    def _invoke(self, inv: Invocation) -> None:
        fn, clock = self.function, self.ctx.clock
        self.invocations += 1
        self._current, self._answered = inv, False
        self._logged = self._dropped = 0
        inv.environment_id = self.id
        inv.cold = self._needs_init_report or self._proc is None
        started_at = clock.time()
        t0 = time.perf_counter()
        deadline = time.monotonic() + fn.timeout
        if self._proc is None and not self._start_runtime("invoke", deadline):
            self._log(logs.start_line(inv.request_id, fn.version))
            self._fail_init(inv)
            return self._finish(inv, started_at, (time.perf_counter() - t0) * 1000)
        self._log(logs.start_line(inv.request_id, fn.version))
        if self._next_conn is None:  # a runtime that is slow to ask for work still gets the deadline
            self._serve(lambda: self._next_conn is not None or self._exited, deadline)
        if self._next_conn is not None:
            inv.init_ms, self._init_ms = self._init_ms, None
            self._needs_init_report = False
            pgid = self._proc.pid
            share = cpu_share(fn.memory_size, self.ctx.quotas.mb_per_vcpu, self.ctx.quotas.vcpus_max)
            share = share if self.ctx.cpu_throttle else None
            # the CPU meter starts at delivery, not at the governor's first look (late under load)
            cpu0 = measure(pgid).cpu if share is not None else 0.0
            t_deliver = time.perf_counter()
            self._deliver(inv, int((time.time() + deadline - time.monotonic()) * 1000))
            self.ctx.governor.watch(Watch(pgid=pgid, memory_limit=fn.memory_size * MB,
                                          max_tasks=self.ctx.quotas.processes_max,
                                          share=share, on_violation=self._kill, cpu0=cpu0))
            self._serve(lambda: self._answered or self._exited, deadline)
            watch = self.ctx.governor.unwatch(pgid)
            peak = watch.peak if watch else 0
            if inv.init_ms is None and not inv.cold:
                t0 = t_deliver  # a warm invocation's Duration starts when the event is delivered
        else:
            peak = 0
        duration = (time.perf_counter() - t0) * 1000
        if not self._answered:
            self._runtime_died(inv, fn.timeout)
        inv.max_memory_used_mb = min(fn.memory_size, round(max(peak, self._peak()) / MB)) \
            if inv.error_type != "Runtime.OutOfMemory" else fn.memory_size
        self._finish(inv, started_at, duration)

    def _deliver(self, inv: Invocation, deadline_ms: int) -> None:
        headers = {"Lambda-Runtime-Aws-Request-Id": inv.request_id, "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                   "Lambda-Runtime-Invoked-Function-Arn": inv.invoked_arn, "Content-Type": "application/json"}
        if inv.trace_id:
            headers["Lambda-Runtime-Trace-Id"] = inv.trace_id
        if inv.client_context:
            headers["Lambda-Runtime-Client-Context"] = inv.client_context
        conn, self._next_conn = self._next_conn, None
        conn.respond(200, inv.payload, headers)

    def _runtime_died(self, inv: Invocation, timeout: int) -> None:
        """Turn the end of the process (or its kill) into the error AWS reports."""
        reason = self._kill_reason
        if not self._exited:
            self._kill(reason or "timeout")
            reason = self._kill_reason
            self._serve(lambda: self._exited, None)
        if reason == "timeout":
            # Since 2025 AWS logs no "Task timed out" line; the REPORT line's "Status: timeout" says it.
            message = f"RequestId: {inv.request_id} Error: Task timed out after {timeout:.2f} seconds"
            inv.fail("Sandbox.Timedout", message, status="timeout")
        else:
            error_type = "Runtime.OutOfMemory" if reason == "oom" else "Runtime.ExitError"
            how = "signal: killed" if reason in ("oom", "tasks") else describe_exit(self._proc.returncode)
            message = f"RequestId: {inv.request_id} Error: Runtime exited with error: {how}"
            self._log(f"{message}\n{error_type}")
            inv.fail(error_type, message)
        self._reset()

    def _fail_init(self, inv: Invocation) -> None:
        """The init that ran inside this invocation failed: the caller gets the init's error."""
        if self._kill_reason == "timeout":
            self._runtime_died(inv, self.function.timeout)
        elif self._init_error is not None:
            inv.error_type, inv.status = self._init_error[0], "error"
            inv.response = self._init_error[1]
        else:
            message = (f"RequestId: {inv.request_id} Error: Runtime exited with error: "
                       f"{describe_exit(self._last_returncode or 0)}")
            self._log(f"{message}\nRuntime.ExitError")
            inv.fail("Runtime.ExitError", message)
        inv.max_memory_used_mb = 0

    def _finish(self, inv: Invocation, started_at: float, duration_ms: float) -> None:
        fn = self.function
        self._drain_output()
        if self._dropped:
            self._log(LOG_CAP_NOTE.format(self._dropped, self.ctx.quotas.log_bytes_per_invocation), force=True)
        inv.duration_ms = duration_ms
        inv.billed_ms = math.ceil(duration_ms + (inv.init_ms or 0))
        self._log(logs.end_line(inv.request_id), force=True)
        status = None if inv.status == "success" else inv.status
        self._log(logs.report_line(inv.request_id, duration_ms, inv.billed_ms, fn.memory_size,
                                   inv.max_memory_used_mb, inv.init_ms, status,
                                   inv.error_type if status == "error" else None), force=True)
        self.ctx.records.add(InvocationRecord(
            request_id=inv.request_id, function=fn.name, version=fn.version, invocation_type=inv.invocation_type,
            start=self.ctx.clock.now().fromtimestamp(started_at, tz=self.ctx.clock.now().tzinfo),
            duration_ms=duration_ms, billed_ms=inv.billed_ms, init_ms=inv.init_ms, memory_mb=fn.memory_size,
            max_memory_used_mb=inv.max_memory_used_mb, cold=inv.cold, environment=self.id,
            error_type=inv.error_type, status=inv.status))
        self._current = None
        self.last_used = self.ctx.clock.time()
        inv.done.set()

    # -- the select loop and what it dispatches --------------------------------------------------
    def _serve(self, done, deadline: float | None) -> None:
        """Handle runtime requests, output and process exit until ``done()`` or the deadline."""
        while not done():
            timeout = None if deadline is None else deadline - time.monotonic()
            if timeout is not None and timeout <= 0:
                self._kill("timeout")
                deadline = None
                continue
            if self._pidfd is None and not self._exited:  # no pidfd (macOS): look for the exit
                timeout = 0.05 if timeout is None else min(timeout, 0.05)
                if self._proc.poll() is not None:
                    self._on_exit()
            for key, _ in self._sel.select(timeout):
                for request in key.data() or ():
                    self._dispatch(request)
            if self._stopping and not self._exited:
                self._kill("shutdown")

    def _dispatch(self, req: Request) -> None:
        conn, route = req.conn, req.path[len(PREFIX):] if req.path.startswith(PREFIX) else None
        if req.method == "GET" and route == "/runtime/invocation/next":
            self._next_conn = conn
            return
        if req.method == "POST" and route == "/runtime/init/error":
            error_type = req.headers.get("lambda-runtime-function-error-type") or "Runtime.Unknown"
            self._init_error = (error_type, req.body)
            return conn.respond(202, {"status": "OK"})
        match = _INVOCATION_PATH.match(route or "")
        if req.method == "POST" and match:
            inv = self._current
            if inv is None or self._answered or match[1] != inv.request_id:
                return conn.respond(400, {"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"})
            self._answered = True
            limit = self.ctx.quotas.sync_response_max_bytes
            if req.too_large:
                conn.respond(413, {"errorMessage": f"Exceeded maximum allowed payload size ({limit} bytes).",
                                   "errorType": "RequestEntityTooLarge"})
                message = (f"Response payload size ({req.size} bytes) exceeded maximum allowed payload size "
                           f"({limit} bytes).")
                self._log(f"{message}\nFunction.ResponseSizeTooLarge")
                return inv.fail("Function.ResponseSizeTooLarge", message)
            conn.respond(202, {"status": "OK"})
            if match[2] == "response":
                inv.response = req.body
            else:
                inv.error_type = req.headers.get("lambda-runtime-function-error-type") or "Function.Unknown"
                inv.status, inv.response = "error", req.body
            return
        conn.respond(404, {"errorMessage": f"Unknown Runtime API request {req.method} {req.path}",
                           "errorType": "InvalidRequest"})

    def _on_wake(self) -> None:
        try:
            os.read(self._wake_r, 4096)
        except BlockingIOError:
            pass

    def _on_exit(self) -> None:
        self._drain_output()
        self._proc.wait()
        self._exited = True
        for fd in (self._pidfd, self._proc.stdout.fileno()):
            if fd is not None and fd in self._sel.get_map():
                self._sel.unregister(fd)

    def _read_output(self) -> None:
        fd = self._proc.stdout.fileno()
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
            for line in lines:
                self._log(line.decode("utf-8", "replace").replace("\r", "\n"))
        if self._out:  # the pipe closed on a last line without a newline
            self._log(self._out.decode("utf-8", "replace"))
            self._out.clear()

    def _drain_output(self) -> None:
        if self._proc is not None and self._proc.stdout.fileno() in self._sel.get_map():
            self._read_output()

    def _log(self, message: str, force: bool = False) -> None:
        """One log event, to CloudWatch Logs and to the current invocation's tail."""
        size = len(message) + 1
        if not force:
            if self._logged + size > self.ctx.quotas.log_bytes_per_invocation:
                self._dropped += size
                return
            self._logged += size
        self.ctx.logs.put(self.function.log_group, self.log_stream, self.ctx.clock.time(), message)
        if self._current is not None:
            self._current.log.append(message)

    # -- process management ----------------------------------------------------------------------
    def _freeze(self, frozen: bool) -> None:
        if self.ctx.freeze and self._proc is not None and not self._exited and frozen != self._frozen:
            signal_group(self._proc.pid, signal.SIGSTOP if frozen else signal.SIGCONT)
            self._frozen = frozen

    def _peak(self) -> int:
        if self._proc is None or self._exited:
            return 0
        return peak_rss(self._proc.pid)

    def _reset(self) -> None:
        """Kill the process and forget it; the environment (and its /tmp) stays for the next init."""
        proc = self._proc
        if proc is None:
            return
        kill_tree(proc)
        if not self._exited:
            self._on_exit()
        self._last_returncode = proc.returncode
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None
        proc.stdout.close()
        for conn in list(self._api.connections):
            self._api.drop(conn)
        self._proc, self._next_conn, self._frozen = None, None, False
        self._needs_init_report = True

    def _teardown(self) -> None:
        self._reset()
        with self._cond:
            self.state = State.STOPPED
            pending, self._pending = self._pending, None
        if pending is not None and not pending.done.is_set():
            pending.fail("Sandbox.Failure", "The execution environment was shut down.")
            pending.done.set()
        self._api.close()
        self._sel.close()
        os.close(self._wake_r)
        os.close(self._wake_w)
        shutil.rmtree(self._dir, ignore_errors=True)
        self.ctx.isolation.release(self._uid)

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
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_GROUP_NAME": fn.log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": self.log_stream,
            "AWS_LAMBDA_RUNTIME_API": self._api.address,
            "LAMBDA_TASK_ROOT": str(fn.code.root),
            "LAMBDA_RUNTIME_DIR": str(runtimes.PYTHON_DIR),
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000",
            "AWS_ENDPOINT_URL": ctx.endpoint_url,
            "TMPDIR": str(self.tmp),
            "LAMBDALAB_TMP_ROOT": str(self.tmp),
            "LAMBDALAB_OPT_ROOT": str(opt),
            "PYTHONDONTWRITEBYTECODE": "1",
            **ctx.credentials(fn),
        }
        if runtimes.execution_env(fn.runtime):
            env["AWS_EXECUTION_ENV"] = runtimes.execution_env(fn.runtime)
        if fn.log_format == "JSON":
            env["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
        env.update(fn.environment)
        return env

    def __repr__(self) -> str:
        return (f"<ExecutionEnvironment {self.id[:8]} of {self.function.name}: {self.state.value}, "
                f"{self.invocations} invocations>")
