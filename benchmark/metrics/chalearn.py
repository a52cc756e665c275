"""The official ChaLearn 2022 sign spotting F1 (organisers' scorer, quirks included), vectorised.

What the organisers' ``evaluate.py`` / ``evaluation_utils.py`` do, and where this module does the same:

* thresholds ``np.arange(0.2, 0.8 + (0.05 - 0.0001), 0.05)``: 13 float64 values used as they are
  (0.2, 0.25, 0.3, 0.35, 0.39999999999999997, ..., 0.7, 0.7499999999999998, 0.7999999999999998) -> THRESHOLDS;
* for every video of the ground truth (``for fidx in gt.keys()``; a video missing from the predictions has
  none; predictions for videos not in the ground truth are never looked at) and every threshold
  (``extract_performances``):

  - predictions sorted by start with ``np.argsort(data_eval[:, 1])`` (numpy's default, unstable
    quicksort: ties come out in whatever order the installed numpy gives) -> ``_sorted_order``;
  - ``filter_overlap_interval``: prediction i is kept iff ``cls[i] != cls[i+1] or end[i] <= start[i+1]``,
    i.e. dropped when the next one (in that order) has the same class and ``end[i] > start[i+1]``
    (strict: touching segments are kept); the last one is always kept -> ``_kept``;
  - a ground-truth sign is a TP when at least one kept prediction of its class has
    ``get_temporal_iou_1d >= threshold``: ``(min end - max start) / (max end - min start)`` in float64 on
    integer ms, ``0 if iou < 0``; 0/0 (two identical zero-length segments) is NaN there and never matches
    here either -> ``_best_iou``;
  - ``fn = #gt - tp``; ``fp = #predictions - tp`` counted on the unfiltered predictions (can be negative);

* TP, FP, FN summed over videos and thresholds (integers), then ``calculate_metrics``:
  0, 0, 0 when tp == 0, else ``p = tp/(tp+fp)``, ``r = tp/(tp+fn)``, ``f1 = (2*(p*r))/(p+r)``.

Sorting and filtering do not depend on the threshold, so they run once, and a sign is a TP at threshold t iff
its best IoU over kept same-class predictions is >= t: one IoU pass serves all 13 thresholds.
Only deviation: the organisers' ``np.argsort`` ran on the array as loaded (float64 if a file held floats);
here times are always int64, which can order *tied* starts differently on some numpy builds.

Predictions may be scored segments ``[class, start_ms, end_ms, score]`` (what the decoders return): the score
is ignored, as the organisers' scorer ignores confidence.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import chain
from typing import Any

import numpy as np

from benchmark.errors import DataError

THRESHOLDS = np.arange(start=0.2, stop=0.8 + (0.05 - 0.0001), step=0.05)

__all__ = ["THRESHOLDS", "calculate_metrics", "score", "score_strict", "threshold_key", "without_scores"]


# -- inputs -----------------------------------------------------------------------------------------------


class FlatSegments:
    """All segments of a set of videos as int64 columns; ``video`` indexes the ground truth's video order."""

    def __init__(self, video, cls, start, end):
        self.video, self.cls, self.start, self.end = video, cls, start, end

    def __len__(self) -> int:
        return len(self.video)


def _fast_rows(data: Mapping, videos: list[str], scored: bool = False):
    """``(counts, int64 [n, 3])`` when every video is a list/tuple of 3-int lists/tuples (plain python ints, as
    :func:`benchmark.storage.safe_pickle.load_annotations` returns) with end >= start; otherwise None.  ``scored``:
    rows may also have a 4th element (a score), dropped unread."""
    values = [data[v] for v in videos]
    if not set(map(type, values)) <= {list, tuple}:
        return None
    counts = [len(x) for x in values]
    rows = list(chain.from_iterable(values))
    if not rows:
        return counts, np.zeros((0, 3), np.int64)
    if not set(map(type, rows)) <= {list, tuple}:
        return None
    lengths = set(map(len, rows))
    if scored and lengths <= {3, 4} and 4 in lengths:
        rows, lengths = [row[:3] for row in rows], {3}
    if lengths != {3}:
        return None
    flat = list(chain.from_iterable(rows))
    if set(map(type, flat)) != {int}:
        return None
    try:
        arr = np.array(flat, dtype=np.int64).reshape(-1, 3)
    except OverflowError:
        return None
    if np.any(np.abs(arr) > 2**53) or np.any(arr[:, 2] < arr[:, 1]):
        return None
    return counts, arr


def flatten_segments(
    data: Mapping, videos: list[str], index: dict[str, int], source: str, scored: bool = False
) -> FlatSegments:
    """Stack ``data[v]`` for ``v`` in ``videos``; anything but plain python ints (numpy values, integral floats)
    or malformed input goes through :func:`benchmark.storage.safe_pickle.validate_annotations`, which converts it or
    raises a :class:`DataError` naming the video and the item.  ``scored``: 4-element rows lose their 4th."""
    fast = _fast_rows(data, videos, scored)
    if fast is None:
        from benchmark.storage.safe_pickle import validate_annotations

        given = {v: without_scores(data[v]) if scored else data[v] for v in videos}
        fast = _fast_rows(validate_annotations(given, source), videos)
        if fast is None:  # cannot happen: validate_annotations returns plain ints with end >= start
            raise DataError(f"{source}: could not read the annotations")
    counts, arr = fast
    video = np.repeat(np.array([index[v] for v in videos], dtype=np.int64), counts)
    return FlatSegments(video, arr[:, 0].copy(), arr[:, 1].copy(), arr[:, 2].copy())


def without_scores(segments):
    """One video's segments with the 4th element of each 4-element row (a decoder's score) removed; anything
    else is returned as it is, for :func:`benchmark.storage.safe_pickle.validate_annotations` to judge."""
    if isinstance(segments, np.ndarray):
        return segments[:, :3] if segments.ndim == 2 and segments.shape[1] == 4 else segments
    if not isinstance(segments, (list, tuple)):
        return segments
    return [row[:3] if _is_scored_row(row) else row for row in segments]


def _is_scored_row(row) -> bool:
    if isinstance(row, np.ndarray):
        return row.ndim == 1 and len(row) == 4
    return isinstance(row, (list, tuple)) and len(row) == 4


def _prepare(ground_truth: Mapping, predictions: Mapping):
    if not isinstance(ground_truth, Mapping):
        raise DataError(
            f"ground truth: expected a dict {{video_id: [[class, start_ms, end_ms], ...]}}, "
            f"got {type(ground_truth).__name__}"
        )
    if not isinstance(predictions, Mapping):
        raise DataError(
            f"predictions: expected a dict {{video_id: [[class, start_ms, end_ms], ...]}}, "
            f"got {type(predictions).__name__}"
        )
    gt_videos = list(ground_truth)
    index = {v: i for i, v in enumerate(gt_videos)}
    gt = flatten_segments(ground_truth, gt_videos, index, "ground truth")
    pred_videos = [v for v in gt_videos if v in predictions]  # GT order: blocks contiguous, sorted by video
    pred = flatten_segments(predictions, pred_videos, index, "predictions", scored=True)
    ignored = sum(len(x) for v, x in predictions.items() if v not in index and hasattr(x, "__len__"))
    return gt, pred, ignored


# -- the organisers' steps --------------------------------------------------------------------------------


def _sorted_order(pred: FlatSegments) -> np.ndarray:
    """Per video, ``np.argsort(starts)`` with numpy's default kind, exactly as the organisers sort.

    A stable (video, start) sort gives the same permutation wherever a video has no tied starts; videos with
    ties get numpy's own (unstable) ``np.argsort`` of their starts in file order.
    """
    order = np.lexsort((pred.start, pred.video))
    if len(order) < 2:
        return order
    sv, ss = pred.video[order], pred.start[order]
    tied = np.unique(sv[1:][(sv[1:] == sv[:-1]) & (ss[1:] == ss[:-1])])
    if len(tied):
        first = np.searchsorted(pred.video, tied, side="left")  # pred is grouped by video (flatten order)
        last = np.searchsorted(pred.video, tied, side="right")
        for a, b in zip(first.tolist(), last.tolist()):
            order[a:b] = a + np.argsort(pred.start[a:b])
    return order


def _kept(pred: FlatSegments, order: np.ndarray) -> np.ndarray:
    """Indices (into ``pred``) of the predictions ``filter_overlap_interval`` keeps, in sorted order."""
    v, c, s, e = pred.video[order], pred.cls[order], pred.start[order], pred.end[order]
    drop = np.zeros(len(order), dtype=bool)
    drop[:-1] = (v[:-1] == v[1:]) & (c[:-1] == c[1:]) & (e[:-1] > s[1:])
    return order[~drop]


def _keys(gt: FlatSegments, cls_c: np.ndarray, video_c: np.ndarray):
    """One int64 key per (video, class) for ground truth and candidates, plus the largest key + 1."""
    both = np.concatenate([gt.cls, cls_c])
    lo, hi = int(both.min()), int(both.max())
    if hi - lo < 2**20:
        k, gc, pc = hi - lo + 1, gt.cls - lo, cls_c - lo
    else:  # sparse, huge class ids
        u, inv = np.unique(both, return_inverse=True)
        k, gc, pc = len(u), inv[: len(gt)], inv[len(gt) :]
    n_videos = int(max(gt.video.max(initial=0), video_c.max(initial=0))) + 1
    return gt.video * k + gc, video_c * k + pc, n_videos * k


def same_class_pairs(gt: FlatSegments, pred: FlatSegments, candidates: np.ndarray, overlapping_only: bool = True):
    """(gt, prediction) pairs of one video and one class; ``candidates`` are prediction indices.

    With ``overlapping_only`` only pairs that can overlap are built (IoU <= 0 can never reach a positive
    threshold): per (video, class), predictions sorted by start, those starting in
    ``(gt.start - longest prediction, gt.end)``.  Returns gt indices (ascending), prediction indices and
    their IoU (float64, floored at 0, NaN for 0/0 as in the organisers' code), counts and offsets per gt.
    """
    if len(gt) == 0 or len(candidates) == 0:
        empty = np.zeros(0, np.int64)
        return empty, empty, np.zeros(0), np.zeros(len(gt), np.int64), np.zeros(len(gt), np.int64)
    ps, pe = pred.start[candidates], pred.end[candidates]
    gkey, pkey, n_keys = _keys(gt, pred.cls[candidates], pred.video[candidates])
    longest = int((pe - ps).max())
    base = min(int(gt.start.min()) - longest, int(ps.min())) - 1
    span = max(int(gt.end.max()), int(ps.max())) - base + 1
    if overlapping_only and n_keys * span < 2**62:
        comb = pkey * span + (ps - base)
        by_key = np.argsort(comb, kind="stable")
        comb = comb[by_key]
        lo = np.searchsorted(comb, gkey * span + (gt.start - longest - base), side="right")
        hi = np.searchsorted(comb, gkey * span + (gt.end - base), side="left")
    else:
        by_key = np.argsort(pkey, kind="stable")
        pkey = pkey[by_key]
        lo = np.searchsorted(pkey, gkey, side="left")
        hi = np.searchsorted(pkey, gkey, side="right")
    cnt = np.maximum(hi - lo, 0)
    total = int(cnt.sum())
    gi = np.repeat(np.arange(len(gt)), cnt)
    offsets = np.cumsum(cnt) - cnt
    pj = candidates[by_key[lo[gi] + np.arange(total) - offsets[gi]]]
    s1, e1, s2, e2 = pred.start[pj], pred.end[pj], gt.start[gi], gt.end[gi]
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = (np.minimum(e1, e2) - np.maximum(s1, s2)) / (np.maximum(e1, e2) - np.minimum(s1, s2))
    iou = np.where(iou < 0, 0.0, iou)
    return gi, pj, iou, cnt, offsets


def _best_iou(gt: FlatSegments, pred: FlatSegments, kept: np.ndarray, overlapping_only: bool = True) -> np.ndarray:
    """Per ground-truth sign, the best IoU over kept predictions of its video and class (-inf: none)."""
    best = np.full(len(gt), -np.inf)
    if len(gt) == 0 or len(kept) == 0:
        return best
    _, _, iou, cnt, offsets = same_class_pairs(gt, pred, kept, overlapping_only)
    if len(iou):
        iou = np.where(np.isnan(iou), -np.inf, iou)  # NaN >= t is False in the organisers' code
        has = cnt > 0
        best[has] = np.maximum.reduceat(iou, offsets[has])
    return best


# -- counts -> numbers ------------------------------------------------------------------------------------


def calculate_metrics(tp, fp, fn) -> tuple[float, float, float]:
    """The organisers' ``calculate_metrics``: (precision, recall, f1), all 0 when tp == 0."""
    if tp == 0:
        return 0.0, 0.0, 0.0
    precision = tp / (tp + fp)
    recall = tp / (tp + fn)
    f1 = (2 * (precision * recall)) / (precision + recall)
    return float(precision), float(recall), float(f1)


def threshold_key(t: float) -> str:
    """``0.2`` -> ``"0.20"`` (the name used in ``f1_iou_0.20`` and ``per_threshold``)."""
    return f"{float(t):.2f}"


def _block(tp: int, fp: int, fn: int) -> dict[str, Any]:
    p, r, f1 = calculate_metrics(tp, fp, fn)
    return {"tp": int(tp), "fp": int(fp), "fn": int(fn), "precision": p, "recall": r, "f1": f1}


def _report(
    gt: FlatSegments, pred: FlatSegments, hits: np.ndarray, thresholds: np.ndarray, ignored: int
) -> dict[str, Any]:
    """Pool ``hits`` (bool [n_gt, n_thresholds]: the sign is a TP at that threshold) into the result dict."""
    n_thr = len(thresholds)
    tp_t = hits.sum(axis=0).astype(np.int64)
    fn_t = len(gt) - tp_t
    fp_t = len(pred) - tp_t
    tp, fp, fn = int(tp_t.sum()), int(fp_t.sum()), int(fn_t.sum())
    out: dict[str, Any] = _block(tp, fp, fn)
    out = {k: out[k] for k in ("f1", "precision", "recall", "tp", "fp", "fn")}
    keys = [threshold_key(t) for t in thresholds]
    if len(set(keys)) != len(keys):
        keys = [repr(float(t)) for t in thresholds]
    per_threshold = {}
    for key, a, b, c in zip(keys, tp_t.tolist(), fp_t.tolist(), fn_t.tolist()):
        per_threshold[key] = _block(a, b, c)
        out[f"f1_iou_{key}"] = per_threshold[key]["f1"]
    classes = np.union1d(gt.cls, pred.cls)
    tp_c = {int(c): 0 for c in classes}
    if len(gt):
        per_gt = hits.sum(axis=1)
        u, inv = np.unique(gt.cls, return_inverse=True)
        for c, n in zip(u.tolist(), np.bincount(inv, weights=per_gt, minlength=len(u)).tolist()):
            tp_c[c] = int(round(n))
    n_gt_c = dict(zip(*[a.tolist() for a in np.unique(gt.cls, return_counts=True)]))
    n_pred_c = dict(zip(*[a.tolist() for a in np.unique(pred.cls, return_counts=True)]))
    per_class = {}
    for c in sorted(tp_c):
        t = tp_c[c]
        per_class[c] = _block(t, n_thr * n_pred_c.get(c, 0) - t, n_thr * n_gt_c.get(c, 0) - t)
    out.update(
        per_threshold=per_threshold,
        per_class=per_class,
        thresholds=[float(t) for t in thresholds],
        num_ground_truth=len(gt),
        num_predictions=len(pred),
        num_ignored_predictions=int(ignored),
    )
    return out


def _thresholds(thresholds: Iterable[float] | None) -> np.ndarray:
    thr = THRESHOLDS if thresholds is None else np.asarray(list(thresholds), dtype=np.float64).reshape(-1)
    if len(thr) == 0:
        raise ValueError("at least one IoU threshold is needed")
    return thr


def score(ground_truth: Mapping, predictions: Mapping, thresholds: Iterable[float] | None = None) -> dict[str, Any]:
    """The official ChaLearn sign spotting score (pooled F1 over 13 IoU thresholds), bit for bit.

    ``ground_truth`` and ``predictions`` are ``{video_id: [[class, start_ms, end_ms], ...]}``.  Returns
    ``f1, precision, recall, tp, fp, fn`` (pooled over videos and thresholds), ``f1_iou_0.20`` ..
    ``f1_iou_0.80``, ``per_threshold`` ({"0.20": {tp, fp, fn, precision, recall, f1}, ...}), ``per_class``
    ({class_id: {...}}, counts pooled over thresholds) and input counts.
    """
    thr = _thresholds(thresholds)
    gt, pred, ignored = _prepare(ground_truth, predictions)
    best = _best_iou(gt, pred, _kept(pred, _sorted_order(pred)), overlapping_only=bool(thr.min() > 0))
    out = _report(gt, pred, best[:, None] >= thr[None, :], thr, ignored)
    out["num_videos"] = len(ground_truth)
    return out


def score_strict(
    ground_truth: Mapping, predictions: Mapping, thresholds: Iterable[float] | None = None
) -> dict[str, Any]:
    """A one-to-one variant: no overlap filter, each prediction matches at most one sign and vice versa.

    Greedy by IoU, highest first (ties: ground-truth order, then prediction order); at threshold t a sign is
    a TP when it was matched with IoU >= t.  Pairs are taken in decreasing IoU, so the matching at t is the
    prefix of one greedy pass: one pass serves every threshold.  FP = unmatched predictions (never negative).
    Same output keys as :func:`score`.
    """
    thr = _thresholds(thresholds)
    gt, pred, ignored = _prepare(ground_truth, predictions)
    matched_iou = np.full(len(gt), -np.inf)
    if len(gt) and len(pred):
        gi, pj, iou, _, _ = same_class_pairs(gt, pred, np.arange(len(pred)), overlapping_only=bool(thr.min() > 0))
        good = ~np.isnan(iou) & (iou >= thr.min())
        gi, pj, iou = gi[good], pj[good], iou[good]
        order = np.lexsort((pj, gi, -iou))
        gt_free = np.ones(len(gt), dtype=bool)
        pred_free = np.ones(len(pred), dtype=bool)
        for g, p, v in zip(gi[order].tolist(), pj[order].tolist(), iou[order].tolist()):
            if gt_free[g] and pred_free[p]:
                gt_free[g] = pred_free[p] = False
                matched_iou[g] = v
    out = _report(gt, pred, matched_iou[:, None] >= thr[None, :], thr, ignored)
    out["num_videos"] = len(ground_truth)
    return out
