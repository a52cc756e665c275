"""`bench compare A B`: two runs paired on their test videos, with a verdict; refused across datasets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from benchmark.commands.main import cli

CONTRACT = {"f1_a", "f1_b", "f1_ci_a", "f1_ci_b", "delta_f1", "delta_ci", "p_value", "verdict"}


def run_folder(root: Path, name: str, counts: dict, fingerprint: str = "fp1", version: str = "1") -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "per_video.json").write_text(json.dumps({"metric": "chalearn-f1", "counts": counts}))
    summary = {"benchmark": "e", "entry_version": version, "dataset_fingerprint": fingerprint, "seed": 0}
    (folder / "summary.json").write_text(json.dumps(summary))
    tp = sum(c[0] for c in counts.values())
    (folder / "per_class.json").write_text(json.dumps([{"class_id": 0, "name": "HELLO", "f1": tp / (tp + 1)}]))
    return folder


def compare(*args: str):
    return CliRunner().invoke(cli, ["compare", *args])


def counts_of(rng, n: int, hits: int) -> dict:
    return {f"v{i}": [int(hits), int(rng.integers(0, 4)), int(13 * 4 - hits)] for i in range(n)}


def test_identical_runs_no_difference_p_one_and_the_json_contract(tmp_path):
    counts = counts_of(np.random.default_rng(0), 8, 30)
    a, b = run_folder(tmp_path, "a", counts), run_folder(tmp_path, "b", counts)
    result = compare(str(a), str(b), "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert set(out) >= CONTRACT and out["p_value"] == 1.0 and out["verdict"] == "no difference at 95 %"
    assert out["f1_a"] == out["f1_b"] and out["delta_f1"] == 0.0 and out["videos"] == 8
    text = compare(str(a), str(b)).output
    assert "verdict: no difference at 95 %" in text and len(text.splitlines()) <= 25  # one screen


def test_a_run_better_on_every_video_wins(tmp_path):
    rng = np.random.default_rng(1)
    better = counts_of(rng, 16, 40)
    worse = {v: [c[0] - 10, c[1] + 5, c[2] + 10] for v, c in better.items()}
    a, b = run_folder(tmp_path, "a", better), run_folder(tmp_path, "b", worse)
    out = json.loads(compare(str(a), str(b), "--json").output)
    assert out["verdict"] == "A better" and out["p_value"] < 0.05 and out["delta_ci"][0] > 0
    assert json.loads(compare(str(b), str(a), "--json").output)["verdict"] == "B better"
    assert out["per_class"][0]["name"] == "HELLO" and out["per_class"][0]["f1_a"] > out["per_class"][0]["f1_b"]


def test_different_datasets_or_entry_versions_are_refused_unless_forced(tmp_path):
    counts = counts_of(np.random.default_rng(2), 6, 20)
    a = run_folder(tmp_path, "a", counts)
    other = run_folder(tmp_path, "other", counts, fingerprint="fp2")
    refused = compare(str(a), str(other))
    assert refused.exit_code == 1 and "dataset fingerprints differ (fp1 vs fp2)" in refused.output
    assert "--force" in refused.output and "Traceback" not in refused.output
    newer = run_folder(tmp_path, "newer", counts, version="2")
    assert "versions differ (1 vs 2)" in compare(str(a), str(newer)).output
    forced = compare(str(a), str(other), "--force", "--json")
    assert forced.exit_code == 0 and json.loads(forced.output)["p_value"] == 1.0


def test_a_folder_without_per_video_counts_is_named(tmp_path):
    a = run_folder(tmp_path, "a", counts_of(np.random.default_rng(3), 4, 10))
    empty = tmp_path / "old-run"
    empty.mkdir()
    result = compare(str(a), str(empty))
    assert result.exit_code == 1 and f"{empty}: no per_video.json" in result.output


def test_per_signer_view_from_mssl_video_names(tmp_path):
    seen = {f"p01_n{i:03d}": [40, 2, 10] for i in range(4)}
    unseen = {f"p02_n{i:03d}": [20, 10, 30] for i in range(4)}
    a = run_folder(tmp_path, "a", {**seen, **unseen})
    b = run_folder(tmp_path, "b", {**seen, **{v: [30, 5, 20] for v in unseen}})
    out = json.loads(compare(str(a), str(b), "--json").output)
    rows = {r["signer"]: r for r in out["per_signer"]}
    assert set(rows) == {"p01", "p02"} and rows["p01"]["videos"] == 4
    assert rows["p01"]["f1_a"] == rows["p01"]["f1_b"] == 80 / 92  # 2tp / (2tp + fp + fn)
    assert rows["p02"]["f1_a"] < rows["p02"]["f1_b"]
    assert "per signer:  p01 0.870/0.870" in compare(str(a), str(b)).output


def test_seed_labels_pair_only_runs_that_ran_the_same_thing():
    """Run seed 1 (experts re-trained) is not spotter seed 1 on run seed 0's experts; labels sort numerically."""
    from benchmark.metrics.uncertainty import paired_by_seed
    from benchmark.reports.comparison import seed_label

    assert [seed_label(0), seed_label(0, "null"), seed_label(0, 2), seed_label("1", "1")] == [0, 0, "0/2", 1]
    assert seed_label(None) is None
    counts = np.arange(2 * 3 * 3).reshape(2, 3, 3)
    a, b = paired_by_seed(counts, ["0/2", 0], counts[::-1], [0, "0/2"])
    np.testing.assert_array_equal(a, counts[::-1])
    np.testing.assert_array_equal(b, counts[::-1])
    a, b = paired_by_seed(counts, [1, 0], counts, [0, "0/1"])  # not the same seeds: left as they are
    np.testing.assert_array_equal(a, counts)
