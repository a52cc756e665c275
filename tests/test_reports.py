"""The figures and the per-class table a run writes (benchmark.reports), and the score stage that writes them."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from benchmark.metrics.chalearn import score as chalearn_score
from benchmark.reports.figures import class_colors, f1_by_iou_figure, per_class_f1_figure
from benchmark.reports.tables import per_class_table
from benchmark.reports.timelines import mark, timeline_plot

NAMES = ["hola", "casa", "perro", "gato"]
GT = {
    "a": [[0, 0, 400], [1, 1000, 1400], [2, 2000, 2400]],
    "b": [[1, 200, 600], [3, 5000, 5400]],
}
PRED = {
    "a": [[0, 0, 400], [2, 1000, 1400], [2, 2100, 2700]],  # hola found; casa missed (wrong class); perro IoU 0.43
    "b": [[1, 200, 600], [3, 9000, 9400]],  # casa found; gato missed, its prediction a false positive
}


def colours_in(path) -> int:
    """How many distinct colours a PNG has (a blank or one-colour image has one or two)."""
    from matplotlib.image import imread

    img = imread(path)
    return len(np.unique((img[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0))


def test_per_class_table_counts_at_iou_half_and_pooled_match_the_scorer():
    rows = per_class_table(GT, PRED, NAMES)
    assert [r["name"] for r in rows] == NAMES
    by = {r["name"]: r for r in rows}
    assert (by["hola"]["tp_iou_0.50"], by["hola"]["fp_iou_0.50"], by["hola"]["fn_iou_0.50"]) == (1, 0, 0)
    assert (by["casa"]["ground_truth"], by["casa"]["tp_iou_0.50"], by["casa"]["fn_iou_0.50"]) == (2, 1, 1)
    assert (by["perro"]["predicted"], by["perro"]["tp_iou_0.50"], by["perro"]["fp_iou_0.50"]) == (2, 0, 2)
    assert by["gato"]["f1_iou_0.50"] == 0.0 and by["hola"]["f1_iou_0.50"] == 1.0
    result = chalearn_score(GT, PRED)
    at_half = result["per_threshold"]["0.50"]
    for k in ("tp", "fp", "fn"):  # the rows add up to the run's numbers, at IoU 0.5 and pooled over 13
        assert sum(r[f"{k}_iou_0.50"] for r in rows) == at_half[k]
        assert sum(r[k] for r in rows) == result[k]
    assert by["perro"]["tp"] == result["per_class"][2]["tp"] > 0  # found at the low thresholds only
    assert all(r["thresholds"] == 13 for r in rows)


def test_timeline_marks_found_missed_and_false_positives():
    found, matched = mark(GT["a"], PRED["a"])
    assert found == [True, False, False] and matched == [True, False, False]
    found, matched = mark(GT["a"], PRED["a"], threshold=0.4)
    assert found == [True, False, True] and matched == [True, False, True]
    found, matched = mark(GT["b"], PRED["b"])
    assert found == [True, False] and matched == [True, False]


def test_timeline_plot_spans_the_video_with_a_colour_per_class(tmp_path):
    path = timeline_plot("b", GT["b"], PRED["b"], NAMES, tmp_path / "timelines" / "b.png", duration_ms=60_000)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and colours_in(path) > 20
    wide = timeline_plot("b", GT["b"], PRED["b"], NAMES, tmp_path / "wide.png", duration_ms=240_000)
    from matplotlib.image import imread

    assert imread(wide).shape[1] > imread(path).shape[1]  # the full length, not the last sign, sets the width
    assert sorted(p.name for p in path.parent.iterdir()) == ["b.png"]  # written atomically


def test_class_colours_are_distinct_within_a_figure():
    for n in (3, 12, 60):
        colours = class_colors(range(100, 100 + n))
        assert len(set(colours.values())) == n


def test_f1_by_iou_and_per_class_figures(tmp_path):
    from benchmark.metrics.chalearn import score_strict

    scores = {"chalearn-f1": chalearn_score(GT, PRED), "chalearn-f1-strict": score_strict(GT, PRED), "x": {"f": 1}}
    curve = f1_by_iou_figure(scores, tmp_path / "f1_by_iou.png", primary="chalearn-f1")
    bars = per_class_f1_figure(per_class_table(GT, PRED, NAMES), tmp_path / "per_class_f1.png")
    for path in (curve, bars):
        assert path.stat().st_size > 5000 and colours_in(path) > 20
    empty = f1_by_iou_figure({}, tmp_path / "empty.png")  # nothing to draw: still a figure that says so
    assert empty.is_file()


@pytest.fixture
def scored_run(tmp_path):
    """The score stage run on its own: real metrics, real files, the stage's notifications recorded."""
    from benchmark.interfaces import VideoRecord
    from benchmark.metrics.plugin import METRIC_CLASSES
    from benchmark.stages.base import Stages
    from benchmark.stages.handoffs import Predictions, RunData
    from benchmark.stages.score import score
    from benchmark.storage.cache import StageCache
    from benchmark.storage.safe_pickle import dump_annotations

    metrics = {cls.name: cls() for cls in METRIC_CLASSES}
    videos = tuple(VideoRecord(v, "test", annotations=tuple(map(tuple, segs))) for v, segs in GT.items())
    data = RunData(
        "synthetic", None, "f", tuple(NAMES), {"train": videos, "test": videos}, "test", None, {"a": 750, "b": 1500}
    )
    (tmp_path / "pred").mkdir()
    dump_annotations(PRED, tmp_path / "pred" / "predictions.pkl")
    events = []
    out = tmp_path / "run"
    stages = Stages(
        StageCache(tmp_path / "cache"),
        lambda kind: metrics,
        lambda hook, run, **kw: events.append((hook, kw)),
        SimpleNamespace(output_dir=out),
        progress=False,
        echo=lambda m: None,
    )
    config = {"metrics": ["chalearn-f1", "chalearn-f1-strict"]}
    summary = score(stages, data, Predictions("k", tmp_path / "pred", "test"), config)
    return summary, events, out


def test_score_stage_leaves_the_final_metrics_to_the_run(scored_run):
    summary, events, _ = scored_run
    (result,) = [kw["result"] for hook, kw in events if hook == "stage_finished"]
    assert result.name == "score" and result.metrics == {}  # `metrics.f1 > x` finds runs, not score stages
    assert summary.metrics["f1"] == chalearn_score(GT, PRED)["f1"] and "chalearn-f1-strict.f1" in summary.metrics


def test_score_stage_writes_the_table_and_the_figures(scored_run):
    summary, _, out = scored_run
    names = {p.relative_to(out).as_posix() for p in summary.artifacts}
    assert {"per_class.json", "f1_by_iou.png", "per_class_f1.png", "timelines/a.png", "timelines/b.png"} <= names
    rows = json.loads((out / "per_class.json").read_text())
    assert rows == json.loads(json.dumps(per_class_table(GT, PRED, NAMES)))
    from benchmark.tracking.values import table_columns

    assert table_columns(out / "per_class.json")["name"] == NAMES  # the tracker logs it as an MLflow table
    assert table_columns(out / "scores.json") is None
