"""Training targets from clip labels (REFERENCE.md "Stage 2", targets), vectorised with numpy.

For a foreground clip ``t`` in a run ``a..b`` of equal labels the regression target is
``(t - a, b - t)``: distances in clips to the run's first and last clip.  ``offset_clamp`` caps both
(the authors' code used 4, which cannot represent signs longer than 640 ms); ``None`` = no clamp.
Background clips get offsets 0 and are excluded from the regression loss by the foreground mask.
"""

from __future__ import annotations

import numpy as np

from benchmark.engine.clips import run_bounds


def spotting_targets(clip_labels, offset_clamp: float | None = None):
    """Return ``(labels int64 [N], offsets float32 [N, 2], foreground bool [N])``."""
    labels = np.asarray(clip_labels, dtype=np.int64).reshape(-1)
    n = labels.size
    offsets = np.zeros((n, 2), dtype=np.float32)
    fg = labels > 0
    if n == 0:
        return labels, offsets, fg
    if (labels < 0).any():
        raise ValueError("clip labels must be >= 0 (0 = background, class + 1 inside a sign)")
    _, starts, ends = run_bounds(labels)
    run = np.repeat(np.arange(starts.size), ends - starts + 1)
    idx = np.arange(n)
    offsets[:, 0] = idx - starts[run]
    offsets[:, 1] = ends[run] - idx
    offsets[~fg] = 0.0
    if offset_clamp is not None:
        if float(offset_clamp) < 0:
            raise ValueError(f"offset_clamp must be >= 0 or null, got {offset_clamp!r}")
        np.minimum(offsets, float(offset_clamp), out=offsets)
    return labels, offsets, fg
