"""Challenge outputs: the predictions pickle, a per-class report and per-video timeline plots."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from benchmark.files import atomic_write


def write_predictions(predictions: Mapping, path) -> Path:
    """Write ``{video_id: [[class_id, start_ms, end_ms], ...]}`` as a plain pickle (ints and lists only,
    atomic), the format ``bench score`` and the organisers' scorer read."""
    from benchmark.safe_pickle import dump_annotations

    return dump_annotations(predictions, path)


def per_class_report(ground_truth: Mapping, predictions: Mapping, class_names: Sequence[str]) -> list[dict]:
    """One row per class (official ChaLearn rules, TP/FP/FN pooled over the 13 IoU thresholds):
    ``class_id, name, ground_truth, predicted, tp, fp, fn, precision, recall, f1``; sorted by class id."""
    from benchmark.metrics.chalearn import THRESHOLDS, score

    result = score(ground_truth, predictions)
    per_class = result["per_class"]
    n_thr = len(THRESHOLDS)
    rows = []
    for cid in sorted(set(range(len(class_names))) | set(per_class)):
        block = per_class.get(cid, {"tp": 0, "fp": 0, "fn": 0, "precision": 0.0, "recall": 0.0, "f1": 0.0})
        n_gt = sum(1 for segs in ground_truth.values() for s in segs if int(s[0]) == cid)
        n_pred = sum(1 for v, segs in predictions.items() if v in ground_truth for s in segs if int(s[0]) == cid)
        rows.append(
            {
                "class_id": int(cid),
                "name": class_names[cid] if 0 <= cid < len(class_names) else f"class {cid}",
                "ground_truth": n_gt,
                "predicted": n_pred,
                "tp": block["tp"],
                "fp": block["fp"],
                "fn": block["fn"],
                "precision": block["precision"],
                "recall": block["recall"],
                "f1": block["f1"],
                "thresholds": n_thr,
            }
        )
    return rows


def class_color(class_id: int):
    """A fixed colour per class (tab20, then hsv for more than 20 classes)."""
    from matplotlib import colormaps

    if class_id < 20:
        return colormaps["tab20"](class_id)
    return colormaps["hsv"]((class_id * 0.618033988749895) % 1.0)


def timeline_plot(
    video_id: str, gt_segments, pred_segments, class_names: Sequence[str], path, duration_ms: int | None = None
) -> Path:
    """A PNG with the true signs on the top row and the predicted ones below, one colour per class."""
    # the object API renders PNGs with the Agg canvas and never touches pyplot's global backend
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    gt_segments = [list(map(int, s)) for s in (gt_segments or [])]
    pred_segments = [list(map(int, s)) for s in (pred_segments or [])]
    end = max([s[2] for s in gt_segments + pred_segments] + [int(duration_ms or 0), 1000])
    fig = Figure(figsize=(max(8.0, min(40.0, end / 6000.0)), 2.6), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    rows = (("true", gt_segments, 1.0), ("predicted", pred_segments, 0.0))
    used = set()
    for _, segs, y in rows:
        for cid, s, e in segs:
            used.add(cid)
            ax.broken_barh(
                [(s / 1000.0, max(e - s + 40, 40) / 1000.0)],
                (y + 0.1, 0.8),
                facecolors=class_color(cid),
                edgecolors="black",
                linewidths=0.3,
            )
    ax.set_yticks([0.5, 1.5])
    ax.set_yticklabels(["predicted", "true"])
    ax.set_ylim(0, 2)
    ax.set_xlim(0, end / 1000.0)
    ax.set_xlabel("time (s)")
    ax.set_title(f"{video_id}: {len(gt_segments)} true, {len(pred_segments)} predicted")
    ax.grid(axis="x", alpha=0.3)
    if used:

        def label(c):
            return f"{c}: {class_names[c]}" if 0 <= c < len(class_names) else str(c)

        handles = [Patch(facecolor=class_color(c), label=label(c)) for c in sorted(used)[:30]]
        ax.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=(1.005, 1.0),
            fontsize=7,
            frameon=False,
            ncol=1 + len(handles) // 15,
        )
    fig.tight_layout()
    with atomic_write(path) as f:
        fig.savefig(f, format="png")
    return Path(path)
