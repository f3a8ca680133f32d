"""``lambdalab serve``: the local cloud as a standalone endpoint for the AWS CLI and SDKs."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from . import __version__
from .cloud import LocalCloud


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lambdalab", description="A faithful local AWS Lambda for learning.")
    parser.add_argument("--version", action="version", version=f"lambdalab {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the local cloud until interrupted")
    serve.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    serve.add_argument("--region", default="us-east-1")
    serve.add_argument("--no-cpu-throttle", action="store_true",
                       help="let every function use the whole CPU whatever its memory size")
    serve.add_argument("--no-verify", action="store_true",
                       help="do not verify SigV4 signatures, for tools that cannot sign: anyone who knows an access "
                            "key id acts as its owner (IAM still judges every call)")
    args = parser.parse_args(argv)

    try:
        cloud = LocalCloud(port=args.port, region=args.region, cpu_throttle=not args.no_cpu_throttle,
                           verify_signatures=not args.no_verify)
    except ValueError as e:  # a Region that does not exist
        parser.error(str(e))
    cloud.start()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(f"lambdalab {__version__} serving {cloud.endpoint_url} (Lambda by lambdalab, other services by moto)")
    if args.no_verify:
        print("Signatures are NOT verified (--no-verify): an access key id alone names the caller.")
    print("Point the AWS CLI and SDKs at it, as the account's root user, with:")
    for key, value in cloud.environ().items():
        print(f"  export {key}={value}")
    print("Press Ctrl+C to stop.", flush=True)
    try:
        stop.wait()
    finally:
        cloud.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
