"""Where the lab computes: the device, and how many CPU threads it may really use."""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch

THREADS_VARIABLE = "BACKDOOR_LAB_THREADS"


def pick_device(preferred: str | None = None) -> torch.device:
    """CUDA if there is a GPU, else Apple's MPS, else the CPU; `preferred` overrides."""
    if preferred is not None:
        return torch.device(preferred)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def usable_cpus() -> int:
    """CPUs this process may use: its affinity mask, capped by a container's CPU quota.

    Containers such as Binder's report all of the host's cores in os.cpu_count() but
    enforce a quota through cgroups; running more threads than the quota only slows
    training down. The environment variable BACKDOOR_LAB_THREADS lowers the count further
    (a parameter sweep gives each of its parallel runs a share).
    """
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    quota = _cgroup_cpu_quota()
    cpus = max(1, min(cpus, quota)) if quota else cpus
    share = os.environ.get(THREADS_VARIABLE, "")
    if share:
        if not share.isdigit() or int(share) < 1:
            raise ValueError(f"{THREADS_VARIABLE} must be a whole number >= 1, got {share!r}")
        cpus = min(cpus, int(share))
    return cpus


def _cgroup_cpu_quota() -> int | None:
    """The cgroup CPU limit rounded up to whole CPUs, or None where there is none."""
    v2 = Path("/sys/fs/cgroup/cpu.max")
    v1_quota, v1_period = Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us")
    try:
        if v2.exists():
            quota, period = v2.read_text().split()[:2]
            return None if quota == "max" else math.ceil(int(quota) / int(period))
        if v1_quota.exists() and v1_period.exists():
            quota = int(v1_quota.read_text())
            return None if quota <= 0 else math.ceil(quota / int(v1_period.read_text()))
    except (OSError, ValueError):
        return None
    return None


def configure_threads() -> int:
    """Set torch's intra-op thread count to the usable CPUs and return it."""
    threads = usable_cpus()
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads
