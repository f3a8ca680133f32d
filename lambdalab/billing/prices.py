"""The one price table billing reads: ``data/lambda_prices_us-east-1.csv`` unless told otherwise.

Prices stay exact: each one is the :class:`~decimal.Decimal` written in the table (AWS states them
to 10 decimal places), and usage is counted in whole units, requests and **MB-ms** (memory in MB
times billed milliseconds; one GB-second is 1,024 x 1,000 MB-ms, since Lambda's GB is 1,024 MB).
A tier boundary or a free allowance in GB-seconds becomes a whole number of MB-ms too.

:func:`prices` is the table in force: ``prices()`` returns it, ``prices(path_or_frame)`` replaces it
(another Region's prices, a what-if) for every later :func:`~lambdalab.billing.cost` and
:func:`~lambdalab.billing.bill` that is not given a table of its own. The module owns that one
reference; replacing it is a single assignment, so a bill being computed keeps the table it
started with.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING

from ..datafiles import data_file

if TYPE_CHECKING:
    import pandas as pd

AWS_PRICES = "lambda_prices_us-east-1.csv"  # in data/: AWS Price List API, us-east-1, effective 2025-10-01
COLUMNS = ("component", "architecture", "usage_type", "unit", "usd_per_unit", "tier_start", "tier_end", "sku")
ARCHITECTURES = ("x86_64", "arm64")
MB_MS_PER_GB_SECOND = 1024 * 1000
# Components priced once per architecture; "duration" is priced in tiers, the free tier once for both.
FLAT = ("requests", "ephemeral_storage", "provisioned_concurrency", "provisioned_duration")


@dataclass(frozen=True)
class Rate:
    """One price: USD per unit (a request, or a GB-second), and the usage type it is billed under."""

    usd: Decimal
    usage_type: str


@dataclass(frozen=True)
class Tier:
    """A slice of a month's on-demand duration, ``[start, end)`` in MB-ms (``end`` None: no upper bound)."""

    start: int
    end: int | None
    rate: Rate


class Prices:
    """A price table, checked when it is read: every component for both architectures, tiers that
    start at 0 and follow each other without a gap, and the two free-tier allowances."""

    def __init__(self, table: pd.DataFrame, source: str) -> None:
        missing = [c for c in COLUMNS if c not in table.columns]
        if missing:
            raise ValueError(f"price table {source} lacks the columns {missing}; it needs {list(COLUMNS)}")
        self.table, self.source = table[list(COLUMNS)].reset_index(drop=True), source
        rows = [{k: _text(v) for k, v in row.items()} for row in self.table.to_dict("records")]
        self._rates: dict[tuple[str, str], Rate] = {}
        tiers: dict[str, list[Tier]] = {arch: [] for arch in ARCHITECTURES}
        free: dict[str, Decimal] = {}
        for row in rows:
            component, arch, usd = row["component"], row["architecture"], self._decimal(row, "usd_per_unit")
            rate = Rate(usd, row["usage_type"])
            if component in ("free_requests", "free_compute"):
                free[component] = self._decimal(row, "tier_end")
            elif component == "duration" and arch in ARCHITECTURES:
                end = self._decimal(row, "tier_end") if row["tier_end"] else None
                tiers[arch].append(Tier(self._mb_ms(row, "tier_start"),
                                        None if end is None else self._mb_ms(row, "tier_end"), rate))
            elif component in FLAT and arch in ARCHITECTURES:
                self._rates[component, arch] = rate
            else:
                raise ValueError(f"price table {source}: unknown component/architecture {component}/{arch}")
        for component in FLAT:
            for arch in ARCHITECTURES:
                if (component, arch) not in self._rates:
                    raise ValueError(f"price table {source} has no {component} price for {arch}")
        self._tiers = {arch: _contiguous(sorted(t, key=lambda x: x.start), arch, source) for arch, t in tiers.items()}
        if set(free) != {"free_requests", "free_compute"}:
            raise ValueError(f"price table {source} needs the rows free_requests and free_compute (the free tier)")
        self.free_requests = int(free["free_requests"])
        self.free_mb_ms = int(free["free_compute"] * MB_MS_PER_GB_SECOND)

    def _decimal(self, row: dict, column: str) -> Decimal:
        try:
            return Decimal(row[column])
        except InvalidOperation:
            raise ValueError(f"price table {self.source}: {column} of {row['component']}/{row['architecture']} "
                             f"is {row[column]!r}, not a number") from None

    def _mb_ms(self, row: dict, column: str) -> int:
        mb_ms = self._decimal(row, column) * MB_MS_PER_GB_SECOND
        if mb_ms != int(mb_ms):
            raise ValueError(f"price table {self.source}: {column} of {row['component']}/{row['architecture']} is not "
                             "a whole number of MB-ms")
        return int(mb_ms)

    def rate(self, component: str, architecture: str) -> Rate:
        """The price of ``component`` (requests, ephemeral_storage, provisioned_concurrency,
        provisioned_duration) on ``architecture``."""
        return self._rates[component, architecture]

    def tiers(self, architecture: str) -> tuple[Tier, ...]:
        """On-demand duration's monthly tiers on ``architecture``, from the first."""
        return self._tiers[architecture]

    def __repr__(self) -> str:
        return f"<Prices from {self.source}>"


def _text(value) -> str:
    """A cell as text ("" for an empty one); a float becomes its shortest repr, so 1.66667e-05 reads back exactly."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value).strip()


def _contiguous(tiers: list[Tier], arch: str, source: str) -> tuple[Tier, ...]:
    gaps = any(before.end != after.start for before, after in pairwise(tiers))
    if not tiers or tiers[0].start != 0 or tiers[-1].end is not None or gaps:
        raise ValueError(f"price table {source}: the duration tiers of {arch} must start at 0, follow each other "
                         "without a gap, and end with an open one")
    return tuple(tiers)


def read_prices(source: str | Path | pd.DataFrame) -> Prices:
    """A :class:`Prices` from a CSV file with the columns of ``data/lambda_prices_us-east-1.csv``, or from a
    DataFrame with them."""
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        return Prices(source, "a DataFrame")
    return Prices(pd.read_csv(source, dtype=str, keep_default_na=False), str(source))


_current: Prices | None = None  # the table in force; read on first use


def prices(source: str | Path | pd.DataFrame | Prices | None = None) -> Prices:
    """The price table in force; given ``source`` (a CSV path, a DataFrame or a :class:`Prices`), it is
    replaced by that one first. ``prices(AWS_PRICES)`` goes back to AWS's."""
    global _current
    if source is not None:
        if isinstance(source, Prices):
            _current = source
        else:
            _current = read_prices(data_file(AWS_PRICES) if isinstance(source, str) and source == AWS_PRICES
                                   else source)
    elif _current is None:
        _current = read_prices(data_file(AWS_PRICES))
    return _current


EC2_PRICES = "ec2_on_demand_us-east-1.csv"  # in data/: AWS Price List API, us-east-1, publications of 2026


def ec2_prices() -> pd.DataFrame:
    """On-demand prices of a few EC2 instance types in us-east-1 (Linux, per hour, floats), to set
    Lambda beside a server that runs all the time; ``data/README.md`` says where and when they were read."""
    import pandas as pd

    return pd.read_csv(data_file(EC2_PRICES), dtype={"sku": str}, keep_default_na=False)


__all__ = ["ARCHITECTURES", "AWS_PRICES", "EC2_PRICES", "MB_MS_PER_GB_SECOND", "Prices", "Rate", "Tier", "ec2_prices",
           "prices", "read_prices"]
