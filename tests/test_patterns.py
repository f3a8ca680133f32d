"""Event patterns against AWS's documented examples: Lambda's event filtering page (each comparison
operator of its table) and EventBridge's pattern pages (arrays, wildcards, CIDR, anything-but forms),
plus the patterns AWS refuses (LocalStack's AWS-validated ``test_sqs_invalid_event_filter`` and
``test_dynamodb_invalid_event_filter``)."""

from __future__ import annotations

import json

import pytest

from lambdalab.patterns import PatternError, compile_pattern


def matches(pattern, event) -> bool:
    return compile_pattern(json.dumps(pattern)).matches(event)


# Lambda "Filter rule syntax" table: (pattern, an event it chooses, an event it does not)
LAMBDA_TABLE = [
    ({"UserID": [None]}, {"UserID": None}, {"UserID": "u1"}),
    ({"LastName": [""]}, {"LastName": ""}, {"LastName": "Smith"}),
    ({"Name": ["Alice"]}, {"Name": "Alice"}, {"Name": "alice"}),
    ({"Name": [{"equals-ignore-case": "alice"}]}, {"Name": "ALICE"}, {"Name": "Alicia"}),
    ({"Location": ["New York"], "Day": ["Monday"]}, {"Location": "New York", "Day": "Monday"},
     {"Location": "New York", "Day": "Tuesday"}),
    ({"PaymentType": ["Credit", "Debit"]}, {"PaymentType": "Debit"}, {"PaymentType": "Cash"}),
    ({"$or": [{"Location": ["New York"]}, {"Day": ["Monday"]}]}, {"Location": "Paris", "Day": "Monday"},
     {"Location": "Paris", "Day": "Friday"}),
    ({"Weather": [{"anything-but": ["Raining"]}]}, {"Weather": "Sunny"}, {"Weather": "Raining"}),
    ({"Price": [{"numeric": ["=", 100]}]}, {"Price": 100.0}, {"Price": 101}),
    ({"Price": [{"numeric": [">", 10, "<=", 20]}]}, {"Price": 20}, {"Price": 10}),
    ({"ProductName": [{"exists": True}]}, {"ProductName": "Phone"}, {"Other": 1}),
    ({"ProductName": [{"exists": False}]}, {"Other": 1}, {"ProductName": "Phone"}),
    ({"Region": [{"prefix": "us-"}]}, {"Region": "us-east-1"}, {"Region": "eu-west-1"}),
    ({"FileName": [{"suffix": ".png"}]}, {"FileName": "cat.png"}, {"FileName": "cat.jpg"}),
]


@pytest.mark.parametrize("pattern, chosen, refused", LAMBDA_TABLE, ids=[json.dumps(p) for p, _, _ in LAMBDA_TABLE])
def test_lambda_comparison_operators(pattern, chosen, refused):
    assert matches(pattern, chosen)
    assert not matches(pattern, refused)


def test_null_is_a_value_and_missing_is_not_null():
    assert not matches({"UserID": [None]}, {})
    assert matches({"UserID": [{"exists": True}]}, {"UserID": None})


def test_nested_fields_must_be_at_the_same_depth():
    pattern = {"detail": {"state": ["terminated"]}, "source": ["aws.ec2"]}
    assert matches(pattern, {"source": "aws.ec2", "detail": {"state": "terminated", "id": "i-1"}})
    assert not matches(pattern, {"source": "aws.ec2", "state": "terminated"})
    assert not matches(pattern, {"source": "aws.ec2", "detail": "terminated"})


def test_arrays_in_the_event_match_when_any_element_does():
    pattern = {"resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f"]}
    event = {"resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-0",
                           "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f"]}
    assert matches(pattern, event)
    assert not matches(pattern, {"resources": []})


def test_an_array_of_objects_matches_when_one_element_matches_the_whole_sub_pattern():
    pattern = {"items": {"sku": ["A"], "qty": [{"numeric": [">", 1]}]}}
    assert matches(pattern, {"items": [{"sku": "B", "qty": 5}, {"sku": "A", "qty": 2}]})
    assert not matches(pattern, {"items": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 5}]})


def test_numbers_match_numbers_only():
    assert not matches({"n": [5]}, {"n": "5"})
    assert not matches({"n": [{"numeric": [">", 1]}]}, {"n": "7"})
    assert not matches({"flag": [True]}, {"flag": 1})
    assert matches({"flag": [True]}, {"flag": True})
    assert not matches({"n": [1]}, {"n": True})


def test_exists_looks_at_leaves():
    assert not matches({"detail": [{"exists": True}]}, {"detail": {"state": "x"}})
    assert matches({"detail": {"state": [{"exists": False}]}}, {"detail": {"other": 1}})


def test_equals_ignore_case_in_prefix_and_suffix():
    assert matches({"k": [{"prefix": {"equals-ignore-case": "US-"}}]}, {"k": "us-west-2"})
    assert matches({"k": [{"suffix": {"equals-ignore-case": ".PNG"}}]}, {"k": "a.png"})
    assert not matches({"k": [{"prefix": "US-"}]}, {"k": "us-west-2"})


def test_wildcard():
    pattern = {"EventBusArn": [{"wildcard": "arn:aws:events:us-east-1:*:event-bus/*"}]}
    assert matches(pattern, {"EventBusArn": "arn:aws:events:us-east-1:123456789012:event-bus/default"})
    assert not matches(pattern, {"EventBusArn": "arn:aws:events:eu-west-1:123456789012:event-bus/default"})
    assert matches({"k": [{"wildcard": "a\\*b"}]}, {"k": "a*b"})
    assert not matches({"k": [{"wildcard": "a\\*b"}]}, {"k": "axxb"})


def test_cidr():
    assert matches({"sourceIPAddress": [{"cidr": "10.0.0.0/24"}]}, {"sourceIPAddress": "10.0.0.255"})
    assert not matches({"sourceIPAddress": [{"cidr": "10.0.0.0/24"}]}, {"sourceIPAddress": "10.0.1.1"})
    assert not matches({"sourceIPAddress": [{"cidr": "10.0.0.0/24"}]}, {"sourceIPAddress": "not an ip"})


@pytest.mark.parametrize("inner, allowed, excluded", [
    ("initializing", "running", "initializing"),
    ([100, 200], 300, 200),
    ({"prefix": "us-"}, "eu-west-1", "us-east-1"),
    ({"suffix": ".png"}, "a.jpg", "a.png"),
    ({"equals-ignore-case": ["Stopped", "overloaded"]}, "running", "STOPPED"),
    ({"wildcard": "*/lib/*"}, "/usr/bin/x", "/usr/lib/x"),
])
def test_anything_but_forms(inner, allowed, excluded):
    pattern = {"state": [{"anything-but": inner}]}
    assert matches(pattern, {"state": allowed})
    assert not matches(pattern, {"state": excluded})
    assert not matches(pattern, {}), "anything-but needs the field"


def test_or_sits_beside_other_fields_and_nests():
    pattern = {"source": ["aws.s3"], "detail": {"$or": [{"size": [{"numeric": [">", 1000]}]},
                                                        {"kind": ["big"]}]}}
    assert matches(pattern, {"source": "aws.s3", "detail": {"size": 5000}})
    assert matches(pattern, {"source": "aws.s3", "detail": {"size": 1, "kind": "big"}})
    assert not matches(pattern, {"source": "aws.ec2", "detail": {"kind": "big"}})
    assert not matches(pattern, {"source": "aws.s3", "detail": {"size": 1}})


@pytest.mark.parametrize("text", [
    "simple string", "null", json.dumps({"eventSource": "aws:sqs"}), json.dumps({"eventSource": []}),
    '[{"eventName": ["INSERT"=123}]', json.dumps(["a"]), json.dumps({"a": [{"foo": 1}]}),
    json.dumps({"a": [{"prefix": 1}]}), json.dumps({"a": [{"numeric": [">", "1"]}]}),
    json.dumps({"a": [{"numeric": ["<", 5, ">", 1]}]}), json.dumps({"a": [{"numeric": [">", 6e9]}]}),
    json.dumps({"a": [{"exists": "yes"}]}), json.dumps({"a": [{"wildcard": "a**b"}]}),
    json.dumps({"a": [{"prefix": "x", "suffix": "y"}]}), json.dumps({"a": [{"cidr": "nope"}]}),
    json.dumps({"a": [{"anything-but": []}]}), json.dumps({"a": [{"anything-but": {"numeric": [">", 1]}}]}),
    json.dumps({"$or": [{"a": ["x"]}]}), json.dumps({"a": [[1]]}), json.dumps({"a": {}}),
])
def test_patterns_aws_refuses(text):
    with pytest.raises(PatternError):
        compile_pattern(text)
