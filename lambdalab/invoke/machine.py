"""How much memory this machine (or the container it runs in) still has for execution environments.

psutil reads the machine's available memory; in a container (Binder, CI) the limit that counts
may be the container's own cgroup, which ``/proc/meminfo`` does not show, so the cgroup's room
(its limit less its usage, at every level up to the root) is read too and the smaller wins.
Read once, when a cloud starts: this is for :func:`lambdalab.rules.budget_mb`, not the invoke path.
"""

from __future__ import annotations

from pathlib import Path

MB = 1024 * 1024
CGROUP = Path("/sys/fs/cgroup")


def available_mb() -> float:
    """The memory, in MB, that processes started from here may still take."""
    import psutil

    free = psutil.virtual_memory().available
    room = _cgroup_room()
    return (free if room is None else min(free, room)) / MB


def _cgroup_room() -> int | None:
    """The least room (limit - usage) of this process's cgroup and its parents; None without a limit."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    rooms = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":  # cgroup v2
            limit, usage = "memory.max", "memory.current"
            base = CGROUP
        elif "memory" in controllers.split(","):  # cgroup v1
            limit, usage = "memory.limit_in_bytes", "memory.usage_in_bytes"
            base = CGROUP / "memory"
        else:
            continue
        here = base / path.lstrip("/")
        while True:
            rooms.append(_room(here / limit, here / usage))
            if here == base or base not in here.parents:
                break
            here = here.parent
    rooms = [r for r in rooms if r is not None]
    return min(rooms) if rooms else None


def _room(limit: Path, usage: Path) -> int | None:
    try:
        cap = limit.read_text().strip()
        used = int(usage.read_text().strip())
    except (OSError, ValueError):
        return None
    if not cap.isdigit() or int(cap) >= 2**60:  # "max", or v1's "no limit" (a huge number)
        return None
    return max(0, int(cap) - used)
