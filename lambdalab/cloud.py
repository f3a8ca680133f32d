"""LocalCloud: the whole local AWS in this process, started and stopped as one thing.

``lambdalab.start()`` gives a running cloud: one endpoint on 127.0.0.1 where Lambda requests go
to lambdalab and everything else to moto, boto3 clients bound to it, the invocation records and
the log of IAM's decisions.  It has two accounts: ``account``, where functions run and where
``cloud.client()`` acts as the root user, and ``other_account``, a partner for cross-account
lessons; IAM users act through their own access keys (``cloud.client(..., credentials=key)``).
``stop()`` (or leaving the ``with`` block, or the interpreter exiting) kills every execution
environment; a reaper process does the same if this process dies abruptly.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import socket
import tempfile
import threading
import weakref
from collections.abc import Callable
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from .api import LambdaAPI
from .api.authorize import LambdaAuthorization
from .api.context import ApiContext
from .clock import Clock
from .gateway import Gateway
from .iam.authorizer import Authorizer
from .iam.guard import Guard
from .iam.principals import Directory
from .iam.roles import check_execution_role, create_course_role, session_credentials
from .invoke.async_queue import AsyncQueue
from .invoke.destinations import Destinations
from .invoke.invoker import Invoker
from .invoke.lease import Leases
from .invoke.pool import EnvironmentPool
from .observe.logs import LogShipper
from .observe.metrics import Metrics
from .observe.records import Records
from .sandbox.environment import SandboxContext
from .sandbox.governor import Governor
from .sandbox.process import Reaper
from .service.code import archive_path
from .service.errors import InvalidParameterValueException
from .service.functions import LambdaService
from .service.models import Function, LayerVersion
from .service.quotas import Quotas

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}  # the root user of ``account``
OTHER_ACCOUNT = "210987654321"
# Environments first (they use everything else), then what serves them, then what records them.
# The asynchronous queue closes before the environments stop (an attempt they cut short is no failure),
# and its workers are joined after.
_STOP_ORDER = ("queue", "pool", "workers", "governor", "reaper", "gateway", "listener", "logs", "metrics", "workdir",
               "clock")
log = logging.getLogger(__name__)
_running: weakref.WeakSet[LocalCloud] = weakref.WeakSet()


class LocalCloud:
    """A local AWS: Lambda by lambdalab, the other services by moto, behind one endpoint."""

    def __init__(self, *, port: int = 0, region: str = "us-east-1", account: str = "123456789012",
                 other_account: str = OTHER_ACCOUNT, quotas: dict[str, Any] | None = None, cpu_throttle: bool = True,
                 freeze: bool = True) -> None:
        self.region, self.account, self.other_account = region, account, other_account
        self.quotas = Quotas(quotas)
        self.clock = Clock()
        self.records = Records()
        self._port, self._cpu_throttle, self._freeze = port, cpu_throttle, freeze
        self._started = False
        self.unfinished_events = 0  # asynchronous events left queued by the last stop()
        self._stops: dict[str, Callable[[], None]] = {}  # how to stop each part that started, by name
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> LocalCloud:
        """Start every part, each one ready before the parts that use it; undo them all if one fails."""
        from moto import settings
        from moto.server import DomainDispatcherApplication, create_backend_app

        with self._lock:
            if self._started:
                return self
            self._stops = {}
            try:
                self._start(settings, DomainDispatcherApplication(create_backend_app))
            except BaseException:
                try:
                    self._shutdown()
                except Exception:  # logged by _shutdown; the failure to start is the one to report
                    pass
                raise
            self._started = True
        _running.add(self)
        return self

    def _start(self, moto_settings: Any, moto_app: Any) -> None:
        moto_settings.default_user_config.setdefault("iam", {})["load_aws_managed_policies"] = True  # as in AWS
        create_course_role(self.account)
        self._stops["clock"] = self.clock.stop
        self.workdir = Path(tempfile.mkdtemp(prefix="lambdalab-"))
        self._stops["workdir"] = lambda: shutil.rmtree(self.workdir, ignore_errors=True)
        os.chmod(self.workdir, 0o711)  # environments can reach their own paths but not list others'
        listener = socket.create_server(("127.0.0.1", self._port), backlog=128)  # the endpoint's URL, first
        self._stops["listener"] = listener.close
        self.endpoint_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        self.logs = LogShipper(self._deliver_logs)
        self._stops["logs"] = self.logs.stop
        self.metrics = Metrics(self._deliver_metrics)
        self._stops["metrics"] = self.metrics.stop
        self.service = LambdaService(account=self.account, region=self.region, quotas=self.quotas, clock=self.clock,
                                     workdir=self.workdir, fetch_s3=self._fetch_s3)
        self._reaper = Reaper(str(self.workdir))
        self._stops["reaper"] = self._reaper.close  # also removes the working directory
        self._governor = Governor(enforce_processes=os.geteuid() == 0 if hasattr(os, "geteuid") else True)
        self._stops["governor"] = self._governor.stop
        self._sandbox = SandboxContext(
            quotas=self.quotas, clock=self.clock, governor=self._governor, reaper=self._reaper, logs=self.logs,
            records=self.records, workdir=self.workdir, endpoint_url=self.endpoint_url, region=self.region,
            credentials=lambda fn: session_credentials(fn.role, fn.name, self.region), freeze=self._freeze,
            cpu_throttle=self._cpu_throttle)
        self.pool = EnvironmentPool(self._sandbox)
        self._stops["pool"] = self.pool.stop
        self.service.subscribe(self.pool.retire)
        self.leases = Leases(self.quotas)
        self.invoker = Invoker(self.service, self.pool, self.leases, self.metrics)
        self.authorizer = Authorizer(self.clock, self.region)
        roots = {CREDENTIALS["AWS_ACCESS_KEY_ID"]: self.account, self.account: self.account,
                 self.other_account: self.other_account}
        directory = Directory(roots)
        destinations = Destinations(self.endpoint_url, directory, self.authorizer, session_credentials)
        self.queue = AsyncQueue(self.invoker, destinations, self.metrics, self.clock, self.quotas)
        self._stops["queue"], self._stops["workers"] = self.queue.close, self.queue.join
        api = LambdaAPI(ApiContext(service=self.service, invoker=self.invoker, queue=self.queue,
                                   destinations=destinations, code_url=self._code_url, layer_url=self._layer_url,
                                   authorization=LambdaAuthorization(self.service, self.authorizer,
                                                                     check_execution_role)))
        self.gateway = Gateway(api, moto_app, self._own_app, Guard(directory, self.authorizer),
                               listener=listener)
        self._stops["gateway"] = self.gateway.stop
        self.gateway.start()

    def stop(self) -> None:
        """Stop everything: no environment, thread or process of this cloud survives it.

        Asynchronous events still queued (in line, running or waiting for a retry) are counted in
        ``unfinished_events`` and in a warning; they are ``unfinished`` in :meth:`async_events`.
        """
        with self._lock:
            if not self._started:
                return
            self._started = False
            _running.discard(self)
            self._shutdown()
            self.unfinished_events = self.queue.unfinished

    def _shutdown(self) -> None:
        """Stop the parts that started, in ``_STOP_ORDER``; every step runs even if one before it failed.

        The first failure is raised once all have run (the others are logged), so a part that
        cannot stop never leaves the rest running.
        """
        errors: list[BaseException] = []
        for name in _STOP_ORDER:
            step = self._stops.pop(name, None)
            if step is None:
                continue
            try:
                step()
            except Exception as e:
                log.error("stopping the cloud's %s failed: %r", name, e)
                errors.append(e)
        if errors:
            raise errors[0]

    def __enter__(self) -> LocalCloud:
        return self if self._started else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what a notebook uses --------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._started

    @property
    def session(self):
        """A boto3 Session whose clients talk to this cloud as the root user of ``account``."""
        return self._session()

    def client(self, service: str, *, credentials: dict[str, str] | None = None, account: str | None = None,
               **kwargs: Any):
        """``boto3`` client for ``service`` bound to this cloud (e.g. ``cloud.client("lambda")``).

        It acts as the root user of ``account`` (default: ``cloud.account``; ``cloud.other_account``
        is the second account), or as whoever ``credentials`` belong to: the ``AccessKey`` dict of
        IAM's CreateAccessKey, or the ``Credentials`` of STS's AssumeRole.
        """
        return self._session(credentials, account).client(service, endpoint_url=self.endpoint_url, **kwargs)

    def decisions(self):
        """IAM's decisions so far (all but the root users' in their own account), as a pandas DataFrame."""
        import pandas as pd

        from .iam.authorizer import Judgement

        columns = [f.name for f in fields(Judgement)]
        frame = pd.DataFrame([asdict(j) for j in self.authorizer.judgements()], columns=columns)
        return frame.astype({"statement": "Int64"})  # a statement index, or <NA> when none decided

    def _session(self, credentials: dict[str, str] | None = None, account: str | None = None):
        import boto3

        if credentials is None:
            key = CREDENTIALS["AWS_ACCESS_KEY_ID"] if account in (None, self.account) else account
            credentials = {"AccessKeyId": key, "SecretAccessKey": CREDENTIALS["AWS_SECRET_ACCESS_KEY"]}
        return boto3.Session(aws_access_key_id=credentials["AccessKeyId"],
                             aws_secret_access_key=credentials["SecretAccessKey"],
                             aws_session_token=credentials.get("SessionToken"), region_name=self.region)

    def invocations(self):
        """Every invocation so far as a pandas DataFrame (one row per invocation; an asynchronous event's
        attempts share its request id, ``attempt`` numbering them, ``invocation_model`` "async")."""
        return self.records.frame()

    def async_events(self):
        """Every asynchronous event so far as a pandas DataFrame (one row per event): its ``state``
        (queued, running, waiting, or how it ended: succeeded, failed, dropped, unfinished), its
        ``condition``, attempts and throttles, where its record and dead letter went, and its ``history``."""
        return self.queue.frame()

    def environments(self, function_name: str | None = None) -> list:
        """The execution environments alive now, oldest first."""
        return self.pool.environments(function_name)

    def environ(self) -> dict[str, str]:
        """The variables that point the AWS CLI and SDKs at this cloud."""
        return {"AWS_ENDPOINT_URL": self.endpoint_url, "AWS_ACCESS_KEY_ID": CREDENTIALS["AWS_ACCESS_KEY_ID"],
                "AWS_SECRET_ACCESS_KEY": CREDENTIALS["AWS_SECRET_ACCESS_KEY"], "AWS_DEFAULT_REGION": self.region}

    def __repr__(self) -> str:
        if not self._started:
            return "<LocalCloud stopped>"
        return (f"<LocalCloud {self.endpoint_url} {self.region}/{self.account}: "
                f"{len(self.service.functions())} functions, {len(self.environments())} environments, "
                f"{len(self.records)} invocations>")

    # -- plumbing into moto ----------------------------------------------------------------------
    def _deliver_logs(self, group: str, stream: str, events: list[dict]) -> None:
        from moto.logs.exceptions import ResourceAlreadyExistsException
        from moto.logs.models import logs_backends

        backend = logs_backends[self.account][self.region]
        for create in (lambda: backend.create_log_group(group, {}), lambda: backend.create_log_stream(group, stream)):
            try:
                create()
            except ResourceAlreadyExistsException:
                pass
        backend.put_log_events(group, stream, events)

    def _deliver_metrics(self, namespace: str, metric_data: list[dict]) -> None:
        from moto.cloudwatch.models import cloudwatch_backends

        cloudwatch_backends[self.account][self.region].put_metric_data(namespace, metric_data)

    def _fetch_s3(self, bucket: str, key: str, version: str | None) -> bytes:
        from moto.s3.exceptions import MissingBucket
        from moto.s3.models import s3_backends

        try:
            obj = s3_backends[self.account]["aws"].get_object(bucket, key, version)
        except MissingBucket:
            raise InvalidParameterValueException("Error occurred while GetObject. S3 Error Code: NoSuchBucket. "
                                                 "S3 Error Message: The specified bucket does not exist") from None
        if obj is None:
            raise InvalidParameterValueException("Error occurred while GetObject. S3 Error Code: NoSuchKey. "
                                                 "S3 Error Message: The specified key does not exist.")
        return bytes(obj.value)

    def _code_url(self, function: Function) -> str:
        qualified = function.name if function.version == "$LATEST" else f"{function.name}:{function.version}"
        return f"{self.endpoint_url}/_lambdalab/code/{quote(qualified)}.zip"

    def _layer_url(self, layer: LayerVersion) -> str:
        return f"{self.endpoint_url}/_lambdalab/layers/{quote(layer.name)}/{layer.version}.zip"

    def _own_app(self, environ: dict, start_response):
        """Serves GetFunction's ``Code.Location`` and GetLayerVersion's ``Content.Location``: the uploaded .zip."""
        kind, _, rest = unquote(environ["PATH_INFO"]).removeprefix("/_lambdalab/").removesuffix(".zip").partition("/")
        try:
            if kind == "layers":
                name, _, version = rest.partition("/")
                root = self.service.layers.find(name, int(version)).code.root
            else:
                root = self.service.resolve(rest).code.root
            body = archive_path(root).read_bytes()
        except Exception:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"NoSuchKey"]
        start_response("200 OK", [("Content-Type", "application/zip"), ("Content-Length", str(len(body)))])
        return [body]


def start(**kwargs: Any) -> LocalCloud:
    """Start a local cloud (see :class:`LocalCloud` for the options) and return it running."""
    return LocalCloud(**kwargs).start()


@atexit.register
def _stop_all() -> None:
    for cloud in list(_running):
        cloud.stop()
