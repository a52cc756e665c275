"""``bench score GT.pkl PRED.pkl``: score a predictions pickle with a registered metric (official F1 by default).

PRED may also be a run's ``segments.json`` (the decoder's segments with their scores), which ranking metrics
such as ``tal-map`` need: the challenge's pickle holds ``[class, start_ms, end_ms]`` only.
"""

from __future__ import annotations

import json
import math
from typing import Any

import click


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if math.isfinite(value) else str(value)
    return str(value)


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(h).rjust(w) for h, w in zip(header, widths))]
    lines += ["  ".join(str(c).rjust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(lines)


def _counts_rows(blocks: dict) -> list[list[str]]:
    return [
        [str(k), _fmt(b["f1"]), _fmt(b["precision"]), _fmt(b["recall"]), str(b["tp"]), str(b["fp"]), str(b["fn"])]
        for k, b in blocks.items()
    ]


def render(result: dict[str, Any], metric: str, gt_path: str, pred_path: str, per_class: bool = False) -> str:
    """The human-readable report of one metric result."""
    lines = [f"{metric}: {pred_path} against {gt_path}"]
    if "num_videos" in result:
        lines.append(
            f"  {result['num_videos']} videos, {result.get('num_ground_truth', '?')} signs, "
            f"{result.get('num_predictions', '?')} predictions"
            + (
                f" ({result['num_ignored_predictions']} more ignored: videos not in the ground truth)"
                if result.get("num_ignored_predictions")
                else ""
            )
        )
    for key in ("f1", "precision", "recall"):
        if key in result:
            lines.append(f"  {key:<10} {_fmt(result[key])}")
    if all(k in result for k in ("tp", "fp", "fn")):
        n = len(result.get("thresholds", ())) or "all"
        lines.append(
            f"  TP {result['tp']}  FP {result['fp']}  FN {result['fn']}  (pooled over videos and {n} IoU thresholds)"
        )
    extra = {
        k: v
        for k, v in result.items()
        if isinstance(v, (int, float))
        and not k.startswith(("f1_iou_", "num_"))
        and k not in ("f1", "precision", "recall", "tp", "fp", "fn")
    }
    lines += [f"  {k:<10} {_fmt(v)}" for k, v in extra.items()]
    if isinstance(result.get("note"), str):
        lines.append(f"  note: {result['note']}")
    header = ["", "F1", "precision", "recall", "TP", "FP", "FN"]
    if isinstance(result.get("per_threshold"), dict) and result["per_threshold"]:
        lines += ["", _table(_counts_rows(result["per_threshold"]), ["IoU", *header[1:]])]
    if per_class and isinstance(result.get("per_class"), dict):
        lines += ["", _table(_counts_rows(result["per_class"]), ["class", *header[1:]])]
    if per_class and isinstance(result.get("per_class_ap"), dict) and result["per_class_ap"]:
        blocks = result["per_class_ap"]
        keys = list(next(iter(blocks.values())))
        rows = [[str(c), *(_fmt(b[k]) for k in keys)] for c, b in blocks.items()]
        lines += ["", _table(rows, ["class", *keys])]
    return "\n".join(lines)


def load_ground_truth(path: str, num_classes: int) -> dict:
    """The ground truth, with the checks ``bench run`` applies (integer times, 0 <= start <= end, class ids in
    range, no overlaps): every problem named, and the file refused when there is one."""
    from pathlib import Path

    from benchmark.datasets.records import Findings, load_pickle_gt
    from benchmark.errors import DataError

    if not Path(path).is_file():
        raise DataError(f"{path}: file not found")
    findings = Findings()
    gt = load_pickle_gt(Path(path), num_classes, findings)
    if findings.problems:
        shown = findings.problems[:10]
        more = f"\n  ... and {len(findings.problems) - 10} more" if len(findings.problems) > 10 else ""
        raise DataError(f"ground truth {path} has {len(findings.problems)} problem(s):\n  " + "\n  ".join(shown) + more)
    return {video: [list(a) for a in anns] for video, anns in gt.items()}


def load_predictions(path: str):
    """A predictions pickle (restricted loader), or a ``.json`` of ``{video_id: [[class, start_ms, end_ms,
    score], ...]}`` (the metrics validate the rows)."""
    from benchmark.errors import DataError
    from benchmark.storage.safe_pickle import load_annotations

    if not path.endswith(".json"):
        return load_annotations(path)
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable JSON file ({exc})") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected {{video_id: [[class, start_ms, end_ms, score], ...]}}")
    return data


@click.command("score")
@click.argument("gt_path", metavar="GT.pkl", type=click.Path(dir_okay=False))
@click.argument("pred_path", metavar="PRED.pkl|segments.json", type=click.Path(dir_okay=False))
@click.option(
    "--metric",
    "metric_name",
    default="chalearn-f1",
    show_default=True,
    help="A registered metric (`bench list` shows them), e.g. chalearn-f1-strict.",
)
@click.option(
    "--num-classes",
    type=click.IntRange(min=1),
    default=60,
    show_default=True,
    help="Class ids in the ground truth must be 0..N-1 (MSSL: 60).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the whole result as JSON (same keys).")
@click.option("--per-class", is_flag=True, help="Also print the per-class table.")
def score(gt_path, pred_path, metric_name, num_classes, as_json, per_class):
    """Score PRED.pkl against GT.pkl ({video_id: [[class, start_ms, end_ms], ...]} pickles).

    Pickles are read with a restricted unpickler that never runs code from the file.  PRED may instead be a
    run's segments.json (segments with the decoder's scores, for --metric tal-map).  The default metric is
    the official ChaLearn 2022 F1: TP/FP/FN pooled over every video and the 13 IoU thresholds 0.20..0.80.
    """
    from benchmark.errors import BenchError
    from benchmark.plugins import get_plugin_manager
    from benchmark.storage.jsonable import jsonable

    try:
        metric = get_plugin_manager().components("metric").get(metric_name)
        gt = load_ground_truth(gt_path, num_classes)
        pred = load_predictions(pred_path)
        result = metric.compute(gt, pred)
    except BenchError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(jsonable(result), indent=2, ensure_ascii=False))
    else:
        click.echo(render(result, metric_name, gt_path, pred_path, per_class=per_class))
