"""Post-filters shared by the decoders, on clip-level segments, and the clip -> millisecond conversion.

A clip-level segment set is four equal-length arrays: ``label`` (class + 1), ``first``/``last`` clip
(inclusive) and ``score``.  Settings (all optional):

* ``merge_gap`` (clips, default 0 = off): segments of the same class separated by at most this many
  clips are merged (per class, regardless of other classes in between); the merged score is the
  length-weighted mean;
* ``min_clips`` (default 1): drop segments shorter than this many clips (after merging);
* ``score_threshold`` (default 0.0): drop segments whose score is below it.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np


def needs_scores(settings: Mapping | None) -> bool:
    s = dict(settings or {})
    return bool(s.get("merge_gap")) or float(s.get("score_threshold") or 0.0) > 0.0


def run_segments(labels: np.ndarray, probs: np.ndarray | None = None):
    """Runs of equal non-zero labels as arrays, score = mean prob of the run's class over the run
    (1.0 when ``probs`` is None: callers skip the scores when no filter reads them)."""
    labels = np.asarray(labels, dtype=np.int64)
    n = labels.size
    if n == 0:
        e = np.zeros(0, np.int64)
        return e, e, e, np.zeros(0, np.float64)
    change = np.flatnonzero(labels[1:] != labels[:-1]) + 1
    first = np.concatenate([[0], change])
    last = np.concatenate([change - 1, [n - 1]])
    lab = labels[first]
    keep = lab != 0
    first, last, lab = first[keep], last[keep], lab[keep]
    if probs is None:
        score = np.ones(lab.size)
    else:
        p = np.asarray(probs)[np.arange(n), labels].astype(np.float64)  # prob of each clip's own label
        csum = np.concatenate([[0.0], np.cumsum(p)])
        score = (csum[last + 1] - csum[first]) / (last - first + 1)
    return lab, first, last, score


def merge_gaps(lab, first, last, score, gap: int):
    """Merge same-class segments whose gap (clips strictly between them) is <= ``gap``.

    With several videos in one pass, ``lab`` is a (video, class) key so videos never merge."""
    if gap <= 0 or lab.size < 2:
        return lab, first, last, score
    order = np.lexsort((first, lab))
    lab, first, last, score = lab[order], first[order], last[order], score[order]
    length = (last - first + 1).astype(np.float64)
    # a new group starts at a class change or when the gap to the running end of the group is too big
    run_end = np.zeros_like(last)
    new = np.ones(lab.size, dtype=bool)
    # running max of `last` within a class, computed per class with maximum.accumulate
    for c in np.unique(lab):  # loop over classes (few), not clips
        idx = np.flatnonzero(lab == c)
        ends = np.maximum.accumulate(last[idx])
        run_end[idx] = ends
        new[idx[1:]] = first[idx[1:]] - ends[:-1] - 1 > gap
    group = np.cumsum(new) - 1
    g = group[-1] + 1
    out_lab = lab[new]
    out_first = np.minimum.reduceat(first, np.flatnonzero(new))
    out_last = np.maximum.reduceat(last, np.flatnonzero(new))
    w = np.bincount(group, weights=length, minlength=g)
    out_score = np.bincount(group, weights=score * length, minlength=g) / w
    order = np.argsort(out_first, kind="stable")
    return out_lab[order], out_first[order], out_last[order], out_score[order]


def apply_filters(lab, first, last, score, settings: Mapping | None):
    s = dict(settings or {})
    lab, first, last, score = (np.asarray(lab, np.int64), np.asarray(first, np.int64),
                               np.asarray(last, np.int64), np.asarray(score, np.float64))
    lab, first, last, score = merge_gaps(lab, first, last, score, int(s.get("merge_gap") or 0))
    keep = (last - first + 1 >= int(s.get("min_clips") or 1)) & (score >= float(s.get("score_threshold") or 0.0))
    return lab[keep], first[keep], last[keep], score[keep]


def batched_segments(labels, vid, begins, n_frames, clips, settings, scores=None) -> list[list[list[int]]]:
    """Per-video segment lists from global clip labels (``vid`` = video index of each clip, ``begins`` =
    first global clip of each video): runs never cross videos, the filters act per video."""
    labels = np.asarray(labels, np.int64)
    n_videos = len(begins)
    out: list[list[list[int]]] = [[] for _ in range(n_videos)]
    if labels.size == 0:
        return out
    key = vid * (int(labels.max()) + 1) + labels  # changes at every video boundary or label change
    key[labels == 0] = -1  # background: one key (never 0, so run_segments keeps it; dropped below)
    lab_k, first, last, _ = run_segments(key, None)
    keep = labels[first] != 0
    lab_k, first, last = lab_k[keep], first[keep], last[keep]
    if scores is not None:
        csum = np.concatenate([[0.0], np.cumsum(np.asarray(scores, np.float64))])
        score = (csum[last + 1] - csum[first]) / (last - first + 1)
    else:
        score = np.ones(first.size)
    lab_k, first, last, score = apply_filters(lab_k, first, last, score, settings)
    v = vid[first]
    local_first, local_last = first - begins[v], last - begins[v]
    nf = np.array([-1 if f is None else int(f) for f in n_frames], dtype=np.int64)[v]
    start, end = clips.clips_to_frames(local_first, local_last, nf)
    from benchmark.interfaces import MS_PER_FRAME

    rows = np.stack([labels[first] - 1, start * MS_PER_FRAME, end * MS_PER_FRAME], axis=1).tolist()
    bounds = np.searchsorted(v, np.arange(n_videos + 1))
    for i in np.flatnonzero(np.diff(bounds)).tolist():
        out[i] = rows[bounds[i]:bounds[i + 1]]
    return out


def to_ms(lab, first, last, clips, n_frames: int | None = None) -> list[list[int]]:
    """Clip-level segments -> ``[[class_id, start_ms, end_ms], ...]``: :meth:`ClipSpec.clip_to_ms`,
    vectorised (a test checks they agree)."""
    from benchmark.interfaces import MS_PER_FRAME

    start, end = clips.clips_to_frames(first, last, n_frames)
    rows = np.stack([np.asarray(lab, np.int64) - 1, start * MS_PER_FRAME, end * MS_PER_FRAME], axis=1)
    return rows.tolist()
