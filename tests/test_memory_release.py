"""What a cloud costs the process that runs it: service models parsed once, moto's state given back on stop.

``cloud.stop()`` ends with ``lambdalab.memory.release``: moto forgets the stopped cloud's accounts
unless another running cloud uses them (these tests run beside the session's cloud, in the default
accounts), and when no cloud runs at all the parsed models go too (checked in a fresh interpreter).
"""

from __future__ import annotations

import gc
import importlib.util
import ipaddress
import itertools
import json
import subprocess
import sys
import tracemalloc
import types
import weakref

import botocore.loaders
import botocore.session
import pytest
from moto.core.base_backend import AccountSpecificBackend
from moto.ec2.models import ec2_backends
from moto.iam.models import iam_backends
from moto.logs.models import logs_backends
from moto.s3.models import s3_backends

import lambdalab
from lambdalab import memory
from lambdalab.course import Functions

ACCOUNTS = {"account": "111111111111", "other_account": "222222222222"}
HELLO = "def handler(event, context):\n    return {'hello': event['name']}\n"


def buckets(cloud) -> list[str]:
    return [b["Name"] for b in cloud.client("s3").list_buckets()["Buckets"]]


def held_by_moto(*accounts: str) -> dict[str, list[str]]:
    """The accounts among ``accounts`` that moto's IAM, S3 and CloudWatch Logs still hold state for."""
    return {name: [a for a in accounts if a in backends]  # a dict look-up: it creates nothing
            for name, backends in (("iam", iam_backends), ("s3", s3_backends), ("logs", logs_backends))}


def test_a_stopped_cloud_gives_back_moto_state_and_the_next_cloud_starts_afresh():
    with lambdalab.start(**ACCOUNTS) as cloud:
        cloud.client("s3").create_bucket(Bucket="given-back")
        fn = Functions(cloud)
        assert fn.invoke(fn.deploy("hello", HELLO), {"name": "first"}) == {"hello": "first"}
        cloud.logs.flush()
        assert held_by_moto(*ACCOUNTS.values())["logs"] == [ACCOUNTS["account"]]  # the function's log group
        iam = weakref.ref(iam_backends[ACCOUNTS["account"]]["global"])  # AWS's managed policies, the course role
        logs = weakref.ref(logs_backends[ACCOUNTS["account"]][cloud.region])  # the function's log events
    assert held_by_moto(*ACCOUNTS.values()) == {"iam": [], "s3": [], "logs": []}
    gc.collect()
    assert iam() is None, "the stopped cloud's IAM is still referenced (the notebook keeps `cloud`, as here)"
    assert logs() is None, "the stopped cloud's log events are still referenced (moto caches each account's Regions)"

    with lambdalab.start(**ACCOUNTS) as fresh:  # same process, same accounts
        assert buckets(fresh) == []
        fresh.client("s3").create_bucket(Bucket="given-back")  # S3's global name is free again
        fn = Functions(fresh)  # the course role exists again: the function can be created and run
        assert fn.invoke(fn.deploy("hello", HELLO), {"name": "second"}) == {"hello": "second"}


def test_stopping_a_cloud_keeps_what_a_running_cloud_of_the_same_accounts_uses(cloud):
    """``cloud`` is the tests' session cloud, still running, in the default accounts."""
    cloud.client("s3").create_bucket(Bucket="still-in-use")
    with lambdalab.start() as other:
        assert "still-in-use" in buckets(other)
    assert "still-in-use" in buckets(cloud)
    assert cloud.client("iam").get_role(RoleName="lambda-role")["Role"]["RoleName"] == "lambda-role"
    assert held_by_moto(cloud.account, cloud.other_account)["iam"] == [cloud.account, cloud.other_account]


def test_a_stopped_clouds_ec2_goes_with_it_and_a_subnet_still_hands_out_its_addresses_in_turn():
    """moto's subnets kept their iterator of free addresses in a ``functools.cache`` on the class: the
    process's table held every subnet, and with it its EC2 backend (1,366 images with a snapshot and a
    volume each), after the cloud had stopped."""
    with lambdalab.start(**ACCOUNTS) as cloud:
        ec2 = cloud.client("ec2")
        image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        subnet = ec2.describe_subnets()["Subnets"][0]
        launched = [ec2.run_instances(ImageId=image, MinCount=2, MaxCount=2, SubnetId=subnet["SubnetId"]),
                    ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, SubnetId=subnet["SubnetId"])]
        ec2_backend = weakref.ref(ec2_backends[ACCOUNTS["account"]][cloud.region])
    addresses = [i["PrivateIpAddress"] for r in launched for i in r["Instances"]]
    hosts = ipaddress.ip_network(subnet["CidrBlock"]).hosts()
    assert addresses == [str(h) for h in itertools.islice(hosts, 3, 6)]  # the first three are the subnet's own
    gc.collect()
    assert ec2_backend() is None, "the stopped cloud's EC2 is still referenced"


def parsed(monkeypatch) -> list[str]:
    """The model files botocore reads from now on (the list fills as they are read)."""
    read, load_file = [], botocore.loaders.JSONFileLoader.load_file

    def recording(self, path: str):
        data = load_file(self, path)
        if data is not None:  # None: no such file (botocore looks for optional extras too)
            read.append(path)
        return data

    monkeypatch.setattr(botocore.loaders.JSONFileLoader, "load_file", recording)
    return read


def test_clients_and_moto_parse_each_model_once_per_process(cloud, monkeypatch):
    loader = memory.botocore_session().get_component("data_loader")
    assert AccountSpecificBackend.get_session()._session.get_component("data_loader") is loader  # moto's too
    for service in ("lambda", "iam"):
        cloud.client(service)  # parsed now, if no client parsed it before
    read = parsed(monkeypatch)
    assert "Functions" in cloud.client("lambda", region_name="eu-west-1").list_functions()  # other tests' or none
    assert cloud.client("iam", account=cloud.other_account).get_role(RoleName="lambda-role")
    with lambdalab.start(**ACCOUNTS) as other:  # another cloud: its API, moto's IAM for new accounts, a client
        assert other.client("lambda").list_functions()["Functions"] == []
    assert read == [], f"parsed again: {read}"


NO_CLOUD_LEFT = """
import json, sys
import botocore.loaders
from moto.core import utils
import lambdalab
from lambdalab.course import Functions

with lambdalab.start() as cloud:
    fn = Functions(cloud)
    fn.deploy("hello", sys.argv[1])
    cloud.client("s3").list_buckets()
    moto_models = utils.get_service_model.cache_info().currsize
from lambdalab import memory
from moto.core.base_backend import AccountSpecificBackend
sessions = (memory.botocore_session(), AccountSpecificBackend.get_session()._session)
resolvers_kept = ["endpoint_resolver" in s._internal_components._components for s in sessions]
read = []
load_file = botocore.loaders.JSONFileLoader.load_file
botocore.loaders.JSONFileLoader.load_file = lambda self, path: read.append(path) or load_file(self, path)
with lambdalab.start() as again:
    answer = Functions(again).invoke(Functions(again).deploy("hello", sys.argv[1]), {"name": "again"})
print(json.dumps({"moto_models": moto_models, "moto_models_after": utils.get_service_model.cache_info().currsize,
                  "parsed_again": any(path.endswith("/lambda/2015-03-31/service-2") for path in read),
                  "resolvers_kept": resolvers_kept,
                  "endpoints_again": any(path.endswith("/endpoints") for path in read),
                  "answer": answer}))
"""


def test_when_no_cloud_is_left_the_parsed_models_go_too():
    """In a fresh interpreter, where the stopped cloud is the only one."""
    done = subprocess.run([sys.executable, "-c", NO_CLOUD_LEFT, HELLO], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["moto_models"] > 0 and seen["moto_models_after"] == 0
    assert seen["parsed_again"], "the second cloud found the first one's lambda model still parsed"
    assert seen["resolvers_kept"] == [False, False], "botocore's endpoints stayed parsed in a session"
    assert seen["endpoints_again"]
    assert seen["answer"] == {"hello": "again"}


def test_ec2_reads_its_instance_type_offerings_a_region_at_a_time_and_gives_them_back():
    """moto's EC2 would read every Region's offerings at import (about 50 MB); a cloud's reads only the
    Regions asked for, answers as moto's files say, and gives them back when no cloud runs."""
    code = """
import json
import lambdalab
from moto.utilities.utils import load_resource

def offerings(cloud):
    ec2 = cloud.client("ec2")
    return [sorted(o["InstanceType"] for o in ec2.describe_instance_type_offerings(LocationType=kind)[
        "InstanceTypeOfferings"]) for kind in ("region", "availability-zone")]

def loaded():
    from moto.ec2.models.instance_types import INSTANCE_TYPE_OFFERINGS
    return sorted(dict.keys(INSTANCE_TYPE_OFFERINGS["region"]))

files = [sorted(o["InstanceType"] for o in load_resource(
    f"ec2/resources/instance_type_offerings/{kind}/us-east-1.json")) for kind in ("region", "availability-zone")]
with lambdalab.start() as cloud:
    first = offerings(cloud)
    image = cloud.client("ec2").describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    cloud.client("ec2").run_instances(ImageId=image, InstanceType="t3.micro", MinCount=1, MaxCount=1,
                                      Placement={"AvailabilityZone": "us-east-1a"})
    loaded_running = loaded()
loaded_stopped = loaded()
with lambdalab.start() as cloud:
    again = offerings(cloud)
    loaded_again = loaded()
print(json.dumps([first == again == files, len(files[0]) > 100, loaded_running, loaded_stopped, loaded_again]))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    same, many, loaded_running, loaded_stopped, loaded_again = json.loads(out.stdout.strip().splitlines()[-1])
    assert same and many
    assert loaded_running == ["us-east-1"] and loaded_stopped == [] and loaded_again == ["us-east-1"]


def test_ec2_reads_its_instance_types_when_asked_and_describes_them_as_moto_does():
    """moto's EC2 would read every instance type's description at import (about 11 MB, kept for the
    process's life); a cloud's knows their names from the start and reads the descriptions only when
    DescribeInstanceTypes asks, answering as moto's file says, and gives them back when no cloud runs."""
    code = """
import json
import lambdalab
from moto.utilities.utils import load_resource

with lambdalab.start() as cloud:
    ec2 = cloud.client("ec2")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    ec2.run_instances(ImageId=image, InstanceType="t3.micro", MinCount=1, MaxCount=1)
    from moto.ec2.models import instance_types
    read_running = dict.__len__(instance_types.INSTANCE_TYPES)
    every = ec2.get_paginator("describe_instance_types").paginate().build_full_result()["InstanceTypes"]
    one = ec2.describe_instance_types(InstanceTypes=["t3.micro"])["InstanceTypes"][0]
    read_asked = dict.__len__(instance_types.INSTANCE_TYPES)
    families = sorted(instance_types.INSTANCE_FAMILIES)
read_stopped = dict.__len__(instance_types.INSTANCE_TYPES)
with lambdalab.start() as cloud:
    again = len(cloud.client("ec2").get_paginator("describe_instance_types").paginate().build_full_result()[
        "InstanceTypes"])
full = load_resource("ec2/resources/instance_types.json")
print(json.dumps([read_running, read_asked, read_stopped, sorted(t["InstanceType"] for t in every) == sorted(full),
                  again == len(full), one["VCpuInfo"] == full["t3.micro"]["VCpuInfo"],
                  one["MemoryInfo"] == full["t3.micro"]["MemoryInfo"],
                  families == sorted({name.split(".")[0] for name in full})]))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    read_running, read_asked, read_stopped, *same = json.loads(out.stdout.strip().splitlines()[-1])
    assert read_running == 0, "RunInstances read every instance type's description"
    assert read_asked > 1000 and read_stopped == 0
    assert all(same)


def test_ec2_lists_its_regions_through_moto_session_not_three_new_ones():
    """moto's EC2 lists its Regions at import from three new boto3 Sessions, each parsing botocore's endpoints
    (27 MB a kernel kept): a cloud's answers from moto's own session, with the same Regions. Meanwhile
    ``boto3.Session`` stays what it is for every other thread (seen from inside moto's calls)."""
    code = """
import json
import boto3
import botocore.session
from moto.core.base_backend import AccountSpecificBackend
import lambdalab

boto3_session, shared = boto3.Session, AccountSpecificBackend.get_session()
asked = shared.get_available_regions
seen = []  # what boto3.Session is while moto's module asks for the Regions
def asking(*args, **kwargs):
    seen.append(boto3.Session is boto3_session)
    return asked(*args, **kwargs)
shared.get_available_regions = asking

made = []
original = botocore.session.Session.__init__
def counting(self, *args, **kwargs):
    made.append(1)
    original(self, *args, **kwargs)
botocore.session.Session.__init__ = counting

with lambdalab.start() as cloud:
    before = len(made)
    regions = cloud.client("ec2").describe_regions(AllRegions=True)["Regions"]
    during = len(made) - before
botocore.session.Session.__init__ = original
del shared.get_available_regions
from moto.ec2.models import availability_zones_and_regions as module
after = module.Session is boto3.Session is boto3_session
expected = sorted(boto3.Session().get_available_regions("ec2") + boto3.Session().get_available_regions(
    "ec2", partition_name="aws-us-gov") + boto3.Session().get_available_regions("ec2", partition_name="aws-cn"))
print(json.dumps([during, sorted(r["RegionName"] for r in regions) == expected, len(expected), seen, after]))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    sessions, same, count, seen, after = json.loads(out.stdout.strip().splitlines()[-1])
    assert sessions == 0, f"importing moto's EC2 made {sessions} botocore sessions"
    assert same and count > 20
    assert len(seen) >= 3 and all(seen), "boto3.Session changed for the whole process while moto's EC2 imported"
    assert after, "moto's module or boto3 was left with moto's session for a Session"


def test_http_apis_are_served_without_importing_the_rest_apis():
    """moto serves API Gateway v2 inside v1's app, whose import brings an OpenAPI validator and jsonschema
    (about 20 MB a kernel keeps); a cloud serves HTTP APIs without it, and REST APIs still when asked."""
    code = """
import json, sys
import lambdalab

with lambdalab.start() as cloud:
    v2 = cloud.client("apigatewayv2")
    api = v2.create_api(Name="items", ProtocolType="HTTP")
    listed = [a["Name"] for a in v2.get_apis()["Items"]]
    route = v2.create_route(ApiId=api["ApiId"], RouteKey="GET /items/{id}")["RouteKey"]
    v1_imported = "moto.apigateway.models" in sys.modules or "jsonschema" in sys.modules
    rest = cloud.client("apigateway").create_rest_api(name="legacy")["name"]
print(json.dumps([listed, route, v1_imported, rest]))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    listed, route, v1_imported, rest = json.loads(out.stdout.strip().splitlines()[-1])
    assert listed == ["items"] and route == "GET /items/{id}"
    assert not v1_imported
    assert rest == "legacy"


def test_each_account_reads_aws_managed_policies_one_at_a_time_and_gets_them_all(cloud):
    """moto parses AWS's 4.7 MB of managed policies whole for every IAM account, a 14 MB high-water mark
    the kernel keeps: a cloud's accounts read the text anew and parse it one policy at a time, and get the
    same policies."""
    from moto.iam.models import AWSManagedPolicy

    text = memory._aws_managed_policies_text()

    def described(policies) -> list[tuple]:
        return [(p.arn, p.path, p.default_version_id, [(v.version_id, v.document) for v in p.versions],
                 p.create_date, p.update_date) for p in policies]

    account = "333333333333"  # an account no test uses: its IAM is made here, under tracemalloc
    tracemalloc.start()
    try:
        made = iam_backends[account]["global"].aws_managed_policies
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        memory._drop_moto_accounts({account})
    assert len(made) > 1000
    beyond = peak - kept - len(text)  # the text itself is read for the account, and let go
    assert beyond < 2 * 2**20, f"parsing the policies needed {beyond / 2**20:.1f} MB beyond them and their text"
    whole = [AWSManagedPolicy.from_data(name, account, "global", data) for name, data in json.loads(text).items()]
    assert described(made) == described(whole)


def test_no_module_keeps_the_text_of_aws_managed_policies():
    """moto's IAM imports AWS's managed policies as one 4.7 MB string, which its modules would keep for the
    process's life: a cloud reads it for each account it makes, and no module keeps it."""
    code = """
import json, sys
import lambdalab
from moto.iam import models

counts = []
for _ in range(2):
    with lambdalab.start() as cloud:
        counts += [len(cloud.client("iam", account=account).get_paginator("list_policies").paginate(
            Scope="AWS").build_full_result()["Policies"]) for account in (cloud.account, cloud.other_account)]
print(json.dumps([counts, "moto.iam.aws_managed_policies" in sys.modules, hasattr(models, "aws_managed_policies_data"),
                  hasattr(sys.modules["moto.iam"], "aws_managed_policies")]))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    counts, imported, in_models, in_package = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(set(counts)) == 1 and counts[0] > 1000, counts
    assert not (imported or in_models or in_package), "a module keeps the text of AWS's managed policies"


def test_a_lean_import_substitutes_for_the_modules_own_imports_only_while_it_runs(tmp_path):
    """How moto's EC2 modules are imported lean: the module's own imports get the substitute while it runs;
    the process's modules never change, and the module's functions import and look names up as usual."""
    source = tmp_path / "lean_probe.py"
    source.write_text("import sys\nfrom json import dumps\nimport json as whole\n"
                      "REAL = sys.modules['json'].dumps\n"
                      "def later():\n    import json\n    return json.dumps, len('ab')\n"
                      "def undefined():\n    return no_such_name\n")
    spec = importlib.util.spec_from_file_location("lean_probe", source)
    module = importlib.util.module_from_spec(spec)
    substitute = types.SimpleNamespace(dumps="substitute")
    memory.exec_importing(spec.loader, module, {"json": substitute})
    assert module.dumps == "substitute" and module.whole is substitute
    assert module.REAL is json.dumps  # what every other thread saw meanwhile
    assert module.later() == (json.dumps, 2)
    with pytest.raises(NameError):
        module.undefined()


def test_json_object_items_reads_what_json_loads_reads():
    for text in ('{}', ' \n{ }\n', '{"a": 1}', '\n{\n "a" : [1, {"b": "}"}] ,\n "c":{"d":null}\n}\n'):
        assert dict(memory._json_object_items(text)) == json.loads(text)
    for broken in ('[]', '{"a" 1}', '{"a": 1 "b": 2}', '{"a": {"b": 1 "c": 2}}'):
        with pytest.raises(ValueError):
            dict(memory.json_object_entries(broken, spans_of=frozenset("a")))


def test_json_object_entries_gives_the_spans_of_an_objects_members_without_parsing_it():
    text = '{"a": 1, "shapes" : { "x": {"type": "string", "doc": "a } and a \\" in it"},"y":[ 1 ] ,"z":{}} , "b": [2]}'
    entries = {key: value for key, value, _, _ in memory.json_object_entries(text, spans_of=frozenset({"shapes"}))}
    assert entries["a"] == 1 and entries["b"] == [2]
    spans = entries["shapes"]
    assert list(spans) == ["x", "y", "z"]
    assert {name: json.loads(text[start:end]) for name, (start, end) in spans.items()} == json.loads(text)["shapes"]
    empty = dict((k, v) for k, v, _, _ in memory.json_object_entries('{"shapes": {}}', spans_of=frozenset({"shapes"})))
    assert empty == {"shapes": {}}


def test_json_object_entries_reads_an_array_of_objects_member_by_member():
    text = ('{"v": 3, "partitions": [ {"p": "aws", "services": {"s3": {"e": [1]}, "ec2": {}}, "r": {"x": 1}} ,'
            '{"p": "cn", "services": {}}], "partitions2": []}')
    spans_of = frozenset({"partitions", "services"})
    entries = {key: value for key, value, _, _ in memory.json_object_entries(text, spans_of=spans_of)}
    expected = json.loads(text)
    assert list(entries) == ["v", "partitions", "partitions2"] and entries["partitions2"] == []
    aws, cn = entries["partitions"]
    assert aws["p"] == "aws" and aws["r"] == {"x": 1} and cn == {"p": "cn", "services": {}}
    assert {name: json.loads(text[start:end]) for name, (start, end) in aws["services"].items()} == \
        expected["partitions"][0]["services"]
    empty = dict((k, v) for k, v, _, _ in memory.json_object_entries('{"partitions": [ ]}', spans_of=spans_of))
    assert empty == {"partitions": []}
    for broken in ('{"partitions": [{"p": 1} {"p": 2}]}', '{"partitions": [1]}', '{"partitions": [{"p": 1}'):
        with pytest.raises(ValueError):
            dict((k, v) for k, v, _, _ in memory.json_object_entries(broken, spans_of=spans_of))


def test_the_shared_session_reads_botocores_endpoints_with_each_service_parsed_when_asked_for(cloud):
    """botocore's table of endpoints is 4 MB of dicts, kept for as long as any S3 client lives (its
    handlers keep the creator that holds it), and a client reads its own service's entries."""
    from botocore.loaders import Loader

    from lambdalab.service_models import PackedMembers

    loader = memory.botocore_session().get_component("data_loader")
    loader._cache.clear()
    tracemalloc.start()
    try:
        ours = loader.load_data("endpoints")
        ours_kept = tracemalloc.get_traced_memory()[0]
        theirs = Loader().load_data("endpoints")  # botocore's own loader
        theirs_kept = tracemalloc.get_traced_memory()[0] - ours_kept
    finally:
        tracemalloc.stop()
        loader._cache.clear()
    assert [key for key in ours if key != "partitions"] == [key for key in theirs if key != "partitions"]
    assert len(ours["partitions"]) == len(theirs["partitions"]) > 1
    for mine, botocores in zip(ours["partitions"], theirs["partitions"], strict=True):
        assert list(mine) == list(botocores)
        assert all(mine[key] == botocores[key] for key in mine)  # PackedMembers compares as the left-hand side
        assert type(mine["services"]) is PackedMembers and list(mine["services"]) == list(botocores["services"])
    assert ours_kept < 0.2 * theirs_kept, (ours_kept, theirs_kept)
    s3 = cloud.client("s3")  # a client made with it: its endpoint, and its Regions
    assert s3.meta.endpoint_url == cloud.endpoint_url and s3.list_buckets()["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert cloud.session.get_available_regions("s3") == botocore.session.get_session().get_available_regions("s3")


def test_the_shared_session_reads_botocores_models_as_plain_dicts_with_members_parsed_when_asked_for(cloud):
    """botocore parses its data files into OrderedDicts, half as big again as dicts, and a client uses few
    of a model's shapes: the session every ``cloud.client()`` and moto read parses them into dicts, a
    model's shapes and operations when asked for, with the same entries in the same order, extras merged in."""
    import botocore.session
    from botocore.loaders import Loader

    from lambdalab.service_models import PackedMembers

    def mappings(value, found: set) -> set:
        if isinstance(value, dict):
            found.add(type(value))
            for item in value.values():
                mappings(item, found)
        elif isinstance(value, list):
            for item in value:
                mappings(item, found)
        return found

    def same(ours: dict, theirs: dict) -> bool:  # PackedMembers compares itself, as the left-hand side
        return list(ours) == list(theirs) and all(ours[key] == theirs[key] for key in ours)

    loader = memory.botocore_session().get_component("data_loader")
    tracemalloc.start()
    try:
        ours = loader.load_service_model("ec2", "service-2")
        ours_kept = tracemalloc.get_traced_memory()[0]
        theirs = Loader().load_service_model("ec2", "service-2")  # botocore's own loader
        theirs_kept = tracemalloc.get_traced_memory()[0] - ours_kept
    finally:
        tracemalloc.stop()
        loader._cache.clear()
    assert same(ours, theirs) and list(ours["shapes"]) == list(theirs["shapes"])
    assert mappings(ours, set()) == {dict, PackedMembers} and mappings(theirs, set()) != {dict}
    for packed, name in (("shapes", "Instance"), ("operations", "RunInstances")):
        assert type(ours[packed]) is PackedMembers and ours[packed][name] is not ours[packed][name]
    assert ours_kept < 0.35 * theirs_kept, (ours_kept, theirs_kept)
    # S3's extras file changes its shape Expires in place: the change lasts
    s3, s3_theirs = loader.load_service_model("s3", "service-2"), Loader().load_service_model("s3", "service-2")
    loader._cache.clear()
    assert s3["shapes"]["Expires"] == s3_theirs["shapes"]["Expires"] == {"type": "timestamp"}
    assert same(s3, s3_theirs)
    plain = botocore.session.get_session().create_client("lambda", region_name="us-east-1",
                                                           aws_access_key_id="a", aws_secret_access_key="b")
    assert str(cloud.client("lambda").invoke.__doc__) == str(plain.invoke.__doc__)  # what help() shows


def test_a_client_of_the_shared_session_reads_an_operations_model_when_it_is_called_or_its_help_read(cloud):
    """botocore reads every operation's model as a client's class is made, for docstrings written only when
    read: the shared session's clients read one when it is called or its docstring is, the same docstring;
    a client of another session is botocore's own."""
    import botocore.session

    ec2 = cloud.client("ec2")
    read = ec2.meta.service_model._instance_cache
    assert not [key for key in read if key[0] == "operation_model"]  # 700-odd operations, none read yet
    ec2.describe_regions()
    plain = botocore.session.get_session().create_client("ec2", region_name="us-east-1",
                                                         aws_access_key_id="a", aws_secret_access_key="b")
    assert str(ec2.run_instances.__doc__) == str(plain.run_instances.__doc__)  # what help() shows
    assert sorted(key[1][0] for key in read if key[0] == "operation_model") == ["DescribeRegions", "RunInstances"]
    assert len([key for key in plain.meta.service_model._instance_cache if key[0] == "operation_model"]) > 700
    with pytest.raises(TypeError, match=r"^describe_regions\(\) only accepts keyword arguments\.$"):
        ec2.describe_regions({})
    assert ec2.describe_regions.__name__ == plain.describe_regions.__name__ == "describe_regions"


def test_moto_reads_the_shared_models_and_a_clients_changes_to_an_operation_do_not_reach_it(cloud):
    """moto routes, parses and answers with the models of the shared loader (it parsed its own, 14.5 MB
    more for EC2), and botocore's S3 client drops ``/{Bucket}`` from its operations' paths in place,
    which must change neither moto's routes nor another client's."""
    from moto.core.utils import get_service_model

    from lambdalab.service_models import PackedMembers

    s3 = cloud.client("s3")
    s3.create_bucket(Bucket="ch-models")
    s3.put_object(Bucket="ch-models", Key="k", Body=b"v")
    assert s3.meta.service_model.operation_model("PutObject").http["requestUri"] == "/{Key+}"  # its own, changed
    for operation, path in (("CreateBucket", "/{Bucket}"), ("PutObject", "/{Bucket}/{Key+}")):
        assert get_service_model("s3").operation_model(operation).http["requestUri"] == path
    assert type(get_service_model("s3")._service_description["shapes"]) is PackedMembers
    assert cloud.client("s3").meta.service_model.operation_model("PutObject").http["requestUri"] == "/{Bucket}/{Key+}"
    assert cloud.client("s3").get_object(Bucket="ch-models", Key="k")["Body"].read() == b"v"
