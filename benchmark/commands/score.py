"""``bench score GT.pkl PRED.pkl``: score a predictions pickle with a registered metric (official F1 by default).

PRED may also be a run's ``segments.json`` (the decoder's segments with their scores), which ranking metrics
such as ``tal-map`` need: the challenge's pickle holds ``[class, start_ms, end_ms]`` only.

``bench score HUMAN_DIR SPOTTED_DIR``: two folders of ELAN files, the human-annotated ones against the spotted
ones (``bench spot`` output), read by :mod:`benchmark.metrics.elan_pairs`; with one class the segmentation
figures of :mod:`benchmark.metrics.segmentation` too.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import click

from benchmark.datasets.elan.glosses import NO_LETTER, VARIANTS

# ELAN mode's options (parameter names) and their flags: refused with two files
ELAN_OPTIONS = {
    "tier": "--tier",
    "against": "--against",
    "labels": "--labels",
    "variants": "--variants",
    "variant_marker": "--variant-marker",
    "exclude": "--exclude",
    "fps": "--fps",
    "with_segmentation": "--segmentation",
}


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


def _named(blocks: Any, classes: list[str]) -> Any:
    """Per-class blocks keyed by class name instead of class id (ELAN mode: the ids are positions in ``classes``)."""
    if not isinstance(blocks, dict):
        return blocks
    return {classes[k] if isinstance(k, int) and 0 <= k < len(classes) else k: v for k, v in blocks.items()}


def render_segmentation(seg: dict[str, Any], merged: bool) -> list[str]:
    """The segmentation figures, as lines."""
    what = "every class merged into one" if merged else "one class"
    lines = [f"segmentation ({what}; frames at {seg['fps']:g} fps):"]
    lines.append(f"  segment_iou  {_fmt(seg['segment_iou'])}  (sign frames, pooled over files)")
    for k in (1, 2):
        lines.append(
            f"  boundary_f1_{k}  {_fmt(seg[f'boundary_f1_{k}'])}  (precision {_fmt(seg[f'boundary_precision_{k}'])},"
            f" recall {_fmt(seg[f'boundary_recall_{k}'])}; starts and ends within +-{k} frame(s))"
        )
    lines.append(f"  segments: {seg['segments_human']} human, {seg['segments_spotted']} spotted")
    return lines


def render_elan(result: dict[str, Any], metric: str, human: str, spotted: str, per_class: bool = False) -> str:
    """The report of ELAN mode: the metric's (classes by name), the per-file table and the segmentation figures."""
    classes = result.get("classes") or []
    shown = {**result, "per_class": _named(result.get("per_class"), classes)}
    if "per_class_ap" in result:
        shown["per_class_ap"] = _named(result["per_class_ap"], classes)
    lines = render(shown, metric, human, spotted, per_class=per_class).split("\n")
    at = 2 if "num_videos" in result else 1  # under the counts line
    lines.insert(
        at,
        f"  {len(classes)} class(es); {result.get('num_spotted_not_a_class', 0)} spotted value(s) not a class,"
        f" {result.get('num_spotted_in_ignored_spans', 0)} in ignored spans (left out)",
    )
    rows = [
        [
            r["file"],
            str(r["human"]),
            str(r["spotted"]),
            *(_fmt(r[k]) if r[k] is not None else "-" for k in ("tp", "fp", "fn", "f1")),
        ]
        for r in result.get("per_file", [])
    ]
    if rows:
        lines += ["", _table(rows, ["file", "human signs", "spotted", "TP", "FP", "FN", "F1"])]
    if isinstance(result.get("segmentation"), dict):
        lines += ["", *render_segmentation(result["segmentation"], len(classes) != 1)]
    return "\n".join(lines)


@click.command("score")
@click.argument("gt_path", metavar="GT.pkl|HUMAN_DIR", type=click.Path())
@click.argument("pred_path", metavar="PRED.pkl|segments.json|SPOTTED_DIR", type=click.Path())
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
    help="Class ids in the ground truth must be 0..N-1 (MSSL: 60).  Pickles only.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the whole result as JSON (same keys).")
@click.option("--per-class", is_flag=True, help="Also print the per-class table.")
@click.option(
    "--tier",
    default=None,
    help="Folders: the human gloss tier, a name or fnmatch pattern (as the elan dataset's tier setting).  "
    "[default: each file's only tier]",
)
@click.option("--against", default="spotted", show_default=True, help="Folders: the spotted tier's name.")
@click.option(
    "--labels",
    default=None,
    help="Folders: a labels file (one gloss a line, line i = class i), or `sign`: one class SIGN, every "
    "annotation of both tiers whatever its gloss (./sign for a file named sign).  [default: every gloss of "
    "either tier, sorted: the F1 then also counts human glosses the model could never know]",
)
@click.option(
    "--variants",
    type=click.Choice(VARIANTS),
    default="merge",
    show_default=True,
    help="Folders: what *X means in the human tier, as the elan dataset's setting.",
)
@click.option("--variant-marker", default="*", show_default=True, help="Folders: the variant marker ('' = none).")
@click.option(
    "--exclude",
    default=NO_LETTER,
    show_default=True,
    help="Folders: values this regex matches are never a class (default: values without a letter).",
)
@click.option(
    "--fps",
    type=click.FloatRange(min=0, min_open=True),
    default=25.0,
    show_default=True,
    help="Folders: the frame rate of the segmentation figures (the pipeline's default preprocess.fps).",
)
@click.option(
    "--segmentation",
    "with_segmentation",
    is_flag=True,
    help="Folders: the segmentation figures with several classes too (every class merged into one).",
)
@click.pass_context
def score(ctx, gt_path, pred_path, metric_name, num_classes, as_json, per_class, **elan):
    """Score PRED.pkl against GT.pkl ({video_id: [[class, start_ms, end_ms], ...]} pickles), or the spotted
    ELAN files of SPOTTED_DIR against the human ones of HUMAN_DIR.

    Pickles are read with a restricted unpickler that never runs code from the file.  PRED may instead be a
    run's segments.json (segments with the decoder's scores, for --metric tal-map).  The default metric is
    the official ChaLearn 2022 F1: TP/FP/FN pooled over every video and the 13 IoU thresholds 0.20..0.80.

    \b
    Folders (ELAN against ELAN; e.g. `bench score corpus/ spotted/ --tier Gloss --labels labels.txt`):
    - .eaf files paired by file stem, at any depth; a human file without a spotted one counts (all misses),
      a spotted one without a human one is left out (both warned about);
    - the human tier is labelled as the elan dataset labels it (variants, variant marker, exclude), with
      overlapping signs kept; the spotted tier's values that are classes are the predictions (others left
      out, counted), minus those in ignored spans (--variants ignore), scored by tier <against>-score if any;
    - times are ELAN's milliseconds as written (never snapped to frames), as a run scores them: a run's own
      test videos spotted with `bench spot` give the run's F1;
    - a per-file table (TP/FP/FN pooled over the IoU thresholds; they add up to the totals), and with one
      class (--labels sign) the segmentation figures: frame IoU and boundary F1 within 1 and 2 frames.
    """
    from benchmark.errors import BenchError

    try:
        if Path(gt_path).is_dir() or Path(pred_path).is_dir():
            return _score_folders(gt_path, pred_path, metric_name, as_json, per_class, elan)
        given = [k for k in ELAN_OPTIONS if ctx.get_parameter_source(k) != click.core.ParameterSource.DEFAULT]
        if given:
            flags = ", ".join(ELAN_OPTIONS[k] for k in given)
            raise click.UsageError(f"{flags}: for folders of .eaf files only (GT and PRED here are files)")
        _score_files(gt_path, pred_path, metric_name, num_classes, as_json, per_class)
    except BenchError as exc:
        raise click.ClickException(str(exc)) from None


def _score_files(gt_path, pred_path, metric_name, num_classes, as_json, per_class) -> None:
    """Pickle mode, as it always was."""
    from benchmark.plugins import get_plugin_manager

    metric = get_plugin_manager().components("metric").get(metric_name)
    gt = load_ground_truth(gt_path, num_classes)
    pred = load_predictions(pred_path)
    result = metric.compute(gt, pred)
    _echo(result, as_json, lambda: render(result, metric_name, gt_path, pred_path, per_class=per_class))


def _score_folders(human, spotted, metric_name, as_json, per_class, elan: dict) -> None:
    """ELAN mode (:func:`benchmark.metrics.elan_pairs.score_elan_folders`); warnings on stderr."""
    from benchmark.metrics.elan_pairs import score_elan_folders

    if not (Path(human).is_dir() and Path(spotted).is_dir()):
        raise click.UsageError(
            f"{human if not Path(human).is_dir() else spotted}: not a folder; pass two folders of .eaf files"
            " (human, spotted) or two files (GT.pkl, PRED.pkl)"
        )
    result = score_elan_folders(
        human,
        spotted,
        elan["tier"],
        elan["against"],
        labels=elan["labels"],
        metric=metric_name,
        variants=elan["variants"],
        fps=elan["fps"],
        variant_marker=elan["variant_marker"],
        exclude=elan["exclude"],
        segmentation=elan["with_segmentation"],
    )
    for warning in result["warnings"]:
        click.echo(f"warning: {warning}", err=True)
    tier = "each file's only tier" if elan["tier"] is None else f"tier {elan['tier']!r}"
    human_shown, spotted_shown = f"{human} ({tier})", f"{spotted} (tier {elan['against']!r})"
    _echo(result, as_json, lambda: render_elan(result, metric_name, human_shown, spotted_shown, per_class))


def _echo(result, as_json: bool, text) -> None:
    from benchmark.storage.jsonable import jsonable

    if as_json:
        click.echo(json.dumps(jsonable(result), indent=2, ensure_ascii=False))
    else:
        click.echo(text())
