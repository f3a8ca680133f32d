"""The batchItemFailures contract, case by case as AWS answered them (LocalStack's AWS-validated
test_kinesis_report_batch_item_success_scenarios / _failure_scenarios, their DynamoDB twins, and the SQS
test_report_batch_item_failures_* recordings)."""

from __future__ import annotations

import json

import pytest

from lambdalab.invoke.poll.contract import failed_items

BATCH = ["49590338271490256608559692538361571095921575989136588802", "4959033827149025660855969253836157109592"]


@pytest.mark.parametrize("answer", ["", [], None, {}, {"batchItemFailures": []}, {"batchItemFailures": None},
                                    "some text", 42, {"other": 1}])
def test_answers_that_mean_the_whole_batch_succeeded(answer):
    assert failed_items(json.dumps(answer).encode(), BATCH) == set()


@pytest.mark.parametrize("entry", [{"itemIdentifier": 123}, {"itemIdentifier": ""}, {"itemIdentifier": None},
                                   {"foo": 123}, {"foo": None}, {"itemIdentifier": "not in this batch"}, "text"])
def test_entries_that_mean_the_whole_batch_failed(entry):
    assert failed_items(json.dumps({"batchItemFailures": [{"itemIdentifier": BATCH[0]}, entry]}).encode(),
                        BATCH) is None


def test_the_named_items_failed():
    answer = {"batchItemFailures": [{"itemIdentifier": BATCH[1]}, {"itemIdentifier": BATCH[1]}]}
    assert failed_items(json.dumps(answer).encode(), BATCH) == {BATCH[1]}


def test_an_empty_response_is_a_success():
    assert failed_items(b"", BATCH) == set()
