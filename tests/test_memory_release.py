"""lambdalab.memory.release(): a stopped cloud's moto state goes, unless another running cloud shares it."""

from __future__ import annotations

import lambdalab
from lambdalab.memory import release

ACCOUNTS = {"account": "111111111111", "other_account": "222222222222"}


def buckets(cloud) -> list[str]:
    return [b["Name"] for b in cloud.client("s3").list_buckets()["Buckets"]]


def test_release_forgets_the_stopped_clouds_accounts_in_moto():
    with lambdalab.start(**ACCOUNTS) as cloud:
        cloud.client("s3").create_bucket(Bucket="kept-until-release")
    with lambdalab.start(**ACCOUNTS) as again:  # moto's state outlives a cloud...
        assert buckets(again) == ["kept-until-release"]
    release(again)
    with lambdalab.start(**ACCOUNTS) as fresh:  # ...until it is released
        assert buckets(fresh) == []
        fresh.client("s3").create_bucket(Bucket="kept-until-release")  # its name is free again
        assert fresh.client("iam").get_role(RoleName="lambda-role")  # the course role is made again
    release(fresh)


def test_release_keeps_what_a_running_cloud_of_the_same_account_uses(cloud):
    """``cloud`` is the tests' session cloud, still running, in the default account."""
    cloud.client("s3").create_bucket(Bucket="still-in-use")
    with lambdalab.start() as other:
        assert "still-in-use" in buckets(other)
    release(other)
    assert "still-in-use" in buckets(cloud)
    assert cloud.client("iam").get_role(RoleName="lambda-role")["Role"]["RoleName"] == "lambda-role"
