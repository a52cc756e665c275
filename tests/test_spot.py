"""``bench spot``: a finished run's trained pipeline applied to new files (issue: ELAN corpora in, spotted signs
out).  One real tracked run (skeleton-only, tiny, on a small ELAN corpus of ``.pose`` files) serves every test."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

try:
    from tests.test_datasets_elan import write_synthetic_corpus
except ImportError:  # pragma: no cover
    from test_datasets_elan import write_synthetic_corpus

BENCH = str(Path(sys.executable).with_name("bench"))
HELD = "p02_n009"  # the corpus's last file, kept out of the run


def bench(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
        "SIGNSPOT_CACHE_DIR": str(root / "cache"),
    }
    out = subprocess.run([BENCH, *args], capture_output=True, text=True, env=env, cwd=root, timeout=900)
    if check:
        assert out.returncode == 0, out.stdout + out.stderr
    return out


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A corpus of 10 ELAN-annotated ``.pose`` files (one held back) and a finished tracked run on it."""
    root = tmp_path_factory.mktemp("spot")
    names, _ = write_synthetic_corpus(root / "corpus", videos=10, classes=3, seconds=8.0, seed=0)
    held = root / "held"
    held.mkdir()
    for suffix in (".pose", ".eaf"):
        shutil.move(root / "corpus" / f"{HELD}{suffix}", held / f"{HELD}{suffix}")
    out = bench(
        root,
        "run",
        "skeleton-only",
        "--profile",
        "tiny",
        "--dataset",
        "elan",
        "--data",
        str(root / "corpus"),
        "--set",
        "dataset.settings.tier=Gloss",
        "--device",
        "cpu",
        "--json",
        "--no-progress",
    )
    summary = json.loads(out.stdout[out.stdout.index("{") :])
    assert summary["run_id"] and summary["pipeline"], summary
    return root, names, summary


def test_spotted_tier_is_added_to_a_copy_of_the_eaf_on_the_frame_grid(trained):
    import pympi

    root, names, summary = trained
    original = (root / "held" / f"{HELD}.eaf").read_bytes()
    out = bench(root, "spot", "--run", summary["run_id"], str(root / "held"), "--out", "spotted", "--no-progress")
    written = root / "spotted" / f"{HELD}.eaf"
    assert str(written) in out.stdout.split() or f"spotted/{HELD}.eaf" in out.stdout
    eaf = pympi.Elan.Eaf(str(written))
    assert {"Gloss", "Translation", "spotted"} <= set(eaf.get_tier_names())  # the original's tiers kept
    spotted = eaf.get_annotation_data_for_tier("spotted")
    assert spotted, "the trained pipeline spotted nothing in the held-back file"
    for start, end, gloss in spotted:
        assert start % 40 == 0 and end % 40 == 0 and end > start and gloss in names
    assert (root / "held" / f"{HELD}.eaf").read_bytes() == original  # never changed
    segments = json.loads((root / "spotted" / f"{HELD}.json").read_text())["segments"]
    assert [(s["start_ms"], s["gloss"]) for s in segments] == [(a[0], a[2]) for a in sorted(spotted)]
    assert all(0.0 <= s["score"] <= 1.0 for s in segments)
    # a second spot into the same folder adds a second tier to a fresh copy, never a tier twice
    again = bench(
        root, "spot", "--run", summary["output_dir"], str(root / "held"), "--out", "spotted", "--tier", "Gloss"
    )
    assert again.returncode == 0
    assert "Gloss-2" in pympi.Elan.Eaf(str(written)).get_tier_names()


def test_spot_reproduces_the_runs_test_predictions(trained):
    root, _, summary = trained
    run_dir = Path(summary["output_dir"])
    predictions = pickle.loads((run_dir / "predictions.pkl").read_bytes())
    corpus = root / "corpus"
    inputs = [str(corpus / f"{video}.pose") for video in sorted(predictions)]
    bench(root, "spot", "--run", summary["run_id"], *inputs, "--out", "again", "--format", "json", "--format", "csv")
    for video, expected in predictions.items():
        got = json.loads((root / "again" / f"{video}.json").read_text())["segments"]
        assert [[s["class_id"], s["start_ms"], s["end_ms"]] for s in got] == [list(map(int, s)) for s in expected]
        rows = (root / "again" / f"{video}.csv").read_text().splitlines()
        assert rows[0] == "class_id,gloss,start_ms,end_ms,score" and len(rows) == len(expected) + 1


def test_logged_models_load_with_mlflow(trained, monkeypatch):
    import mlflow
    import torch

    root, _, summary = trained
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
    client = mlflow.MlflowClient()
    run = client.get_run(summary["run_id"])
    uri = run.data.tags["signspot.model.spotter"]
    spotter = mlflow.pytorch.load_model(uri)
    assert isinstance(spotter, torch.nn.Module)
    expert = mlflow.pytorch.load_model(run.data.tags["signspot.model.expert-skeleton"])
    assert sum(p.numel() for p in expert.parameters()) > 0
    assert {a.path for a in client.list_artifacts(summary["run_id"])} >= {"pipeline", "config.yaml"}


@pytest.mark.parametrize(
    "run, message",
    [
        ("0123456789abcdef0123456789abcdef", "no tracker knows this run"),
        ("stage", "has no trained pipeline (a stage run: use its parent"),
    ],
)
def test_a_run_without_a_pipeline_is_named(trained, run, message):
    import mlflow

    root, _, summary = trained
    if run == "stage":
        client = mlflow.MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
        experiment = client.get_run(summary["run_id"]).info.experiment_id
        children = client.search_runs([experiment], f"tags.`mlflow.parentRunId` = '{summary['run_id']}'")
        run = children[0].info.run_id
    out = bench(root, "spot", "--run", run, str(root / "held"), "--out", "nope", check=False)
    assert out.returncode == 1 and message in out.stderr and "Traceback" not in out.stderr, out.stderr
    assert not (root / "nope").exists()


def test_an_output_folder_holding_the_input_is_refused(trained):
    root, _, summary = trained
    out = bench(root, "spot", "--run", summary["output_dir"], str(root / "held"), "--out", "held", check=False)
    assert out.returncode == 1 and "would overwrite the input's own" in out.stderr and "Traceback" not in out.stderr
