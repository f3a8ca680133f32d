"""Where a warm synchronous invoke spends its time (a diagnostic beside run.py, not part of it).

    python bench/profile_warm.py                 # breakdown: boto3 vs gateway vs environment
    python bench/profile_warm.py --pyspy 10      # + a py-spy profile of every thread (pip install py-spy)
    python bench/profile_warm.py --loop 10       # only invoke for 10 s (what --pyspy records)

The breakdown compares, on one warm 128 MB trivial function:
  * boto3 Invoke (what run.py measures);
  * boto3 GetAccountSettings: boto3 + gateway + Lambda wire layer, no environment;
  * raw HTTP Invoke with http.client (no boto3 on the client side; each request signed with
    botocore's SigV4Auth beforehand, outside the timing, since the endpoint verifies signatures);
  * boto3 Invoke against botocore's Stubber: parameter validation and serialisation only;
  * the record's duration_ms (event delivered -> response received by the engine).
"""

from __future__ import annotations

import argparse
import http.client
import os
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import measure  # noqa: E402

NAME = "bench-profile"


def setup():
    import lambdalab

    cloud = lambdalab.start(cpu_throttle=True)
    client = measure.lambda_client(cloud)
    measure.create(client, NAME, measure.TRIVIAL, memory=128)
    for i in range(50):
        measure.invoke(client, NAME, {"i": i})
    return cloud, client


def signed_headers(cloud, path: str, payload: bytes) -> dict[str, str]:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method="POST", url=f"{cloud.endpoint_url}{path}", data=payload,
                         headers={"Content-Type": "application/json"})
    key = cloud.credentials
    SigV4Auth(Credentials(key["AccessKeyId"], key["SecretAccessKey"]), "lambda", cloud.region).add_auth(request)
    return dict(request.headers.items())


def raw_invoke(conn: http.client.HTTPConnection, headers: dict[str, str], payload: bytes) -> float:
    t0 = time.perf_counter()
    conn.request("POST", f"/2015-03-31/functions/{NAME}/invocations", body=payload, headers=headers)
    r = conn.getresponse()
    body = r.read()
    if r.status != 200 or body != payload:
        raise RuntimeError(f"raw invoke: {r.status} {body[:200]!r}")
    return (time.perf_counter() - t0) * 1000


def breakdown(n: int) -> None:
    cloud, client = setup()
    try:
        inv, ids = [], []
        for i in range(n):
            dt, r = measure.invoke(client, NAME, {"i": i})
            inv.append(dt)
            ids.append(measure.request_id(r))
        rec = measure.records_for(cloud, ids)
        settings = []
        for _ in range(n):
            t0 = time.perf_counter()
            client.get_account_settings()
            settings.append((time.perf_counter() - t0) * 1000)
        host, port = cloud.endpoint_url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port))
        path = f"/2015-03-31/functions/{NAME}/invocations"
        raw = [raw_invoke(conn, signed_headers(cloud, path, b'{"i": 1}'), b'{"i": 1}') for _ in range(n)]
        # boto3's own client-side cost: sign + serialize + parse, against a stubbed transport
        from botocore.stub import Stubber

        stub_client = measure.lambda_client(cloud)
        stubber = Stubber(stub_client)
        stubbed = []
        with stubber:
            for _ in range(n):
                stubber.add_response("invoke", {"StatusCode": 200, "Payload": b"{}"})
                t0 = time.perf_counter()
                stub_client.invoke(FunctionName=NAME, Payload=b'{"i": 1}')
                stubbed.append((time.perf_counter() - t0) * 1000)
        rows = [("boto3 Invoke, warm, 128 MB (run.py's number)", inv),
                ("raw HTTP Invoke (http.client, no boto3), warm", raw),
                ("boto3 GetAccountSettings (gateway + wire, no environment)", settings),
                ("boto3 Invoke against botocore Stubber (client side only, no HTTP)", stubbed),
                ("record duration_ms (engine: event delivered -> response)", list(rec["duration_ms"]))]
        print(f"{'':<70} {'p50':>7} {'p95':>7} {'p99':>7}   (ms, n={n})")
        for label, values in rows:
            s = measure.summary(values)
            print(f"{label:<70} {s['p50']:7.3f} {s['p95']:7.3f} {s['p99']:7.3f}")
    finally:
        cloud.stop()


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


def pyspy(seconds: float) -> None:
    """Sample the GIL holder of a warm invoke loop (setup and stop excluded): where this process's
    Python time goes, per thread.  The runtime subprocess is not sampled (its share is in duration_ms)."""
    spy = Path(sys.executable).with_name("py-spy")
    out = HERE / "results" / "warm-pyspy.txt"
    svg = HERE / "results" / "warm-pyspy.svg"
    out.parent.mkdir(parents=True, exist_ok=True)
    rate = None
    for fmt, path in (("raw", out), ("flamegraph", svg)):
        proc = subprocess.Popen([sys.executable, __file__, "--loop", str(seconds + 3)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        subprocess.run([str(spy), "record", "--gil", "--threads", "--rate", "500", "--format", fmt, "--duration",
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--loop", type=float)
    parser.add_argument("--pyspy", type=float)
    parser.add_argument("--summarize", type=Path)
    args = parser.parse_args()
    if args.loop:
        loop(args.loop)
    elif args.summarize:
        summarize(args.summarize)
    else:
        breakdown(args.n)
        if args.pyspy:
            pyspy(args.pyspy)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
