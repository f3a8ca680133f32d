"""The JSON the process's shared botocore session reads (service models, endpoints): plain dicts, and
each model's shapes and operations, and each partition's services, parsed when asked for.

botocore parses every data file into ``OrderedDict``s, which take half as much memory again as dicts:
EC2's model is 14.5 MB so, 9.5 MB as dicts; Lambda's 1.9 and 1.2. Dicts keep their order too (Python
3.7), and nothing of botocore's, boto3's or moto's needs more of what it loads: the loader of the
shared session (:func:`memory.botocore_session`, which every ``cloud.client()`` and moto read) parses
into plain dicts.

Most of a model is its shapes (EC2: 4,613 of them, 8.2 MB of its 9.5), and a client uses those of the
few operations it calls: botocore reads a shape when it builds an operation's request or reads its
answer, and keeps what it built (``Shape`` objects, cached per operation). So a service model's
``shapes`` and ``operations`` are :class:`PackedMembers`: each member kept as its compressed JSON (EC2's
shapes: 1.8 MB) and parsed, a new dict, each time it is asked for. A client reads each operation once,
as its class is made, and keeps it; botocore changes some of them in place (S3's drop ``/{Bucket}``
from their paths), so each client, and moto, which routes requests by those paths, gets its own.
Everything is kept, the descriptions that ``help()`` shows included. The price is paid once per model
and process: EC2's is read in about 125 ms instead of botocore's 53 (the compression), Lambda's in 20
instead of 10. botocore's table of endpoints (every partition's services and their Regions) is read the
same way, each service's entry when a client asks for it: 0.45 MB kept instead of 3.9.

A client's class has a method for every operation, and botocore builds each one's ``OperationModel`` as
it makes the method's docstring, which is itself written only when read (``help()``): every operation
of every client parsed and kept for the client's life, of which a chapter calls a few dozen (4.5 MB of
the 18.5 that the eleven clients of chapter 05 cost). :func:`lean_models` replaces botocore's
``ClientCreator._create_api_method`` for the process: for the clients of a lean session, the docstring
reads its operation's model when it is written, and a call when it is made; other sessions' clients are
made by botocore's own.
"""

from __future__ import annotations

import copy
import json
import os
import zlib
from typing import Any

from botocore.client import ClientCreator
from botocore.docs.docstring import ClientMethodDocstring
from botocore.loaders import ExtrasProcessor, JSONFileLoader

from . import memory

PACKED = frozenset({"shapes", "operations"})  # the members of a service model kept packed
ENDPOINTS_PACKED = frozenset({"partitions", "services"})  # the endpoints' partitions, and their services packed


def lean_models(session: Any) -> None:
    """From now on, ``session``'s loader parses its files into plain dicts, a model's shapes and operations
    when asked for."""
    loader = session.get_component("data_loader")
    loader.file_loader = _LeanJSONFileLoader()
    loader._extras_processor = _ExtrasIntoPackedMembers()
    if ClientCreator._create_api_method is not _create_api_method:
        _botocores_api_method[:] = [ClientCreator._create_api_method]
        ClientCreator._create_api_method = _create_api_method


_botocores_api_method: list = []  # botocore's own, for the clients of other sessions


def _create_api_method(creator: Any, py_operation_name: str, operation_name: str, service_model: Any) -> Any:
    """botocore's client method for an operation (``ClientCreator._create_api_method``), whose docstring
    reads the operation's model when it is read, for a model of a lean session (its operations packed);
    botocore's own, which reads every operation's model as the client's class is made, for any other."""
    if not isinstance(service_model._service_description.get("operations"), PackedMembers):
        return _botocores_api_method[0](creator, py_operation_name, operation_name, service_model)

    def _api_call(self: Any, *args: Any, **kwargs: Any) -> Any:
        if args:
            raise TypeError(f"{py_operation_name}() only accepts keyword arguments.")
        return self._make_api_call(operation_name, kwargs)

    _api_call.__name__ = str(py_operation_name)
    _api_call.__doc__ = _OperationDocstring((service_model, operation_name, py_operation_name, creator._event_emitter))
    return _api_call


class _OperationDocstring(ClientMethodDocstring):
    """botocore's docstring of a client method, made from the operation's name (with the service model,
    the method's name and the client's events) rather than its model, which it reads when it is written."""

    def __init__(self, of: tuple[Any, str, str, Any]) -> None:
        super().__init__()
        self._of = of

    def _write_docstring(self, docstring: Any) -> None:
        service_model, operation_name, py_operation_name, event_emitter = self._of
        operation_model = service_model.operation_model(operation_name)
        super()._write_docstring(docstring, operation_model=operation_model, method_name=operation_name,
                                 event_emitter=event_emitter, method_description=operation_model.documentation,
                                 example_prefix=f"response = client.{py_operation_name}", include_signature=False)


def with_extras(model: dict[str, Any], extras: list[dict[str, Any]]) -> dict[str, Any]:
    """A copy of ``model`` with ``extras`` (files in botocore's extras format) merged into it, ``model``
    unchanged: its packed members' compressed JSON shared, what the merge changes held by the copy."""
    copied = {key: value.overlay() if isinstance(value, PackedMembers) else copy.deepcopy(value)
              for key, value in model.items()}
    _ExtrasIntoPackedMembers().process(copied, extras)
    return copied


class _LeanJSONFileLoader(JSONFileLoader):
    """botocore's JSON loader (its ``_load_file``: read as UTF-8, ``None`` for a missing file), parsing
    into dicts rather than OrderedDicts, and a service model's shapes and operations, and the endpoints'
    services, into :class:`PackedMembers`."""

    def _load_file(self, full_path: str, open_method: Any) -> Any:
        if not os.path.isfile(full_path):
            return None
        with open_method(full_path, "rb") as fp:
            text = fp.read().decode("utf-8")
        name = os.path.basename(full_path)
        if name.startswith("endpoints."):
            return _endpoints(text)
        if not name.startswith("service-2."):
            return json.loads(text)
        return {key: PackedMembers.of(text, value) if key in PACKED else value
                for key, value, _, _ in memory.json_object_entries(text, spans_of=PACKED)}


def _endpoints(text: str) -> dict[str, Any]:
    """botocore's table of endpoints, with each partition's services packed: 4.9 MB as dicts, for as long
    as a client lives (an S3 client's handlers keep the creator that holds it), of which a client reads
    the entries of its own service."""
    endpoints = {key: value for key, value, _, _ in memory.json_object_entries(text, spans_of=ENDPOINTS_PACKED)}
    for partition in endpoints.get("partitions", ()):  # botocore itself refuses a table without any
        if "services" in partition:
            partition["services"] = PackedMembers.of(text, partition["services"])
    return endpoints


class _ExtrasIntoPackedMembers(ExtrasProcessor):
    """botocore's merge of a model's extras files (``service-2.sdk-extras.json``: S3's ``Expires``, RDS's
    ``SourceRegion``), after keeping parsed the packed members it merges into, which it changes in place."""

    def _process(self, model: Any, extra_model: Any) -> None:
        for key, merged in extra_model.get("merge", {}).items():
            if isinstance(model.get(key), PackedMembers):
                model[key].keep(merged)
        super()._process(model, extra_model)


class PackedMembers(memory.NamedTable):
    """A service model's shapes (or operations, or a partition's services) by name, in the model's order,
    each parsed from its compressed JSON when asked for (a new dict each time), except those set or kept,
    which are held parsed. Compared with a dict, it must be the left-hand side: a dict compares its own
    storage, which here stays empty."""

    def __init__(self, packed: dict[str, bytes | None]) -> None:
        super().__init__()  # dict's own storage stays empty: every read goes through the methods below
        self.names = packed  # name -> compressed JSON (None: set since, see _kept)
        self._kept: dict[str, Any] = {}

    @classmethod
    def of(cls, text: str, spans: dict[str, tuple[int, int]]) -> PackedMembers:
        return cls({name: zlib.compress(text[start:end].encode(), 1) for name, (start, end) in spans.items()})

    def overlay(self) -> PackedMembers:
        """Another table of the same members, sharing their compressed JSON; what is set or kept in either
        is its own (those held parsed now are copied)."""
        table = PackedMembers(dict(self.names))
        table._kept = copy.deepcopy(self._kept)
        return table

    def keep(self, names: Any) -> None:
        """Parse these members once and hold them, so that changes made to them in place last."""
        for name in names:
            if name in self.names and name not in self._kept:
                self._kept[name] = self[name]

    def __getitem__(self, name: str) -> Any:
        if name in self._kept:
            return self._kept[name]
        return json.loads(zlib.decompress(self.names[name]))

    def __setitem__(self, name: str, member: Any) -> None:
        self.names.setdefault(name, None)
        self._kept[name] = member

    def values(self) -> Any:
        return (self[name] for name in self.names)

    def items(self) -> Any:
        return ((name, self[name]) for name in self.names)

    def copy(self) -> dict:
        return dict(self.items())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, dict) and len(other) == len(self) and all(
            name in other and other[name] == member for name, member in self.items())

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<{len(self)} members, each parsed when asked for>"

    def _unsupported(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("a service model's shapes and operations are only read, or set one at a time")

    __delitem__ = pop = popitem = setdefault = update = clear = __ior__ = _unsupported
