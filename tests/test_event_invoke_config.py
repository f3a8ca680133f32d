"""EventInvokeConfig beyond the recorded cases: paging, and configurations that go with what they configure."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from deploy import arn, error_of

SOURCE = "def handler(event, context):\n    return event\n"


def qualifiers(page: dict) -> list[str]:
    return [c["FunctionArn"].rsplit(":", 1)[1] for c in page["FunctionEventInvokeConfigs"]]


def test_list_pages_latest_then_versions_by_number_then_aliases(fn):
    name = fn.create(SOURCE)
    versions = []
    for n in range(10):  # ten versions: "10" must come after "9"
        fn.lam.update_function_configuration(FunctionName=name, Description=f"v{n}")
        versions.append(fn.lam.publish_version(FunctionName=name)["Version"])
    fn.lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    for qualifier in ["live", "$LATEST", *versions]:
        fn.lam.put_function_event_invoke_config(FunctionName=name, Qualifier=qualifier, MaximumRetryAttempts=1)
    seen, marker = [], None
    while True:
        page = fn.lam.list_function_event_invoke_configs(FunctionName=name, MaxItems=4,
                                                         **({"Marker": marker} if marker else {}))
        assert len(page["FunctionEventInvokeConfigs"]) <= 4
        seen += qualifiers(page)
        if "NextMarker" not in page:
            break
        marker = page["NextMarker"]
    assert seen == ["$LATEST", *[str(n) for n in range(1, 11)], "live"]


def test_a_configuration_goes_with_its_version_its_alias_or_its_function(fn):
    name = fn.create(SOURCE)
    version = fn.lam.publish_version(FunctionName=name)["Version"]
    fn.lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    for qualifier in ("$LATEST", version, "live"):
        fn.lam.put_function_event_invoke_config(FunctionName=name, Qualifier=qualifier, MaximumRetryAttempts=0)
    fn.lam.delete_alias(FunctionName=name, Name="live")
    fn.lam.delete_function(FunctionName=name, Qualifier=version)
    assert qualifiers(fn.lam.list_function_event_invoke_configs(FunctionName=name)) == ["$LATEST"]
    fn.lam.delete_function(FunctionName=name)
    fn.create(SOURCE, FunctionName=name)  # the same name again: a new function, without the old settings
    with pytest.raises(ClientError) as missing:
        fn.lam.get_function_event_invoke_config(FunctionName=name)
    assert error_of(missing) == ("ResourceNotFoundException",
                                 f"The function {arn(name)}:$LATEST doesn't have an EventInvokeConfig", 404)


def test_update_changes_only_what_it_names_and_checks_a_destination_it_names(fn):
    name = fn.create(SOURCE)  # with the course role, which may write logs and nothing else
    target = fn.create(SOURCE)
    with pytest.raises(ClientError) as refused:
        fn.lam.update_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1)
    assert error_of(refused)[0] == "ResourceNotFoundException"
    fn.lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1, MaximumEventAgeInSeconds=600)
    updated = fn.lam.update_function_event_invoke_config(FunctionName=name, MaximumEventAgeInSeconds=300)
    assert (updated["MaximumRetryAttempts"], updated["MaximumEventAgeInSeconds"]) == (1, 300)
    with pytest.raises(ClientError) as refused:
        fn.lam.update_function_event_invoke_config(FunctionName=name,
                                                   DestinationConfig={"OnSuccess": {"Destination": arn(target)}})
    assert error_of(refused) == ("InvalidParameterValueException", "The function's execution role does not have "
                                 f"permissions to call InvokeFunction on {arn(target)}", 400)
    assert fn.lam.get_function_event_invoke_config(FunctionName=name)["MaximumEventAgeInSeconds"] == 300
