"""LocalCloud: the whole local AWS in this process, started and stopped as one thing.

``lambdalab.start()`` gives a running cloud: one endpoint on 127.0.0.1 where Lambda requests go
to lambdalab and everything else to moto, boto3 clients bound to it, the invocation records and
the log of IAM's decisions.  It has two accounts: ``account``, where ``cloud.client()`` acts as the
root user, and ``other_account``, a partner for cross-account lessons; IAM users act through their
own access keys (``cloud.client(..., credentials=key)``).  Each account has its own functions in
every Region (``regions``): ``cloud.service`` is the first account's Lambda in the cloud's Region
(``us-east-1`` unless told), ``cloud.services(account, region)`` any other.
``stop()`` (or leaving the ``with`` block, or the interpreter exiting) kills every execution
environment; a reaper process does the same if this process dies abruptly.  Environments are kept
apart from each other and from this process as far as the machine allows (``cloud.isolation()``
says how; ``isolation={...}`` changes the settings of :class:`lambdalab.sandbox.isolation.Settings`).

Each cloud makes its own random root keys (``cloud.credentials``), so nothing that runs in it
knows them unless it is given them: a handler holds only its execution role's session.
"""

from __future__ import annotations

import atexit
import base64
import calendar
import dataclasses
import hashlib
import hmac
import logging
import os
import secrets
import shutil
import socket
import string
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from . import memory, mototime, runtimes, sources
from .api import LambdaAPI
from .api.authorize import LambdaAuthorization
from .api.context import ApiContext
from .arns import FUNCTION_ARN
from .clock import Clock
from .function_urls import PREFIX as FUNCTION_URLS
from .function_urls import FunctionUrlFront
from .gateway import Gateway
from .http_api import HttpApiFront
from .httpd import reason
from .iam import denials
from .iam.authorizer import Authorizer
from .iam.guard import Guard
from .iam.principals import Directory
from .iam.roles import check_execution_role, create_course_role, session_credentials
from .invoke.async_queue import AsyncQueue
from .invoke.destinations import Destinations
from .invoke.invoker import Invoker
from .invoke.lease import Leases
from .invoke.poll import Pollers
from .invoke.pool import EnvironmentPool
from .invoke.provisioner import Provisioner
from .observe.logs import LogShipper
from .observe.metrics import Metrics
from .observe.records import Records
from .regions import REGIONS, Place, Regions
from .runtimes.interpreters import Interpreters
from .sandbox.environment import SandboxContext
from .sandbox.governor import Governor
from .sandbox.isolation import Isolation, Settings
from .service.code import archive_path
from .service.errors import InvalidParameterValueException, LambdaError
from .service.functions import LambdaService
from .service.models import Function, LayerVersion
from .service.quotas import Quotas
from .sources.schedules import Schedules

OTHER_ACCOUNT = "210987654321"
DOWNLOAD_EXPIRES_S = 600  # GetFunction's Code.Location and GetLayerVersion's Content.Location, as in AWS
# Event sources (S3, SNS) stop first; then environments (they use everything else), what serves them, what records them.
# Asynchronous queues and event source pollers stop taking work before the environments stop (an
# attempt they cut short is no failure); their threads are joined after.
_STOP_ORDER = ("schedules", "sources", "http-apis", "queue", "pollers", "pool", "workers", "poller-threads", "governor",
               "isolation", "gateway", "listener", "logs", "metrics", "workdir", "mototime", "clock")
log = logging.getLogger(__name__)
_running: weakref.WeakSet[LocalCloud] = weakref.WeakSet()


class LocalCloud:
    """A local AWS: Lambda by lambdalab, the other services by moto, behind one endpoint."""

    def __init__(self, *, port: int = 0, region: str = "us-east-1", account: str = "123456789012",
                 other_account: str = OTHER_ACCOUNT, quotas: dict[str, Any] | None = None, cpu_throttle: bool = True,
                 freeze: bool = True, verify_signatures: bool = True, isolation: dict[str, Any] | None = None,
                 interpreters: dict[str, str | None] | None = None) -> None:
        """``verify_signatures=False`` is for tools that cannot sign requests with SigV4: the access key
        in a request still names its caller and IAM still judges every call, but the signature, its
        clock skew and expiry, and an STS session's token are not checked, so anyone who knows (or
        guesses) an access key id acts as its owner, root users included.  Never the default.
        ``isolation`` changes the settings of :class:`lambdalab.sandbox.isolation.Settings`.
        ``interpreters`` names the Python that runs a runtime (``{"python3.13": "/path/to/python3.13"}``),
        or none (``None``: lambdalab's own), where lambdalab would otherwise look for one
        (``lambdalab.runtimes.interpreters``).
        A ``region`` that is not one of the aws partition's where Lambda runs raises ValueError."""
        if region not in REGIONS:
            raise ValueError(f"{region!r} is not a Region of the aws partition where Lambda runs")
        self.region, self.account, self.other_account = region, account, other_account
        self.quotas = Quotas(quotas)
        self.clock = Clock()
        self.records = Records()
        self._port, self._cpu_throttle, self._freeze = port, cpu_throttle, freeze
        self.verify_signatures = verify_signatures
        self._roots = {account: _root_key(), other_account: _root_key()}  # account -> its root user's AccessKey
        self._download_key = secrets.token_bytes(32)  # signs the /_lambdalab/ download URLs
        self._isolation_settings = Settings.of(isolation)  # see lambdalab.sandbox.isolation.Settings
        self.interpreters = Interpreters(interpreters)  # which Python runs each runtime (cloud.runtimes())
        self._started = False
        self.unfinished_events = 0  # asynchronous events left queued by the last stop()
        self._stops: dict[str, Callable[[], None]] = {}  # how to stop each part that started, by name
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> LocalCloud:
        """Start every part, each one ready before the parts that use it; undo them all if one fails.

        In a notebook (an IPython kernel), a cloud started for accounts that a running cloud of the
        kernel uses stops that cloud first, and says so: a chapter's set-up cell run again gets an empty
        cloud, not one that shares the earlier cloud's buckets, topics and roles (moto keeps them per
        account, for the whole process). Elsewhere, clouds of the same accounts may run side by side."""
        from moto import settings

        if _in_ipython():
            self._replace_earlier_clouds()
        with self._lock:
            if self._started:
                return self
            self._stops = {}
            try:
                self._start(settings)
            except BaseException:
                try:
                    self._shutdown()
                except Exception:  # logged by _shutdown; the failure to start is the one to report
                    pass
                raise
            self._started = True
        _running.add(self)
        return self

    def _replace_earlier_clouds(self) -> None:
        mine = {self.account, self.other_account}
        for other in [c for c in list(_running) if c is not self and mine & {c.account, c.other_account}]:
            other.stop()
            print(f"lambdalab: stopped the local cloud this kernel started before ({other.endpoint_url}), which "
                  "shared this one's accounts; everything in it went with it, and the new cloud starts empty.")

    def _start(self, moto_settings: Any) -> None:
        moto_settings.default_user_config.setdefault("iam", {})["load_aws_managed_policies"] = True  # as in AWS
        memory.share_models_with_moto()
        memory.lean_moto_imports()
        memory.aws_managed_policies_one_at_a_time()
        for account in (self.account, self.other_account):
            create_course_role(account)
        self._stops["clock"] = self.clock.stop
        mototime.follow(self.clock)  # moto's SQS visibility, Kinesis arrival times, ... on this cloud's clock
        self._stops["mototime"] = lambda: mototime.unfollow(self.clock)
        self.workdir = Path(tempfile.mkdtemp(prefix="lambdalab-"))
        self._stops["workdir"] = lambda: shutil.rmtree(self.workdir, ignore_errors=True)
        for path in (self.workdir, *(self.workdir / sub for sub in ("code", "opt", "envs"))):
            path.mkdir(exist_ok=True)
            os.chmod(path, 0o711)  # environments can reach their own paths but not list others'
        listener = socket.create_server(("127.0.0.1", self._port), backlog=128)  # the endpoint's URL, first
        self._stops["listener"] = listener.close
        port = listener.getsockname()[1]
        self.endpoint_url = f"http://127.0.0.1:{port}"
        self.logs = LogShipper(self._deliver_logs)
        self._stops["logs"] = self.logs.stop
        self._metrics = Metrics(self._deliver_metrics)
        self._stops["metrics"] = self._metrics.stop
        self._isolation = Isolation(self.workdir, port, self._isolation_settings, self.interpreters.paths())
        self._stops["isolation"] = self._isolation.close  # its reaper kills what is left and removes the workdir
        # The kernel refuses the 1,025th task where it counts per environment; as root, without a user per
        # environment, nothing does but the governor.
        self._governor = Governor(enforce_processes=self._isolation.root and not self._isolation.users)
        self._stops["governor"] = self._governor.stop
        self._sandbox = SandboxContext(  # a template: each place sets its region, logs, records and credentials
            quotas=self.quotas, clock=self.clock, governor=self._governor, isolation=self._isolation,
            interpreters=self.interpreters, logs=self.logs,
            records=self.records, workdir=self.workdir, endpoint_url=self.endpoint_url, region=self.region,
            credentials=lambda fn: {}, freeze=self._freeze, cpu_throttle=self._cpu_throttle)
        self.pool = EnvironmentPool(self._sandbox, context_of=lambda fn: self.regions.of(fn.arn).sandbox)
        self._stops["pool"] = self.pool.stop
        self.authorizer = Authorizer(self.clock, self.region)
        roots = {key["AccessKeyId"]: (account, key["SecretAccessKey"]) for account, key in self._roots.items()}
        directory = Directory(roots)  # the guard's and the destinations': one view of who may do what
        self._destinations = Destinations(self.endpoint_url, directory, self.authorizer, session_credentials)
        self.pollers = Pollers(self.authorizer, self.clock, self._destinations)  # event source mappings, of every place
        self._stops["pollers"], self._stops["poller-threads"] = self.pollers.close, self.pollers.join
        self.regions = Regions((self.account, self.other_account), self._place)
        self._stops["queue"], self._stops["workers"] = self.regions.close, self.regions.join
        home = self.regions.get(self.account, self.region)
        self.service, self.invoker, self.leases, self.queue = home.service, home.invoker, home.leases, home.queue
        self.metrics = home.invoker.metrics
        api = LambdaAPI(self.regions.api, self.quotas)
        guard = Guard(directory, self.authorizer, self.clock, verify=self.verify_signatures)
        # S3's notifications, SNS's subscriptions and EventBridge's rules invoke functions here, judged here
        self._stops["sources"] = sources.connect(api, self.authorizer)
        self.schedules = Schedules(self.clock, (self.account, self.other_account), sources.schedule_entries,
                                   sources.install)  # scheduled rules and Scheduler's schedules, on our clock
        self._stops["schedules"] = self.schedules.stop
        self.schedules.start()
        urls = FunctionUrlFront(self.regions.places, self.authorizer, self.clock)
        http_apis = HttpApiFront(api, (self.account, self.other_account), self.endpoint_url, self.clock)
        http_apis.start()  # CreateApi answers this cloud's address for its APIs
        self._stops["http-apis"] = http_apis.stop
        self.gateway = Gateway(api, self._own_app, guard, urls, http_apis, listener=listener)
        self._stops["gateway"] = self.gateway.stop
        self.gateway.start()

    def _place(self, account: str, region: str) -> Place:
        """Lambda for ``account`` in ``region``: its service, concurrency (leases, provisioner), invoker and
        sandbox context.  The machine's capacity is the pool's, shared by every place."""
        service = LambdaService(account=account, region=region, quotas=self.quotas, clock=self.clock,
                                workdir=self.workdir,
                                fetch_s3=lambda bucket, key, version: self._fetch_s3(account, bucket, key, version))
        service.subscribe(lambda name, qualifier, function: self.pool.retire(service.arn(name), qualifier, function))
        sandbox = dataclasses.replace(
            self._sandbox, region=region, logs=self.logs.at(account, region), records=self.records.at(account, region),
            credentials=lambda fn: session_credentials(fn.role, fn.name, region))
        leases = Leases(service.concurrency)  # the account's concurrency in this Region, as in AWS
        provisioner = Provisioner(service, self.pool)
        metrics = self._metrics.at(account, region)
        invoker = Invoker(service, self.pool, leases, metrics)
        queue = AsyncQueue(invoker, self._destinations, metrics, self.clock, self.quotas)
        self.pollers.attach(service, invoker, metrics)
        api = ApiContext(service=service, invoker=invoker, queue=queue, destinations=self._destinations,
                         code_url=self._code_url, layer_url=self._layer_url, function_url=self._function_url,
                         authorization=LambdaAuthorization(service, self.authorizer, check_execution_role))
        return Place(service, leases, provisioner, invoker, queue, sandbox, api)

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
            try:
                self._shutdown()
            finally:
                self.unfinished_events = self.regions.unfinished
                memory.release(self)  # the kernel lives on: give back moto's state and free pages

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
    def credentials(self) -> dict[str, str]:
        """The root user's access key of ``account`` (``AccessKeyId``, ``SecretAccessKey``), random per cloud."""
        return dict(self._roots[self.account])

    @property
    def session(self):
        """A boto3 Session whose clients talk to this cloud as the root user of ``account``.

        A Session of its own, which parses the models of its clients again: ``client()`` shares them."""
        import boto3

        return boto3.Session(**self._keys(), region_name=self.region)

    def client(self, service: str, *, credentials: dict[str, str] | None = None, account: str | None = None,
               **kwargs: Any):
        """``boto3`` client for ``service`` bound to this cloud (e.g. ``cloud.client("lambda")``).

        It acts as the root user of ``account`` (default: ``cloud.account``; ``cloud.other_account``
        is the second account), or as whoever ``credentials`` belong to: the ``AccessKey`` dict of
        IAM's CreateAccessKey, or the ``Credentials`` of STS's AssumeRole.  ``region_name="eu-west-1"``
        reaches that Region (default: the cloud's).
        """
        return memory.client(service, endpoint_url=self.endpoint_url, **{"region_name": self.region, **kwargs},
                             **self._keys(credentials, account))

    def decisions(self):
        """IAM's decisions so far (all but the root users' in their own account), as a pandas DataFrame."""
        import pandas as pd

        from .iam.authorizer import Judgement

        columns = [f.name for f in fields(Judgement)]
        frame = pd.DataFrame([asdict(j) for j in self.authorizer.judgements()], columns=columns)
        return frame.astype({"statement": "Int64"})  # a statement index, or <NA> when none decided

    def _keys(self, credentials: dict[str, str] | None = None, account: str | None = None) -> dict[str, str | None]:
        """boto3's keyword arguments for ``credentials``, or for the root user of ``account``."""
        if credentials is None:
            if (account or self.account) not in self._roots:
                raise ValueError(f"no root user for account {account}: this cloud's accounts are {self.account} "
                                 f"and {self.other_account}")
            credentials = self._roots[account or self.account]
        return {"aws_access_key_id": credentials["AccessKeyId"],
                "aws_secret_access_key": credentials["SecretAccessKey"],
                "aws_session_token": credentials.get("SessionToken")}

    def services(self, account: str | None = None, region: str | None = None) -> LambdaService:
        """The Lambda service of ``account`` (default ``cloud.account``) in ``region`` (default the cloud's)."""
        return self.regions.get(account or self.account, region or self.region).service

    def invocations(self):
        """Every invocation so far as a pandas DataFrame (one row per invocation; an asynchronous event's
        attempts share its request id, ``attempt`` numbering them, ``invocation_model`` "async")."""
        return self.records.frame()

    def async_events(self):
        """Every asynchronous event so far, in every account and Region, as a pandas DataFrame (one row per
        event): its ``state`` (queued, running, waiting, or how it ended: succeeded, failed, dropped,
        unfinished), its ``condition``, attempts and throttles, where its record and dead letter went, and
        its ``history``."""
        import pandas as pd

        frames = [place.queue.frame() for place in self.regions.places()]
        return pd.concat(frames, ignore_index=True).sort_values("received", ignore_index=True, kind="stable")

    def isolation(self):
        """What keeps environments apart on this machine, as a pandas DataFrame (protection, active, detail).

        Which protections are active depends on the kernel and on whether lambdalab runs as root;
        those that are not say why (``lambdalab.sandbox.isolation`` explains each).
        """
        import pandas as pd

        return pd.DataFrame([asdict(p) for p in self._isolation.protections()], columns=["name", "active", "detail"]) \
            .rename(columns={"name": "protection"})

    def runtimes(self):
        """What runs each runtime here, as a pandas DataFrame (runtime, runs_on, executable, note).

        A Python runtime runs on the Python version it names where this machine has one
        (``lambdalab.runtimes.interpreters`` says where lambdalab looks), else on lambdalab's own
        interpreter, and the note (also the first log line of each of its functions' cold starts) says so.
        """
        import pandas as pd

        return pd.DataFrame(runtimes.table(self.interpreters), columns=["runtime", "runs_on", "executable", "note"])

    def environments(self, function_name: str | None = None) -> list:
        """The execution environments alive now, oldest first: all, or one function's (its ARN, or the
        name of one of ``cloud.service``'s)."""
        match = FUNCTION_ARN.match(function_name) if function_name else None
        if match is None:
            return self.pool.environments(None if function_name is None else self.service.arn(function_name))
        arn = f"arn:aws:lambda:{match['region'] or self.region}:{match['account'] or self.account}:function:"
        return self.pool.environments(arn + match["name"])

    def environ(self) -> dict[str, str]:
        """The variables that point the AWS CLI and SDKs at this cloud, as the root user of ``account``."""
        root = self._roots[self.account]
        return {"AWS_ENDPOINT_URL": self.endpoint_url, "AWS_ACCESS_KEY_ID": root["AccessKeyId"],
                "AWS_SECRET_ACCESS_KEY": root["SecretAccessKey"], "AWS_DEFAULT_REGION": self.region}

    def __repr__(self) -> str:
        if not self._started:
            return "<LocalCloud stopped>"
        return (f"<LocalCloud {self.endpoint_url} {self.region}/{self.account}: "
                f"{len(self.service.functions())} functions, {len(self.environments())} environments, "
                f"{len(self.records)} invocations>")

    # -- plumbing into moto ----------------------------------------------------------------------
    def _deliver_logs(self, account: str, region: str, group: str, stream: str, events: list[dict]) -> None:
        from moto.logs.exceptions import ResourceAlreadyExistsException
        from moto.logs.models import logs_backends

        backend = logs_backends[account][region]
        for create in (lambda: backend.create_log_group(group, {}), lambda: backend.create_log_stream(group, stream)):
            try:
                create()
            except ResourceAlreadyExistsException:
                pass
        backend.put_log_events(group, stream, events)

    def _deliver_metrics(self, account: str, region: str, namespace: str, metric_data: list[dict]) -> None:
        from moto.cloudwatch.models import cloudwatch_backends

        cloudwatch_backends[account][region].put_metric_data(namespace, metric_data)

    def _fetch_s3(self, account: str, bucket: str, key: str, version: str | None) -> bytes:
        from moto.s3.exceptions import MissingBucket
        from moto.s3.models import s3_backends

        try:
            obj = s3_backends[account]["aws"].get_object(bucket, key, version)
        except MissingBucket:
            raise InvalidParameterValueException("Error occurred while GetObject. S3 Error Code: NoSuchBucket. "
                                                 "S3 Error Message: The specified bucket does not exist") from None
        if obj is None:
            raise InvalidParameterValueException("Error occurred while GetObject. S3 Error Code: NoSuchKey. "
                                                 "S3 Error Message: The specified key does not exist.")
        return bytes(obj.value)

    def _code_url(self, function: Function) -> str:
        return self._presign(f"/_lambdalab/code/{quote(function.qualified_arn)}.zip")

    def _function_url(self, url_id: str) -> str:
        return f"{self.endpoint_url}{FUNCTION_URLS}{url_id}/"

    def _layer_url(self, layer: LayerVersion) -> str:
        return self._presign(f"/_lambdalab/layers/{quote(layer.arn)}.zip")

    def _presign(self, path: str) -> str:
        """A download URL valid for 10 minutes of the cloud's time, like the presigned S3 URLs AWS hands out."""
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self.clock.time()))
        query = f"X-Amz-Date={stamp}&X-Amz-Expires={DOWNLOAD_EXPIRES_S}"
        return f"{self.endpoint_url}{path}?{query}&X-Amz-Signature={self._download_signature(path, query)}"

    def _download_signature(self, path: str, query: str) -> str:
        return hmac.new(self._download_key, f"{path}?{query}".encode(), hashlib.sha256).hexdigest()

    def _own_app(self, environ: dict, start_response):
        """Serves GetFunction's ``Code.Location`` and GetLayerVersion's ``Content.Location``: the uploaded .zip,
        to whoever holds an unexpired URL, answering as S3 answers for a presigned URL."""
        path, _, query = environ["RAW_URI"].partition("?")
        signed, _, signature = query.partition("&X-Amz-Signature=")
        fields = dict(pair.partition("=")[::2] for pair in signed.split("&"))
        if not hmac.compare_digest(self._download_signature(path, signed).encode(), signature.encode()):
            return self._s3_error(start_response, denials.Refused("denied", "Access Denied"))
        signed_at = calendar.timegm(time.strptime(fields["X-Amz-Date"], "%Y%m%dT%H%M%SZ"))
        if self.clock.time() > signed_at + DOWNLOAD_EXPIRES_S:
            return self._s3_error(start_response, denials.Refused("presign-expired", fields=(
                ("X-Amz-Expires", str(DOWNLOAD_EXPIRES_S)), ("Expires", _iso(signed_at + DOWNLOAD_EXPIRES_S)),
                ("ServerTime", _iso(self.clock.time())))))
        kind, _, arn = unquote(path).removeprefix("/_lambdalab/").removesuffix(".zip").partition("/")
        try:
            service = self.regions.of(arn).service
            if kind == "layers":
                name, version = arn.rsplit(":", 2)[1:]
                root = service.layers.find(name, int(version)).code.root
            else:
                root = service.resolve(arn).code.root
            body = archive_path(root).read_bytes()
        except (LambdaError, FileNotFoundError, KeyError):  # deleted since the URL was handed out, or no ARN
            return self._s3_error(start_response, denials.Refused("no-such-key", fields=(("Key", path),)))
        start_response("200 OK", [("Content-Type", "application/zip"), ("Content-Length", str(len(body)))])
        return [body]

    @staticmethod
    def _s3_error(start_response, refused: denials.Refused) -> list[bytes]:
        status, headers, body = denials.respond("s3", {}, refused)
        start_response(f"{status} {reason(status)}", [*headers, ("Content-Length", str(len(body)))])
        return [body]


def _root_key() -> dict[str, str]:
    """A root user's access key shaped like AWS's: AKIA + 16 base-32 characters, a 40-character secret."""
    key_id = "AKIA" + "".join(secrets.choice(string.ascii_uppercase + "234567") for _ in range(16))
    return {"AccessKeyId": key_id, "SecretAccessKey": base64.b64encode(secrets.token_bytes(30)).decode()}


def _iso(moment: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))


def _in_ipython() -> bool:
    """Whether this process is an IPython shell or kernel (a notebook's), which may run a cell again."""
    ipython = sys.modules.get("IPython")
    return ipython is not None and ipython.get_ipython() is not None


def start(**kwargs: Any) -> LocalCloud:
    """Start a local cloud (see :class:`LocalCloud` for the options) and return it running."""
    return LocalCloud(**kwargs).start()


@atexit.register
def _stop_all() -> None:
    for cloud in list(_running):
        cloud.stop()
