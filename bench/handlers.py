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

# CPU-bound: a pure-Python loop, about 0.1-0.3 s at one full vCPU.
CPU = """\
def handler(e, c):
    total = 0
    for i in range(e.get("n", 3_000_000)):
        total += i
    return {"total": total}
"""


def zip_source(source: str, name: str = "app.py") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, source)
    return buffer.getvalue()
