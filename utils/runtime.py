"""Where the lab computes: the device, and how many CPU threads it may really use."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import torch

THREADS_VARIABLE = "BACKDOOR_LAB_THREADS"
FOLLOW_LOAD_VARIABLE = "BACKDOOR_LAB_FOLLOW_LOAD"  # "0": keep every usable CPU, whatever else runs
# the thread count of the committed notebooks, the seed benchmarks and the tests
REFERENCE_THREADS = 1


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
    cpus = (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    )
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
    v1_quota, v1_period = (
        Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"),
        Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us"),
    )
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
    """Set torch's intra-op threads to the usable CPUs that other processes leave free; return
    the count.

    OpenMP threads that wait for a core another process holds spin instead of sleeping:
    two busy torch processes on two cores then run 10 to 30 times slower. So the lab
    measures how much CPU time the rest of the machine used over the last fraction of a
    second and takes only the cores left (at least one). Called again and again in long loops,
    it follows the load: back to every core when the other process is done. With
    BACKDOOR_LAB_FOLLOW_LOAD=0 it keeps every usable CPU (the same thread count on every
    run, for results that must match to the last digit).
    """
    usable = usable_cpus()
    busy = cores_busy_elsewhere() if os.environ.get(FOLLOW_LOAD_VARIABLE, "1") != "0" else None
    threads = usable if busy is None else max(1, min(usable, round(usable - busy)))
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads


def use_reference_threads() -> None:
    """Compute with REFERENCE_THREADS threads from now on, in this process and the kernels it
    starts.

    The thread count decides the order of floating-point sums, and so a model's last
    digits. With one thread the figures do not depend on how many cores a machine has
    (another CPU type or torch version can still change them).
    """
    os.environ[THREADS_VARIABLE] = str(REFERENCE_THREADS)
    configure_threads()


class _OtherLoad:
    """Cores that other processes kept busy over the last window of `window` to `stale` seconds.

    A reading after a longer pause describes the past, not now: it starts a new window.
    """

    def __init__(self, window: float = 0.2, stale: float = 2.0):
        self.window, self.stale, self.start, self.busy = window, stale, None, None

    def read(self) -> float | None:
        sample = _cpu_sample()
        if sample is None:
            return None
        elapsed = sample[0] - self.start[0] if self.start is not None else None
        if elapsed is None or elapsed > self.stale:
            self.start, self.busy = sample, None
        elif elapsed >= self.window:
            machine, own = sample[1] - self.start[1], sample[2] - self.start[2]
            self.start, self.busy = sample, max(0.0, (machine - own) / elapsed)
        return self.busy


_other_load = _OtherLoad()


def cores_busy_elsewhere() -> float | None:
    """Cores that other processes used lately (None before the first window, or off Linux)."""
    return _other_load.read()


def _cpu_sample() -> tuple[float, float, float] | None:
    """(wall seconds, CPU seconds of the machine, CPU seconds of this process), or None."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle and waiting for I/O
    ticks = os.sysconf("SC_CLK_TCK")
    return time.monotonic(), (sum(fields[:8]) - idle) / ticks, time.process_time()
