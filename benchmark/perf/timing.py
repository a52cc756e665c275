"""The one way a step is timed: warm-up calls first, CUDA synchronised around the timed loop so queued
kernels are counted (every ``bench perf`` row is measured this way)."""

from __future__ import annotations


def time_steps(step, steps: int, device: str, warmup: int = 1) -> float:
    """Seconds that ``steps`` calls of ``step()`` take after ``warmup`` untimed calls, synchronising CUDA
    around the timed loop so queued kernels are counted (what every ``bench perf`` row measures)."""
    import time

    import torch

    for _ in range(warmup):
        step()
    cuda = str(device).startswith("cuda")
    if cuda:
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - t0
