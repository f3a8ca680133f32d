"""What Lambda charges: the cost of each invocation, and a month's bill as AWS lays it out.

    from lambdalab import billing

    records = cloud.invocations()
    records["usd"] = billing.cost(records)        # each invocation's cost, from its REPORT figures
    billing.cost(records.iloc[-1])                # one invocation's, exactly: Decimal('0.0000004083...')
    items = billing.bill(records)                 # the month's line items: free tier, tiers, ...
    items["usd"].sum()                            # the total, exactly

The rules are AWS's since 1 August 2025 (us-east-1 prices, effective 2025-10-01, from one table:
``data/lambda_prices_us-east-1.csv``, swapped with :func:`prices`): a request charge, memory x
billed duration at 1 ms granularity with a cold start's INIT included, priced per architecture
(arm64 about 20% below x86_64; lambdalab runs both on this machine's CPU, so only the price
differs), /tmp above 512 MB, provisioned concurrency allocated and used, monthly tiers and the
free tier. ``granularity_ms=100`` and ``init_billed=False`` bill by the rules of before.
:func:`power_tune` runs a function at several memory sizes and architectures, :func:`best` picks a
configuration (the cheapest, the fastest within a budget, or a balance), as the AWS Lambda Power
Tuning tool does, and :func:`tuning_figure` draws them.
"""

from .charges import cost
from .invoice import ALLOCATION_COLUMNS, LINE_COLUMNS, bill, bill_table
from .prices import AWS_PRICES, Prices, ec2_prices, prices, read_prices
from .tuning import POWER_VALUES, STRATEGIES, best, power_tune, tuning_figure
from .usage import billed_ms

__all__ = ["ALLOCATION_COLUMNS", "AWS_PRICES", "LINE_COLUMNS", "POWER_VALUES", "STRATEGIES", "Prices", "best", "bill",
           "bill_table", "billed_ms", "cost", "ec2_prices", "power_tune", "prices", "read_prices", "tuning_figure"]
