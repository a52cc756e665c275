"""One process set-up for everything that runs stages: a ``bench run``, a ``--devices`` worker, a sweep task.

The same threads, seeds and device choice wherever a stage runs, so a stage computed by a worker is the stage
``bench run`` would have computed.
"""

from __future__ import annotations

import os
import random


def set_up(*, threads: int | None = None, seed: int | None = None, device: str | None = None) -> tuple[int, str]:
    """Limit the math libraries to ``threads``, seed every generator with ``seed`` (when given) and choose the
    device (``auto``: CUDA when torch sees one); ``(threads used, device)``."""
    from benchmark.runtime.cpus import use_threads

    used = use_threads(threads)
    if seed is not None:
        seed_everything(int(seed))
    chosen = device
    if device is not None:
        from benchmark.runtime.torch_setup import choose_device

        chosen = choose_device(device)
    return used, chosen


def seed_everything(seed: int) -> None:
    import numpy as np

    random.seed(seed)
    np.random.seed(seed % (2**32))
    os.environ["PYTHONHASHSEED"] = str(seed)
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:
        pass
