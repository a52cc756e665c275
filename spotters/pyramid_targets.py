"""Training targets of the pyramid spotters: per level and point, a class and two distances (numpy, vectorised).

Point ``p`` of level ``l`` (stride ``s = 2**l``) stands for the level-0 clip position ``c = p s + (s - 1) / 2``.
A sign occupies clips ``a .. b`` (a run of equal non-zero clip labels).  As in ActionFormer, with centre sampling,
the point is positive for the sign when

* it lies in the sign, ``a <= c <= b``, and near its centre, ``|c - (a + b) / 2| <= center_sample * s``;
* the sign's larger distance from the point, ``max(c - a, b - c) + 0.5``, falls in the level's range
  ``[range 2^(l-1), range 2^l)`` (level 0 from 0, the last level unbounded);

a point positive for several signs takes the shortest (ActionFormer's rule; runs of clip labels never overlap,
annotations given as intervals may).  Targets: the class (the clip label, 0 = background) and the distances
``(c - a, b - c)`` in level-0 clips, from the point to the sign's first and last clip centre: the offsets'
convention for every spotter and decoder (a decoder reads ``[c - start, c + end]`` as first and last clip).  The
loss adds half a clip to both (a clip covers its own stride, so a one-clip sign has length 1, not 0;
:mod:`spotters.pyramid_loss`), as the ``+ 0.5`` in the range rule does.
"""

from __future__ import annotations

import numpy as np

from benchmark.engine.clips import run_bounds


def level_range(level: int, levels: int, regression_range: float) -> tuple[float, float]:
    """``[low, high)`` of the larger distance (level-0 clips) that level ``level`` of ``levels`` takes."""
    low = 0.0 if level == 0 else regression_range * 2.0 ** (level - 1)
    high = np.inf if level == levels - 1 else regression_range * 2.0**level
    return low, high


def sign_targets(signs, n_points: int, stride: int, value_range, center_sample: float):
    """One level's targets from signs ``(labels [K], first [K], last [K])`` (inclusive clips; may overlap).

    :return: ``(classes int64 [n_points], distances float32 [n_points, 2])``, zeros at background points
    """
    labels, first, last = (np.asarray(v).reshape(-1) for v in signs)
    classes = np.zeros(n_points, np.int64)
    distances = np.zeros((n_points, 2), np.float32)
    if labels.size == 0 or n_points == 0:
        return classes, distances
    c = (np.arange(n_points) * stride + (stride - 1) / 2.0)[:, None]  # [P, 1] level-0 clip positions
    a, b = first[None, :].astype(np.float64), last[None, :].astype(np.float64)  # [1, K]
    left, right = c - a, b - c  # [P, K]
    reach = np.maximum(left, right) + 0.5
    low, high = value_range
    positive = (a <= c) & (c <= b) & (np.abs(c - (a + b) / 2.0) <= center_sample * stride)
    positive &= (reach >= low) & (reach < high)
    length = np.where(positive, b - a + 1, np.inf)  # [P, K]
    k = length.argmin(1)  # the shortest sign (the first on ties of length)
    hit = positive[np.arange(n_points), k]
    classes[hit] = labels[k[hit]]
    distances[hit, 0] = left[hit, k[hit]]
    distances[hit, 1] = right[hit, k[hit]]
    return classes, distances


def pyramid_targets(clip_labels, levels: int, center_sample: float, regression_range: float) -> list[tuple]:
    """Per level ``(classes [ceil(n / 2**l)], distances [ceil(n / 2**l), 2])`` for one video's clip labels."""
    labels = np.asarray(clip_labels, dtype=np.int64).reshape(-1)
    value, first, last = run_bounds(labels)
    sign = value != 0
    signs = (value[sign], first[sign], last[sign])
    out = []
    for level in range(levels):
        stride = 2**level
        n_points = -(-labels.size // stride)
        out.append(sign_targets(signs, n_points, stride, level_range(level, levels, regression_range), center_sample))
    return out
