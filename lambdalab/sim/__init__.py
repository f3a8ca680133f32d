"""Simulate Lambda traffic in virtual time with the cloud's own rules (work in progress: workloads only)."""

from lambdalab.sim.workloads import Workload, burst, constant, diurnal, trace

__all__ = ["Workload", "burst", "constant", "diurnal", "trace"]
