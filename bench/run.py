"""lambdalab's performance budget (docs/budget.md), measured on this machine.

    python bench/run.py            # full run, about 40 s on 2 cores
    python bench/run.py --quick    # smoke run, under a minute

Prints metric | measured | budget | verdict, the machine, and python-lambda-local beside lambdalab;
writes everything (raw samples included) to bench/results/latest.json.  The exit status is
non-zero only when a measurement could not be made, never because a budget was missed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import measure  # noqa: E402
from async_queue import async_queue  # noqa: E402
from floor import FloorServer  # noqa: E402
from sources import sources  # noqa: E402
from sqs_mapping import sqs_mapping  # noqa: E402

FULL = dict(warmups=50, warm_n=1000, cold_n=30, tp_seconds=5.0, tp_memories=(128, 1769), timeout_n=5,
            start_runs=3, cpu_runs=3, cpu_iter=3_000_000, peer_calls=200, peer_cli=10, async_delay_n=200,
            async_events=2000, inflight=4, codec_rounds=5000, sqs_messages=2000, sqs_n=100, sources_n=200,
            kept_n=5000)
QUICK = dict(warmups=20, warm_n=200, cold_n=5, tp_seconds=1.5, tp_memories=(128,), timeout_n=2,
             start_runs=1, cpu_runs=1, cpu_iter=3_000_000, peer_calls=30, peer_cli=2, async_delay_n=30,
             async_events=200, inflight=4, codec_rounds=1000, sqs_messages=300, sqs_n=20, sources_n=30,
             kept_n=1000)


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        distro = platform.freedesktop_os_release().get("PRETTY_NAME", "")
    except (OSError, AttributeError):
        distro = ""
    import psutil

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": cpu, "cores": os.cpu_count(), "usable_cores": usable, "load_start": load(),
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(), "os": f"{platform.system()} {platform.release()}"
            + (f" ({distro})" if distro else "")}


def cpu_snapshot() -> tuple[float, float]:
    """(busy CPU-seconds of the whole machine, CPU-seconds of this process and its reaped children)."""
    import psutil

    t = psutil.cpu_times()
    busy = sum(t) - t.idle - getattr(t, "iowait", 0.0)
    me = psutil.Process().cpu_times()
    return busy, me.user + me.system + me.children_user + me.children_system


def code_version() -> str:
    """The lambdalab commit measured, and whether its working tree had changes."""
    root = HERE.parent
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                             timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "lambdalab"], cwd=root, capture_output=True,
                               text=True, timeout=10).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{sha}" + (f" + uncommitted changes in {len(dirty)} lambdalab files" if dirty else "") if sha else "unknown"


def load() -> float | None:
    """The 1-minute load average: other work on the machine skews every number here."""
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):
        return None


class Report:
    def __init__(self) -> None:
        self.rows: list[dict] = []
        self.details: dict = {}
        self.errors: dict[str, str] = {}

    def row(self, key: str, metric: str, value: float, unit: str, budget: tuple[str, float] | None = None,
            fmt: str = "{:.2f}") -> None:
        """budget: ("<=", limit) or (">=", limit); None for a number reported without a budget."""
        verdict = "-"
        if budget is not None and not math.isnan(value):
            op, limit = budget
            verdict = "ok" if (value <= limit if op == "<=" else value >= limit) else "OVER"
        self.rows.append({"key": key, "metric": metric, "value": value, "unit": unit,
                          "measured": f"{fmt.format(value)} {unit}".strip(),
                          "budget": f"{budget[0]} {budget[1]:g} {unit}".strip() if budget else "",
                          "verdict": verdict})

    def section(self, name: str, fn, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            result = fn(*args, **kwargs)
        except Exception as e:
            self.errors[name] = "".join(traceback.format_exception_only(type(e), e)).strip()
            self.details[name] = {"error": self.errors[name], "traceback": traceback.format_exc()}
            print(f"[bench] {name}: FAILED: {self.errors[name]}", file=sys.stderr)
            return None
        self.details[name] = result
        print(f"[bench] {name}: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        return result


def run(cfg: dict, quick: bool) -> tuple[Report, dict]:
    import lambdalab
    from lambdalab import runtimes

    rep = Report()
    bootstrap = runtimes.PYTHON_DIR / "bootstrap.py"
    if not bootstrap.exists():
        raise SystemExit(f"bench: the Python runtime is missing ({bootstrap}); nothing can be invoked yet")

    st = rep.section("start", measure.start_time, cfg["start_runs"])
    kept = rep.section("kept_per_invocation", measure.kept_per_invocation, cfg["kept_n"])
    codec = rep.section("wire_codec", measure.wire_codec, cfg["codec_rounds"])

    cloud = lambdalab.start(cpu_throttle=True)
    floor_server = FloorServer().start()
    try:
        client = measure.lambda_client(cloud)
        floor = measure.floor_client(cloud, floor_server.url)
        warm = {}
        for memory in (128, 1769):
            warm[memory] = rep.section(f"warm_{memory}", measure.warm_invoke, cloud, client, floor,
                                       f"bench-trivial-{memory}", memory, cfg["warmups"], cfg["warm_n"])
        mem = rep.section("idle_memory", measure.idle_memory, cloud, ["bench-trivial-128", "bench-trivial-1769"])
        cold = rep.section("cold_start", measure.cold_start, cloud, client, "bench-cold", cfg["cold_n"])
        tp = {}
        for memory in cfg["tp_memories"]:
            tp[memory] = rep.section(f"throughput_{memory}", measure.throughput, cloud, f"fn-{memory}" if memory != 128
                                     else "fn", memory, 4, cfg["tp_seconds"])
        to = rep.section("timeouts", measure.timeouts, cloud, client, cfg["timeout_n"])
        cpu = rep.section("cpu_share", measure.cpu_share, cloud, client, cfg["cpu_iter"], cfg["cpu_runs"])
        iam = rep.section("iam_invoke", measure.iam_invoke, cloud, floor, "bench-trivial-1769", cfg["warmups"],
                          cfg["warm_n"])
        decision = rep.section("policy_decision", measure.policy_decision, cloud, cfg["warm_n"]) if iam else None
        throttle = rep.section("throttle_decision", throttle_decision, cloud, "bench-trivial-128", cfg["warm_n"])
        aq = rep.section("async_queue", async_queue, cloud, "bench-async", cfg["async_delay_n"], cfg["async_events"])
        esm = rep.section("sqs_mapping", sqs_mapping, cloud, cfg["sqs_messages"], cfg["sqs_n"])
        src = rep.section("sources", sources, cloud, cfg["sources_n"])
    finally:
        floor_server.close()
        t0 = time.perf_counter()
        cloud.stop()
        rep.details["cloud_stop_s"] = time.perf_counter() - t0

    stop = rep.section("stop_in_flight", measure.stop_in_flight, cfg["inflight"])
    peers = rep.section("peers", run_peers, cfg["peer_calls"], cfg["peer_cli"])

    # -- the table -------------------------------------------------------------------------------
    for memory in (128, 1769):
        w = warm.get(memory)
        if w:
            c, f = w["client_ms"], w["floor_ms"]
            rep.row(f"floor_p50_{memory}", f"floor: boto3 Invoke of a no-op server p50 / p99 ({memory} MB run)",
                    f["p50"], "ms", fmt=f"{{:.2f}} / {f['p99']:.2f}")
            rep.row(f"warm_p50_{memory}", f"warm sync invoke p50 / p99, trivial, {memory} MB", c["p50"], "ms",
                    fmt=f"{{:.2f}} / {c['p99']:.2f}")
            rep.row(f"warm_ratio_{memory}", f"  p50 over the floor's p50, {memory} MB", w["ratio_p50"], "x",
                    ("<=", 1.4))
            rep.row(f"warm_p99_{memory}", f"  p99, {memory} MB", c["p99"], "ms", ("<=", 10))
    if codec:
        rep.row("wire_codec_p50", "  Lambda wire: parse an Invoke + render its response, p50", codec["codec_us"]["p50"],
                "us", ("<=", 100), "{:.0f}")
        rep.row("wire_validate_p50", "  Lambda wire: validate the parsed Invoke, p50", codec["validate_us"]["p50"],
                "us", fmt="{:.0f}")
    if warm.get(1769):
        d = warm[1769]["record_duration_ms"]
        rep.row("runtime_api_p50", "Runtime API round trip p50 (record duration_ms, 1769 MB)", d["p50"], "ms",
                ("<=", 0.5), "{:.3f}")
        rep.row("runtime_api_p99", "Runtime API round trip p99 (record duration_ms, 1769 MB)", d["p99"], "ms",
                fmt="{:.3f}")
    if cold:
        rep.row("cold_init_p50", f"cold start init_ms p50 (n={cold['init_ms']['n']})", cold["init_ms"]["p50"], "ms",
                ("<=", 40), "{:.1f}")
        rep.row("cold_e2e_p50", "cold first invoke, boto3 end to end, p50", cold["first_invoke_ms"]["p50"], "ms",
                fmt="{:.1f}")
    for memory, t in tp.items():
        if t:
            rep.row(f"throughput_{memory}", f"warm throughput, 4 envs x 4 threads, {memory} MB", t["per_s"],
                    "invokes/s", (">=", 300), "{:.0f}")
            rep.row(f"throughput_{memory}_cpu", f"  CPU of the cloud's process meanwhile, {memory} MB",
                    t["process_cpu_cores"], "cores")
    if mem:
        rep.row("idle_rss", "idle environment RSS (process tree, max)", mem["rss_mb_max"], "MB", ("<=", 20), "{:.1f}")
        rep.row("idle_uss", "idle environment USS (memory only it holds)", mem["uss_mb_max"], "MB", fmt="{:.1f}")
    if to:
        for name, label in (("bench-timeout-sleep", "sleeping"), ("bench-timeout-busy", "busy-looping")):
            r = to[name]
            n = r["client_overshoot_ms"]["n"]
            rep.row(f"timeout_{label}_client_max", f"timeout overshoot, {label}, client, max of {n}",
                    r["client_overshoot_ms"]["max"], "ms", ("<=", 50), "{:.1f}")
            rep.row(f"timeout_{label}_record_p50", f"timeout overshoot, {label}, record measured_ms-1000, p50",
                    r["record_overshoot_ms"]["p50"], "ms", ("<=", 50), "{:.1f}")
    if st:
        rep.row("start", f"lambdalab.start() incl. imports, fresh process, median of {st['runs']}", st["total_s"], "s",
                ("<=", 1.5))
    if cpu:
        rep.row("cpu_share", "CPU share fidelity: cpu-bound 128 MB / 1769 MB (AWS ~13.8x)", cpu["ratio"], "x",
                fmt="{:.1f}")
        rep.row("cpu_throttle", "  128 MB: Duration / the CPU time the handler used (share: 13.8x)", cpu["throttle"],
                "x", fmt="{:.1f}")
    if iam:
        rep.row("iam_warm_p50", "warm sync invoke p50 as an IAM user (judged by IAM), 1769 MB",
                iam["client_ms"]["p50"], "ms")
        rep.row("iam_warm_ratio", "  p50 over the floor's p50", iam["ratio_p50"], "x")
    if decision:
        rep.row("policy_decision_p50", "  one IAM decision alone (2 policies, a condition), p50",
                decision["decision_us"]["p50"], "us", fmt="{:.0f}")
    if throttle:
        rep.row("admit_p50", "  one concurrency decision (admit + release, under its lock), p50",
                throttle["admit_us"]["p50"], "us", fmt="{:.1f}")
        rep.row("throttle_p50", "  one throttle decision (the 429's exception included), p50",
                throttle["throttle_us"]["p50"], "us", fmt="{:.1f}")
    if esm:
        rep.row("sqs_delay_p50", "SQS mapping: SendMessage to the handler's start, no window, p50", esm["delay_p50_ms"],
                "ms", ("<=", 20), "{:.1f}")
        rep.row("sqs_per_s", "SQS mapping: messages/s end to end, batches of 10", esm["per_s"], "msgs/s", fmt="{:.0f}")
    if aq:
        rep.row("async_start_p50", "Invoke(Event) to the handler's start p50 / p99, warm", aq["start_ms"]["p50"], "ms",
                ("<=", 5), f"{{:.2f}} / {aq['start_ms']['p99']:.2f}")
        rep.row("async_per_s", f"events through the async queue, {aq['environments']} environments, 4 senders",
                aq["per_s"], "events/s", fmt="{:.0f}")
    if src:
        s3d, url, direct = src["s3_delay_ms"], src["url_ms"], src["invoke_ms"]
        rep.row("s3_delay_p50", "S3 PutObject to the handler's start p50 / p99, warm", s3d["p50"], "ms",
                fmt=f"{{:.2f}} / {s3d['p99']:.2f}")
        rep.row("url_p50", "function URL request to response p50 / p99, trivial, warm", url["p50"], "ms",
                fmt=f"{{:.2f}} / {url['p99']:.2f}")
        rep.row("url_invoke_p50", "  the same function invoked with boto3, p50 / p99 (interleaved)", direct["p50"],
                "ms",
                fmt=f"{{:.2f}} / {direct['p99']:.2f}")
    if kept:
        rep.row("kept_per_1000", f"memory a running cloud keeps per 1,000 warm invocations (of {kept['n']:,}: "
                "records, logs, metrics)", kept["mb_per_1000"], "MB", fmt="{:.2f}")
    if stop:
        rep.row("stop_in_flight", f"cloud.stop() with {stop['inflight']} invocations in flight", stop["stop_s"], "s",
                ("<=", 1))
    return rep, {"warm": warm, "cold": cold, "peers": peers}


def throttle_decision(cloud, name: str, n: int) -> dict:
    """What deciding an invocation's concurrency costs on the invoke path (lambdalab.rules under the store's lock)."""
    from lambdalab.service.errors import TooManyRequestsException

    concurrency, function = cloud.service.concurrency, cloud.service.resolve(name)
    admit_us, throttle_us = [], []
    cloud.quotas.set(concurrent_executions=1)
    try:
        for _ in range(n):
            t0 = time.perf_counter_ns()
            slot, _ = concurrency.admit(function)
            concurrency.release(slot)
            t1 = time.perf_counter_ns()
            held, _ = concurrency.admit(function)  # the account's one slot: the next is throttled
            t2 = time.perf_counter_ns()
            try:
                concurrency.admit(function)
            except TooManyRequestsException:
                throttle_us.append((time.perf_counter_ns() - t2) / 1000)
            concurrency.release(held)
            admit_us.append((t1 - t0) / 1000)
    finally:
        cloud.quotas.set(concurrent_executions=1000)
    return {"admit_us": measure.summary(admit_us), "throttle_us": measure.summary(throttle_us)}


def run_peers(calls: int, cli_runs: int) -> dict:
    proc = subprocess.run([sys.executable, str(HERE / "peers.py"), "--calls", str(calls), "--cli-runs", str(cli_runs)],
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"peers.py failed: {proc.stderr[-2000:]}")
    raw = json.loads(proc.stdout)
    return {"version": raw["version"], "call_ms": measure.summary(raw["call_ms"]),
            "cli_ms": measure.summary(raw["cli_ms"])}


def render(rep: Report, extra: dict, info: dict) -> str:
    m = info["machine"]
    lines = [f"lambdalab bench ({info['mode']}, {info['elapsed_s']:.0f} s, cloud started with cpu_throttle=True, "
             f"freeze on)  {info['timestamp']}",
             f"lambdalab: {info['code']}",
             f"machine: {m['cpu']}, {m['cores']} cores ({m['usable_cores']} usable), {m['memory_gb']} GB, "
             f"Python {m['python']}, {m['os']}",
             f"during the run: bench {m['bench_cpu_cores']} cores busy, everything else "
             f"{m['foreign_cpu_cores']} cores; load average {m['load_start']} -> {m['load_end']}"
             + ("  -- BUSY MACHINE: other work competed with these measurements"
                if m["foreign_cpu_cores"] > 0.25 else ""), ""]
    w = [max(len(r["metric"]) for r in rep.rows), max(len(r["measured"]) for r in rep.rows),
         max(len(r["budget"]) for r in rep.rows)] if rep.rows else [6, 8, 6]
    head = ("metric", "measured", "budget", "verdict")
    w = [max(a, len(b)) for a, b in zip(w, head[:3], strict=True)]
    lines.append(f"{head[0]:<{w[0]}} | {head[1]:>{w[1]}} | {head[2]:<{w[2]}} | {head[3]}")
    lines.append(f"{'-' * w[0]}-+-{'-' * w[1]}-+-{'-' * w[2]}-+--------")
    for r in rep.rows:
        lines.append(f"{r['metric']:<{w[0]}} | {r['measured']:>{w[1]}} | {r['budget']:<{w[2]}} | {r['verdict']}")

    lines += ["", "peers: the same trivial handler, per invoke (ms)"]
    pw = 58
    lines.append(f"  {'':<{pw}} {'p50':>8} {'p95':>8} {'max':>8}  n")

    def peer(label: str, s: dict | None) -> None:
        if s:
            lines.append(f"  {label:<{pw}} {s['p50']:8.2f} {s['p95']:8.2f} {s['max']:8.2f}  {s['n']}")

    warm, cold, peers = extra["warm"], extra["cold"], extra["peers"]
    peer("lambdalab warm invoke, boto3, 128 MB", warm.get(128) and warm[128]["client_ms"])
    peer("lambdalab cold invoke (new environment), boto3, 128 MB", cold and cold["first_invoke_ms"])
    if peers:
        peer(f"python-lambda-local {peers['version']} call() in-process API", peers["call_ms"])
        peer(f"python-lambda-local {peers['version']} CLI, end to end", peers["cli_ms"])
    lines += [
        "  lambdalab: each invoke goes boto3 -> HTTP gateway -> Lambda API -> a long-lived execution environment",
        "    (own process group, frozen when idle) over the Runtime API; timeout, memory and CPU share are enforced",
        "    from outside the sandbox; warm environments are reused as on AWS.",
        "  python-lambda-local: call() forks a multiprocessing child per invoke and runs the handler there",
        "    (timeout by SIGALRM inside that child; no Runtime API, no memory or CPU limit, nothing kept warm);",
        "    the CLI starts a new interpreter per invoke first.",
    ]
    if rep.errors:
        lines += ["", "ERRORS (measurement failed):"] + [f"  {k}: {v}" for k, v in rep.errors.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run under a minute")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "latest.json")
    args = parser.parse_args(argv)
    cfg = QUICK if args.quick else FULL
    t0 = time.perf_counter()
    info = {"mode": "quick" if args.quick else "full",
            "timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "machine": machine(),
            "config": {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.items()}, "code": code_version()}
    cpu0 = cpu_snapshot()
    rep, extra = run(cfg, args.quick)
    info["elapsed_s"] = time.perf_counter() - t0
    info["machine"]["load_end"] = load()
    cpu1 = cpu_snapshot()
    info["machine"]["foreign_cpu_cores"] = round(max(0.0, (cpu1[0] - cpu0[0]) - (cpu1[1] - cpu0[1]))
                                                 / info["elapsed_s"], 2)
    info["machine"]["bench_cpu_cores"] = round((cpu1[1] - cpu0[1]) / info["elapsed_s"], 2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({**info, "rows": rep.rows, "errors": rep.errors, "details": rep.details},
                                   indent=1, default=str))
    print(render(rep, extra, info))
    print(f"\nresults: {args.out}", file=sys.stderr)
    return 1 if rep.errors else 0


if __name__ == "__main__":
    sys.exit(main())
