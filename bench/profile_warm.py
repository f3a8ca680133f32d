"""Where a warm synchronous invoke spends its time beyond the floor (a diagnostic beside run.py).

    python bench/profile_warm.py                 # the floor, then a breakdown by stage
    python bench/profile_warm.py --pyspy 10      # + a py-spy profile of every thread (pip install py-spy)
    python bench/profile_warm.py --loop 10       # only invoke for 10 s (what --pyspy records)
    python bench/profile_warm.py --ablation      # the ratio with each fidelity feature switched off

It first measures, interleaved call by call, boto3 Invoke against lambdalab, against the floor (a
no-op server, bench/floor.py), against lambdalab's own HTTP server answering a constant (its HTTP
layer alone) and against lambdalab served by another process (``lambdalab serve``: what the cloud
in a process of its own would give), plus botocore's client side alone (a Stubber: no HTTP). Then
it wraps the stages of the invoke path with timers, in this process only, and prints the median of
each per invoke, as a tree: what the gateway thread does (route, IAM guard, wire parse/validate,
authorization, the invoke operation, response), what running the invocation takes (thaw, CPU
meter, the event's delivery, the Runtime API round trip, the log lines and the record: on the
gateway thread itself for a warm invoke, else on the environment's after a hand-off). A stage
the engine no longer has is listed as missing.
The timers cost about a microsecond each, so the instrumented invokes run a little slower than
run.py's; medians of parts do not add up exactly to the median of the whole.

``--ablation`` answers what the ratio to the floor would be without each of the features that make
a warm invoke faithful: a cloud is started with each of its own switches off in turn (freezing the
runtime between invokes, its CPU share, signature verification), then with the bookkeeping that
has no switch (log lines, the invocation record, the peak-memory read) patched out here, and
with all four off; each beside the floor, interleaved.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import import_module
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import measure  # noqa: E402
from floor import FloorServer  # noqa: E402

NAME = "bench-profile"
RUN = "_invoke (on the caller's thread when warm)"
INVOKE = "environment.invoke (run by the caller when warm, else handed to the environment's thread)"

# (label, "module:Class.attribute" or "module:attribute" or "module:DICT[key]", depth in the tree)
STAGES = [
    ("gateway thread: the WSGI app (everything after HTTP parsing)", "lambdalab.httpd:HTTPServer._call", 0),
    ("route + IAM guard (names the caller)", "lambdalab.iam.guard:Guard.__call__", 1),
    ("Lambda API", "lambdalab.api:LambdaAPI.handle", 2),
    ("wire: parse", "lambdalab.api.wire:LambdaWire.parse", 3),
    ("wire: validate", "lambdalab.api.wire:LambdaWire.validate", 3),
    ("authorization (IAM decision)", "lambdalab.api.authorize:LambdaAuthorization.check", 3),
    ("Invoke operation (lookup, payload checks)", "lambdalab.api:OPERATIONS[Invoke]", 3),
    ("invoker (lease, metrics)", "lambdalab.invoke.invoker:Invoker.invoke", 4),
    ("metrics: started + finished", "lambdalab.observe.metrics:Metrics.started", 5),
    ("metrics: started + finished", "lambdalab.observe.metrics:Metrics.finished", 5),
    ("pool: acquire", "lambdalab.invoke.pool:EnvironmentPool._acquire", 5),
    ("pool: release", "lambdalab.invoke.pool:EnvironmentPool._release", 5),
    (INVOKE, "lambdalab.sandbox.environment:ExecutionEnvironment.invoke", 5),
    (RUN, "lambdalab.sandbox.environment:ExecutionEnvironment._invoke", 6),
    ("CPU meter start (/proc stat, CPU clock)", "lambdalab.sandbox.environment:measure", 7),
    ("deliver the event (Runtime API response)", "lambdalab.sandbox.environment:ExecutionEnvironment._deliver", 8),
    ("governor: watch + unwatch", "lambdalab.sandbox.governor:Governor.watch", 8),
    ("governor: watch + unwatch", "lambdalab.sandbox.governor:Governor.unwatch", 8),
    ("peak memory (/proc read)", "lambdalab.sandbox.environment:ExecutionEnvironment._peak", 7),
    ("finish (END/REPORT lines, the record)", "lambdalab.sandbox.environment:ExecutionEnvironment._finish", 7),
    ("log lines (START, END, REPORT)", "lambdalab.observe.logs:LogShipper.put", 8),
    ("wire: respond", "lambdalab.api.wire:LambdaWire.respond", 3),
]
# The stages inside _invoke beside the Runtime API round trip (its record's duration_ms, which includes
# delivering the event and the governor's watch/unwatch), for the "rest" line.
_INVOKE_PARTS = ("CPU meter start (/proc stat, CPU clock)", "peak memory (/proc read)",
                 "finish (END/REPORT lines, the record)")
THAW = "thaw (SIGCONT)"
FREEZE = "environment thread: freeze (SIGSTOP), after the response"


class Timers:
    """Per-invoke totals of each wrapped stage (invokes run one at a time, so one dict suffices)."""

    def __init__(self) -> None:
        self.current: defaultdict[str, float] = defaultdict(float)
        self.missing: list[str] = []

    def timed(self, label: Callable[..., str] | str, original: Callable) -> Callable:
        current, clock = self.current, time.perf_counter

        def wrapper(*args, **kwargs):
            t0 = clock()
            try:
                return original(*args, **kwargs)
            finally:
                current[label(*args) if callable(label) else label] += clock() - t0

        return wrapper

    def install(self) -> None:
        for label, where, _ in STAGES:
            module_name, _, path = where.partition(":")
            try:
                module = import_module(module_name)
                if "[" in path:
                    table, key = path.rstrip("]").split("[")
                    getattr(module, table)[key] = self.timed(label, getattr(module, table)[key])
                elif "." in path:
                    cls, attr = path.split(".")
                    owner = getattr(module, cls)
                    setattr(owner, attr, self.timed(label, getattr(owner, attr)))
                else:
                    setattr(module, path, self.timed(label, getattr(module, path)))
            except (ImportError, AttributeError, KeyError):
                self.missing.append(f"{label} ({where})")
        try:
            from lambdalab.sandbox.environment import ExecutionEnvironment

            ExecutionEnvironment._freeze = self.timed(lambda env, frozen: FREEZE if frozen else THAW,
                                                      ExecutionEnvironment._freeze)
        except (ImportError, AttributeError):
            self.missing.append(f"{THAW} (ExecutionEnvironment._freeze)")


def setup(memory: int = 128):
    import lambdalab

    cloud = lambdalab.start(cpu_throttle=True)
    client = measure.lambda_client(cloud)
    measure.create(client, NAME, measure.TRIVIAL, memory=memory)
    for i in range(50):
        measure.invoke(client, NAME, {"i": i})
    return cloud, client


def median(values: list[float]) -> float:
    return measure.pct(values, 50)


def constant_app(environ, start_response):
    """lambdalab's HTTP server with nothing behind it: its HTTP layer's cost over the floor's."""
    body = b'{"floor":1}'
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                              ("x-amzn-RequestId", "00000000-0000-0000-0000-000000000000"),
                              ("X-Amz-Executed-Version", "$LATEST")])
    return [body]


def served_elsewhere() -> tuple[subprocess.Popen, dict[str, str]]:
    """``lambdalab serve`` in a process of its own: the process, and the environment its clients use."""
    proc = subprocess.Popen([sys.executable, "-m", "lambdalab.cli", "serve"], stdout=subprocess.PIPE, text=True)
    environ: dict[str, str] = {}
    for line in proc.stdout:
        if line.strip().startswith("export "):
            key, _, value = line.strip().removeprefix("export ").partition("=")
            environ[key] = value
        if line.startswith("Press Ctrl+C"):
            return proc, environ
    raise RuntimeError(f"lambdalab serve ended before serving (exit status {proc.wait()})")


def clients_compared(cloud, client, n: int) -> dict[str, list[float]]:
    """boto3 Invoke against lambdalab, the floor, lambdalab's bare HTTP server and lambdalab served by
    another process (no GIL shared with the client), round-robin."""
    from botocore.stub import Stubber

    from lambdalab.httpd import HTTPServer

    floor_server = FloorServer().start()
    bare = HTTPServer(constant_app, name="bench-bare-httpd")
    bare.start()
    proc, environ = served_elsewhere()
    try:
        others = {"floor": measure.floor_client(cloud, floor_server.url),
                  "httpd": measure.floor_client(cloud, f"http://127.0.0.1:{bare.port}"),
                  "served": cloud.session.client("lambda", endpoint_url=environ["AWS_ENDPOINT_URL"],
                                                 aws_access_key_id=environ["AWS_ACCESS_KEY_ID"],
                                                 aws_secret_access_key=environ["AWS_SECRET_ACCESS_KEY"],
                                                 config=measure.CLIENT_CONFIG)}
        measure.create(others["served"], NAME, measure.TRIVIAL)
        others["served"].get_waiter("function_active_v2").wait(FunctionName=NAME)
        for c in others.values():
            for i in range(50):
                measure.invoke(c, NAME, {"i": i})
        times: dict[str, list[float]] = {"lambdalab": [], "floor": [], "httpd": [], "served": [], "stub": []}
        targets = [("lambdalab", client), *others.items()]
        for i in range(n):
            for label, c in targets[i % 4:] + targets[:i % 4]:
                times[label].append(measure.invoke(c, NAME, {"i": i})[0])
        stub_client = measure.lambda_client(cloud)
        with Stubber(stub_client) as stubber:
            for _ in range(n):
                stubber.add_response("invoke", {"StatusCode": 200, "Payload": b"{}"})
                t0 = time.perf_counter()
                stub_client.invoke(FunctionName=NAME, Payload=b'{"i": 1}')
                times["stub"].append((time.perf_counter() - t0) * 1000)
        return times
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        bare.stop()
        floor_server.close()


def staged(cloud, client, n: int, timers: Timers) -> tuple[list[float], list[dict[str, float]], list[float]]:
    totals, per_invoke, ids = [], [], []
    for i in range(n):
        timers.current.clear()
        dt, r = measure.invoke(client, NAME, {"i": i})
        totals.append(dt)
        per_invoke.append({k: v * 1000 for k, v in timers.current.items()})
        ids.append(measure.request_id(r))
    durations = list(measure.records_for(cloud, ids)["duration_ms"])
    return totals, per_invoke, durations


def breakdown(n: int) -> None:
    cloud, client = setup()
    try:
        times = clients_compared(cloud, client, n)
        timers = Timers()
        timers.install()
        totals, per_invoke, durations = staged(cloud, client, n, timers)
    finally:
        cloud.stop()

    us = lambda ms: f"{ms * 1000:8.0f}"  # noqa: E731
    lam, flo, bare, served, stub = (median(times[k]) for k in ("lambdalab", "floor", "httpd", "served", "stub"))
    print(f"warm Invoke, trivial handler, 128 MB, n={n} each, round-robin; medians in us\n")
    print(f"{us(lam)}  boto3 -> lambdalab (what run.py measures)")
    print(f"{us(flo)}  boto3 -> the floor (no-op keep-alive server)   ratio {lam / flo:.2f}x (budget 1.4x)")
    print(f"{us(bare)}  boto3 -> lambdalab's HTTP server, constant answer (its HTTP layer: {us(bare - flo).strip()} "
          "over the floor)")
    print(f"{us(served)}  boto3 -> lambdalab served by another process (`lambdalab serve`: no GIL shared with the "
          f"client)   ratio {served / flo:.2f}x")
    print(f"{us(stub)}  botocore's client side alone (Stubber: build, sign, parse; no HTTP)")
    print(f"{us(lam - flo)}  lambdalab beyond the floor\n")

    def stage(label: str) -> list[float]:
        return [p.get(label, 0.0) for p in per_invoke]

    app = stage(STAGES[0][0])
    print(f"instrumented invokes: {us(median(totals))} end to end; outside the app (boto3, both HTTP hops, "
          f"the HTTP server): {us(median([t - a for t, a in zip(totals, app, strict=True)]))}")
    seen = set()
    for label, _, depth in STAGES:
        if label in seen:
            continue
        seen.add(label)
        values = stage(label)
        if label == RUN:
            outer = stage(INVOKE)
            handoff = [e - i - th for e, i, th in zip(outer, values, stage(THAW), strict=True)]
            print(f"{us(median(stage(THAW)))}  {'  ' * depth}{THAW}")
            print(f"{us(median(handoff))}  {'  ' * depth}the rest (taking the turn, or the hand-off to the "
                  "environment's thread: wake, GIL, done event)")
        if label.startswith("deliver the event"):
            print(f"{us(median(durations))}  {'  ' * (depth - 1)}Runtime API round trip (record duration_ms: deliver "
                  "-> handler -> response received, governor included)")
        print(f"{us(median(values))}  {'  ' * depth}{label}")
        if label.startswith("finish"):
            rest = [v - d - sum(parts) for v, d, *parts in
                    zip(stage(RUN), durations, *map(stage, _INVOKE_PARTS), strict=True)]
            print(f"{us(median(rest))}  {'  ' * depth}the rest of _invoke (waiting for the runtime's next request, "
                  "the START line)")
    print(f"{us(median(stage(FREEZE)))}  {FREEZE}")
    if timers.missing:
        print("\nnot found in this version of the engine (not timed): " + "; ".join(timers.missing))


def loop(seconds: float) -> None:
    cloud, client = setup()
    try:
        print("ready", flush=True)  # --pyspy attaches now, after the imports and the cold start
        end, n = time.perf_counter() + seconds, 0
        while time.perf_counter() < end:
            measure.invoke(client, NAME, {"i": n})
            n += 1
        print(f"{n} invokes in {seconds} s", file=sys.stderr)
    finally:
        cloud.stop()


SPY = Path(sys.executable).with_name("py-spy")  # a diagnostic's tool, not one of the project's dependencies


def pyspy(seconds: float) -> None:
    """Sample the GIL holder of a warm invoke loop (setup and stop excluded): where this process's
    Python time goes, per thread.  The runtime subprocess is not sampled (its share is in duration_ms)."""
    out = HERE / "results" / "warm-pyspy.txt"
    svg = HERE / "results" / "warm-pyspy.svg"
    out.parent.mkdir(parents=True, exist_ok=True)
    rate = None
    for fmt, path in (("raw", out), ("flamegraph", svg)):
        proc = subprocess.Popen([sys.executable, __file__, "--loop", str(seconds + 3)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        subprocess.run([str(SPY), "record", "--gil", "--threads", "--rate", "500", "--format", fmt, "--duration",
                        str(int(seconds)), "--pid", str(proc.pid), "-o", str(path)], check=True,
                       capture_output=True)
        _, err = proc.communicate()
        if rate is None and "invokes in" in err:
            words = err.strip().splitlines()[-1].split()
            rate = int(words[0]) / float(words[3])
    summarize(out, rate=rate, seconds=seconds)
    print(f"\nraw stacks: {out}\nflame graph: {svg}")


def summarize(path: Path, top: int = 25, rate: float | None = None, seconds: float | None = None) -> None:
    """Samples per thread, then the hottest frames (self and inclusive)."""
    per_thread: Counter = Counter()
    inclusive: dict[str, Counter] = defaultdict(Counter)
    self_time: Counter = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        count = int(count)
        frames = stack.split(";")
        thread = frames[0].split("): ", 1)[-1].strip('"')
        if thread.startswith(("lambdalab-gateway-", "lambdalab-env-")):  # one per connection / environment
            thread = thread.rsplit("-", 1)[0] + "-*"
        per_thread[thread] += count
        total += count
        self_time[frames[-1]] += count
        for f in set(frames[1:]):
            inclusive[thread][f] += count
    print(f"\nGIL-holding samples per thread (500 Hz, total {total}):")
    invokes = rate * seconds if rate and seconds else None
    if invokes:
        print(f"  ({rate:.0f} invokes/s while sampled; GIL held {2000 * total / invokes:.0f} us per invoke, "
              f"{100 * total / (500 * seconds):.0f}% of wall time)")
    for t, c in per_thread.most_common():
        per = f"  {2000 * c / invokes:6.0f} us/invoke" if invokes else ""
        print(f"  {t:<50} {c:7d}  {100 * c / total:5.1f}%{per}")
    print("\nhottest frames by self time (all threads):")
    for f, c in self_time.most_common(top):
        print(f"  {100 * c / total:5.1f}%  {f}")
    for t in [t for t, _ in per_thread.most_common(3)]:
        print(f"\ninclusive time in thread {t} ({per_thread[t]} samples):")
        for f, c in inclusive[t].most_common(top):
            print(f"  {100 * c / per_thread[t]:5.1f}%  {f}")


# (label, the cloud's options, bookkeeping patched out): what each fidelity feature costs a warm invoke
ABLATIONS = [
    ("everything on (what run.py measures)", {}, False),
    ("no freeze between invokes (freeze=False)", {"freeze": False}, False),
    ("no CPU share (cpu_throttle=False)", {"cpu_throttle": False}, False),
    ("no signature verification (verify_signatures=False)", {"verify_signatures": False}, False),
    ("no log lines, record or peak-memory read (patched)", {}, True),
    ("all four off", {"freeze": False, "cpu_throttle": False, "verify_signatures": False}, True),
]


@contextmanager
def unbooked(patched: bool) -> Iterator[None]:
    """The engine without its per-invoke bookkeeping (this process only, restored after)."""
    from lambdalab.observe.logs import LogShipper
    from lambdalab.observe.records import Records
    from lambdalab.sandbox.environment import ExecutionEnvironment

    saved = [(LogShipper, "put"), (Records, "add"), (ExecutionEnvironment, "_peak")]
    originals = [getattr(owner, name) for owner, name in saved]
    if patched:
        LogShipper.put = lambda *args: None
        Records.add = lambda self, record: None
        ExecutionEnvironment._peak = lambda self: 0
    try:
        yield
    finally:
        for (owner, name), original in zip(saved, originals, strict=True):
            setattr(owner, name, original)


def ablation(n: int) -> None:
    import lambdalab

    floor_server = FloorServer().start()
    rows = []
    try:
        for label, options, patched in ABLATIONS:
            with unbooked(patched), lambdalab.start(**options) as cloud:
                client = measure.lambda_client(cloud)
                measure.create(client, NAME, measure.TRIVIAL)
                for i in range(50):
                    measure.invoke(client, NAME, {"i": i})
                times, floor_times, _ = measure.interleaved(client, measure.floor_client(cloud, floor_server.url),
                                                            NAME, n, label)
            rows.append((label, median(times), median(floor_times)))
    finally:
        floor_server.close()
    print(f"warm Invoke, trivial handler, 128 MB, n={n} each beside the floor; medians in us\n")
    print(f"{'':52}{'lambdalab':>10}{'floor':>8}{'ratio':>8}")
    for label, lam, flo in rows:
        print(f"{label:52}{lam * 1000:10.0f}{flo * 1000:8.0f}{lam / flo:7.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--loop", type=float)
    parser.add_argument("--pyspy", type=float)
    parser.add_argument("--summarize", type=Path)
    parser.add_argument("--ablation", action="store_true")
    args = parser.parse_args()
    if args.ablation:
        ablation(args.n)
    elif args.loop:
        loop(args.loop)
    elif args.summarize:
        summarize(args.summarize)
    else:
        if args.pyspy and not SPY.exists():  # said before the minute of measurements, not after
            parser.error(f"--pyspy needs py-spy beside this Python: {sys.executable} -m pip install py-spy")
        breakdown(args.n)
        if args.pyspy:
            pyspy(args.pyspy)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
