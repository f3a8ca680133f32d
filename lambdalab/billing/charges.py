"""The cost of each invocation: its request, its GB-seconds at its memory and architecture, its /tmp.

An invocation's cost is its list price: the first tier's duration price (or the lower price of
duration on a provisioned environment), and no free tier, which are both properties of a whole
month's usage (:func:`~lambdalab.billing.bill` applies them). Costs are computed exactly in
integers, then given as floats, each the nearest double to the exact amount, so that a column of
them plots and sums like any other; ``exact=True`` (and a single record) gives the exact
:class:`~decimal.Decimal` instead.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from decimal import Context, Decimal, localcontext
from typing import Any

import numpy as np
import pandas as pd

from .prices import ARCHITECTURES, MB_MS_PER_GB_SECOND, Prices
from .prices import prices as prices_in_force
from .usage import INT64_MAX, usage

EXACT = Context(prec=100)  # enough digits for any quotient of a 64-bit count by a power of 2 and 5
FLOAT_EXACT = 2**53  # integers below this are exact as doubles


def _scale(rates: list[Decimal]) -> int:
    """The power of ten that makes every rate a whole number."""
    return 10 ** max(0, *(-r.as_tuple().exponent for r in rates))


def _numerators(records: pd.DataFrame, table: Prices, granularity_ms: int, init_billed: bool) -> tuple[np.ndarray, int]:
    """Each record's cost as ``numerator / denominator`` USD, exactly."""
    use = usage(records, granularity_ms, init_billed)
    usd = {(component, a): table.rate(component, a).usd for a in ARCHITECTURES
           for component in ("requests", "ephemeral_storage", "provisioned_duration")}
    usd |= {("duration", a): table.tiers(a)[0].rate.usd for a in ARCHITECTURES}  # the list price: the first tier
    scale = _scale(list(usd.values()))
    whole = {key: int(rate * scale) for key, rate in usd.items()}  # in 1/scale USD per request or per GB-second
    whole |= {("requests", a): whole["requests", a] * MB_MS_PER_GB_SECOND for a in ARCHITECTURES}  # per request
    bound = sum(int(quantity.max()) * max(whole[component, a] for a in ARCHITECTURES)
                for quantity, component in ((use.requests, "requests"), (use.mb_ms, "duration"),
                                            (use.mb_ms, "provisioned_duration"),
                                            (use.storage_mb_ms, "ephemeral_storage"))) if len(records) else 0
    kind = np.int64 if bound <= INT64_MAX else object  # Python's integers when 64 bits could overflow

    def rate(component: str) -> np.ndarray:
        return np.where(use.arm, whole[component, "arm64"], whole[component, "x86_64"]).astype(kind)

    duration = np.where(use.provisioned, rate("provisioned_duration"), rate("duration"))
    numerators = (use.requests.astype(kind) * rate("requests") + use.mb_ms.astype(kind) * duration
                  + use.storage_mb_ms.astype(kind) * rate("ephemeral_storage"))
    return numerators, scale * MB_MS_PER_GB_SECOND


def _one(record: Any) -> pd.DataFrame | None:
    """A single record as a one-row frame; None when ``record`` is a frame of records."""
    if isinstance(record, pd.DataFrame):
        return None
    if isinstance(record, pd.Series):
        return record.to_frame().T.infer_objects()
    if dataclasses.is_dataclass(record) and not isinstance(record, type):
        return pd.DataFrame([dataclasses.asdict(record)])
    if hasattr(record, "_asdict"):  # a row of DataFrame.itertuples()
        return pd.DataFrame([record._asdict()])
    if isinstance(record, Mapping):
        return pd.DataFrame([dict(record)])
    raise TypeError(f"cost() takes the DataFrame of cloud.invocations() or one of its records, not {type(record)}")


def cost(records: Any, *, prices: Prices | None = None, granularity_ms: int = 1, init_billed: bool = True,
         exact: bool = False) -> pd.Series | Decimal:
    """The cost in USD of each invocation in ``records`` (a DataFrame with the columns of
    ``cloud.invocations()``): a float Series on the frame's index, Decimals with ``exact=True``.
    Given one record (a row, a mapping, an ``InvocationRecord``), its exact cost as a Decimal.

    The cost is the request charge, plus memory (GB) x billed duration (s) at the architecture's
    first-tier price (the provisioned price when the record's ``provisioned`` is true), plus the
    /tmp configured above 512 MB at its price per GB-second. ``granularity_ms`` and ``init_billed``
    choose how the billed duration is counted (see :func:`~lambdalab.billing.usage.billed_ms`);
    ``prices`` replaces the price table in force (:func:`~lambdalab.billing.prices`).
    """
    one = _one(records)
    frame = records if one is None else one
    numerators, denominator = _numerators(frame, prices or prices_in_force(), granularity_ms, init_billed)
    if one is not None or exact:
        with localcontext(EXACT):
            amounts = [Decimal(int(n)) / denominator for n in numerators]
        return amounts[0] if one is not None else pd.Series(amounts, index=frame.index, name="usd", dtype=object)
    if len(numerators) and int(numerators.max()) < FLOAT_EXACT and int(float(denominator)) == denominator:
        values = numerators.astype(np.float64) / denominator  # one correctly rounded division of exact doubles
    else:
        values = np.array([int(n) / denominator for n in numerators], dtype=np.float64)  # int / int rounds correctly
    return pd.Series(values, index=frame.index, name="usd", dtype=np.float64)


__all__ = ["cost"]
