"""What each invocation record used, in the whole units billing counts: requests and MB-ms.

A record is a row of ``cloud.invocations()`` (or of a simulator's output, which has the same
columns). Billing reads ``memory_mb`` and ``billed_ms`` (``duration_ms`` and ``init_ms`` for the
historic rules), and, when present, ``architecture`` (default ``x86_64``),
``ephemeral_storage_mb`` (default 512) and ``provisioned`` (default False: the invocation ran on
an on-demand environment). A row with an ``invocations`` column stands for that many invocations,
and its ``billed_ms`` is their total: the per-minute summary of a long simulation bills like its
records.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .prices import ARCHITECTURES

FREE_STORAGE_MB = 512  # /tmp up to 512 MB is included in the price of duration
INT64_MAX = 2**63 - 1


@dataclass(frozen=True)
class Usage:
    """One entry per record, as numpy arrays."""

    requests: np.ndarray  # int64: 1 per invocation
    mb_ms: np.ndarray  # int64: memory (MB) x billed duration (ms)
    storage_mb_ms: np.ndarray  # int64: /tmp above 512 MB (MB) x billed duration (ms)
    arm: np.ndarray  # bool: the function's architecture is arm64
    provisioned: np.ndarray  # bool: it ran on a provisioned-concurrency environment


def _whole(values: pd.Series, column: str) -> np.ndarray:
    """``values`` as int64, refusing blanks, fractions and negatives (billing counts whole units)."""
    if values.isna().any():
        raise ValueError(f"{column} has empty values; billing needs it in every record")
    array = values.to_numpy()
    whole = np.asarray(array, dtype=np.int64)
    if (whole != array).any() or (whole < 0).any():
        raise ValueError(f"{column} must hold whole, non-negative numbers")
    return whole


def billed_ms(records: pd.DataFrame, granularity_ms: int = 1, init_billed: bool = True) -> np.ndarray:
    """Each record's billed duration in ms under a billing rule.

    The default is AWS's rule since 1 August 2025, which every record's ``billed_ms`` already
    applies: Duration plus a cold start's Init Duration, rounded up to 1 ms. ``granularity_ms=100``
    rounds up to 100 ms instead (AWS's rule until December 2020); ``init_billed=False`` leaves the
    Init Duration out, as AWS did for managed runtimes such as Python until August 2025.
    """
    if isinstance(granularity_ms, bool) or not isinstance(granularity_ms, int) or granularity_ms < 1:
        raise ValueError(f"granularity_ms must be a whole number of ms, at least 1; it is {granularity_ms!r}")
    if granularity_ms == 1 and init_billed:
        return _whole(records["billed_ms"], "billed_ms")
    if "invocations" in records.columns:
        raise ValueError("a summary row holds the total billed ms of many invocations; rounding each of them another "
                         "way needs the records of the invocations themselves")
    ms = records["duration_ms"].to_numpy(dtype=float)
    if init_billed:
        ms = ms + records["init_ms"].fillna(0.0).to_numpy(dtype=float)
    return (np.ceil(ms / granularity_ms) * granularity_ms).astype(np.int64)


def usage(records: pd.DataFrame, granularity_ms: int = 1, init_billed: bool = True) -> Usage:
    """What ``records`` used (see the module's docstring for the columns read)."""
    n = len(records)
    ms = billed_ms(records, granularity_ms, init_billed)
    memory = _whole(records["memory_mb"], "memory_mb")
    storage = (_whole(records["ephemeral_storage_mb"], "ephemeral_storage_mb") if "ephemeral_storage_mb" in records
               else np.full(n, FREE_STORAGE_MB, dtype=np.int64))
    extra = np.maximum(storage - FREE_STORAGE_MB, 0)
    if n and int(ms.max()) * int(max(memory.max(), extra.max())) > INT64_MAX:
        raise OverflowError("these records use more MB-ms than billing can count in 64 bits")
    arch = records["architecture"] if "architecture" in records else pd.Series("x86_64", index=records.index)
    unknown = set(arch.unique()) - set(ARCHITECTURES)
    if unknown:
        raise ValueError(f"unknown architecture {sorted(map(str, unknown))}: Lambda has {list(ARCHITECTURES)}")
    provisioned = (records["provisioned"].eq(True).to_numpy(dtype=bool) if "provisioned" in records  # blank: False
                   else np.zeros(n, dtype=bool))
    requests = (_whole(records["invocations"], "invocations") if "invocations" in records
                else np.ones(n, dtype=np.int64))
    return Usage(requests=requests, mb_ms=memory * ms, storage_mb_ms=extra * ms,
                 arm=(arch == "arm64").to_numpy(dtype=bool), provisioned=provisioned)


__all__ = ["FREE_STORAGE_MB", "Usage", "billed_ms", "usage"]
