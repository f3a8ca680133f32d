"""Function logs: the platform's lines in AWS's exact format, and their delivery to CloudWatch Logs.

Lines are queued on the invoke path and shipped in batches (:mod:`batcher`) to the local
CloudWatch Logs (moto's backend, in process) of the function's account and Region, into its log
group (``/aws/lambda/<name>`` unless its LoggingConfig names another) with one stream per
execution environment, as AWS does.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from .batcher import Shipper


def start_line(request_id: str, version: str) -> str:
    return f"START RequestId: {request_id} Version: {version}"


def end_line(request_id: str) -> str:
    return f"END RequestId: {request_id}"


def report_line(request_id: str, duration_ms: float, billed_ms: int, memory_mb: int, max_used_mb: int,
                init_ms: float | None = None, status: str | None = None, error_type: str | None = None) -> str:
    parts = [f"REPORT RequestId: {request_id}", f"Duration: {duration_ms:.2f} ms", f"Billed Duration: {billed_ms} ms",
             f"Memory Size: {memory_mb} MB", f"Max Memory Used: {max_used_mb} MB"]
    if init_ms is not None:
        parts.append(f"Init Duration: {init_ms:.2f} ms")
    if status:  # failed invocations end on the status, without the trailing tab
        parts.append(f"Status: {status}")
        if error_type:
            parts.append(f"Error Type: {error_type}")
        return "\t".join(parts)
    return "\t".join(parts) + "\t"


def report_status(status: str, error_type: str | None) -> str | None:
    """The REPORT line's ``Status``: AWS writes it when the platform ended the invocation (a timeout,
    or the runtime exiting, running out of memory, answering too much), never for an error the
    function's own code raised and the runtime reported (recorded: tests/fidelity/cases/log-*.json)."""
    if status == "timeout":
        return status
    if status == "error" and (error_type or "").startswith(("Runtime.", "Sandbox.", "Function.")):
        return status
    return None


def init_start_line(runtime_version: str, runtime_version_arn: str) -> str:
    return f"INIT_START Runtime Version: {runtime_version}\tRuntime Version ARN: {runtime_version_arn}"


def init_report_line(init_ms: float, phase: str, status: str, error_type: str | None = None) -> str:
    line = f"INIT_REPORT Init Duration: {init_ms:.2f} ms\tPhase: {phase}\tStatus: {status}"
    return line + (f"\tError Type: {error_type}" if error_type else "")


def stream_name(day: datetime, environment_id: str, version: str = "$LATEST") -> str:
    """``2026/11/22/[$LATEST]0123456789abcdef0123456789abcdef``"""
    return f"{day:%Y/%m/%d}/[{version}]{environment_id}"


Deliver = Callable[[str, str, str, str, list[dict]], None]  # (account, region, group, stream, events)


class LogShipper(Shipper):
    """Batches log events per (account, region, group, stream) and hands them to ``deliver`` on its own thread.

    One shipper (one thread) serves every account and Region: :meth:`at` gives the view that an
    account's environments in one Region write through.
    """

    def __init__(self, deliver: Deliver, interval: float = 0.05) -> None:
        super().__init__(deliver, name="lambdalab-logs", interval=interval)

    def put(self, group: str, stream: str, timestamp: float, message: str) -> None:
        self._ship((group, stream), {"timestamp": int(timestamp * 1000), "message": message})
