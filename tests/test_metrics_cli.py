"""`bench score` and the metric plugin, through the real `bench` group and plugin manager."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys

import pytest
from click.testing import CliRunner

from benchmark.commands.main import cli
from benchmark.interfaces import Metric
from benchmark.plugins import get_plugin_manager
from benchmark.storage.safe_pickle import dump_annotations

GT = {"a": [[1, 0, 400], [2, 1000, 1400]], "b": [[3, 0, 400], [3, 400, 800]]}
# a: sign 1 found exactly, sign 2 missed; b: one prediction spanning both signs (IoU 0.5 with each)
PRED = {"a": [[1, 0, 400]], "b": [[3, 0, 800]], "zzz": [[1, 0, 40]]}
# per threshold: a -> TP 1, FP 0, FN 1 (all 13); b -> TP 2, FP -1, FN 0 (7 thresholds <= 0.5), else TP 0 FP 1 FN 2
# TP = 13 + 14 = 27, FP = 0 + (-7 + 6) = -1, FN = 13 + 12 = 25
TP, FP, FN = 27, -1, 25
P, R = TP / (TP + FP), TP / (TP + FN)
F1 = (2 * (P * R)) / (P + R)


@pytest.fixture()
def files(tmp_path):
    gt, pred = tmp_path / "gt.pkl", tmp_path / "pred.pkl"
    dump_annotations(GT, gt)
    dump_annotations(PRED, pred)
    return str(gt), str(pred)


def test_plugin_registers_the_metrics():
    metrics = get_plugin_manager().components("metric")
    for name in ("chalearn-f1", "chalearn-f1-strict", "tal-map"):
        assert name in metrics
        metric = metrics.get(name)
        assert isinstance(metric, Metric) and metric.name == name
    r = metrics.get("chalearn-f1").compute(GT, PRED)
    assert (r["tp"], r["fp"], r["fn"], r["f1"]) == (TP, FP, FN, F1)


def test_plugin_module_is_cheap_to_import():
    code = "import sys, benchmark.metrics.plugin, benchmark.metrics; print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_score_text(files):
    result = CliRunner().invoke(cli, ["score", *files])
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"{F1:.4f}" in out and f"TP {TP}  FP {FP}  FN {FN}" in out
    assert "1 more ignored" in out  # video zzz is not in the ground truth
    lines = [line.split() for line in out.splitlines()]
    row = next(line for line in lines if line and line[0] == "0.50")  # per-threshold table
    assert row[4:] == ["3", "-1", "1"]
    assert not any(line and line[0] == "class" for line in lines)


def test_score_per_class(files):
    result = CliRunner().invoke(cli, ["score", *files, "--per-class"])
    assert result.exit_code == 0, result.output
    lines = [line.split() for line in result.output.splitlines()]
    assert any(line and line[0] == "class" for line in lines)
    row2 = next(line for line in lines if line and line[0] == "2" and len(line) == 7)
    assert row2[4:] == ["0", "0", "13"]


def test_score_json(files):
    result = CliRunner().invoke(cli, ["score", *files, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["tp"], data["fp"], data["fn"], data["f1"]) == (TP, FP, FN, F1)
    assert data["f1_iou_0.50"] == data["per_threshold"]["0.50"]["f1"]
    assert set(data["per_class"]) == {"1", "2", "3"}
    assert len(data["thresholds"]) == 13


def test_score_strict_metric(files):
    result = CliRunner().invoke(cli, ["score", *files, "--metric", "chalearn-f1-strict", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    # b's prediction matches one sign only: TP 13 + 7, FP 0 + 6, FN 13 + 19
    assert (data["tp"], data["fp"], data["fn"]) == (20, 6, 32)


def test_scored_segments_json(files, tmp_path):
    """A run's segments.json (scored segments): the F1 ignores the scores, tal-map ranks by them."""
    scored = tmp_path / "segments.json"
    scored.write_text(json.dumps({v: [[*row, 0.5] for row in rows] for v, rows in PRED.items()}))
    result = CliRunner().invoke(cli, ["score", files[0], str(scored), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["tp"], data["fp"], data["fn"], data["f1"]) == (TP, FP, FN, F1)
    result = CliRunner().invoke(cli, ["score", files[0], str(scored), "--metric", "tal-map", "--per-class"])
    assert result.exit_code == 0, result.output
    lines = [line.split() for line in result.output.splitlines()]
    # class 1 AP 1; class 2 AP 0; class 3: one sign of two found (tIoU 0.5) -> AP 1/2 at 0.3 .. 0.5, else 0
    assert ["map@0.5", "0.5000"] in lines and ["map@0.6", f"{1 / 3:.4f}"] in lines
    assert ["map", f"{(3 * 0.5 + 2 / 3) / 5:.4f}"] in lines
    assert any(line and line[0] == "class" and "map@0.5" in line for line in lines)
    # the challenge's pickle has no scores: a note, not a crash
    result = CliRunner().invoke(cli, ["score", *files, "--metric", "tal-map"])
    assert result.exit_code == 0, result.output
    assert "note: decoder gave no scores: tal-map needs scored segments" in result.output


def test_unreadable_segments_json(files, tmp_path):
    bad = tmp_path / "segments.json"
    bad.write_text("{not json")
    result = CliRunner().invoke(cli, ["score", files[0], str(bad)])
    assert result.exit_code == 1 and "segments.json: not a readable JSON file" in result.output
    bad.write_text("[1, 2]")
    result = CliRunner().invoke(cli, ["score", files[0], str(bad)])
    assert result.exit_code == 1 and "expected {video_id: [[class, start_ms, end_ms, score], ...]}" in result.output
    result = CliRunner().invoke(cli, ["score", files[0], str(tmp_path / "missing.json")])
    assert result.exit_code == 1 and "missing.json: file not found" in result.output
    bad.write_text(json.dumps({"a": [[1, 400, 0, 0.5]]}))
    result = CliRunner().invoke(cli, ["score", files[0], str(bad), "--metric", "tal-map"])
    assert result.exit_code == 1 and "video 'a', item 0: end_ms 0 is before start_ms 400" in result.output


def test_unknown_metric(files):
    result = CliRunner().invoke(cli, ["score", *files, "--metric", "chalearn-f2"])
    assert result.exit_code == 1
    assert "unknown metric 'chalearn-f2'" in result.output and "did you mean 'chalearn-f1'" in result.output


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_prediction_file_is_refused(files, tmp_path):
    marker = tmp_path / "PWNED"
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps({"a": _Evil(marker)}))
    result = CliRunner().invoke(cli, ["score", files[0], str(evil)])
    assert result.exit_code == 1
    assert "evil.pkl" in result.output and "system" in result.output and "Traceback" not in result.output
    assert not marker.exists()


def test_malformed_and_missing_files(files, tmp_path):
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(pickle.dumps({"a": [[1, 400, 0]]}))
    result = CliRunner().invoke(cli, ["score", files[0], str(bad)])
    assert result.exit_code == 1
    assert "bad.pkl: video 'a', item 0: end_ms 0 is before start_ms 400" in result.output
    result = CliRunner().invoke(cli, ["score", files[0], str(tmp_path / "missing.pkl")])
    assert result.exit_code == 1 and "missing.pkl: file not found" in result.output
