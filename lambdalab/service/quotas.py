"""Every Lambda quota and platform default, in one place, with AWS's name and source.

A lesson may change a value (``lambdalab.start(quotas={"init_timeout_s": 2})`` or
``cloud.quotas.set(...)``); code reads them from the cloud's :class:`Quotas`, never from a
constant of its own, so nothing else needs patching.  Sources are the keys that
``docs/sources.md`` defines (Q26: the 2026 quotas page; BC: botocore's model; ENV: the
execution-environment page; DG23: the 2023 developer guide; obs: observed in real environments).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

MB = 1024 * 1024


@dataclass(frozen=True)
class Quota:
    key: str
    aws_name: str
    value: Any
    unit: str
    source: str
    note: str = ""


DEFAULTS: tuple[Quota, ...] = (
    # Function configuration
    Quota("memory_min_mb", "Function memory (minimum)", 128, "MB", "Q26"),
    Quota("memory_max_mb", "Function memory (maximum)", 10240, "MB", "Q26",
          "on-demand limit; the API model allows 32,768 for Managed Instances"),
    Quota("memory_default_mb", "Function memory (default)", 128, "MB", "Q26"),
    Quota("timeout_min_s", "Function timeout (minimum)", 1, "s", "BC"),
    Quota("timeout_max_s", "Function timeout (maximum)", 900, "s", "Q26",
          "on-demand limit; the API model allows 5,400 for Managed Instances"),
    Quota("timeout_default_s", "Function timeout (default)", 3, "s", "Q26"),
    Quota("env_vars_max_bytes", "Environment variables (total size)", 4096, "bytes", "Q26"),
    Quota("ephemeral_min_mb", "/tmp storage (minimum)", 512, "MB", "Q26"),
    Quota("ephemeral_max_mb", "/tmp storage (maximum)", 10240, "MB", "Q26"),
    Quota("ephemeral_default_mb", "/tmp storage (default)", 512, "MB", "Q26"),
    Quota("handler_max_chars", "Handler name length", 128, "characters", "BC"),
    # Deployment packages
    Quota("zip_direct_max_bytes", "Deployment package, zipped, direct upload", 50 * MB, "bytes", "Q26"),
    Quota("zip_request_max_bytes", "CreateFunction/UpdateFunctionCode request size", 70167211,
          "bytes", "obs", "50 MB base64-encoded, plus 256 KB (69,905,067 before 2024)"),
    Quota("unzipped_max_bytes", "Deployment package, unzipped (with layers)", 250 * MB, "bytes", "Q26"),
    Quota("code_storage_bytes", "Total code storage", 80530636800, "bytes", "Q26",
          "GetAccountSettings still reports 75 GB"),
    Quota("layers_per_function_max", "Layers per function", 5, "count", "Q26"),
    # Invocation
    Quota("sync_payload_max_bytes", "Invocation payload, synchronous (request and response)", 6 * MB,
          "bytes", "Q26"),
    Quota("sync_response_max_bytes", "Invocation response, synchronous", 6 * MB + 100, "bytes", "obs",
          "the limit AWS names in Function.ResponseSizeTooLarge"),
    Quota("async_payload_max_bytes", "Invocation payload, asynchronous", 1 * MB, "bytes", "Q26",
          "1 MB since October 2025 (256 KB before)"),
    Quota("client_context_max_bytes", "ClientContext (base64)", 3583, "bytes", "BC"),
    Quota("log_tail_bytes", "LogType=Tail log result", 4096, "bytes", "BC"),
    # Execution environment
    Quota("init_timeout_s", "INIT phase limit", 10, "s", "ENV"),
    Quota("processes_max", "Processes and threads per environment", 1024, "count", "Q26"),
    Quota("file_descriptors_max", "File descriptors per environment", 1024, "count", "Q26"),
    Quota("mb_per_vcpu", "Memory that comes with one vCPU", 1769, "MB", "Q26"),
    Quota("vcpus_max", "vCPUs at most (at 10,240 MB)", 6, "vCPU", "Q26"),
    # Account
    Quota("concurrent_executions", "Concurrent executions (account, per Region)", 1000, "count", "Q26"),
    Quota("unreserved_min", "Minimum unreserved concurrency", 100, "count", "DG23",
          "or the account's concurrency limit if that is lower (an account limited to 10 keeps 10)"),
    Quota("scaling_environments", "New execution environments per function per scaling period", 1000, "count", "Q26",
          "refilled continuously; beyond it invocations that need a new environment are throttled"),
    Quota("scaling_period_s", "Scaling period", 10, "s", "Q26"),
    Quota("provisioned_allocation_s", "Time to allocate provisioned concurrency", 120, "s", "obs",
          "AWS states none; LocalStack's AWS-validated provisioned tests wait about two minutes for READY. "
          "On the cloud's clock: advance it to be READY sooner"),
    Quota("list_max_items", "ListFunctions MaxItems", 50, "count", "BC"),
    Quota("list_versions_max_items", "ListVersionsByFunction MaxItems", 50, "count", "BC"),
    Quota("alias_additional_versions_max", "Additional versions an alias routes to", 1, "count", "DG23",
          "an alias points to at most two versions; CreateAlias refuses more"),
    Quota("function_policy_max_bytes", "Function resource-based policy size", 20480, "bytes", "Q26",
          "the compact JSON of the whole policy; AddPermission names both sizes when it refuses"),
    Quota("tags_max", "Tags per function", 50, "count", "obs",
          "AWS's tag limit per resource; TagResource answers 'Number of tags exceeds resource tag limit.'"),
    # Asynchronous invocation (the queue in front of Invoke with InvocationType=Event)
    Quota("async_retry_attempts_default", "Retries of an event after a function error (default)", 2, "count",
          "DG23", "MaximumRetryAttempts when the function, version or alias has no EventInvokeConfig saying otherwise"),
    Quota("async_event_age_default_s", "Maximum age of an event (default)", 21600, "s", "DG23",
          "MaximumEventAgeInSeconds when no EventInvokeConfig says otherwise"),
    Quota("async_first_retry_s", "Wait before the first retry of a failed event", 60, "s", "DG23",
          "about 1 minute after the first attempt failed"),
    Quota("async_second_retry_s", "Wait before the second retry of a failed event", 120, "s", "DG23",
          "about 2 minutes after the second attempt failed"),
    Quota("async_backoff_min_s", "Backoff after a throttle or a system error (first)", 1, "s", "DG23",
          "doubles with every throttle of the same event"),
    Quota("async_backoff_max_s", "Backoff after a throttle or a system error (at most)", 300, "s", "DG23"),
    Quota("dead_letter_message_max_bytes", "ErrorMessage attribute of a dead-letter message", 1024, "bytes", "DG23",
          "the first 1 KB of the error message"),
    Quota("async_concurrency", "Asynchronous events running at once", 8, "count", "lambdalab",
          "AWS runs as many as the function's concurrency allows; each running event holds an execution "
          "environment of this machine"),
    # Event source mappings (pollers)
    Quota("esm_sqs_batch_default", "SQS event source: BatchSize (default)", 10, "messages", "BC"),
    Quota("esm_sqs_batch_max", "SQS event source: BatchSize (maximum, standard queue)", 10000, "messages", "BC"),
    Quota("esm_sqs_batch_without_window_max", "SQS event source: BatchSize without a batching window", 10,
          "messages", "DG23", "a larger batch needs MaximumBatchingWindowInSeconds of at least 1; FIFO queues "
          "take no window, so 10 is their maximum"),
    Quota("esm_stream_batch_default", "Kinesis/DynamoDB Streams event source: BatchSize (default)", 100,
          "records", "BC"),
    Quota("esm_batch_window_max_s", "MaximumBatchingWindowInSeconds (maximum)", 300, "s", "BC"),
    Quota("esm_batch_payload_max_bytes", "Event source batch payload", 6 * MB, "bytes", "DG23",
          "a batch is cut before it would pass the synchronous payload limit"),
    Quota("esm_filters_max", "Filters per event source mapping", 5, "count", "Q26"),
    Quota("esm_filter_pattern_max_chars", "Filter pattern length", 4096, "characters", "BC"),
    Quota("esm_sqs_initial_concurrency", "SQS poller: concurrent batches at first", 5, "batches", "DG23"),
    Quota("esm_sqs_scale_up_per_minute", "SQS poller: concurrent batches added per minute while messages wait",
          300, "batches", "DG23", "60 per minute before November 2023"),
    Quota("esm_sqs_max_concurrency", "SQS poller: concurrent batches at most (per mapping)", 1000, "batches",
          "DG23", "ScalingConfig.MaximumConcurrency (2-1,000) lowers it"),
    Quota("esm_sqs_extra_visibility_s", "SQS: extra visibility when window + timeout pass the queue's", 30, "s",
          "DG23", "the effective visibility timeout is then window + function timeout + 30 s"),
    Quota("esm_record_age_min_s", "MaximumRecordAgeInSeconds (minimum, unless -1)", 60, "s", "obs",
          "'must be either -1 (forever) or between 60 and 604800 (inclusive)'"),
    Quota("esm_stream_retry_initial_s", "Streams: delay before retrying a failed batch (first)", 1, "s",
          "lambdalab", "AWS states none; about 1 s is its polling interval per shard, and it backs off: "
          "recordings show 8 attempts in the first minute"),
    Quota("esm_stream_retry_max_s", "Streams: delay before retrying a failed batch (longest)", 60, "s",
          "lambdalab", "doubling from the first delay up to this"),
    # Limits of this machine, not of AWS
    Quota("esm_concurrency_machine_max", "SQS poller: concurrent batches this machine runs (per mapping)", 10,
          "batches", "lambdalab", "each batch needs an execution environment (a process); the poller's target "
          "still grows as AWS's does, and cloud.pollers.scaling() shows both"),
    Quota("keep_alive_s", "Idle environment kept warm for", 600, "s", "lambdalab",
          "AWS states no duration; about 10 minutes is commonly observed"),
    Quota("zip_entries_max", "Members of a .zip package unpacked at most", 100_000, "count", "lambdalab",
          "AWS states no such limit (its 250 MB unzipped quota bounds a package); more members are refused "
          "as an archive that cannot be unzipped"),
    Quota("machine_memory_mb", "MemorySize of the execution environments alive at once, in all", 0, "MB",
          "lambdalab", "0: 3/4 of the memory available when the cloud starts, set then. Beyond it idle "
          "environments are stopped, then invocations wait, then are throttled (LambdalabMachineCapacityExceeded)"),
    Quota("machine_wait_s", "Wait for room on this machine before a throttle", 5, "s", "lambdalab",
          "real seconds an invocation waits for an environment to end when the machine is full"),
    Quota("log_bytes_per_invocation", "Log output kept per invocation", 5 * MB, "bytes", "lambdalab",
          "AWS has no such cap; a flood of output beyond it is dropped with a note"),
)


class Quotas:
    """The quotas in force for one cloud: AWS's defaults, optionally changed for a lesson."""

    def __init__(self, overrides: dict[str, Any] | None = None) -> None:
        self._items = {q.key: q for q in DEFAULTS}
        self._listeners: list[Callable[[str], None]] = []
        self.set(**(overrides or {}))

    def subscribe(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(key)`` after a quota changes (for what was scheduled under the old value)."""
        self._listeners.append(listener)

    def set(self, **values: Any) -> None:
        """Change quotas by key, e.g. ``set(init_timeout_s=2)``; unknown keys are refused."""
        unknown = sorted(set(values) - set(self._items))
        if unknown:
            raise KeyError(f"unknown quota {', '.join(unknown)}; known: {', '.join(sorted(self._items))}")
        for key, value in values.items():
            self._items[key] = replace(self._items[key], value=value)
            for listener in self._listeners:
                listener(key)

    def __getattr__(self, key: str) -> Any:
        try:
            return self.__dict__["_items"][key].value
        except KeyError:
            raise AttributeError(key) from None

    def __iter__(self):
        return iter(self._items.values())

    def table(self):
        """The quotas as a pandas DataFrame, AWS's default beside the value in force."""
        import pandas as pd

        defaults = {q.key: q.value for q in DEFAULTS}
        return pd.DataFrame(
            [{"quota": q.aws_name, "value": q.value, "aws_default": defaults[q.key], "unit": q.unit,
              "key": q.key, "source": q.source, "note": q.note} for q in self]
        )

    def __repr__(self) -> str:
        changed = [q for q in self if q.value != next(d.value for d in DEFAULTS if d.key == q.key)]
        return f"<Quotas: AWS defaults{''.join(f', {q.key}={q.value!r}' for q in changed)}>"
