"""The machine's capacity: what lambdalab does where this machine, not AWS, runs out of room.

AWS runs up to 1,000 environments per account and Region by default; a laptop, or a 2 GB Binder
session, holds a few dozen.  So lambdalab counts the environments alive on this machine by the
memory AWS would give them, their ``MemorySize`` (the governor kills an environment that uses
more, so it is what each may take): they may add up to a budget, by default three quarters of the
memory the machine (or its container) had available when the cloud started, or
``quotas.machine_memory_mb``.  One environment may always exist, however large, so a function
bigger than the budget still runs alone.

When a new environment would not fit, idle on-demand environments are stopped first, least
recently used first (AWS, too, reclaims idle environments when it needs room; provisioned ones
are never stopped for this).  If they are not enough, the invocation waits up to
``quotas.machine_wait_s`` for an environment to end, then is throttled with a reason of
lambdalab's own, ``LambdalabMachineCapacityExceeded``, and a message that says what happened:
it is not a throttle AWS would have made, and a chapter that wants AWS's throttles lowers the
account's limit (``quotas.concurrent_executions``) below what the machine holds.  Nothing waits
longer, so no invocation hangs and the kernel is never starved of memory by environments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

MACHINE_CAPACITY_EXCEEDED = "LambdalabMachineCapacityExceeded"
BUDGET_SHARE = 0.75  # of the memory available at start that environments may hold, by default


def budget_mb(available_mb: float, share: float = BUDGET_SHARE) -> int:
    """The memory environments may hold on a machine that has ``available_mb`` free."""
    return max(0, int(available_mb * share))


@dataclass(frozen=True, slots=True)
class MachineCapacity:
    """Room for environments on this machine, counted as the sum of their ``MemorySize``."""

    memory_mb: int

    def fits(self, held_mb: int, alive: int, memory_mb: int) -> bool:
        """Whether one more environment of ``memory_mb`` fits beside ``alive`` ones holding ``held_mb``."""
        return alive == 0 or held_mb + memory_mb <= self.memory_mb

    def to_free(self, held_mb: int, alive: int, memory_mb: int, idle_mb: Sequence[int]) -> int | None:
        """How many of the idle environments (their sizes, least recently used first) must be stopped
        for one more of ``memory_mb`` to fit: 0 if it fits already, None if stopping them all is not enough."""
        for stopped in range(len(idle_mb) + 1):
            if self.fits(held_mb, alive, memory_mb):
                return stopped
            if stopped < len(idle_mb):
                held_mb, alive = held_mb - idle_mb[stopped], alive - 1
        return None

    def refusal(self, held_mb: int, memory_mb: int) -> str:
        """Why a new environment does not fit: what a throttle (after "Rate Exceeded.") or a failed
        provisioned allocation tells the caller."""
        return (f"lambdalab: this machine holds execution environments of at most {self.memory_mb} MB of MemorySize "
                f"in all, {held_mb} MB are taken by environments in use, and a new one of {memory_mb} MB does not "
                "fit; AWS would have run it. Raise quotas machine_memory_mb if the machine has the memory, or lower "
                "concurrent_executions to see AWS's own throttles.")
