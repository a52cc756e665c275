"""Run-level figures: F1 against the IoU threshold, and F1 per class.

``f1_by_iou.png`` is the picture of what the pooled F1 averages: the 13 thresholds' F1 (with precision and
recall) of the primary metric, and the F1 of every other metric that reports per-threshold counts.
``per_class_f1.png`` shows which signs carry the score: a bar per class, pooled F1 and F1 at IoU 0.5.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from benchmark.storage.files import atomic_write


def class_colors(class_ids) -> dict[int, tuple]:
    """A colour per class of one figure, as far apart as the count allows.

    Assigned per figure (sorted ids), not fixed per class: with dozens of classes a fixed palette must reuse
    near-identical colours, while the few classes of one video or one legend can all be told apart.
    """
    from matplotlib import colormaps

    ids = sorted({int(c) for c in class_ids})
    n = len(ids)
    if n <= 10:
        colours = [colormaps["tab10"](i) for i in range(n)]
    elif n <= 20:  # tab20's strong shades first, then the light ones
        colours = [colormaps["tab20"](i) for i in [*range(0, 20, 2), *range(1, 20, 2)][:n]]
    else:  # golden-ratio steps round the hue circle, alternating brightness
        from matplotlib.colors import hsv_to_rgb

        colours = [(*hsv_to_rgb(((i * 0.618033988749895) % 1.0, 0.75, 0.95 if i % 2 else 0.7)), 1.0) for i in range(n)]
    return dict(zip(ids, colours))


def save(fig, path) -> Path:
    """Write ``fig`` as a PNG, atomically."""
    fig.tight_layout()
    with atomic_write(path) as f:
        fig.savefig(f, format="png")
    return Path(path)


def f1_by_iou_figure(scores: Mapping[str, Mapping], path, primary: str | None = None) -> Path:
    """F1 (and the primary metric's precision and recall) against the IoU threshold.

    :param scores: metric name -> its result; results with ``per_threshold`` ({"0.20": {f1, precision,
        recall, ...}}) are drawn, the others skipped
    :param primary: the metric drawn with precision and recall (default: the first one drawn)
    """
    from matplotlib.figure import Figure

    curves = {
        name: r["per_threshold"] for name, r in scores.items() if isinstance(r, Mapping) and r.get("per_threshold")
    }
    fig = Figure(figsize=(7.0, 4.2), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    primary = primary if primary in curves else next(iter(curves), None)
    for name, per in curves.items():
        keys = sorted(per, key=float)
        x = [float(k) for k in keys]
        if name == primary:
            pooled = scores[name].get("f1")
            label = f"{name} F1" + (f" (pooled {pooled:.3f})" if isinstance(pooled, (int, float)) else "")
            ax.plot(x, [per[k]["f1"] for k in keys], "o-", lw=2.2, color="tab:blue", label=label)
            ax.plot(x, [per[k]["precision"] for k in keys], "s--", lw=1, ms=4, color="tab:green", label="precision")
            ax.plot(x, [per[k]["recall"] for k in keys], "^--", lw=1, ms=4, color="tab:orange", label="recall")
            if isinstance(pooled, (int, float)):
                ax.axhline(pooled, color="tab:blue", lw=0.8, ls=":")
        else:
            ax.plot(x, [per[k]["f1"] for k in keys], "o:", lw=1.5, ms=4, label=f"{name} F1")
    ax.set_xlabel("IoU threshold")
    ax.set_ylabel("score")
    # the scorer's precision can pass 1: FP = predictions - TP is negative when one prediction finds two signs
    top = max([1.0] + [float(b[k]) for per in curves.values() for b in per.values() for k in ("f1", "precision")])
    ax.set_ylim(0.0, top + 0.02)
    ax.set_xlim(0.18, 0.82)
    ax.grid(alpha=0.3)
    ax.set_title("F1 against the IoU threshold")
    if curves:
        ax.legend(fontsize=8, loc="lower left")
    else:
        ax.text(0.5, 0.5, "no per-threshold scores", ha="center", va="center", transform=ax.transAxes)
    return save(fig, path)


def per_class_f1_figure(rows: Sequence[Mapping], path, title: str = "F1 per class") -> Path:
    """Horizontal bars, one per class with ground truth or predictions, best first: pooled F1 (bar) and F1 at
    IoU 0.5 (marker); the label carries the class's ground-truth count.  ``rows``: :func:`per_class_table`."""
    from matplotlib.figure import Figure

    from benchmark.reports.tables import suffix

    shown = [r for r in rows if r.get("ground_truth") or r.get("predicted")]
    shown.sort(key=lambda r: (-float(r["f1"]), -float(r.get("f1" + suffix(), 0.0)), r["class_id"]))
    n = max(len(shown), 1)
    fig = Figure(figsize=(7.5, 1.4 + 0.22 * n), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    y = list(range(len(shown)))[::-1]
    colours = class_colors(r["class_id"] for r in shown)
    ax.barh(y, [float(r["f1"]) for r in shown], color=[colours[r["class_id"]] for r in shown], label="F1 (13 IoU)")
    ax.plot([float(r.get("f1" + suffix(), 0.0)) for r in shown], y, "k|", ms=9, mew=2, label="F1 at IoU 0.5")
    ax.set_yticks(y)
    ax.set_yticklabels([f"{r['name']} ({r['ground_truth']})" for r in shown], fontsize=7)
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(-0.7, max(n - 0.3, 0.7))
    ax.set_xlabel("F1  (label: class (true signs))")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(title)
    if shown:
        ax.legend(fontsize=7, loc="lower right")
    else:
        ax.text(0.5, 0.5, "no signs", ha="center", va="center", transform=ax.transAxes)
    return save(fig, path)
