"""The handlers the benchmark deploys, as source text, and a helper that zips them."""

from __future__ import annotations

import io
import zipfile

# The budget's "trivial handler": nothing but the round trip.
TRIVIAL = """\
def handler(e, c):
    return e
"""

# Trivial too, but it can be told to sleep so that 4 environments can be forced into existence.
SLEEPY = """\
import time


def handler(e, c):
    if "sleep" in e:
        time.sleep(e["sleep"])
    return e
"""

SLEEP_FOREVER = """\
import time


def handler(e, c):
    if e.get("warm"):
        return "warm"
    time.sleep(10 ** 6)
"""

BUSY_LOOP = """\
def handler(e, c):
    if e.get("warm"):
        return "warm"
    while True:
        pass
"""

# CPU-bound: a pure-Python loop, about 0.1-0.3 s at one full vCPU; it reports the CPU time it used.
CPU = """\
import time

def handler(e, c):
    cpu0 = time.process_time()
    total = 0
    for i in range(e.get("n", 3_000_000)):
        total += i
    return {"total": total, "cpu_ms": (time.process_time() - cpu0) * 1000}
"""


def zip_source(source: str, name: str = "app.py") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, source)
    return buffer.getvalue()
