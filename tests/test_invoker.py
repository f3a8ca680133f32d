"""The async workers: an unexpected failure of one event costs that event, never the worker."""

from __future__ import annotations

import threading
import uuid

import pytest

from lambdalab.invoke import invoker as invoker_module
from lambdalab.invoke.invoker import Invoker
from lambdalab.sandbox.invocation import Invocation


def event(cloud, name: str) -> Invocation:
    return Invocation(request_id=str(uuid.uuid4()), payload=b"{}", invoked_arn=cloud.service.arn(name),
                      invocation_type="Event")


def test_a_worker_survives_an_unexpected_exception(cloud, fn, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(invoker_module, "ASYNC_WORKERS", 1)  # one worker: if it died, nothing would run
    name = fn.create("def handler(event, context):\n    return 1\n")
    invoker = Invoker(cloud.service, cloud.pool, cloud.leases, cloud.metrics)
    ran, calls = threading.Event(), []

    def invoke(function, inv):
        calls.append(inv.request_id)
        if len(calls) == 1:
            raise KeyError("a bug in lambdalab")
        ran.set()
        return inv

    monkeypatch.setattr(invoker, "invoke", invoke)
    try:
        function = cloud.service.resolve(name)
        first, second = event(cloud, name), event(cloud, name)
        invoker.submit(function, first)
        invoker.submit(function, second)
        assert ran.wait(10), "the worker died with the first event"
        assert calls == [first.request_id, second.request_id]
        assert all(worker.is_alive() for worker in invoker._workers)
    finally:
        invoker.stop()
    assert not any(worker.is_alive() for worker in invoker._workers)
