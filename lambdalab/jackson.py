"""JSON read as AWS's Java front ends read it (Jackson): the documents they refuse, in their words.

Every JSON text that reaches lambdalab from outside (request bodies, invocation payloads, the bodies
the IAM guard reads before moto does, policy documents) goes through :func:`load_json`, so that no
nesting depth becomes a RecursionError (a 500) and bytes that are not UTF-8 are refused as AWS
refuses them.
"""

from __future__ import annotations

import json
import re
from array import array
from itertools import accumulate
from typing import Any

# AWS's front end parses JSON with Jackson, whose StreamReadConstraints refuse a document nested
# deeper than 1,000 levels (its default) with this sentence, naming the depth it stopped at.
MAX_JSON_DEPTH = 1000
TOO_DEEP = (f"Document nesting depth ({MAX_JSON_DEPTH + 1}) exceeds the maximum allowed ({MAX_JSON_DEPTH}, "
            "from `StreamReadConstraints.getMaxNestingDepth()`)")
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')  # unrolled: linear on any input
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # +1 and -1 as signed bytes


def load_json(data: bytes | str) -> Any:
    """``json.loads`` that refuses, with ValueError, what Jackson refuses (depth, bytes that are not UTF-8,
    NaN and Infinity), and never recurses past the depth it allows.

    Python's parser recurses once per level: 3.10 and 3.11 raise RecursionError a little before
    1,000 levels (``"[" * 100000``), later versions go deeper. So a document with more brackets than
    the limit (a count in C, so small payloads cost nothing) has its depth measured first, without
    recursion, and one too deep never reaches the parser: at the recursion limit, any code the
    garbage collector runs (a weakref's callback, a finalizer) would fail, and its work be lost.
    """
    raw = data.encode(errors="surrogatepass") if isinstance(data, str) else data
    if raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH and _depth(raw) > MAX_JSON_DEPTH:
        raise ValueError(TOO_DEEP)
    try:
        return json.loads(data, parse_constant=_non_numeric)
    except RecursionError:  # within Jackson's depth, deeper than Python 3.10 and 3.11 go
        raise ValueError(TOO_DEEP) from None
    except UnicodeDecodeError as e:
        raise ValueError(_not_utf8(e)) from None


# Jackson's words for bytes that are not UTF-8 (an invalid first byte of a character, or an invalid
# byte inside one) and the location it gives: the column after the bad byte, counted from 1.  Recorded:
# tests/fidelity/cases/err-invoke-payload-not-utf8.json.  A text cut off inside a character keeps
# Python's words.
_UTF8_ERRORS = {"invalid start byte": "start", "invalid continuation byte": "middle"}
_LOCATION = "\n at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: {}, column: {}]"


def _not_utf8(error: UnicodeDecodeError) -> str:
    kind = _UTF8_ERRORS.get(error.reason)
    if kind is None or error.encoding.replace("-", "").lower() != "utf8":
        return str(error)
    at = error.start if kind == "start" else error.end  # the byte that is not a continuation byte
    raw = bytes(error.object)
    row_start = raw.rfind(b"\n", 0, at) + 1
    return f"Invalid UTF-8 {kind} byte 0x{raw[at]:02x}" + _LOCATION.format(raw.count(b"\n", 0, at) + 1,
                                                                           at - row_start + 2)


def _non_numeric(name: str) -> Any:
    """Python reads NaN, Infinity and -Infinity; JSON, and Jackson by default, does not."""
    raise ValueError(f"Non-standard token '{name}': enable `JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` to allow")


def _depth(raw: bytes) -> int:
    """How deeply ``raw`` nests arrays and objects, strings left out (all in C: a regex, a translation, a sum)."""
    steps = _JSON_STRING.sub(b"", raw).translate(_STEPS, _NOT_BRACKETS)
    return max(accumulate(array("b", steps)), default=0)
