"""What goes into an execution environment for one invocation, and what comes out of it."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field


def error_body(error_type: str, message: str) -> bytes:
    """A platform-made error payload, as Lambda's own: ``{"errorType": ..., "errorMessage": ...}``."""
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


@dataclass
class Invocation:
    """One invocation; its outcome is written once, by whoever wins :meth:`settle`, before ``done``.

    That is the environment's thread, except when the environment is gone or wedged and the
    caller gives up on it: then the caller settles it itself, and the environment's thread,
    finding it settled, leaves it alone.
    """

    request_id: str
    payload: bytes
    invoked_arn: str
    invocation_type: str = "RequestResponse"
    invocation_model: str = "sync"  # "sync"; "async" for an attempt the asynchronous queue makes; "poll" for a poller's
    attempt: int = 1  # which attempt at its event this is (asynchronous events are retried, same request id)
    client_context: str | None = None  # JSON text, handed to the runtime as is
    trace_id: str | None = None
    event_source_mapping: str | None = None  # the UUID of the mapping whose poller made this invocation
    event_source_arn: str | None = None  # the queue or stream it polled
    batch_size: int | None = None  # records in the batch
    # Outcome, written by the thread that settled it before ``done`` is set
    response: bytes = b""
    error_type: str | None = None  # set when the function failed (FunctionError "Unhandled")
    status: str = "success"  # success, error, timeout
    log: list[str] = field(default_factory=list)  # this invocation's log lines, START to REPORT
    cold: bool = False
    init_ms: float | None = None
    duration_ms: float = 0.0
    billed_ms: int = 0
    max_memory_used_mb: int = 0
    environment_id: str = ""
    done: threading.Event = field(default_factory=threading.Event)
    _settled: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def settle(self) -> bool:
        """Claim the right to write the outcome: True for the first caller only, ever."""
        return self._settled.acquire(blocking=False)

    def fail(self, error_type: str, message: str, status: str = "error") -> None:
        """Record a platform-made error (the runtime could not report it itself)."""
        self.error_type, self.status = error_type, status
        self.response = error_body(error_type, message)

    @property
    def function_error(self) -> str | None:
        return "Unhandled" if self.error_type else None
