"""The measurements: each function takes a running cloud (or none) and returns plain numbers.

Every latency is taken on the client side with ``time.perf_counter`` around a boto3 call (the
Payload read included), or read from the invocation records that lambdalab writes for every
invocation (``duration_ms``, ``init_ms``), which are what its REPORT lines say.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import numpy as np
from botocore.config import Config
from handlers import BUSY_LOOP, CPU, SLEEP_FOREVER, SLEEPY, TRIVIAL, zip_source
from tqdm.auto import tqdm as _tqdm

ROLE = "arn:aws:iam::123456789012:role/lambda-role"
# No SDK retries: a throttle or an error must show up as one, not as a slow invoke.
CLIENT_CONFIG = Config(retries={"total_max_attempts": 1}, read_timeout=300, connect_timeout=10,
                       max_pool_connections=16)


def tqdm(*args, **kwargs):
    """Progress bars on a terminal only (disable=None), so piped output stays clean."""
    return _tqdm(*args, disable=None, leave=False, **kwargs)


def pct(values, q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else float("nan")


def summary(values) -> dict:
    nan = float("nan")
    return {"n": len(values), "p50": pct(values, 50), "p95": pct(values, 95), "p99": pct(values, 99),
            "min": float(min(values)) if values else nan, "max": float(max(values)) if values else nan,
            "mean": float(np.mean(values)) if values else nan}


def lambda_client(cloud):
    return cloud.client("lambda", config=CLIENT_CONFIG)


def create(client, name: str, source: str, memory: int = 128, timeout: int = 3) -> None:
    client.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler",
                           Code={"ZipFile": zip_source(source)}, MemorySize=memory, Timeout=timeout)


def invoke(client, name: str, payload: dict | None = None) -> tuple[float, dict]:
    """One synchronous invoke; (client-observed ms, response with the Payload read)."""
    body = json.dumps(payload if payload is not None else {}).encode()
    t0 = time.perf_counter()
    response = client.invoke(FunctionName=name, Payload=body)
    response["Payload"] = response["Payload"].read()
    return (time.perf_counter() - t0) * 1000, response


def check_ok(response: dict, what: str) -> None:
    if response.get("FunctionError") or response.get("StatusCode") != 200:
        raise RuntimeError(f"{what}: invoke failed: {response.get('FunctionError')} {response['Payload'][:300]!r}")


def request_id(response: dict) -> str:
    return response["ResponseMetadata"]["RequestId"]


def records_for(cloud, request_ids: list[str]):
    """The invocation records of these request ids (in their order)."""
    frame = cloud.invocations()
    rows = frame[frame["request_id"].isin(set(request_ids))].set_index("request_id")
    missing = [r for r in request_ids if r not in rows.index]
    if missing:
        raise RuntimeError(f"{len(missing)} of {len(request_ids)} invocations have no record "
                           f"(e.g. {missing[0]}): is the response's RequestId the invocation's?")
    return rows.loc[request_ids]


# -- 1 + 2: warm synchronous invoke against the floor, and the Runtime API round trip -----------
def floor_client(cloud, floor_url: str):
    """The same boto3 client as lambda_client() (session, credentials, config), pointed at the floor."""
    return cloud.session.client("lambda", endpoint_url=floor_url, config=CLIENT_CONFIG)


def interleaved(client, floor, name: str, n: int, desc: str) -> tuple[list[float], list[float], list[str]]:
    """``n`` warm invokes of ``name``, each beside the same call to the floor (which of the two goes
    first alternates), so that both see the same machine at the same moment: (ms, floor ms, request ids)."""
    times, floor_times, ids = [], [], []
    for i in tqdm(range(n), desc=desc):
        if i % 2:
            floor_times.append(invoke(floor, name, {"i": i})[0])
        dt, r = invoke(client, name, {"i": i})
        if not i % 2:
            floor_times.append(invoke(floor, name, {"i": i})[0])
        check_ok(r, name)
        if json.loads(r["Payload"]) != {"i": i}:
            raise RuntimeError(f"{name}: wrong payload {r['Payload'][:200]!r}")
        times.append(dt)
        ids.append(request_id(r))
    return times, floor_times, ids


def against_floor(times: list[float], floor_times: list[float]) -> dict:
    lambdalab, floor_ms = summary(times), summary(floor_times)
    return {"client_ms": lambdalab, "floor_ms": floor_ms, "ratio_p50": lambdalab["p50"] / floor_ms["p50"],
            "client_ms_raw": times, "floor_ms_raw": floor_times}


def warm_invoke(cloud, client, floor, name: str, memory: int, warmups: int, n: int) -> dict:
    """Warm invokes of a trivial handler, interleaved with the floor."""
    create(client, name, TRIVIAL, memory=memory)
    for i in range(warmups):
        check_ok(invoke(client, name, {"i": i})[1], name)
        check_ok(invoke(floor, name, {"i": i})[1], "floor")
    times, floor_times, ids = interleaved(client, floor, name, n, f"warm invoke {memory} MB, with the floor")
    rec = records_for(cloud, ids)
    return {"memory_mb": memory, **against_floor(times, floor_times),
            "record_duration_ms": summary(list(rec["duration_ms"])),
            "cold_in_sample": int(rec["cold"].sum()), "environments": int(rec["environment"].nunique())}


def wire_codec(rounds: int) -> dict:
    """The Lambda wire layer alone, per call in us: parse an Invoke request and render its response
    (the codec), and validate the parsed request against the model."""
    from lambdalab.api.wire import LambdaWire

    wire = LambdaWire()
    headers = {"Host": "localhost", "X-Amz-Invocation-Type": "RequestResponse", "X-Amz-Log-Type": "None",
               "Content-Type": "application/json", "Authorization": "AWS4-HMAC-SHA256 ...",
               "X-Amz-Date": "20240101T000000Z", "User-Agent": "Boto3/1.34", "Content-Length": "7"}
    output = {"StatusCode": 200, "Payload": b'{"ok":true}', "ExecutedVersion": "$LATEST"}
    path = "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Amy-fn/invocations"
    codec, validate = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        request = wire.parse("POST", path, "Qualifier=live", headers, b'{"n":1}')
        t1 = time.perf_counter()
        wire.validate(request)
        t2 = time.perf_counter()
        wire.respond("Invoke", output)
        codec.append((time.perf_counter() - t2 + t1 - t0) * 1e6)
        validate.append((t2 - t1) * 1e6)
    return {"codec_us": summary(codec), "validate_us": summary(validate)}


# -- 3: cold start ------------------------------------------------------------------------------
def cold_start(cloud, client, name: str, n: int) -> dict:
    """Force a new environment for every invoke by changing the function's Description."""
    create(client, name, TRIVIAL, memory=128)
    e2e, ids, update_ms = [], [], []
    for i in tqdm(range(n), desc="cold starts"):
        t0 = time.perf_counter()
        client.update_function_configuration(FunctionName=name, Description=f"cold {i}")
        update_ms.append((time.perf_counter() - t0) * 1000)
        dt, r = invoke(client, name, {"i": i})
        check_ok(r, name)
        e2e.append(dt)
        ids.append(request_id(r))
    rec = records_for(cloud, ids)
    if not rec["cold"].all():
        raise RuntimeError(f"{name}: {int((~rec['cold']).sum())} of {n} forced cold starts were warm")
    init = [float(x) for x in rec["init_ms"] if x == x and x is not None]
    return {"init_ms": summary(init), "first_invoke_ms": summary(e2e), "update_configuration_ms": summary(update_ms),
            "record_duration_ms": summary(list(rec["duration_ms"])), "init_ms_raw": init}


# -- 4: warm throughput with 4 environments -----------------------------------------------------
def throughput(cloud, name: str, memory: int, workers: int, seconds: float) -> dict:
    setup = lambda_client(cloud)
    create(setup, name, SLEEPY, memory=memory)
    clients = [lambda_client(cloud) for _ in range(workers)]  # one client per thread, made here
    # Force exactly `workers` environments into existence: that many concurrent, sleeping invokes.
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def prewarm(c):
        try:
            barrier.wait()
            _, r = invoke(c, name, {"sleep": 0.5})
            check_ok(r, name)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=prewarm, args=(c,), name=f"bench-prewarm-{i}") for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    envs_before = len(cloud.environments(name))
    if envs_before != workers:
        raise RuntimeError(f"{name}: {envs_before} environments after the pre-warm, wanted {workers}")
    for c in clients:  # each connection warm too
        invoke(c, name, {})

    counts = [0] * workers
    latencies: list[list[float]] = [[] for _ in range(workers)]
    ids: list[list[str]] = [[] for _ in range(workers)]
    start_barrier = threading.Barrier(workers + 1)
    stop_at = [0.0]

    def work(k: int) -> None:
        c = clients[k]
        try:
            start_barrier.wait()
            while time.perf_counter() < stop_at[0]:
                dt, r = invoke(c, name, {"k": k})
                check_ok(r, name)
                counts[k] += 1
                latencies[k].append(dt)
                ids[k].append(request_id(r))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,), name=f"bench-worker-{k}") for k in range(workers)]
    for t in threads:
        t.start()
    import psutil

    me = psutil.Process()
    stop_at[0] = time.perf_counter() + seconds
    t0 = time.perf_counter()
    cpu0 = me.cpu_times()
    start_barrier.wait()
    with tqdm(total=round(seconds, 1), desc=f"throughput {workers} envs", unit="s") as bar:
        while any(t.is_alive() for t in threads):
            time.sleep(0.1)
            bar.n = round(min(seconds, time.perf_counter() - t0), 1)
            bar.refresh()
    elapsed = time.perf_counter() - t0
    cpu1 = me.cpu_times()
    if errors:
        raise errors[0]
    envs_after = len(cloud.environments(name))
    rec = records_for(cloud, [i for k in ids for i in k])
    used = rec["environment"].nunique()
    if envs_after != workers or used != workers:
        raise RuntimeError(f"{name}: {envs_after} environments alive, {used} used, wanted {workers}")
    total = sum(counts)
    return {"memory_mb": memory, "workers": workers, "seconds": elapsed, "invokes": total,
            "per_s": total / elapsed, "per_worker": counts, "environments": envs_after,
            "environments_used": int(used), "cold_in_sample": int(rec["cold"].sum()),
            "client_ms": summary([x for k in latencies for x in k]),
            # clients, gateway and environment threads share this process (and its GIL)
            "process_cpu_cores": (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / elapsed}


# -- 5: idle environment memory -----------------------------------------------------------------
def idle_memory(cloud, names: list[str], settle_s: float = 0.3) -> dict:
    import psutil

    time.sleep(settle_s)  # let the environments go idle (frozen)
    out = {}
    for name in names:
        for env in cloud.environments(name):
            proc = psutil.Process(env._proc.pid)
            tree = [proc, *proc.children(recursive=True)]
            rss = sum(p.memory_info().rss for p in tree)
            try:
                full = [p.memory_full_info() for p in tree]
                uss, pss = sum(m.uss for m in full), sum(m.pss for m in full)
            except (psutil.AccessDenied, AttributeError):
                uss = pss = float("nan")
            out[f"{name}/{env.id[:8]}"] = {"state": str(getattr(env.state, "value", env.state)),
                                           "status": proc.status(), "processes": len(tree),
                                           "rss_mb": rss / 2**20, "uss_mb": uss / 2**20, "pss_mb": pss / 2**20}
    if not out:
        raise RuntimeError("no idle environment to measure")
    return {"environments": out, "rss_mb_max": max(v["rss_mb"] for v in out.values()),
            "uss_mb_max": max(v["uss_mb"] for v in out.values())}


# -- 6: timeout enforcement ---------------------------------------------------------------------
def timeouts(cloud, client, n: int) -> dict:
    """Overshoot past a 1 s timeout, client-side and in the record.

    Each function is warmed first (``{"warm": true}`` returns at once), so no measured invoke
    pays the on-demand INIT, which AWS runs before the invocation's deadline starts.  After a
    timeout the environment re-initialises inside the next invocation (a "suppressed init",
    which does count against that invocation's timeout), so those are within the deadline.
    """
    out = {}
    for name, source, memory in (("bench-timeout-sleep", SLEEP_FOREVER, 128),
                                 ("bench-timeout-busy", BUSY_LOOP, 1769)):
        create(client, name, source, memory=memory, timeout=1)
        _, r = invoke(client, name, {"warm": True})
        check_ok(r, name)
        client_over, ids = [], []
        for _ in tqdm(range(n), desc=name.removeprefix("bench-")):
            dt, r = invoke(client, name, {})
            if r.get("FunctionError") != "Unhandled":
                raise RuntimeError(f"{name}: expected a timeout, got {r.get('FunctionError')} {r['Payload'][:200]!r}")
            client_over.append(dt - 1000)
            ids.append(request_id(r))
        rec = records_for(cloud, ids)
        bad = rec[rec["error_type"] != "Sandbox.Timedout"]
        if len(bad):
            raise RuntimeError(f"{name}: error types {sorted(set(bad['error_type']))}, wanted Sandbox.Timedout")
        on_demand_init = [x for x in rec["init_ms"] if x == x and x is not None]
        out[name] = {"memory_mb": memory, "client_overshoot_ms": summary(client_over),
                     "record_overshoot_ms": summary([d - 1000 for d in rec["measured_ms"]]),
                     "cold_in_sample": int(rec["cold"].sum()), "on_demand_inits": len(on_demand_init),
                     "environments_alive_after": len(cloud.environments(name))}
    return out


# -- stop: cloud.stop() with invocations in flight -------------------------------------------------
def stop_in_flight(inflight: int) -> dict:
    """A fresh cloud with ``inflight`` handlers running (each sleeps 60 s): how long stop() takes."""
    import lambdalab

    cloud = lambdalab.start()
    client = lambda_client(cloud)
    create(client, "bench-stop", SLEEPY, memory=128, timeout=120)
    outcomes: list = []

    def call(k: int) -> None:
        try:
            outcomes.append(invoke(lambda_client(cloud), "bench-stop", {"sleep": 60, "k": k})[1])
        except Exception as e:  # the cloud stopping under a waiting client is the point
            outcomes.append(e)

    threads = [threading.Thread(target=call, args=(k,), name=f"bench-inflight-{k}") for k in range(inflight)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while cloud.leases.running("bench-stop") < inflight and time.monotonic() < deadline:
        time.sleep(0.01)  # until every invocation holds its lease (no event for it)
    if cloud.leases.running("bench-stop") < inflight:
        cloud.stop()
        raise RuntimeError(f"only {cloud.leases.running('bench-stop')} of {inflight} invocations got running")
    t0 = time.perf_counter()
    cloud.stop()
    stop_s = time.perf_counter() - t0
    for t in threads:
        t.join(timeout=60)
    return {"inflight": inflight, "stop_s": stop_s, "clients_answered": len(outcomes)}


# -- 7: lambdalab.start() in a fresh interpreter ------------------------------------------------
_START = """\
import json, time
t0 = time.perf_counter()
import lambdalab
t1 = time.perf_counter()
cloud = lambdalab.start()
t2 = time.perf_counter()
cloud.stop()
t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "start_s": t2 - t1, "total_s": t2 - t0, "stop_s": t3 - t2}))
"""


def start_time(runs: int) -> dict:
    results, wall = [], []
    for _ in tqdm(range(runs), desc="lambdalab.start()"):
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", _START], capture_output=True, text=True, timeout=120,
                              cwd=os.path.dirname(os.path.abspath(__file__)))
        wall.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            raise RuntimeError(f"lambdalab.start() in a subprocess failed: {proc.stderr[-1000:]}")
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    med = lambda key: float(np.median([r[key] for r in results]))  # noqa: E731
    return {"runs": runs, "total_s": med("total_s"), "import_s": med("import_s"), "start_s": med("start_s"),
            "stop_s": med("stop_s"), "process_wall_s": float(np.median(wall)),
            "total_s_max": max(r["total_s"] for r in results)}


_KEPT = """\
import gc, json, sys, time
import lambdalab

def pss_mb():
    gc.collect()
    with open("/proc/self/smaps_rollup") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("Pss:")) / 1024

n = int(sys.argv[1])
cloud = lambdalab.start()
lam = cloud.client("lambda")
lam.create_function(FunctionName="kept", Runtime="python3.12", Handler="app.handler",
                    Role=f"arn:aws:iam::{cloud.account}:role/lambda-role",
                    Code={"ZipFile": lambdalab.zip_files({"app.py": "def handler(event, context):\\n    return 1\\n"})})
lam.get_waiter("function_active_v2").wait(FunctionName="kept")
for _ in range(200):  # the cold start and the first batches: not counted
    lam.invoke(FunctionName="kept", Payload=b"{}")
cloud.logs.flush(); cloud.metrics.flush()
before, t0 = pss_mb(), time.perf_counter()
for _ in range(n):
    lam.invoke(FunctionName="kept", Payload=b"{}")
seconds = time.perf_counter() - t0
cloud.logs.flush(); cloud.metrics.flush()
after = pss_mb()
cloud.stop()
print(json.dumps({"n": n, "mb_per_1000": (after - before) * 1000 / n, "invokes_per_s": n / seconds}))
"""


def kept_per_invocation(n: int) -> dict:
    """What a running cloud keeps for each warm invocation (its record, log events and metrics), in a fresh
    process: its PSS before and after ``n`` sequential invokes, per 1,000."""
    proc = subprocess.run([sys.executable, "-c", _KEPT, str(n)], capture_output=True, text=True, timeout=600,
                          cwd=os.path.dirname(os.path.abspath(__file__)))
    if proc.returncode != 0:
        raise RuntimeError(f"the invocations in a subprocess failed: {proc.stderr[-1000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# -- 8: CPU share ----------------------------------------------------------------------------------
def cpu_share(cloud, client, n_iter: int, runs: int) -> dict:
    out = {}
    for memory in (1769, 128):
        name = f"bench-cpu-{memory}"
        create(client, name, CPU, memory=memory, timeout=120)
        _, r = invoke(client, name, {"n": 1})  # the cold start, not measured
        check_ok(r, name)
        ids, client_ms, wall_per_cpu = [], [], []
        for _ in tqdm(range(runs), desc=f"cpu-bound {memory} MB"):
            dt, r = invoke(client, name, {"n": n_iter})
            check_ok(r, name)
            ids.append(request_id(r))
            client_ms.append(dt)
            wall_per_cpu.append(float(records_for(cloud, ids[-1:])["duration_ms"].iloc[0])
                                / json.loads(r["Payload"])["cpu_ms"])
        rec = records_for(cloud, ids)
        out[memory] = {"duration_ms": summary(list(rec["duration_ms"])), "client_ms": summary(client_ms),
                       "wall_per_cpu": summary(wall_per_cpu)}
    ratio = out[128]["duration_ms"]["p50"] / out[1769]["duration_ms"]["p50"]
    return {"n_iter": n_iter, "by_memory": out, "ratio": ratio, "aws_ratio": 1769 / 128,
            "throttle": out[128]["wall_per_cpu"]["p50"]}


# -- 9: IAM on the invoke path ----------------------------------------------------------------------
def iam_invoke(cloud, floor, name: str, warmups: int, n: int) -> dict:
    """Warm invokes by an IAM user whose inline policy allows them: each one is judged by the authorizer."""
    iam = cloud.client("iam")
    user = f"bench-invoker-{os.getpid()}"
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="invoke", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Deny", "Action": "lambda:DeleteFunction", "Resource": "*"},
            {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": cloud.service.arn(name),
             "Condition": {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}}]}))
    client = cloud.client("lambda", credentials=iam.create_access_key(UserName=user)["AccessKey"],
                          config=CLIENT_CONFIG)
    for i in range(warmups):
        check_ok(invoke(client, name, {"i": i})[1], name)
    times, floor_times, _ = interleaved(client, floor, name, n, "warm invoke as an IAM user, with the floor")
    decisions = cloud.decisions()
    judged = int(((decisions["principal"].str.endswith(f"user/{user}")) & decisions["allowed"]).sum())
    if judged < n:
        raise RuntimeError(f"only {judged} of {n} invokes were judged by IAM")
    return {**against_floor(times, floor_times), "judged": judged}


def policy_decision(cloud, n: int) -> dict:
    """The authorizer alone: one decision for a user with two policies and a condition, in microseconds."""
    from lambdalab.iam.principals import Directory

    caller = Directory({}).for_arn(f"arn:aws:iam::{cloud.account}:user/bench-invoker-{os.getpid()}")
    resource = cloud.service.arn("bench-trivial-1769")
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        decision = cloud.authorizer.simulate(caller, "lambda:InvokeFunction", resource)
        times.append((time.perf_counter() - t0) * 1e6)
    if not decision.allowed:
        raise RuntimeError(f"the decision should allow: {decision.explain()}")
    return {"decision_us": summary(times)}
