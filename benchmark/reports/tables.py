"""The per-class table: what a person reads to see which signs a run finds.

Two views of the same predictions, because they answer different questions: counts at IoU 0.5 (is the sign
found at all?) and counts pooled over the scorer's 13 thresholds (what the official F1 adds up; a sign found
at every threshold counts 13 times).  Both come from :func:`benchmark.metrics.chalearn.score`, with the
organisers' rules (overlap filter, FP = predictions - TP, which can be negative per class).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from benchmark.reports import IOU

POOLED = ("f1", "precision", "recall", "tp", "fp", "fn")


def at_iou(value: float = IOU) -> float:
    """The scorer's own threshold value named ``value`` (``0.5`` may be stored as ``0.49999...``), so counts at
    IoU 0.5 here match the run's ``f1_iou_0.50``."""
    from benchmark.metrics.chalearn import THRESHOLDS, threshold_key

    return next((float(t) for t in THRESHOLDS if threshold_key(t) == threshold_key(value)), float(value))


def suffix(value: float = IOU) -> str:
    """``_iou_0.50``: the column suffix of counts at one threshold (the run's metrics use the same form)."""
    return f"_iou_{value:.2f}"


def per_class_table(ground_truth: Mapping, predictions: Mapping, class_names: Sequence[str]) -> list[dict]:
    """One row per class (every class of ``class_names`` and any other id seen), sorted by class id.

    Columns: ``class_id, name, ground_truth, predicted``, then pooled ``f1, precision, recall, tp, fp, fn``
    then the same six at IoU 0.5
    (``f1_iou_0.50`` ... ``fn_iou_0.50``) and ``thresholds`` (how many the pooled counts sum over).
    """
    from benchmark.metrics.chalearn import THRESHOLDS, score

    pooled = score(ground_truth, predictions)["per_class"]
    single = score(ground_truth, predictions, thresholds=[at_iou()])["per_class"]
    empty = dict.fromkeys(POOLED, 0)
    n_gt: dict[int, int] = {}
    n_pred: dict[int, int] = {}
    for segs in ground_truth.values():
        for s in segs:
            n_gt[int(s[0])] = n_gt.get(int(s[0]), 0) + 1
    for video, segs in predictions.items():
        if video in ground_truth:
            for s in segs:
                n_pred[int(s[0])] = n_pred.get(int(s[0]), 0) + 1
    rows = []
    for cid in sorted(set(range(len(class_names))) | set(pooled) | set(n_gt) | set(n_pred)):
        row = {
            "class_id": int(cid),
            "name": class_names[cid] if 0 <= cid < len(class_names) else f"class {cid}",
            "ground_truth": n_gt.get(cid, 0),
            "predicted": n_pred.get(cid, 0),
        }
        row.update({k: (pooled.get(cid) or empty)[k] for k in POOLED})
        row.update({k + suffix(): (single.get(cid) or empty)[k] for k in POOLED})
        row["thresholds"] = len(THRESHOLDS)
        rows.append(row)
    return rows
