"""The JSON the process's shared botocore session reads (service models, endpoints), kept as plain dicts.

botocore parses every data file into ``OrderedDict``s, which take half as much memory again as dicts:
EC2's model is 14.5 MB so, 9.5 MB as dicts; Lambda's 1.9 and 1.2. Dicts keep their order too (Python
3.7), and nothing of botocore's, boto3's or moto's needs more of what it loads: the loader of the
shared session (:func:`memory.botocore_session`, which every ``cloud.client()`` and moto read) parses
into plain dicts. Everything is kept, the descriptions that ``help()`` shows included.
"""

from __future__ import annotations

import json
import os
from typing import Any

from botocore.loaders import JSONFileLoader


def plain_dicts(session: Any) -> None:
    """From now on, ``session``'s loader parses its files into plain dicts."""
    session.get_component("data_loader").file_loader = _PlainJSONFileLoader()


class _PlainJSONFileLoader(JSONFileLoader):
    """botocore's JSON loader (its ``_load_file``: read as UTF-8, ``None`` for a missing file), parsing
    into dicts rather than OrderedDicts."""

    def _load_file(self, full_path: str, open_method: Any) -> Any:
        if not os.path.isfile(full_path):
            return None
        with open_method(full_path, "rb") as fp:
            return json.loads(fp.read().decode("utf-8"))
