"""Chapter 05's checks judge what S3 and the cron arithmetic do with the learner's answer, and say why an
answer is wrong: a filter that lets the wrong uploads through, a permission open to other buckets or to
another account's bucket of the same name, a schedule that fires at the wrong times."""

from __future__ import annotations

import pytest

from lambdalab.checks import ch05

JPG_UNDER_INCOMING = [{"Name": "suffix", "Value": ".jpg"}, {"Name": "prefix", "Value": "incoming/"}]


def verdict(exercise, cloud, answer):
    result = exercise.bind(cloud).check(answer)
    return result.status, result.message


def test_q1_names_the_uploads_a_filter_lets_through_or_keeps_out(cloud):
    assert verdict(ch05.q1, cloud, JPG_UNDER_INCOMING)[0] == "correct"  # the rules' order does not matter
    status, message = verdict(ch05.q1, cloud, [{"Name": "prefix", "Value": "incoming/"}])
    assert status == "incorrect" and "incoming/cat.png triggered the function" in message
    assert "outgoing/cat.jpg" not in message and "incoming/cat.jpg" not in message
    status, message = verdict(ch05.q1, cloud, [{"Name": "suffix", "Value": ".png"}])
    assert status == "incorrect" and "incoming/cat.jpg did not trigger the function" in message


def test_q1_catches_a_prefix_without_its_slash_and_a_suffix_without_its_dot(cloud):
    status, message = verdict(ch05.q1, cloud, [{"Name": "prefix", "Value": "incoming"},
                                               {"Name": "suffix", "Value": "jpg"}])
    assert status == "incorrect"
    assert "incoming-old/cat.jpg triggered the function" in message and "incoming/cat.notjpg triggered" in message


def test_q1_reports_s3s_refusal_of_a_malformed_rule_and_takes_names_in_any_case(cloud):
    status, message = verdict(ch05.q1, cloud, [{"Name": "starts-with", "Value": "incoming/"}])
    assert (status, message) == ("incorrect", "S3 refused a configuration with these rules: InvalidArgument: filter "
                                              "rule name must be either prefix or suffix")
    assert verdict(ch05.q1, cloud, [{"Name": "Prefix", "Value": "incoming/"}, {"Name": "SUFFIX", "Value": ".jpg"}])[
        0] == "correct"  # as S3 does


def test_q1_leaves_no_bucket_or_function_behind(cloud):
    s3, lam = cloud.client("s3"), cloud.client("lambda")
    verdict(ch05.q1, cloud, JPG_UNDER_INCOMING)
    assert not [b for b in s3.list_buckets()["Buckets"] if b["Name"].startswith("ch05-q1")]
    assert not [f for f in lam.list_functions()["Functions"] if f["FunctionName"].startswith("ch05-q1")]


BASE = {"StatementId": "s3-avatars", "Action": "lambda:InvokeFunction", "Principal": "s3.amazonaws.com"}


def test_q2_wants_the_bucket_and_its_owner_the_partners_account(cloud):
    avatars = {"SourceArn": "arn:aws:s3:::ch05-avatars"}
    status, message = verdict(ch05.q2, cloud, {**BASE, **avatars})
    assert status == "incorrect" and "SourceAccount" in message and "cloud.other_account" in message
    status, message = verdict(ch05.q2, cloud, {**BASE, **avatars, "SourceAccount": cloud.account})
    assert status == "incorrect" and message.startswith("the partner could not configure ch05-avatars")
    assert f"the partner's ({cloud.other_account}), not yours" in message
    status, message = verdict(ch05.q2, cloud, {**BASE, "SourceArn": "arn:aws:s3:::ch05-other",
                                               "SourceAccount": cloud.other_account})
    assert status == "incorrect" and message.startswith("the partner could not configure ch05-avatars")
    status, message = verdict(ch05.q2, cloud, {**BASE, "SourceAccount": cloud.other_account})
    assert status == "incorrect" and message.startswith("another bucket could be configured")
    assert verdict(ch05.q2, cloud, {**BASE, **avatars, "SourceAccount": cloud.other_account})[0] == "correct"
    assert not [b for b in cloud.client("s3", account=cloud.other_account).list_buckets()["Buckets"]
                if b["Name"].startswith("ch05-")], "the check leaves no bucket behind"


def test_q2_reports_the_refusal_of_the_arguments(cloud):
    status, message = verdict(ch05.q2, cloud, {"StatementId": "s3-avatars", "Principal": "s3.amazonaws.com"})
    assert status == "incorrect" and message.startswith("add_permission(FunctionName=..., **permission) was refused")
    assert "Action" in message
    status, message = verdict(ch05.q2, cloud, {**BASE, "FunctionName": "resize"})
    assert status == "incorrect" and message.startswith("leave FunctionName out")


@pytest.mark.parametrize("schedule", ["cron(30 18 ? * SAT,SUN *)", "cron(30 18 ? * 1,7 *)",
                                      "cron(30 18 ? * SUN,SAT *)"])
def test_q3_accepts_each_spelling_of_weekends_at_half_past_six(schedule):
    assert verdict(ch05.q3, None, schedule)[0] == "correct"


@pytest.mark.parametrize(("schedule", "why"), [
    ("cron(30 18 * * ? *)", "it fires at Monday 18:30 UTC too"),
    ("cron(30 6 ? * SAT,SUN *)", "it fires at Sunday 06:30 UTC too"),
    ("cron(30 18 ? * 6,7 *)", "it fires at Friday 18:30 UTC too; it should fire only at 18:30, on Saturdays and "
                              "Sundays (EventBridge numbers the days from 1, Sunday, to 7, Saturday)."),
    ("cron(30 18 ? * FRI,SAT *)", "on Saturdays and Sundays."),  # names: no word about numbers
    ("cron(30 18 * * SAT,SUN *)", "requires ? in the day-of-month or the day-of-week field"),
    ("cron(30 18 ? * SAT,SUN)", "yours has 5"),
    ("rate(1 day)", "a schedule expression is a string such as"),
    ("cron(30 18 ? * SAT *)", "it fires 2 times in two weeks, not 4"),
])
def test_q3_says_what_is_wrong_with_a_schedule(schedule, why):
    status, message = verdict(ch05.q3, None, schedule)
    assert status == "incorrect" and why in message, message
