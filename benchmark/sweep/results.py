"""A sweep's results: one row per configuration over its seeds (mean +- std of F1), as text, TSV, JSON and a plot.

``std`` is the sample standard deviation (``ddof=1``; 0 for a single seed).  Failed trials are counted in
``failed`` and left out of the statistics; a configuration whose every trial failed has no mean.

``f1_ci`` is the 95 % interval of the configuration's F1 from a bootstrap over its seeds and its test videos
(:func:`benchmark.metrics.uncertainty.bootstrap_ci`), and ``tied`` marks the configurations that do not differ
significantly from the best one (paired over videos, and over seeds when both ran the same seeds: p >= 0.05):
the group a reader cannot rank.
"""

from __future__ import annotations

import math
from pathlib import Path

from benchmark.storage.files import atomic_write, write_json, write_text

COLUMNS = (
    "config",
    "n",
    "mean_f1",
    "f1_ci",
    "tied",
    "std_f1",
    "min_f1",
    "max_f1",
    "mean_val_f1",
    "mean_map",
    "mean_seconds",
    "failed",
)


def table(trials: list[dict]) -> list[dict]:
    """Rows sorted by mean F1 (best first; configurations without a finished trial last)."""
    groups: dict[str, list[dict]] = {}
    for t in trials:
        groups.setdefault(t["config"], []).append(t)
    rows = []
    for config, group in groups.items():
        ok = [t for t in group if t["status"] == "FINISHED" and t.get("f1") is not None]
        f1s = [float(t["f1"]) for t in ok]
        mean = sum(f1s) / len(f1s) if f1s else None
        std = math.sqrt(sum((x - mean) ** 2 for x in f1s) / (len(f1s) - 1)) if len(f1s) > 1 else (0.0 if f1s else None)
        seconds = [float(t["seconds"]) for t in ok if t.get("seconds") is not None]
        vals = [float(t["val_f1"]) for t in ok if t.get("val_f1") is not None]
        maps = [float(t["map"]) for t in ok if t.get("map") is not None]
        rows.append(
            {
                "config": config,
                "n": len(f1s),
                "mean_f1": mean,
                "std_f1": std,
                "min_f1": min(f1s) if f1s else None,
                "max_f1": max(f1s) if f1s else None,
                "mean_seconds": sum(seconds) / len(seconds) if seconds else None,
                "failed": len(group) - len(ok),
                "seeds": [t["seed"] for t in ok],
                "f1s": f1s,
                "mean_val_f1": sum(vals) / len(vals) if vals else None,
                "mean_map": sum(maps) / len(maps) if maps else None,
            }
        )
    rows.sort(key=lambda r: (r["mean_f1"] is None, -(r["mean_f1"] or 0.0)))
    add_intervals(rows, groups)
    return rows


def add_intervals(rows: list[dict], groups: dict[str, list[dict]]) -> None:
    """``f1_ci`` per configuration and ``tied`` (not significantly different from the best row), from the
    trials' per-video counts; None where a configuration's trials did not all bring counts on the same videos."""
    from benchmark.metrics.uncertainty import bootstrap_ci, paired_by_seed, paired_difference

    stacks = {r["config"]: _stack(groups[r["config"]]) for r in rows}
    best = next((r for r in rows if stacks[r["config"]] is not None), None)
    for row in rows:
        counts = stacks[row["config"]]
        row["f1_ci"] = bootstrap_ci(counts[1]) if counts is not None else None
        row["tied"] = None
        if counts is None or best is None or counts[0] != stacks[best["config"]][0]:
            continue
        if row is best:
            row["tied"] = True
            continue
        a, b = stacks[best["config"]], counts
        row["tied"] = paired_difference(*paired_by_seed(a[1], a[2], b[1], b[2]))["p_value"] >= 0.05


def _stack(trials: list[dict]):
    """``(videos, counts [seeds, videos, 3], seeds)`` of a configuration's finished trials, or None."""
    import numpy as np

    ok = [t for t in trials if t["status"] == "FINISHED" and t.get("counts")]
    if not ok or len(ok) != sum(t["status"] == "FINISHED" for t in trials):
        return None
    videos = sorted(ok[0]["counts"])
    if any(sorted(t["counts"]) != videos for t in ok):
        return None
    counts = np.asarray([[t["counts"][v] for v in videos] for t in ok], dtype=np.int64)
    return videos, counts, [t["seed"] for t in ok]


def _cell(key: str, value) -> str:
    if value is None:
        return "-"
    if key in ("mean_f1", "std_f1", "min_f1", "max_f1", "mean_val_f1", "mean_map"):
        return f"{value:.4f}"
    if key == "f1_ci":
        return f"[{value[0]:.3f}, {value[1]:.3f}]"
    if key == "tied":
        return "=" if value else ""
    if key == "mean_seconds":
        return f"{value:.1f}"
    return str(value)


def format_table(rows: list[dict]) -> str:
    heads = {
        "config": "configuration",
        "n": "seeds",
        "mean_f1": "mean F1",
        "f1_ci": "95 % CI",
        "tied": "~best",
        "std_f1": "std",
        "min_f1": "min",
        "max_f1": "max",
        "mean_val_f1": "val F1",
        "mean_map": "tal-map",
        "mean_seconds": "mean s",
        "failed": "failed",
    }
    cells = [[_cell(k, r[k]) for k in COLUMNS] for r in rows]
    widths = [max([len(heads[k])] + [len(c[i]) for c in cells]) for i, k in enumerate(COLUMNS)]

    def line(values):
        return "  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(values, widths)))

    return "\n".join([line([heads[k] for k in COLUMNS]), line(["-" * w for w in widths])] + [line(c) for c in cells])


def write_results(folder: Path, rows: list[dict], trials: list[dict], meta: dict) -> list[Path]:
    """``sweep_results.tsv`` (the table), ``sweep_results.json`` (table, trials and the sweep), ``sweep_f1.png``."""
    folder.mkdir(parents=True, exist_ok=True)
    tsv = "\t".join(COLUMNS) + "\n" + "".join("\t".join(_cell(k, r[k]) for k in COLUMNS) + "\n" for r in rows)
    paths = [
        write_text(folder / "sweep_results.tsv", tsv),
        write_json(folder / "sweep_results.json", {**meta, "table": rows, "trials": trials}),
    ]
    paths.append(plot(rows, folder / "sweep_f1.png", meta.get("name", "")))
    return paths


def plot(rows: list[dict], path: Path, title: str = "") -> Path:
    """F1 per configuration: the mean with std error bars, and every seed's F1 as a point."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(max(6.0, 1.1 * len(rows) + 2), 4.2), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    for i, row in enumerate(rows):
        if row["mean_f1"] is not None:
            ax.errorbar(
                [i],
                [row["mean_f1"]],
                yerr=[row["std_f1"] or 0.0],
                fmt="o",
                color="black",
                capsize=6,
                markersize=8,
                zorder=3,
                label="mean +- std" if i == 0 else None,
            )
        ax.scatter(
            [i + 0.12] * len(row["f1s"]),
            row["f1s"],
            color="tab:blue",
            alpha=0.7,
            s=18,
            zorder=2,
            label="seeds" if i == 0 else None,
        )
        if row["failed"]:
            ax.annotate(f"{row['failed']} failed", (i, 0.02), ha="center", color="tab:red", fontsize=8)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([r["config"] for r in rows], rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("F1 (ChaLearn, pooled over IoU 0.2..0.8)")
    ax.set_ylim(0, max([1e-3] + [max(r["f1s"]) for r in rows if r["f1s"]]) * 1.15)
    ax.set_title(f"sweep {title}" if title else "sweep")
    ax.grid(axis="y", alpha=0.3)
    if rows:
        ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    with atomic_write(path) as f:
        fig.savefig(f, format="png")
    return path
