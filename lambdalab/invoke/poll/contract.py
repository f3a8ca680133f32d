"""The ``batchItemFailures`` contract: which items of a batch a function says it failed.

With ``FunctionResponseTypes: ["ReportBatchItemFailures"]`` a function answers
``{"batchItemFailures": [{"itemIdentifier": id}, ...]}`` (an SQS messageId, a stream record's
sequence number).  AWS reads the answer as LocalStack's AWS-validated recordings show
(``test_kinesis_report_batch_item_success_scenarios`` / ``..._failure_scenarios`` and their SQS and
DynamoDB twins, ``test_report_batch_item_failures_invalid_result_json_batch_fails``,
``..._empty_json_batch_succeeds``) and the Lambda guide says ("Reporting batch item failures"):

* the whole batch succeeded: ``""``, ``[]``, ``null``, ``{}``, ``{"batchItemFailures": []}``,
  ``{"batchItemFailures": null}``, or any answer that is not an object holding a list there;
* the whole batch failed: an entry without ``itemIdentifier`` (``{"foo": 1}``), or whose identifier
  is null, empty, not a string, or names no item of the batch;
* otherwise the named items failed and the rest succeeded.
"""

from __future__ import annotations

import json
from collections.abc import Collection

EVERYTHING = None  # "the whole batch failed"


def failed_items(response: bytes, identifiers: Collection[str]) -> set[str] | None:
    """The identifiers the function reports as failed (empty: all succeeded), or None: the whole batch failed."""
    try:
        answer = json.loads(response or b"null")
    except ValueError:
        return set()
    failures = answer.get("batchItemFailures") if isinstance(answer, dict) else None
    if not isinstance(failures, list):
        return set()
    failed: set[str] = set()
    for entry in failures:
        item = entry.get("itemIdentifier") if isinstance(entry, dict) else None
        if not isinstance(item, str) or item not in identifiers:
            return EVERYTHING
        failed.add(item)
    return failed
