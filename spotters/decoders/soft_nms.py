"""Soft-NMS decoder: the post-processing of ActionFormer / TriDet, adapted to the official ChaLearn F1.

A pyramid spotter regresses a segment at every point of every level (``levels``, see
:meth:`benchmark.interfaces.Decoder.decode`); a single-level spotter is level 0 alone, ``(probs, offsets, 1)``.

1. Candidates: point ``p`` of a level of stride ``s`` stands at level-0 clip ``c = p * s + (s - 1) / 2``; for
   every foreground class ``k`` (column ``k >= 1``) with ``probs_l[p, k] > pre_threshold`` it proposes
   ``[c - offsets_l[p, 0], c + offsets_l[p, 1]]`` (continuous clip-centre units; NaN or negative offsets
   count as 0) clamped to ``[0, n_clips - 1]``, scored ``probs_l[p, k]``.  The ``pre_top_k`` best of the
   video are kept (None: all), best first (ties: level, point, class order).
2. Gaussian soft-NMS per class: repeatedly take the best remaining candidate (ties: the earlier one) and
   multiply every other one's score by ``exp(-iou ** 2 / sigma)``; a segment ``[a, b]`` covers clips
   ``[a - 0.5, b + 0.5]``, so ``iou = inter / union`` with ``inter = max(0, min(b1, b2) - max(a1, a2) + 1)``.
   A taken candidate keeps the score it had when taken, so taken scores never increase.
3. Filters, in this order, on the taken candidates in the order taken (best first): ``score_threshold``
   (a score below it is dropped), ``min_clips`` (``b - a + 1`` below it is dropped), ``overlap: drop``
   (a segment overlapping one of its class kept before it, in frames as the scorer sees them,
   ``min(ends) > max(starts)``, is dropped: the official scorer removes a same-class prediction that
   overlaps the next one from matching but still counts it as a false positive; ``keep``: kept),
   ``merge_gap`` (same-class segments at most that many clips apart are merged, length-weighted score, as
   :func:`spotters.decoders.filters.merge_gaps`), ``max_per_class`` (the best of each class and video;
   None: all).  A short or dropped candidate has still decayed the others in step 2.
4. Continuous clips -> frames -> ms with :func:`spotters.decoders.filters.continuous_to_frames` (the mapping
   of :meth:`benchmark.engine.clips.ClipSpec.clips_to_frames`, rounded); rows sorted by start (then end, class).

Vectorised over candidates; the loop in step 2 runs once per taken candidate and class, and stops as soon as
nothing taken later can be output (the next score is below ``score_threshold``, or the class has
``max_per_class`` segments when ``merge_gap`` is 0): taken scores never increase, so the result is the same
as running every step in full (a test compares the two).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from benchmark.interfaces import Decoder, optional
from spotters.decoders.filters import continuous_to_frames, merge_gaps, ms_rows

OVERLAP = ("drop", "keep")
DECAY_TABLE = 512  # classes with at most this many candidates get their decays in one table, not row by row
TINY = np.finfo(np.float64).tiny


def pyramid_levels(probs, offsets, levels) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """``levels`` as float64 arrays with int strides; ``[(probs, offsets, 1)]`` when None."""
    given = [(probs, offsets, 1)] if levels is None else levels
    out = []
    for i, level in enumerate(given):
        p, o, stride = level
        p, o = np.asarray(p, np.float64), np.asarray(o, np.float64).reshape(-1, 2)
        if p.ndim != 2 or o.shape[0] != p.shape[0] or int(stride) < 1:
            raise ValueError(
                f"soft-nms: level {i} must be (probs [T, C], offsets [T, 2], stride >= 1), "
                f"got shapes {p.shape}, {o.shape}, stride {stride}"
            )
        out.append((p, o, int(stride)))
    return out


def candidates(levels, n_clips: int, pre_threshold: float, pre_top_k: int | None):
    """Step 1 of the module docstring: ``(label, first, last, score)`` arrays, best first (label = class + 1)."""
    parts = []
    for probs, offsets, stride in levels:
        point, k = np.nonzero(probs[:, 1:] > pre_threshold)
        centre = point * stride + (stride - 1) / 2
        off = np.nan_to_num(offsets[point], nan=0.0, posinf=n_clips, neginf=0.0).clip(0, n_clips)
        first = np.clip(centre - off[:, 0], 0, n_clips - 1)
        last = np.clip(centre + off[:, 1], 0, n_clips - 1)
        parts.append((k + 1, first, last, probs[point, k + 1]))
    label, first, last, score = (np.concatenate(column) for column in zip(*parts))
    order = best_first(score, pre_top_k)
    return label[order], first[order], last[order], score[order]


def best_first(score: np.ndarray, k: int | None) -> np.ndarray:
    """``np.argsort(-score, kind="stable")[:k]`` without sorting everything: the ``k``-th best score by
    partition, every better one and the earliest of the tied ones, then a stable sort of those."""
    if k is not None and score.size > k:
        kth = np.partition(score, score.size - k)[score.size - k]
        above = np.flatnonzero(score > kth)
        tied = np.flatnonzero(score == kth)[: k - above.size]
        chosen = np.sort(np.concatenate([above, tied]))
    else:
        chosen = np.arange(score.size)
    return chosen[np.argsort(-score[chosen], kind="stable")]


def decay(first, last, rows, sigma: float) -> np.ndarray:
    """``exp(-iou ** 2 / sigma)`` between the candidates ``rows`` and every candidate, ``[len(rows), n]``;
    floored at the smallest positive float, so a taken candidate's ``-inf`` never turns into NaN."""
    a, b = first[rows, None], last[rows, None]
    inter = np.maximum(np.minimum(b, last) - np.maximum(a, first) + 1, 0)
    iou = inter / ((b - a + 1) + (last - first + 1) - inter)
    return np.maximum(np.exp(-(iou * iou) / sigma), TINY)


def soft_nms_class(
    first, last, score, start, end, *, sigma: float, threshold: float, min_clips: float, drop: bool, limit
) -> tuple[list, list]:
    """Steps 2 and 3 (up to ``overlap``) for one class's candidates (best first): the indices output, in the
    order taken, and their scores.  ``start``/``end`` are the candidates' frames (the overlap test); ``limit``
    stops after that many outputs (None: never)."""
    n = score.size
    table = decay(first, last, np.arange(n), sigma) if n <= DECAY_TABLE else None  # else one row per step
    length = last - first + 1
    s = score.copy()
    out, out_score, kept_frames = [], [], []
    for _ in range(n):
        i = int(s.argmax())
        best = float(s[i])
        if best < threshold:  # also when all are taken (-inf): nothing later can pass the threshold
            break
        s *= table[i] if table is not None else decay(first, last, [i], sigma)[0]
        s[i] = -np.inf
        if length[i] < min_clips:
            continue
        a, b = int(start[i]), int(end[i])
        if drop and any(min(b, e) > max(a, f) for f, e in kept_frames):
            continue
        kept_frames.append((a, b))
        out.append(i)
        out_score.append(best)
        if limit is not None and len(out) >= limit:
            break
    return out, out_score


def best_per_class(label, score, k: int | None) -> np.ndarray:
    """Mask of the ``k`` highest scores of each label (ties: the earlier one); all when ``k`` is None."""
    keep = np.ones(label.size, dtype=bool)
    if k is None or label.size == 0:
        return keep
    order = np.lexsort((np.arange(label.size), -score, label))
    sorted_label = label[order]
    group_start = np.searchsorted(sorted_label, sorted_label, side="left")
    keep[order[np.arange(label.size) - group_start >= int(k)]] = False
    return keep


class SoftNMSDecoder(Decoder):
    name = "soft-nms"
    description = "Segments of every pyramid point and class, Gaussian soft-NMS per class, overlaps dropped"
    defaults = {
        "sigma": 0.5,  # Gaussian soft-NMS: score *= exp(-iou^2 / sigma)
        "pre_threshold": 0.01,  # candidate probability floor before NMS
        "pre_top_k": 2000,  # candidates per video before NMS (None: all)
        "max_per_class": 10,  # segments kept per class and video (None: all)
        "overlap": "drop",  # drop: no two same-class outputs overlap (the official scorer penalises it); keep
    }
    rules = {
        "sigma": ">0",
        "pre_threshold": "0..1",
        "pre_top_k": optional(">=1"),
        "max_per_class": optional(">=1"),
        "overlap": OVERLAP,
    }

    def decode(self, probs, offsets, clips, settings: Mapping, n_frames: int | None = None, levels=None):
        self.checked(settings)  # resolved settings keep the rules, a Python caller's may not (values read: its own)
        nms = {
            "sigma": float(settings["sigma"]),
            "threshold": float(settings["score_threshold"]),
            "min_clips": float(settings["min_clips"]),
            "drop": settings["overlap"] == "drop",
        }
        pre_threshold = float(settings["pre_threshold"])
        pre_top_k, max_per_class = (
            None if settings[k] is None else int(settings[k]) for k in ("pre_top_k", "max_per_class")
        )
        merge_gap = int(settings["merge_gap"])
        n_clips = int(np.asarray(probs).shape[0])
        pyramid = pyramid_levels(probs, offsets, levels)
        if n_clips == 0:
            return []
        label, first, last, score = candidates(pyramid, n_clips, pre_threshold, pre_top_k)
        start, end = continuous_to_frames(clips, first, last, n_frames)
        limit = max_per_class if merge_gap <= 0 else None  # merging changes the counts: no early stop then
        picked, picked_score = [np.zeros(0, np.int64)], [np.zeros(0)]
        for c in np.unique(label):
            idx = np.flatnonzero(label == c)
            out, out_score = soft_nms_class(first[idx], last[idx], score[idx], start[idx], end[idx], limit=limit, **nms)
            picked.append(idx[out])
            picked_score.append(np.asarray(out_score, np.float64))
        idx, score = np.concatenate(picked), np.concatenate(picked_score)
        label, first, last, start, end = label[idx], first[idx], last[idx], start[idx], end[idx]
        if merge_gap > 0:
            label, first, last, score = merge_gaps(label, first, last, score, merge_gap)
            start, end = continuous_to_frames(clips, first, last, n_frames)
        keep = best_per_class(label, score, max_per_class)
        label, start, end, score = label[keep], start[keep], end[keep], score[keep]
        order = np.lexsort((label, end, start))
        return ms_rows(label[order] - 1, start[order], end[order], clips, score[order])
