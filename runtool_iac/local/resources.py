"""How much of this machine a job may use: its instance type's share, capped.

A job planned for ``ml.m5.large`` gets 2 CPUs and 8 GiB locally (the
instance's size) unless the machine is smaller. Docker enforces this with
``--cpus``/``--memory``; a process job learns it from ``SM_NUM_CPUS``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

# GiB of memory per vCPU, by instance family; unknown families get DEFAULT_GIB_PER_VCPU.
GIB_PER_VCPU = {
    "t2": 4, "t3": 4, "m4": 4, "m5": 4, "m5d": 4, "m6i": 4, "m7i": 4,
    "c4": 1.875, "c5": 2, "c5n": 2.625, "c6i": 2, "c7i": 2,
    "r5": 8, "r6i": 8, "g4dn": 4, "g5": 4, "p2": 15.25, "p3": 7.625,
}
DEFAULT_GIB_PER_VCPU = 4
_TYPE_RE = re.compile(r"^ml\.([a-z0-9]+)\.(?:(\d*)xlarge|(large|medium))$")


@dataclass(frozen=True)
class Limits:
    cpus: int
    memory_mib: int


# Sizes that break the "large -> 2, Nxlarge -> 4N vCPUs" rule or their family's memory ratio.
EXCEPTIONS = {
    "ml.c4.8xlarge": Limits(36, 60 * 1024),
    "ml.t2.medium": Limits(2, 4 * 1024),
    "ml.t3.medium": Limits(2, 4 * 1024),
}


def instance_size(instance_type: str) -> Limits | None:
    """vCPUs and memory of a SageMaker instance type (None if not of the ml.<family>.<size> form)."""
    match = _TYPE_RE.match(instance_type)
    if not match:
        return None
    if instance_type in EXCEPTIONS:
        return EXCEPTIONS[instance_type]
    family, multiple, small = match.groups()
    vcpus = 2 if small else 4 * int(multiple or 1)
    return Limits(vcpus, int(vcpus * GIB_PER_VCPU.get(family, DEFAULT_GIB_PER_VCPU) * 1024))


def machine() -> Limits:
    """This machine's CPUs (those this process may use) and physical memory."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    return Limits(cpus, int(memory))


def job_limits(instance_type: str, host: Limits | None = None) -> Limits:
    """The instance's resources, capped by the machine's (the machine's alone for unknown types)."""
    host = host or machine()
    size = instance_size(instance_type) or host
    return Limits(max(1, min(size.cpus, host.cpus)), max(256, min(size.memory_mib, host.memory_mib)))
