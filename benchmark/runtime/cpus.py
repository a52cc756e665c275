"""How many cores this process may use, and giving torch and OpenCV exactly that many threads.

Trials running side by side must not oversubscribe the cores: on a machine already loaded, a torch training
with more threads than free cores runs many times slower than with fewer.  So every run sets its thread
count from the cores it may use (its CPU affinity, capped by a cgroup CPU quota as containers and Slurm set
it), never from the machine's core count, and a sweep gives each trial its share.  Results are deterministic
for a given thread count; a different count may change the last digits of floating-point sums.
"""

from __future__ import annotations

import math
import os
from pathlib import Path


def available_cores() -> int:
    """The cores this process may run on: its CPU affinity, capped by the cgroup CPU quota when there is one."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    quota = cgroup_quota()
    if quota is not None:
        cores = min(cores, max(1, math.floor(quota)))
    return max(1, cores)


def cgroup_quota(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """CPUs the cgroup may use (``cpu.max`` in v2, ``cpu.cfs_quota_us / cpu.cfs_period_us`` in v1), or None."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        return None if quota <= 0 or period <= 0 else quota / period
    except (OSError, ValueError):
        return None


def use_threads(threads: int | None = None) -> int:
    """Give torch's intra-op pool and OpenCV ``threads`` threads (default: :func:`available_cores`); returns it.

    The environment variables make child processes (preprocessing workers) start with the same count.
    """
    threads = int(threads) if threads else available_cores()
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    try:
        import torch

        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    try:
        import cv2

        cv2.setNumThreads(threads)
    except ImportError:  # pragma: no cover - opencv is a dependency
        pass
    return threads
