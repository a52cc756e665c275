"""One video's timeline: its true signs above, the predicted ones below, over the whole video.

Each sign is marked with what the scorer made of it at IoU 0.5: a true sign is *found* when a prediction of
its class overlaps it with IoU >= 0.5, else *missed*; a prediction that overlaps no true sign of its class
that well is a *false positive*.  (The scorer's overlap filter, which drops a prediction followed by an
overlapping one of the same class, is not applied to the marks: they are about single segments.)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from benchmark.reports import IOU
from benchmark.reports.figures import class_colors, save

MISS_EDGE = "#d62728"  # missed signs and false positives: red outline and hatching


def iou(a, b) -> float:
    """Temporal IoU of two ``[class, start_ms, end_ms]`` segments (0 when they do not overlap)."""
    inter = min(a[2], b[2]) - max(a[1], b[1])
    union = max(a[2], b[2]) - min(a[1], b[1])
    return inter / union if inter > 0 and union > 0 else 0.0


def mark(gt_segments, pred_segments, threshold: float = IOU) -> tuple[list[bool], list[bool]]:
    """``(found, matched)``: per true sign whether it is found, per prediction whether it hits a true sign."""
    found = [False] * len(gt_segments)
    matched = [False] * len(pred_segments)
    for i, g in enumerate(gt_segments):
        for j, p in enumerate(pred_segments):
            if int(p[0]) == int(g[0]) and iou(g, p) >= threshold:
                found[i] = matched[j] = True
    return found, matched


def timeline_plot(
    video_id: str,
    gt_segments,
    pred_segments,
    class_names: Sequence[str],
    path,
    duration_ms: int | None = None,
    threshold: float = IOU,
) -> Path:
    """A PNG of the video's true and predicted signs, a colour per class, misses and false positives marked.

    :param duration_ms: the video's length (frames x 40 ms); the x axis spans it even where no sign is
    """
    from matplotlib.figure import Figure

    gt = [[int(v) for v in s[:3]] for s in (gt_segments or [])]
    pred = [[int(v) for v in s[:3]] for s in (pred_segments or [])]
    found, matched = mark(gt, pred, threshold)
    end = max([s[2] for s in gt + pred] + [int(duration_ms or 0), 1000])
    fig = Figure(figsize=(max(8.0, min(40.0, end / 6000.0)), 2.8), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    colours = class_colors(s[0] for s in gt + pred)
    for segs, hits, y in ((gt, found, 1.0), (pred, matched, 0.0)):
        for (cid, s, e), hit in zip(segs, hits):
            ax.broken_barh(
                [(s / 1000.0, max(e - s + 40, 40) / 1000.0)],
                (y + 0.1, 0.8),
                facecolors=colours[cid],
                edgecolors="black" if hit else MISS_EDGE,
                linewidths=0.4 if hit else 1.6,
                hatch=None if hit else "///",
                alpha=1.0 if hit else 0.55,
            )
    ax.set_yticks([0.5, 1.5])
    ax.set_yticklabels(["predicted", "true"])
    ax.set_ylim(0, 2)
    ax.set_xlim(0, end / 1000.0)
    ax.set_xlabel("time (s)")
    n_found, n_fp = sum(found), len(pred) - sum(matched)
    ax.set_title(
        f"{video_id}: {len(gt)} true signs, {n_found} found, {len(gt) - n_found} missed; "
        f"{len(pred)} predicted, {n_fp} false positives (IoU {threshold:g})",
        fontsize=9,
    )
    ax.grid(axis="x", alpha=0.3)
    _legend(ax, colours, class_names)
    return save(fig, path)


def _legend(ax, colours: dict, class_names: Sequence[str]) -> None:
    """Beside the plot: the first 30 classes' colours, then what the outlines mean."""
    from matplotlib.patches import Patch

    def label(c):
        return f"{c}: {class_names[c]}" if 0 <= c < len(class_names) else str(c)

    handles = [Patch(facecolor=colours[c], edgecolor="black", label=label(c)) for c in sorted(colours)[:30]]
    handles += [
        Patch(facecolor="white", edgecolor="black", label="found / matched"),
        Patch(facecolor="white", edgecolor=MISS_EDGE, hatch="///", label="missed / false positive"),
    ]
    ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(1.005, 1.0),
        fontsize=7,
        frameon=False,
        ncol=1 + len(handles) // 16,
    )
