"""A month's Lambda bill, line by line, as AWS's bill lays it out.

AWS bills a calendar month (UTC) at a time, per usage type: requests and on-demand duration per
architecture, provisioned concurrency (allocated, and the duration of invocations on it), and
ephemeral storage. Within a month:

* the **free tier** gives the first 1,000,000 requests and 400,000 GB-seconds of on-demand
  duration, x86_64 and arm64 together, to invocations in the order they started; functions with
  provisioned concurrency get none of it (AWS's pricing page), neither for their provisioned nor
  for their spilled-over invocations;
* the **tiers** of on-demand duration count each architecture's GB-seconds beyond the free tier
  (as AWS's pricing examples subtract the free tier before pricing): 0-6 billion GB-seconds at
  the full price, the next 9 billion 10% cheaper, the rest 20% (x86_64; 7.5 and 18.75 billion
  for arm64). Requests, storage and provisioned concurrency are not tiered;
* **provisioned concurrency** is billed from the moment it is enabled until it is disabled,
  rounded up to 5 minutes, for memory (GB) x configured concurrency, whether it serves or not.

Every quantity is counted in whole units (requests, MB-ms) and every amount is an exact
:class:`~decimal.Decimal`; AWS's bill shows each amount rounded to the cent.
"""

from __future__ import annotations

from decimal import Decimal, localcontext
from typing import Any

import numpy as np
import pandas as pd

from .charges import EXACT
from .prices import ARCHITECTURES, MB_MS_PER_GB_SECOND, Prices, Tier
from .prices import prices as prices_in_force
from .usage import Usage, usage

LINE_COLUMNS = ("month", "architecture", "usage_type", "description", "quantity", "unit", "rate", "usd")
ALLOCATION_COLUMNS = ("function", "memory_mb", "concurrency", "start", "end")  # and, optionally, architecture
PROVISIONED_ROUNDING_MS = 5 * 60 * 1000  # provisioned concurrency is billed in whole 5-minute steps


def _utc_series(moments: pd.Series) -> pd.Series:
    """``moments`` in UTC, without a time zone attached (a moment without one is taken as UTC)."""
    moments = pd.to_datetime(moments)
    return moments.dt.tz_convert("UTC").dt.tz_localize(None) if moments.dt.tz is not None else moments


def _utc(moment: Any) -> pd.Timestamp:
    moment = pd.Timestamp(moment)
    return moment.tz_localize("UTC") if moment.tz is None else moment.tz_convert("UTC")


def _month_start(key: int) -> pd.Timestamp:
    return pd.Timestamp(year=key // 12, month=key % 12 + 1, day=1, tz="UTC")


def _label(key: int) -> str:
    return f"{key // 12:04d}-{key % 12 + 1:02d}"


def _first(quantities: np.ndarray, allowance: int) -> np.ndarray:
    """How much of each quantity, taken in order, the first ``allowance`` units cover."""
    before = np.cumsum(quantities) - quantities
    return np.clip(allowance - before, 0, quantities)


def _gb_s(mb_ms: int) -> Decimal:
    with localcontext(EXACT):
        return Decimal(mb_ms) / MB_MS_PER_GB_SECOND


def _billions(mb_ms: int) -> str:
    """A tier boundary in words: 6 billion, 18.75 billion, 400,000."""
    gb_s = _gb_s(mb_ms)
    if gb_s >= 10**9:
        return f"{(gb_s / 10**9).normalize():f} billion"
    return f"{gb_s.normalize():,f}"


def _tier_words(tier: Tier) -> str:
    if tier.start == 0:
        return f"for the first {_billions(tier.end)} GB-seconds of the month" if tier.end else ""
    if tier.end is None:
        return f"over {_billions(tier.start)} GB-seconds of the month"
    return f"from {_billions(tier.start)} to {_billions(tier.end)} GB-seconds of the month"


def _allocations(allocations: Any) -> pd.DataFrame:
    """Provisioned-concurrency periods, each rounded up to 5 minutes and cut at month boundaries:
    one row per (month, architecture, function) piece with its MB-ms."""
    frame = pd.DataFrame(allocations, columns=ALLOCATION_COLUMNS) if allocations is None else pd.DataFrame(allocations)
    missing = [c for c in ALLOCATION_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"allocations lack the columns {missing}; each row needs {list(ALLOCATION_COLUMNS)} "
                         "(and may name its architecture)")
    pieces = []
    for row in frame.to_dict("records"):
        start, end = _utc(row["start"]).floor("ms"), _utc(row["end"])
        span = (end - start) // pd.Timedelta(milliseconds=1)
        if span <= 0:
            raise ValueError(f"an allocation of {row['function']} ends ({end}) before it starts ({start})")
        span = -(-span // PROVISIONED_ROUNDING_MS) * PROVISIONED_ROUNDING_MS
        end = start + pd.Timedelta(milliseconds=span)
        arch = row.get("architecture") or "x86_64"
        if arch not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {arch!r}: Lambda has {list(ARCHITECTURES)}")
        key = start.year * 12 + start.month - 1
        while start < end:
            cut = min(end, _month_start(key + 1))
            ms = (cut - start) // pd.Timedelta(milliseconds=1)
            pieces.append({"month": key, "architecture": arch, "function": row["function"],
                           "mb_ms": int(row["memory_mb"]) * int(row["concurrency"]) * ms})
            start, key = cut, key + 1
    return pd.DataFrame(pieces, columns=["month", "architecture", "function", "mb_ms"])


class _Month:
    """The line items of one month, in the order of AWS's bill."""

    def __init__(self, key: int, table: Prices) -> None:
        self.label, self.table, self.lines = _label(key), table, []

    def add(self, arch: str, usage_type: str, description: str, quantity: int, unit: str, rate: Decimal) -> None:
        if quantity <= 0:
            return  # AWS lists only what was used
        amount = Decimal(quantity) if unit == "request" else _gb_s(quantity)
        with localcontext(EXACT):
            usd = amount * rate
        self.lines.append({"month": self.label, "architecture": arch, "usage_type": usage_type,
                           "description": description, "quantity": amount, "unit": unit, "rate": rate, "usd": usd})

    def requests(self, arch: str, free: int, paid: int) -> None:
        rate = self.table.rate("requests", arch)
        self.add(arch, rate.usage_type, f"AWS Lambda - Requests Free Tier - {self.table.free_requests:,} Requests",
                 free, "request", Decimal(0))
        self.add(arch, rate.usage_type, f"${rate.usd * 1_000_000:.2f} per 1M requests", paid, "request", rate.usd)

    def duration(self, arch: str, free: int, paid: int) -> None:
        tiers = self.table.tiers(arch)
        free_gb_s = _gb_s(self.table.free_mb_ms).normalize()
        self.add(arch, tiers[0].rate.usage_type, f"AWS Lambda - Compute Free Tier - {free_gb_s:,f} GB-Seconds",
                 free, "GB-second", Decimal(0))
        for tier in tiers:
            top = paid if tier.end is None else min(paid, tier.end)
            words = _tier_words(tier)
            self.add(arch, tier.rate.usage_type, f"${tier.rate.usd:f} per GB-second" + (f" {words}" if words else ""),
                     max(0, top - tier.start), "GB-second", tier.rate.usd)

    def flat(self, arch: str, component: str, what: str, mb_ms: int) -> None:
        rate = self.table.rate(component, arch)
        self.add(arch, rate.usage_type, f"${rate.usd:f} per GB-second {what}", mb_ms, "GB-second", rate.usd)


def _sum(values: np.ndarray, mask: np.ndarray) -> int:
    return int(values[mask].sum())


def _of_account(records: pd.DataFrame, account: str | None) -> pd.DataFrame:
    """The records of one account: AWS bills (and gives the free tier to) each account on its own,
    all its Regions together."""
    if "function_arn" not in records or records.empty:
        return records
    accounts = records["function_arn"].str.split(":").str[4]
    if account is None:
        found = sorted(set(accounts.dropna()) - {""})
        if len(found) > 1:
            raise ValueError(f"these records are of {len(found)} accounts ({', '.join(found)}); AWS bills each "
                             "account on its own: bill(records, account=...)")
        return records
    return records[accounts == account]


def bill(records: pd.DataFrame, *, account: str | None = None, allocations: Any = None, prices: Prices | None = None,
         granularity_ms: int = 1, init_billed: bool = True, free_tier: bool = True) -> pd.DataFrame:
    """The line items of the bill for ``records`` (the columns of ``cloud.invocations()``, or a per-minute
    summary of them), one month after another.

    ``account`` picks one account's records (each account has its own bill and free tier; its
    Regions share them); records of several accounts without it raise ValueError. Every Region is
    priced at the price table's rates (us-east-1's, which most Regions share).
    ``allocations`` lists the provisioned concurrency that was configured: rows (a DataFrame or
    dicts) of ``function``, ``memory_mb``, ``concurrency``, ``start`` and ``end`` (when it was
    enabled and disabled) and, optionally, ``architecture``. ``prices``, ``granularity_ms`` and
    ``init_billed`` are as in :func:`~lambdalab.billing.cost`; ``free_tier=False`` bills as if the
    free tier were used up.

    Columns: month (``YYYY-MM``), architecture, usage_type (as on AWS's bill), description,
    quantity (requests or GB-seconds), unit, rate (USD per unit) and usd (quantity x rate), the
    last three exact Decimals: ``bill(...)["usd"].sum()`` is the total.
    """
    table = prices or prices_in_force()
    records = _of_account(records, account)
    pc = _allocations(allocations)
    if records.empty:  # provisioned concurrency alone still makes a bill
        records = pd.DataFrame({"function": pd.Series(dtype=object), "start": pd.Series(dtype="datetime64[ns, UTC]"),
                                "memory_mb": pd.Series(dtype=np.int64), "billed_ms": pd.Series(dtype=np.int64)})
    use: Usage = usage(records, granularity_ms, init_billed)
    starts = _utc_series(records["start"])
    months = (starts.dt.year * 12 + starts.dt.month - 1).to_numpy(dtype=np.int64)
    order = np.argsort(starts.to_numpy(), kind="stable")
    functions = records["function"].to_numpy() if len(records) else np.zeros(0, dtype=object)
    lines: list[dict] = []
    for key in sorted(set(months.tolist()) | set(pc["month"].tolist())):
        month = _Month(key, table)
        rows = order[months[order] == key]  # this month's records, in the order they started
        pc_functions = set(pc.loc[pc["month"] == key, "function"])
        eligible = free_tier & ~use.provisioned[rows] & ~np.isin(functions[rows], list(pc_functions))
        free_requests = np.zeros(len(rows), dtype=np.int64)
        free_requests[eligible] = _first(use.requests[rows][eligible], table.free_requests)
        on_demand = ~use.provisioned[rows]
        free_mb_ms = np.zeros(len(rows), dtype=np.int64)
        free_mb_ms[eligible] = _first(use.mb_ms[rows][eligible], table.free_mb_ms)  # eligible rows are on-demand
        for arch in ARCHITECTURES:
            mine = use.arm[rows] == (arch == "arm64")
            free = _sum(free_requests, mine)
            month.requests(arch, free, _sum(use.requests[rows], mine) - free)
            free = _sum(free_mb_ms, mine)
            month.duration(arch, free, _sum(use.mb_ms[rows], mine & on_demand) - free)
            month.flat(arch, "provisioned_concurrency", "of provisioned concurrency",
                       int(pc.loc[(pc["month"] == key) & (pc["architecture"] == arch), "mb_ms"].sum()))
            month.flat(arch, "provisioned_duration", "of duration on provisioned concurrency",
                       _sum(use.mb_ms[rows], mine & ~on_demand))
            month.flat(arch, "ephemeral_storage", "of ephemeral storage above 512 MB",
                       _sum(use.storage_mb_ms[rows], mine))
        lines += month.lines
    return pd.DataFrame(lines, columns=list(LINE_COLUMNS))


def bill_table(items: pd.DataFrame):
    """A bill for reading: every digit of each quantity, rate and amount (pandas would print ``2E-7``),
    and a last line with the total."""
    total = {column: "" for column in LINE_COLUMNS} | {"description": "Total", "usd": sum(items["usd"], Decimal(0))}
    frame = pd.concat([items, pd.DataFrame([total])], ignore_index=True)

    def digits(prefix: str):
        return lambda value: "" if value == "" else f"{prefix}{value:,f}"

    return frame.style.hide(axis="index").format({"quantity": digits(""), "rate": digits("$"), "usd": digits("$")})


__all__ = ["ALLOCATION_COLUMNS", "LINE_COLUMNS", "bill", "bill_table"]
