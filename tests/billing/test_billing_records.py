"""Billing on what the cloud really recorded: arm64 functions, /tmp sizes, cold starts."""

from __future__ import annotations

import math
import uuid
from decimal import Decimal

from deploy import ACCOUNT, ROLE

from lambdalab import billing, zip_files

SOURCE = "import platform\n\ndef handler(event, context):\n    return platform.machine()\n"
FIRST_TIER = {"x86_64": Decimal("0.0000166667"), "arm64": Decimal("0.0000133334")}


def by_hand(row) -> Decimal:
    """The cost of one record from its REPORT figures: request + GB x s at its architecture's price + /tmp above 512."""
    seconds = Decimal(int(row.billed_ms)) / 1000
    storage = Decimal(max(0, int(row.ephemeral_storage_mb) - 512)) / 1024 * seconds * Decimal("0.0000000309")
    return Decimal("0.0000002") + Decimal(int(row.memory_mb)) / 1024 * seconds * FIRST_TIER[row.architecture] + storage


def test_an_arm64_function_runs_here_is_recorded_as_arm64_and_priced_as_arm64(fn, lam):
    name = fn.create(SOURCE, MemorySize=1024, Architectures=["arm64"], EphemeralStorage={"Size": 2048})
    assert lam.get_function_configuration(FunctionName=name)["Architectures"] == ["arm64"]
    machine = fn.invoke(name)["Payload"]
    fn.invoke(name)
    # the architecture is changed with the code, as AWS does it; the next invocation starts a new environment
    lam.update_function_code(FunctionName=name, ZipFile=zip_files(SOURCE), Architectures=["x86_64"])
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    assert lam.get_function_configuration(FunctionName=name)["Architectures"] == ["x86_64"]
    assert fn.invoke(name)["Payload"] == machine  # both ran on this machine's CPU
    records = fn.records(name)
    assert records["architecture"].tolist() == ["arm64", "arm64", "x86_64"]
    assert records["cold"].tolist() == [True, False, True]
    assert (records["ephemeral_storage_mb"] == 2048).all()
    # INIT is billed on the cold starts: Duration + Init Duration, rounded up to 1 ms
    cold = records[records["cold"]]
    assert (cold["billed_ms"] == [math.ceil(d + i) for d, i in zip(cold["duration_ms"], cold["init_ms"],
                                                                     strict=True)]).all()
    exact = billing.cost(records, exact=True)
    assert list(exact) == [by_hand(row) for row in records.itertuples()]
    assert list(billing.cost(records)) == [float(v) for v in exact]
    assert billing.cost(cloud_record(fn, records.loc[0, "request_id"])) == exact[0]
    items = billing.bill(records, free_tier=False)
    assert sum(items["usd"]) == sum(exact)
    assert set(items["usage_type"]) == {"Request", "Request-ARM", "Lambda-GB-Second", "Lambda-GB-Second-ARM",
                                        "Lambda-Storage-GB-Second", "Lambda-Storage-GB-Second-ARM"}
    storage = sum(items.loc[items["usage_type"].str.startswith("Lambda-Storage"), "usd"])
    assert storage > 0 and sum(billing.bill(records)["usd"]) == storage  # the free tier does not cover /tmp


def cloud_record(fn, request_id: str):
    """The InvocationRecord itself, as the cloud stored it."""
    return next(r for r in fn.cloud.records.rows() if r.request_id == request_id)


def test_another_regions_invocations_are_recorded_and_billed_with_their_architecture(cloud):
    eu = cloud.client("lambda", region_name="eu-west-1")
    name = f"arm-{uuid.uuid4().hex[:10]}"
    eu.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler",
                       Code={"ZipFile": zip_files(SOURCE)}, Architectures=["arm64"])
    eu.get_waiter("function_active_v2").wait(FunctionName=name)
    try:
        assert "FunctionError" not in eu.invoke(FunctionName=name)
        frame = cloud.invocations()
        records = frame[frame["function_arn"] == f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:{name}"]
        assert records["architecture"].tolist() == ["arm64"]
        assert list(billing.cost(records, exact=True)) == [by_hand(row) for row in records.itertuples()]
        assert not billing.bill(records, account=ACCOUNT).empty
    finally:
        eu.delete_function(FunctionName=name)
