"""What the kernel holds for its clouds: botocore's service models once, and a stopped cloud's state given back.

A chapter's kernel lives on after its cloud stops, and Binder gives the whole session 1-2 GB.

*Once per process.* A boto3 Session parses each service model it uses (hundreds of kB to MB of
JSON) and botocore's table of endpoints (about 7 MB) for itself, so a client made from a new
Session costs about 10 MB. :func:`client` makes every client of every cloud in the process from
one Session, each with its own keys, and moto reads its models from the same loader
(:func:`share_models_with_moto`), so each model is read once however many clients a notebook makes
(its chapter, its exercises, its widgets) and whether moto serves it too: into plain dicts, its shapes
and operations kept packed and parsed when asked for (``service_models``). moto's own additions to a
model (its extras files) go into a copy of moto's that shares the packed text.
Two of moto's modules read at import what a cloud seldom or never needs (every EC2 instance type's
description and every Region's offerings of them; botocore's endpoints parsed anew, three times, to
list EC2's Regions): :func:`lean_moto_imports` imports them without it. moto's IAM parses AWS's
managed policies whole for each account, a high-water mark the heap keeps, and its modules keep their
4.7 MB text for good: :func:`aws_managed_policies_one_at_a_time` reads them a policy at a time, from a
text it lets go. moto's subnets keep themselves, and so their EC2 backend, in a table of the process's:
the lean import keeps what that table held beside each subnet instead.

*Given back on stop.* moto's backends keep every account's state (IAM with AWS's managed policies,
buckets, queues, log events, metric data) in module-level tables, and freed memory stays with the
allocator unless it is handed back. :func:`release` drops moto's state for the stopped cloud's
accounts when no other running cloud in this process uses them (tests run several at once), and
the parsed models when no cloud runs at all, collects garbage, and asks glibc to return free pages
to the system (``malloc_trim``). What the kernel keeps beyond that is imported code and the objects
the notebook itself still references (its clients, frames and figures).
"""

from __future__ import annotations

import builtins
import ctypes
import ctypes.util
import gc
import gzip
import importlib.abc
import importlib.machinery
import importlib.util
import json
import sys
import threading
import types
import weakref
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import boto3
    import botocore.session

    from .cloud import LocalCloud

# Guards _sessions, and every use of the shared boto3 Session: botocore's sessions are not thread-safe,
# so clients are made one at a time (a few ms each; no request path takes this lock).
_lock = threading.RLock()
_sessions: dict[str, Any] = {}  # "botocore", "boto3": made on first use, kept for the process


def botocore_session() -> botocore.session.Session:
    """The process's one botocore session, whose loader keeps every model it parsed."""
    with _lock:
        if "botocore" not in _sessions:
            import botocore.session

            from . import service_models

            session = botocore.session.get_session()
            service_models.lean_models(session)
            _sessions["botocore"] = session
        return _sessions["botocore"]


def client(service: str, **kwargs: Any):
    """A boto3 client for ``service`` made from the process's one Session; pass its keys, Region and endpoint."""
    with _lock:
        if "boto3" not in _sessions:
            import boto3

            _sessions["boto3"] = boto3.Session(botocore_session=botocore_session())
        session: boto3.Session = _sessions["boto3"]
        return session.client(service, **kwargs)


def share_models_with_moto() -> None:
    """Let moto read the process's loader, before it parses a model of its own: its botocore session (it
    asks for the Regions of each service it serves), and the models it routes, parses and answers
    requests with, which it read with a loader of its own (EC2's: 14.5 MB more while a cloud ran)."""
    from moto.core import utils
    from moto.core.base_backend import AccountSpecificBackend

    loader = botocore_session().get_component("data_loader")
    with _lock:
        moto_session = AccountSpecificBackend.get_session()._session  # one per process, cached by moto
        if moto_session.get_component("data_loader") is not loader:
            moto_session.register_component("data_loader", loader)
        if utils._load_service_model is not _model_for_moto:
            _moto_loads[:] = [utils._load_service_model]
            utils._load_service_model = _model_for_moto


_moto_loads: list = []  # moto's own function, for what is not a service model


def _model_for_moto(service_name: str, model_name: str) -> dict[str, Any]:
    """A service model for moto from the shared loader (its shapes and operations read anew for each
    reader, ``service_models``), with moto's own additions to it, and anything else from moto's own loader.

    moto's loader merges files of its own into some models (``service-2.moto-extras.json``), which its
    answers depend on: EC2's ``DryRunOperation`` is a 412, SQS answers its query protocol too. They go into
    moto's copy of the model alone: the clients' stay AWS's own."""
    if model_name != "service-2":
        return _moto_loads[0](service_name, model_name)
    from moto.core.loaders import create_loader

    from . import service_models

    loader = botocore_session().get_component("data_loader")
    model = loader.load_service_model(service_name, model_name)
    version = loader.determine_latest_version(service_name, model_name)
    extras = list(create_loader()._find_extras(service_name, model_name, version))
    return service_models.with_extras(model, extras) if extras else model


class _LeanFinder(importlib.abc.MetaPathFinder):
    """Imports the moto modules of :data:`_LEAN`, and a module :func:`import_lean` is importing, without
    what they would read at import for nothing."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        lean = _LEAN.get(name) or _importing_lean.get(name)
        if lean is None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _LeanLoader(spec.loader, lean)
        return spec


class _LeanLoader(importlib.abc.Loader):
    def __init__(self, loader: Any, lean: Any) -> None:
        self.loader, self.lean = loader, lean

    def create_module(self, spec: Any) -> Any:
        return self.loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self.lean(self.loader, module)


def _instance_types_when_asked(loader: Any, module: Any) -> None:
    """moto's ``ec2.models.instance_types`` without what it reads at import and a cloud seldom asks for:
    every Region's instance type offerings (about 50 MB of dicts) and every instance type's description
    (about 11 MB, kept for the process's life). Its tables read them when first asked for; the names
    of the instance types are there from the start."""
    from moto.utilities import utils

    def load_resource(resource: str) -> Any:  # what the module reads at import: all but these two
        if resource == _INSTANCE_TYPES:
            return {}
        return [] if "/instance_type_offerings/" in resource else utils.load_resource(resource)

    exec_importing(loader, module, {"moto.utilities.utils": types.SimpleNamespace(load_resource=load_resource)})
    module.load_resource = utils.load_resource
    names = _InstanceTypes.names_in_moto()
    module.INSTANCE_FAMILIES = list({name.split(".")[0] for name in names})
    _lazy_instance_types(module, names)
    _lazy_offerings(module)


def _regions_from_moto_session(loader: Any, module: Any) -> None:
    """moto's ``ec2.models.availability_zones_and_regions`` lists EC2's Regions from three new boto3
    Sessions as its class body runs, each parsing botocore's endpoints anew (27 MB of PSS a kernel kept
    after the garbage went): they are answered by moto's own session, which reads the process's loader."""
    import boto3
    from moto.core.base_backend import AccountSpecificBackend

    shared = AccountSpecificBackend.get_session()
    exec_importing(loader, module, {"boto3": types.SimpleNamespace(Session=lambda: shared)})
    module.Session = boto3.Session


def exec_importing(loader: Any, module: Any, substitutes: dict[str, Any]) -> None:
    """Run ``module`` with each module named in ``substitutes`` replaced by its substitute for the
    module's own imports while it runs (an ``__import__`` in its builtins), so the process's modules never
    change: swapping a name in a shared module instead would hand the substitute to any other thread that
    used the name meanwhile."""
    running = True

    def import_(name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0) -> Any:
        if running and level == 0 and name in substitutes:
            return substitutes[name]
        return builtins.__import__(name, globals, locals, fromlist, level)

    module.__builtins__ = _Builtins(__import__=import_)
    try:
        loader.exec_module(module)
    finally:
        running = False


class _Builtins(dict):
    """A module's builtins: its own entries, and the process's (read when looked up) for the rest."""

    def __missing__(self, name: str) -> Any:
        try:
            return getattr(builtins, name)
        except AttributeError:
            raise KeyError(name) from None  # a NameError, as for any module


def _subnet_hosts_kept_per_subnet(loader: Any, module: Any) -> None:
    loader.exec_module(module)
    _keep_hosts_per_subnet(module)


def _keep_hosts_per_subnet(module: Any) -> None:
    """moto's ``ec2.models.subnets`` with each subnet's iterator of free addresses kept beside the subnet,
    not in a ``functools.cache`` on the class: that table is the process's, and the subnets it holds keep
    their EC2 backend (each Region's 1,366 Amazon images, with a snapshot and a volume each) after the
    cloud that made them has stopped. Same answers: one iterator per subnet, made when first asked for."""
    if not hasattr(getattr(module.Subnet, "_base_avail_ip_iterator", None), "cache_clear"):
        return  # done already (or a moto that no longer caches it there)
    hosts: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # subnets hash by identity, as for the cache
    lock = threading.Lock()  # the table's own: moto's request threads allocate addresses

    def _base_avail_ip_iterator(subnet: Any) -> Any:
        with lock:
            if subnet not in hosts:
                hosts[subnet] = subnet.cidr.hosts()
            return hosts[subnet]

    module.Subnet._base_avail_ip_iterator = _base_avail_ip_iterator


# moto's modules that read at import what a cloud does not need, or keep what it no longer needs, and how
# each is imported instead
_LEAN = {"moto.ec2.models.instance_types": _instance_types_when_asked,
         "moto.ec2.models.availability_zones_and_regions": _regions_from_moto_session,
         "moto.ec2.models.subnets": _subnet_hosts_kept_per_subnet}


_importing_lean: dict[str, Any] = {}  # the module import_lean is importing (guarded by _lock)


def lean_moto_imports() -> None:
    """From now on in this process, moto's modules of :data:`_LEAN` are imported lean."""
    with _lock:
        _find_lean()
        subnets = sys.modules.get("moto.ec2.models.subnets")
        if subnets is not None:  # imported before the first cloud started: its table can still be replaced
            _keep_hosts_per_subnet(subnets)


def import_lean(name: str, lean: Any) -> Any:
    """Import the module ``name`` now, run by ``lean(loader, module)`` rather than its loader (which
    :func:`exec_importing` lets give it substitutes for what it imports), through the import system, so
    that another thread importing it meanwhile waits for it, as for any import."""
    with _lock:
        _find_lean()
        _importing_lean[name] = lean
    try:
        return importlib.import_module(name)
    finally:
        with _lock:
            _importing_lean.pop(name, None)


def _find_lean() -> None:
    if not any(isinstance(finder, _LeanFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _LeanFinder())


def release(cloud: LocalCloud) -> None:
    """Free what the stopped ``cloud`` kept in this process (``stop()`` calls it last)."""
    from .cloud import _running

    others = [other for other in _running if other is not cloud]
    in_use = {a for other in others for a in (other.account, other.other_account)}
    _drop_moto_accounts({cloud.account, cloud.other_account} - in_use)
    if not others:
        _forget_models()
        _forget_instance_types()
    gc.collect()
    _trim_heap()


def _drop_moto_accounts(accounts: set[str]) -> None:
    """Forget moto's state for ``accounts`` in every backend in use; moto recreates an account's
    backends, empty, the next time a request names it."""
    base = sys.modules.get("moto.core.base_backend")
    if base is None or not accounts:
        return
    with base.backend_lock:
        for backends in list(getattr(base.BackendDict, "_instances", ())):
            for account in accounts & set(backends):
                dict.__delitem__(backends, account)
            names = getattr(backends, "bucket_accounts", {})  # S3's global bucket names: free them too
            for name in [n for n, (_, account) in names.items() if account in accounts]:
                del names[name]
        # moto caches each account's list of Regions in an lru_cache keyed by the account's backends
        # themselves, which keeps every account it ever made alive (Logs' events, CloudWatch's metric data).
        # Its backends are made under this lock; the next one computes its Regions again.
        regions = getattr(base.AccountSpecificBackend, "_generate_regions", None)
        if regions is not None:
            regions.cache_clear()
    instances = sys.modules.get("moto.core.model_instances")
    if instances is not None:
        # moto also lists every model object it ever made (for its dashboard, which the gateway does not
        # serve): each account's ~1,600 AWS managed policies, every log event. Unlisted, the dropped
        # accounts' objects can go; a running cloud's stay in its backends.
        instances.reset_model_data()


def _forget_models() -> None:
    """Drop the parsed models and endpoints no client holds any more: the shared loader's, the sessions'
    and moto's own (it parses a model per service to route and answer requests); each is parsed again
    when next used."""
    from moto.core.base_backend import AccountSpecificBackend

    with _lock:
        if "botocore" in _sessions:
            _sessions["botocore"].get_component("data_loader")._cache.clear()
        # Each session's endpoint resolver holds botocore's endpoints (about 7 MB parsed): registered anew,
        # it is made again, from a fresh read, when a session next needs it.
        for session in (_sessions.get("botocore"), AccountSpecificBackend.get_session()._session):
            if session is not None:
                session._register_endpoint_resolver()
    utils, routing = sys.modules.get("moto.core.utils"), sys.modules.get("moto.core.routing")
    for cached in (getattr(utils, "get_service_model", None), getattr(utils, "get_pagination_model", None),
                   getattr(routing, "get_service_router", None)):  # its routers hold the models too
        if cached is not None:
            cached.cache_clear()


class _Offerings(dict):
    """moto's EC2 instance type offerings of one location type, by Region, each read from moto's files
    when first asked for (moto reads every Region's at import)."""

    def __init__(self, location_type: str, files: dict[str, str]) -> None:
        super().__init__()
        self.location_type, self.files = location_type, files  # Region -> moto's resource path

    def _load(self, region: str) -> list:
        from moto.utilities.utils import load_resource

        offerings = load_resource(self.files[region])
        for offering in offerings:
            offering["LocationType"] = self.location_type
        dict.__setitem__(self, region, offerings)
        return offerings

    def __getitem__(self, region: str) -> list:
        return dict.__getitem__(self, region) if dict.__contains__(self, region) else self._load(region)

    def get(self, region: str, default: Any = None) -> Any:
        return self[region] if region in self.files else default

    def __contains__(self, region: object) -> bool:
        return region in self.files


def _forget_instance_types() -> None:
    """The instance types and offerings moto's EC2 read (all of them, when it was imported before
    :func:`lean_moto_imports`; those asked for since, otherwise): read again when next asked for."""
    module = sys.modules.get("moto.ec2.models.instance_types")
    if module is None:
        return
    if isinstance(module.INSTANCE_TYPES, _InstanceTypes):
        dict.clear(module.INSTANCE_TYPES)  # in place: moto's Batch holds the table too
        module.InstanceTypeBackend.instance_types = _EveryInstanceType(module)
    else:
        _lazy_instance_types(module, list(module.INSTANCE_TYPES))
    _lazy_offerings(module)


class NamedTable(dict):
    """A dict whose keys, ``self.names`` (a dict, in order), are known from the start and whose values a
    subclass reads when asked for (its ``__getitem__``): tables a library would parse whole. dict's own
    storage is the subclass's to use; every read of a key goes through the methods below."""

    names: dict

    def get(self, name: str, default: Any = None) -> Any:
        return self[name] if name in self.names else default

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def __iter__(self) -> Any:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)

    def keys(self) -> Any:
        return self.names.keys()


_INSTANCE_TYPES = "ec2/resources/instance_types.json"  # moto's description of every EC2 instance type


class _InstanceTypes(NamedTable):
    """moto's descriptions of the EC2 instance types by name: the names from the start, the
    descriptions read from moto's file, all at once, when one is first asked for."""

    def __init__(self, names: list[str]) -> None:
        super().__init__()
        self.names = dict.fromkeys(names)  # in moto's order

    @staticmethod
    def names_in_moto() -> list[str]:
        """The names in moto's file, each description parsed and dropped in turn (no whole parse)."""
        from moto.utilities import utils

        try:
            text = gzip.decompress(utils.load_resource_as_bytes(_INSTANCE_TYPES + ".gz")).decode()
        except FileNotFoundError:  # moto reads the plain file when there is no compressed one
            text = utils.load_resource_as_str(_INSTANCE_TYPES)
        return [name for name, _ in _json_object_items(text)]

    def _read(self) -> _InstanceTypes:
        if not dict.__len__(self):
            from moto.utilities.utils import load_resource

            dict.update(self, load_resource(_INSTANCE_TYPES))
        return self

    def __getitem__(self, name: str) -> Any:
        return dict.__getitem__(self._read(), name)

    def values(self) -> Any:
        return dict.values(self._read())

    def items(self) -> Any:
        return dict.items(self._read())


class _EveryInstanceType:
    """moto's ``InstanceTypeBackend.instance_types`` (every type, for DescribeInstanceTypes), made when
    first asked for rather than as the class is defined."""

    def __init__(self, module: Any) -> None:
        self.module, self.types = module, None

    def __get__(self, backend: Any, owner: Any) -> list:
        if self.types is None:
            self.types = list(map(self.module.InstanceType, self.module.INSTANCE_TYPES))
        return self.types


def _lazy_instance_types(module: Any, names: list[str]) -> None:
    """Replace the module's instance types by a table that reads their descriptions when first asked for."""
    module.INSTANCE_TYPES = _InstanceTypes(names)
    module.InstanceTypeBackend.instance_types = _EveryInstanceType(module)


def _lazy_offerings(module: Any) -> None:
    """Replace the module's tables of offerings by tables that read a Region's file when first asked for."""
    root = resources.files("moto") / "ec2" / "resources" / "instance_type_offerings"
    for location_type in list(module.INSTANCE_TYPE_OFFERINGS):
        files = {f.name.split(".")[0]: f"ec2/resources/instance_type_offerings/{location_type}/{f.name}"
                 for f in (root / location_type).iterdir()}
        module.INSTANCE_TYPE_OFFERINGS[location_type] = _Offerings(location_type, files)


def aws_managed_policies_one_at_a_time() -> None:
    """From now on in this process, each new IAM account reads AWS's managed policies one at a time.

    moto gives every account AWS's ~1,600 managed policies (``attach_role_policy`` needs them, as in
    AWS) by parsing their 4.7 MB of JSON in one go and then building the policies from it: the whole
    parse (about 14 MB of dicts) is alive at once beside the policies, and the heap keeps that high-water
    mark for the kernel's life. Parsed one policy at a time, the account costs only its policies (about
    5 MB, given back when :func:`release` drops the account). The text itself is read from moto's module
    for the account being made, and not kept: imported, moto's modules hold its 4.7 MB for good.
    """
    from moto.iam import models

    with _lock:
        if getattr(models.IAMBackend._init_aws_policies, "one_at_a_time", False):
            return

        def _init_aws_policies(backend: Any) -> list:
            if not models.load_iam_aws_managed_policies():
                return []
            return [models.AWSManagedPolicy.from_data(name, backend.account_id, backend.region_name, data)
                    for name, data in _json_object_items(_aws_managed_policies_text())]

        _init_aws_policies.one_at_a_time = True  # type: ignore[attr-defined]
        models.IAMBackend._init_aws_policies = _init_aws_policies
        # what moto.iam.models imported and kept: nothing of moto's uses it but the method replaced above
        models.__dict__.pop("aws_managed_policies_data", None)
        sys.modules.pop(_POLICIES, None)
        sys.modules["moto.iam"].__dict__.pop(_POLICIES.rsplit(".", 1)[1], None)


_POLICIES = "moto.iam.aws_managed_policies"  # the module whose one string is AWS's managed policies


def _aws_managed_policies_text() -> str:
    """moto's text of AWS's managed policies, from its module run anew (a few ms) and not registered."""
    spec = importlib.util.find_spec(_POLICIES)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.aws_managed_policies_data


def _json_object_items(text: str) -> Any:
    """(key, value) of the JSON object ``text``, each value parsed only when its turn comes."""
    return ((key, value) for key, value, _, _ in json_object_entries(text))


def json_object_entries(text: str, spans_of: frozenset[str] = frozenset()) -> Any:
    """(key, value, start, end) of each member of the JSON object ``text``, in order: each value is
    parsed only when its turn comes (no whole parse is ever alive), and ``text[start:end]`` is its JSON.
    The value of a key in ``spans_of`` is not parsed whole: an object is given as ``{member: (start, end)}``,
    an array of objects as a list of dicts of their members, read the same way (botocore's endpoints:
    ``partitions``, each with its ``services``)."""
    yield from _members(text, 0, spans_of)


_decode, _skip = json.JSONDecoder().raw_decode, json.decoder.WHITESPACE.match


def _expect(char: str, text: str, at: int) -> int:
    at = _skip(text, at).end()
    if text[at:at + 1] != char:
        raise ValueError(f"expected {char!r} at character {at} of the JSON text")
    return at + 1


def _members(text: str, at: int, spans_of: frozenset[str]) -> Any:
    """The members of the object at ``text[at:]`` (see :func:`json_object_entries`); returns its end."""
    at = _skip(text, _expect("{", text, at)).end()
    if text[at:at + 1] == "}":
        return at + 1
    while True:
        key, at = _decode(text, _skip(text, at).end())
        start = _skip(text, _expect(":", text, at)).end()
        if key in spans_of and text[start:start + 1] == "[":
            value, at = _objects(text, start, spans_of)
        elif key in spans_of:
            value, at = _spans(text, start)
        else:
            value, at = _decode(text, start)
        yield key, value, start, at
        at = _skip(text, at).end()
        if text[at:at + 1] == "}":
            return at + 1
        at = _expect(",", text, at)


def _objects(text: str, at: int, spans_of: frozenset[str]) -> tuple[list[dict[str, Any]], int]:
    """(the objects of the array at ``text[at:]``, each a dict of its members read by :func:`_members`,
    where the array ends)."""
    objects: list[dict[str, Any]] = []
    at = _skip(text, _expect("[", text, at)).end()
    if text[at:at + 1] == "]":
        return objects, at + 1
    while True:
        found, at = _object(text, at, spans_of, lambda value, start, end: value)
        objects.append(found)
        at = _skip(text, at).end()
        if text[at:at + 1] == "]":
            return objects, at + 1
        at = _expect(",", text, at)


def _spans(text: str, at: int) -> tuple[dict[str, tuple[int, int]], int]:
    """({member: (start, end)} of the object at ``text[at:]``, where the object ends)."""
    return _object(text, at, frozenset(), lambda value, start, end: (start, end))


def _object(text: str, at: int, spans_of: frozenset[str], keep: Any) -> tuple[dict[str, Any], int]:
    """({key: keep(value, start, end)} of the members :func:`_members` reads at ``text[at:]``, where the
    object ends); each value is let go as soon as ``keep`` has seen it."""
    found, members = {}, _members(text, at, spans_of)
    while True:
        try:
            key, value, start, end = next(members)
        except StopIteration as done:
            return found, done.value
        found[key] = keep(value, start, end)


def _trim_heap() -> None:
    """Return free heap pages to the system where the C library can (glibc); a no-op elsewhere."""
    if sys.platform != "linux":
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):  # musl and others have no malloc_trim
        pass
