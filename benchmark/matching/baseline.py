"""The random-window baseline: the floor every real matcher must beat.

Each target gets ``per_target`` guesses: a random query class, a random length and a random position, score
0.5.  It knows only how long the targets are, so whatever F1 it reaches comes from chance alone (one class in
``n_queries``, times the chance that a random window overlaps the sign enough).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping

import numpy as np

from benchmark.engine.clips import frame_to_ms

SCORE = 0.5  # every guess's score: no confidence either way


def random_windows(
    targets: Mapping[str, int],
    n_queries: int,
    fps: float,
    seed: int,
    per_target: int = 1,
    length_ms: tuple[float, float] = (300, 800),
) -> dict[str, list[list]]:
    """``{target_id: [[query_index, start_ms, end_ms, score], ...]}`` sorted by start, as the matchers return.

    ``targets``: each target's number of frames on the ``fps`` grid.  A guess spans a whole number of frames
    (its length drawn uniformly in ``length_ms``, at least 1 frame, at most the target), lies inside the
    target, and is written in ms like the matchers (a frame's start, the end the start of the last frame).
    Each target draws from its own generator, seeded with ``seed`` and the target's id (CRC-32), so a target's
    guesses do not depend on which other targets are passed, nor in which order.
    """
    if n_queries < 1:
        raise ValueError(f"n_queries must be >= 1, got {n_queries}")
    lo, hi = sorted(float(x) for x in length_ms)
    out = {}
    for tid, n_frames in targets.items():
        n = int(n_frames)
        rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(str(tid).encode("utf-8"))])
        if n <= 0:
            out[tid] = []
            continue
        cls = rng.integers(0, n_queries, per_target)
        length = np.clip(np.rint(rng.uniform(lo, hi, per_target) * fps / 1000.0).astype(np.int64), 1, n)
        start = (rng.random(per_target) * (n - length + 1)).astype(np.int64)
        starts, ends = frame_to_ms(start, fps), frame_to_ms(start + length - 1, fps)
        rows = [[int(c), int(s), int(e), SCORE] for c, s, e in zip(cls, starts, ends)]
        out[tid] = sorted(rows, key=lambda r: (r[1], r[0], r[2]))
    return out
