"""Temporal action localisation mAP (``tal-map``), as the ActivityNet toolkit computes it for THUMOS-style
benchmarks (``compute_average_precision_detection``, used by ActionFormer and TriDet).

Why a second metric: the official ChaLearn F1 ignores confidence, so it cannot tell a decoder whose scores
rank its segments well from one whose scores are noise; the detection literature's mAP can, and it makes
pyramid spotters comparable with the numbers those papers report.

What is computed, per class that has ground truth and per tIoU threshold ``t`` in 0.3, 0.4, 0.5, 0.6, 0.7:

* the class's predicted segments ``[class, start_ms, end_ms, score]`` (of the ground truth's videos) sorted
  by score, descending;
* in that order, a prediction is a true positive when a ground-truth segment of its class and video that
  no earlier prediction took has ``tIoU >= t``; it takes the one with the highest tIoU (the toolkit tries
  ground truths by decreasing tIoU, skipping taken ones, and stops at the first below ``t``); otherwise it
  is a false positive;
* ``tIoU = max(0, min(ends) - max(starts)) / (union of the two [start_ms, end_ms] intervals)``;
* after each prediction, ``precision = TP / (TP + FP)`` and ``recall = TP / #ground truth of the class``;
  AP is the area under the interpolated curve (``interpolated_prec_rec``): precision padded to
  ``[0, p..., 0]`` and recall to ``[0, r..., 1]``, precision replaced by its maximum at that or any later
  point, and ``sum((r[i] - r[i - 1]) * p[i])`` over the points where recall changes;
* a class with ground truth and no prediction has AP 0; predicted classes without ground truth are ignored.

``map@t`` is the mean AP over the classes with ground truth; ``map`` the mean of the five.  Where this
differs from the toolkit (only ties and degenerate inputs):

* equal scores keep the input order (the ground truth's video order, then each video's list); the toolkit
  reverses numpy's unstable ``argsort`` (``argsort()[::-1]``), so its tie order is unspecified;
* equal tIoUs go to the ground-truth segment listed first; the toolkit's ``tiou.argsort()[::-1]`` again
  reverses an unstable sort;
* predictions for videos not in the ground truth are ignored (``num_ignored_predictions``, as ``chalearn-f1``
  does); the toolkit counts them as false positives;
* two zero-length segments at the same time have tIoU 0 (0/0 is NaN in the toolkit, and NaN passes its
  ``tiou < t`` test, so it matches them);
* no class with ground truth gives 0.0 (the toolkit: NaN);
* thresholds are the decimals 0.3 .. 0.7; ActionFormer's ``np.linspace(0.3, 0.7, 5)`` has 0.39999999999999997
  for 0.4, and no tIoU of millisecond segments lies between the two.

A decoder that gives no scores (3-element segments) gets ``{"note": ...}`` instead of numbers: a ranking
metric has nothing to rank.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from benchmark.errors import DataError
from benchmark.metrics.chalearn import FlatSegments, flatten_segments, same_class_pairs

THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7)
NO_SCORES = "decoder gave no scores: tal-map needs scored segments"

__all__ = ["NO_SCORES", "THRESHOLDS", "average_precision", "tal_map"]


def _lacks_scores(predictions: Mapping) -> bool:
    """Whether a predicted segment has 3 elements (other malformed rows are left to the validation)."""
    return any(
        hasattr(row, "__len__") and len(row) == 3
        for rows in predictions.values()
        if isinstance(rows, (list, tuple, np.ndarray))
        for row in rows
    )


def _scores(predictions: Mapping, videos: list[str]) -> np.ndarray:
    """The 4th element of every row of ``videos``, in :func:`flatten_segments`'s order, as finite floats."""
    out = []
    for video in videos:
        for i, row in enumerate(predictions[video]):
            try:
                value = float(row[3])
            except (TypeError, ValueError):
                value = math.nan
            if not math.isfinite(value) or isinstance(row[3], (bool, str, bytes)):
                where = f"predictions: video {video!r}, item {i}"
                raise DataError(f"{where}: the score must be a finite number, got {row[3]!r}")
            out.append(value)
    return np.asarray(out, np.float64)


def average_precision(tp: np.ndarray, n_ground_truth: int) -> float:
    """The toolkit's ``interpolated_prec_rec`` for one class: ``tp`` (bool, predictions best first)."""
    if n_ground_truth == 0 or tp.size == 0:
        return 0.0
    tp_sum = np.cumsum(tp, dtype=np.float64)
    fp_sum = np.cumsum(~tp, dtype=np.float64)
    precision = np.concatenate([[0.0], tp_sum / (tp_sum + fp_sum), [0.0]])
    recall = np.concatenate([[0.0], tp_sum / n_ground_truth, [1.0]])
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.flatnonzero(recall[1:] != recall[:-1]) + 1
    return float(np.sum((recall[steps] - recall[steps - 1]) * precision[steps]))


def _matches(gt: FlatSegments, pred: FlatSegments, rank: np.ndarray, thresholds) -> np.ndarray:
    """bool ``[len(thresholds), len(pred)]``: the prediction is a true positive at that threshold (greedy,
    predictions by ``rank``, each taking its highest-tIoU free ground truth)."""
    tp = np.zeros((len(thresholds), len(pred)), dtype=bool)
    gi, pj, iou, _, _ = same_class_pairs(gt, pred, np.arange(len(pred)))
    iou = np.nan_to_num(iou, nan=0.0)  # 0/0: two zero-length segments (see the module docstring)
    good = iou >= min(thresholds)
    gi, pj, iou = gi[good], pj[good], iou[good]
    order = np.lexsort((gi, -iou, rank[pj]))  # predictions best first, then their ground truths by tIoU
    gi, pj, iou = gi[order], pj[order], iou[order]
    for t, threshold in enumerate(thresholds):
        ok = iou >= threshold
        taken, matched = set(), set()
        for g, p in zip(gi[ok].tolist(), pj[ok].tolist()):
            if p not in matched and g not in taken:
                matched.add(p)
                taken.add(g)
        tp[t, list(matched)] = True
    return tp


def tal_map(ground_truth: Mapping, predictions: Mapping, thresholds=THRESHOLDS) -> dict[str, Any]:
    """mAP over ``thresholds`` (see the module docstring): ``map``, ``map@0.3`` .. ``map@0.7``,
    ``per_class_ap`` ({class: {"map", "map@0.3", ...}}) and input counts; ``{"note": ...}`` when a
    predicted segment has no score."""
    if not isinstance(ground_truth, Mapping) or not isinstance(predictions, Mapping):
        raise DataError("tal-map: ground truth and predictions must be dicts {video_id: [segments]}")
    if _lacks_scores(predictions):
        return {"note": NO_SCORES}
    thresholds = [float(t) for t in thresholds]
    gt_videos = list(ground_truth)
    index = {v: i for i, v in enumerate(gt_videos)}
    pred_videos = [v for v in gt_videos if v in predictions]
    gt = flatten_segments(ground_truth, gt_videos, index, "ground truth")
    pred = flatten_segments(predictions, pred_videos, index, "predictions", scored=True)
    score = _scores(predictions, pred_videos)
    rank = np.empty(len(pred), np.int64)
    rank[np.argsort(-score, kind="stable")] = np.arange(len(pred))
    tp = _matches(gt, pred, rank, thresholds) if len(gt) and len(pred) else np.zeros((len(thresholds), len(pred)), bool)
    classes, n_gt = np.unique(gt.cls, return_counts=True)
    ap = np.zeros((len(classes), len(thresholds)))
    for c, (cls, n) in enumerate(zip(classes.tolist(), n_gt.tolist())):
        mine = np.flatnonzero(pred.cls == cls)
        mine = mine[np.argsort(rank[mine])]
        for t in range(len(thresholds)):
            ap[c, t] = average_precision(tp[t, mine], n)
    per_threshold = ap.mean(axis=0) if len(classes) else np.zeros(len(thresholds))
    keys = [f"map@{t:g}" for t in thresholds]
    out: dict[str, Any] = {"map": float(per_threshold.mean())}
    out.update({k: float(v) for k, v in zip(keys, per_threshold)})
    out["per_class_ap"] = {
        int(cls): {"map": float(row.mean()), **{k: float(v) for k, v in zip(keys, row)}}
        for cls, row in zip(classes.tolist(), ap)
    }
    out.update(
        thresholds=thresholds,
        num_classes=len(classes),
        num_videos=len(ground_truth),
        num_ground_truth=len(gt),
        num_predictions=len(pred),
        num_ignored_predictions=sum(len(x) for v, x in predictions.items() if v not in index),
    )
    return out
