"""Simulate Lambda traffic in virtual time with the cloud's own rules (``lambdalab.rules``).

A laptop holds a few dozen environments and a notebook runs for minutes; the simulator answers
for thousands of environments and a month of traffic by applying the same account, reserved,
provisioned, scaling-rate, keep-alive and async-retry rules the real cloud applies.
"""

from lambdalab.sim.settings import Settings, lognormal, measured
from lambdalab.sim.simulation import Simulation, run, simulate
from lambdalab.sim.workloads import Replay, Workload, at, burst, constant, diurnal, trace

__all__ = ["Replay", "Settings", "Simulation", "Workload", "at", "burst", "constant", "diurnal", "lognormal",
           "measured", "run", "simulate", "trace"]
