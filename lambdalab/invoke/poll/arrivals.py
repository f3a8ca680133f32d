"""moto says when a queue or stream gets something new, so that idle pollers sleep instead of polling.

Lambda's pollers long-poll; lambdalab's wait on a condition and are woken here, by wrappers around
the one method each moto model adds data through: ``sqs.models.Queue.add_message`` (SendMessage,
SendMessageBatch, a redrive to a dead-letter queue, an SNS subscription's delivery, a destination),
``SQSBackend.change_message_visibility`` (a message made visible again early),
``kinesis.models.Stream.put_record`` (PutRecord, PutRecords, resharding) and
``dynamodb.models.table.StreamShard.add`` (every write to a table with a stream).  The wrappers are
installed once per process, for a kind of source when a mapping of that kind first appears; they
call the original method, then every listener registered for that source's ARN.  moto's state is
shared by the clouds of a process, so a listener may hear of another cloud's queue with the same
ARN: it then wakes for nothing.  Waits for time (visibility timeouts, delays, retries) are timers on
the cloud's clock, not arrivals.

Lock: ``_lock`` guards ``_listeners`` and ``_installed``; listeners are called outside it.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from ...service.mappings import DYNAMODB, KINESIS, SQS

Listener = Callable[[], None]
_lock = threading.Lock()
_listeners: dict[str, list[Listener]] = {}  # source ARN -> who to wake
_installed: set[str] = set()


def listen(kind: str, arn: str, listener: Listener) -> None:
    """Call ``listener()`` whenever the queue or stream ``arn`` (of ``kind``) gets data."""
    _install(kind)
    with _lock:
        _listeners.setdefault(arn, []).append(listener)


def forget(arn: str, listener: Listener) -> None:
    with _lock:
        found = _listeners.get(arn, [])
        if listener in found:
            found.remove(listener)
        if not found:
            _listeners.pop(arn, None)


def _tell(arn: str) -> None:
    with _lock:
        found = list(_listeners.get(arn, ()))
    for listener in found:
        listener()


def _after(cls: type, name: str, arn_of: Callable[..., str | None]) -> None:
    """Wrap ``cls.name`` so that the listeners of ``arn_of(self, *args, **kwargs)`` hear of each call."""
    original = getattr(cls, name)

    @functools.wraps(original)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        arn = arn_of(self, *args, **kwargs)
        if arn:
            _tell(arn)
        return result

    setattr(cls, name, wrapper)


def _install(kind: str) -> None:
    with _lock:
        if kind in _installed:
            return
        _installed.add(kind)
    if kind == SQS:
        from moto.sqs.models import Queue, SQSBackend

        _after(Queue, "add_message", lambda queue, *a, **k: queue.queue_arn)
        _after(SQSBackend, "change_message_visibility",
               lambda backend, queue_name, *a, **k: _queue_arn(backend, queue_name))
    elif kind == KINESIS:
        from moto.kinesis.models import Stream

        _after(Stream, "put_record", lambda stream, *a, **k: stream.arn)
    elif kind == DYNAMODB:
        from moto.dynamodb.models.table import StreamShard

        _after(StreamShard, "add", lambda shard, *a, **k: stream_arn(shard.table))


def _queue_arn(backend: Any, queue_name: str) -> str | None:
    queue = backend.queues.get(queue_name)
    return queue.queue_arn if queue is not None else None


def stream_arn(table: Any) -> str:
    """The ARN of a moto table's current stream."""
    return f"{table.table_arn}/stream/{table.latest_stream_label}"
