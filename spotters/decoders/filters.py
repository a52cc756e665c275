"""Post-filters shared by the decoders, on clip-level segments, and the clip -> millisecond conversion.

Every decoder returns scored rows ``[class_id, start_ms, end_ms, score]`` (score in [0, 1]): ranking metrics
such as ``tal-map`` need the score, and the challenge's pickle keeps the first three.

A clip-level segment set is four equal-length arrays: ``label`` (class + 1), ``first``/``last`` clip
(inclusive) and ``score``.  The settings (:data:`benchmark.interfaces.SHARED_DECODER_SETTINGS`, read merged):

* ``merge_gap`` (clips, 0 = off): segments of the same class separated by at most this many clips are merged
  (per class, regardless of other classes in between); the merged score is the length-weighted mean;
* ``min_clips``: drop segments shorter than this many clips (after merging);
* ``score_threshold``: drop segments whose score is below it (0 or less: off, so a score that is not a
  probability, e.g. NaN, never removes a segment unasked).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from benchmark.engine.clips import run_bounds


def run_segments(labels: np.ndarray, probs: np.ndarray | None = None):
    """Runs of equal non-zero labels as arrays, score = mean prob of the run's class over the run
    (1.0 when ``probs`` is None)."""
    labels = np.asarray(labels, dtype=np.int64)
    lab, first, last = run_bounds(labels)
    keep = lab != 0
    lab, first, last = lab[keep], first[keep], last[keep]
    return (
        lab,
        first,
        last,
        _mean_over_runs(None if probs is None else np.asarray(probs)[np.arange(labels.size), labels], first, last),
    )


def _mean_over_runs(values, first, last, begins=None, video=None) -> np.ndarray:
    """Mean of ``values`` over each inclusive range ``first..last`` (all ones when ``values`` is None).

    Several videos (``begins``: each one's first index; ``video``: each range's video): the running sums
    restart at every video, so a video's means are bit for bit those it gets decoded alone."""
    if values is None:
        return np.ones(first.size)
    values = np.asarray(values, np.float64)
    if begins is None:
        csum = np.concatenate([[0.0], np.cumsum(values)])
        return (csum[last + 1] - csum[first]) / (last - first + 1)
    parts = np.split(values, np.asarray(begins)[1:])
    csum = np.concatenate([np.concatenate([[0.0], np.cumsum(part)]) for part in parts])  # one leading 0 per video
    return (csum[last + 1 + video] - csum[first + video]) / (last - first + 1)


def merge_gaps(lab, first, last, score, gap: int):
    """Merge same-class segments whose gap (clips strictly between them) is <= ``gap``.

    With several videos in one pass, ``lab`` is a (video, class) key so videos never merge."""
    if gap <= 0 or lab.size < 2:
        return lab, first, last, score
    order = np.lexsort((first, lab))
    lab, first, last, score = lab[order], first[order], last[order], score[order]
    length = (last - first + 1).astype(np.float64)
    # a new group starts at a class change or when the gap to the running end of the group is too big
    new = np.ones(lab.size, dtype=bool)
    for c in np.unique(lab):  # loop over classes (few), not clips
        idx = np.flatnonzero(lab == c)
        ends = np.maximum.accumulate(last[idx])  # running end of the group within the class
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


def apply_filters(lab, first, last, score, settings: Mapping):
    """``merge_gap``, then ``min_clips`` and ``score_threshold`` (see the module docstring)."""
    lab, first, last, score = (
        np.asarray(lab, np.int64),
        np.asarray(first, np.int64),
        np.asarray(last, np.int64),
        np.asarray(score, np.float64),
    )
    lab, first, last, score = merge_gaps(lab, first, last, score, int(settings["merge_gap"]))
    threshold = float(settings["score_threshold"])
    keep = last - first + 1 >= int(settings["min_clips"])
    if threshold > 0:
        keep &= score >= threshold
    return lab[keep], first[keep], last[keep], score[keep]


def batched_segments(labels, vid, begins, n_frames, clips, settings: Mapping, scores=None) -> list[list[list]]:
    """Per-video scored segment lists from global clip labels (``vid`` = video index of each clip, ``begins`` =
    first global clip of each video, ``scores`` = each clip's probability of its label): runs never cross
    videos, the filters act per video."""
    labels = np.asarray(labels, np.int64)
    n_videos = len(begins)
    out: list[list[list[int]]] = [[] for _ in range(n_videos)]
    if labels.size == 0:
        return out
    key = vid * (int(labels.max()) + 1) + labels  # one value per (video, label): changes at every video boundary
    lab_k, first, last = run_bounds(key)
    keep = labels[first] != 0
    lab_k, first, last = lab_k[keep], first[keep], last[keep]
    score = _mean_over_runs(scores, first, last, begins, vid[first])
    lab_k, first, last, score = apply_filters(lab_k, first, last, score, settings)
    v = vid[first]
    local_first, local_last = first - begins[v], last - begins[v]
    nf = np.array([-1 if f is None else int(f) for f in n_frames], dtype=np.int64)[v]
    rows = to_ms(labels[first], local_first, local_last, clips, nf, score)
    bounds = np.searchsorted(v, np.arange(n_videos + 1))
    for i in np.flatnonzero(np.diff(bounds)).tolist():
        out[i] = rows[bounds[i] : bounds[i + 1]]
    return out


def to_ms(lab, first, last, clips, n_frames=None, score=None) -> list[list]:
    """Clip-level segments -> ``[[class_id, start_ms, end_ms], ...]``: :meth:`ClipSpec.clip_to_ms`,
    vectorised (a test checks they agree); with ``score``, rows ``[class_id, start_ms, end_ms, score]``."""
    start, end = clips.clips_to_frames(first, last, n_frames)
    return ms_rows(np.asarray(lab, np.int64) - 1, start, end, clips, score)


def ms_rows(class_id, start_frame, end_frame, clips, score=None) -> list[list]:
    """Rows ``[class_id, start_ms, end_ms]`` (plain ints; frames -> ms on the ``clips``' frame grid) from frame
    ranges, plus ``score`` (a float clipped to [0, 1]) when given."""
    rows = np.stack([class_id, clips.to_ms(start_frame), clips.to_ms(end_frame)], axis=1).astype(np.int64)
    if score is None:
        return rows.tolist()
    scores = np.clip(np.asarray(score, np.float64), 0.0, 1.0).tolist()
    return [[*row, s] for row, s in zip(rows.tolist(), scores)]


def continuous_to_frames(clips, first, last, n_frames=None):
    """Continuous clip positions (clip-centre units, as regressed boundaries are) -> inclusive frame ranges.

    The same mapping as :meth:`ClipSpec.clips_to_frames`, before rounding: ``first`` starts at frame
    ``round(first * stride + offset)``, ``last`` ends at ``round(last * stride + offset + stride - 1)``
    (``np.rint``: half to even), so integer positions give exactly the frames of those clips; clamped the
    same way (``n_frames`` None or negative: no upper clamp)."""
    first, last = np.asarray(first, np.float64), np.asarray(last, np.float64)
    start = np.maximum(np.rint(first * clips.stride + clips.offset).astype(np.int64), 0)
    end = np.maximum(np.rint(last * clips.stride + clips.offset + clips.stride - 1).astype(np.int64), start)
    if n_frames is not None:
        nf = np.broadcast_to(np.asarray(n_frames, np.int64), end.shape)
        end = np.where(nf > 0, np.minimum(end, nf - 1), end)
        start = np.minimum(start, end)
    return start, end
