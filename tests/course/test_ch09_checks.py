"""Chapter 09's deploy check: what it says of a deploy that works but returns the wrong thing."""

from __future__ import annotations

import lambdalab
from lambdalab.checks import ch09


def test_q1_names_the_version_in_an_api_answer_returned_whole_instead_of_printing_it(cloud):
    lam = cloud.client("lambda")

    def deploy(name, source):
        lam.update_function_code(FunctionName=name, ZipFile=lambdalab.zip_files(source))
        lam.get_waiter("function_updated_v2").wait(FunctionName=name)
        published = lam.publish_version(FunctionName=name)
        lam.update_alias(FunctionName=name, Name="live", FunctionVersion=published["Version"])
        return published

    result = ch09.q1.bind(cloud).check(deploy)
    assert result.status == "incorrect"
    assert 'with "Version": \'2\'' in result.message and "ResponseMetadata" not in result.message
    assert len(result.message) < 300
