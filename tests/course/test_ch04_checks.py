"""Chapter 04's first check explains a wrong number of attempts by what the learner wrote."""

from __future__ import annotations

from lambdalab.checks import ch04


def test_q1_explains_three_attempts_by_the_retries_written_or_left_out(cloud):
    sqs = cloud.client("sqs")
    url = sqs.create_queue(QueueName="ch04-q1-check-failures")["QueueUrl"]
    failures_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    destination = {"OnFailure": {"Destination": failures_arn}}
    q1 = ch04.q1.bind(cloud)
    written = q1.check({"MaximumRetryAttempts": 2, "DestinationConfig": destination}, failures_arn)
    assert written.status == "incorrect" and "tried 3 times" in written.message
    assert "MaximumRetryAttempts=2 allows 2 retries" in written.message and "Left out" not in written.message
    left_out = q1.check({"DestinationConfig": destination}, failures_arn)
    assert "Left out, MaximumRetryAttempts is 2" in left_out.message
    sqs.delete_queue(QueueUrl=url)
