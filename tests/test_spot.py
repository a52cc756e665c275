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


def train(root: Path, entry: str) -> dict:
    """``bench run ENTRY --profile tiny`` on the corpus (tier Gloss), tracked: its ``--json`` summary."""
    out = bench(root, "run", entry, "--profile", "tiny", "--dataset", "elan", "--data", str(root / "corpus"),
                "--set", "dataset.settings.tier=Gloss", "--device", "cpu", "--json", "--no-progress")  # fmt: skip
    return json.loads(out.stdout[out.stdout.index("{") :])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A corpus of 10 ELAN-annotated ``.pose`` files (one held back) and a finished tracked run on it."""
    root = tmp_path_factory.mktemp("spot")
    names, _ = write_synthetic_corpus(root / "corpus", videos=10, classes=3, seconds=8.0, seed=0)
    held = root / "held"
    held.mkdir()
    for suffix in (".pose", ".eaf"):
        shutil.move(root / "corpus" / f"{HELD}{suffix}", held / f"{HELD}{suffix}")
    summary = train(root, "skeleton-only")
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
    assert {"Gloss (2)", "Gloss (2)-score"} <= set(pympi.Elan.Eaf(str(written)).get_tier_names())


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


# -- the annotation loop (issue 22) ------------------------------------------------------------------------------

EAF_XSD = Path(__file__).parent / "fixtures" / "EAFv3.0.xsd"


@pytest.fixture(scope="module")
def segmenter(trained):
    """A sign-boundary run (``elan-sign-segmenter``: every annotation of the tier is class SIGN) on the same corpus."""
    return train(trained[0], "elan-sign-segmenter")


def test_scores_and_alternatives_go_to_dependent_tiers_that_the_eaf_schema_accepts(trained):
    import pympi
    import xmlschema

    root, names, summary = trained
    bench(root, "spot", "--run", summary["run_id"], str(root / "held"), "--out", "alts", "--candidates", "3",
          "--min-score", "0.05", "--format", "eaf", "--format", "json", "--format", "csv")  # fmt: skip
    path = root / "alts" / f"{HELD}.eaf"
    xmlschema.XMLSchema(str(EAF_XSD)).validate(str(path))
    eaf = pympi.Elan.Eaf(str(path))
    original = pympi.Elan.Eaf(str(root / "held" / f"{HELD}.eaf"))
    for tier in original.get_tier_names():  # every original tier kept, annotations unchanged
        assert eaf.get_annotation_data_for_tier(tier) == original.get_annotation_data_for_tier(tier)
    segments = json.loads((root / "alts" / f"{HELD}.json").read_text())["segments"]
    assert segments and all(s["score"] >= 0.05 for s in segments)
    spotted = sorted(eaf.get_annotation_data_for_tier("spotted"))
    scores = sorted(eaf.get_ref_annotation_data_for_tier("spotted-score"))
    assert [(a[0], a[2]) for a in spotted] == [(s["start_ms"], s["gloss"]) for s in segments]
    assert [float(r[2]) for r in scores] == [round(s["score"], 3) for s in segments]
    assert eaf.get_parameters_for_tier("spotted-score")["PARENT_REF"] == "spotted"
    assert eaf.linguistic_types[eaf.get_parameters_for_tier("spotted-2")["LINGUISTIC_TYPE_REF"]]["CONSTRAINTS"] == (
        "Symbolic_Association"
    )
    for s in segments:  # the next classes: never the segment's own, best first, at most K-1 = 2
        alts = s.get("candidates", [])
        assert (
            len(alts) <= 2 and s["gloss"] not in [a["gloss"] for a in alts] and all(a["gloss"] in names for a in alts)
        )
        assert [a["score"] for a in alts] == sorted((a["score"] for a in alts), reverse=True)
        assert all(a["score"] >= 0.05 for a in alts)
    second = {(r[0], r[3]): r[2] for r in eaf.get_ref_annotation_data_for_tier("spotted-2")}
    assert second == {(s["start_ms"], s["gloss"]): s["candidates"][0]["gloss"] for s in segments if s.get("candidates")}
    header = (root / "alts" / f"{HELD}.csv").read_text().splitlines()[0]
    assert header.startswith("class_id,gloss,start_ms,end_ms,score,gloss_2,score_2")


def test_also_writes_glosses_and_sign_boundaries_in_one_pass(trained, segmenter):
    import pympi
    import xmlschema

    root, _, summary = trained
    bench(root, "spot", "--run", summary["run_id"], "--also", segmenter["run_id"], str(root / "held"), "--out", "both")
    path = root / "both" / f"{HELD}.eaf"
    xmlschema.XMLSchema(str(EAF_XSD)).validate(str(path))
    eaf = pympi.Elan.Eaf(str(path))
    assert {"Gloss", "spotted", "spotted-score", "SIGN", "SIGN-score"} <= set(eaf.get_tier_names())
    document = json.loads((root / "both" / f"{HELD}.json").read_text())
    assert document["tier"] == "spotted" and [a["tier"] for a in document["also"]] == ["SIGN"]
    signs = document["also"][0]["segments"]
    assert signs and {s["gloss"] for s in signs} == {"SIGN"}
    assert sorted((a[0], a[1]) for a in eaf.get_annotation_data_for_tier("SIGN")) == sorted(
        (s["start_ms"], max(s["end_ms"], s["start_ms"] + 1)) for s in signs
    )
    # the segmenter alone names its tier SIGN too
    bench(root, "spot", "--run", segmenter["output_dir"], str(root / "held"), "--out", "signs", "--format", "json")
    assert json.loads((root / "signs" / f"{HELD}.json").read_text())["tier"] == "SIGN"


def test_a_range_is_spotted_in_the_recordings_own_time_line(trained):
    from pose_format import Pose

    root, _, summary = trained
    pose = Pose.read((root / "held" / f"{HELD}.pose").read_bytes())
    fps = float(pose.body.fps)
    first, last = int(round(2.0 * fps)), int(round(6.0 * fps))
    pose.body = pose.body.select_frames(list(range(first, last + 1)))
    (root / "cut").mkdir(exist_ok=True)
    with open(root / "cut" / f"{HELD}.pose", "wb") as f:
        pose.write(f)
    bench(root, "spot", "--run", summary["run_id"], str(root / "cut"), "--out", "cut-out", "--format", "json")
    bench(root, "spot", "--run", summary["run_id"], str(root / "held" / f"{HELD}.pose"), "--out", "range",
          "--format", "json", "--start", "2", "--end", "0:06")  # fmt: skip
    alone = json.loads((root / "cut-out" / f"{HELD}.json").read_text())["segments"]
    ranged = json.loads((root / "range" / f"{HELD}.json").read_text())["segments"]
    assert alone, "nothing spotted in the part"
    offset = first * 1000.0 / fps
    assert [(s["gloss"], s["start_ms"], s["end_ms"]) for s in ranged] == [
        (s["gloss"], int(round(s["start_ms"] + offset)), int(round(s["end_ms"] + offset))) for s in alone
    ]
    assert all(s["start_ms"] >= 2000 and s["end_ms"] <= 6000 for s in ranged)


def test_bench_score_of_the_spotted_eaf_files_equals_the_runs_f1(trained):
    root, _, summary = trained
    run_dir = Path(summary["output_dir"])
    test_videos = sorted(json.loads((run_dir / "review.json").read_text())["videos"])
    human = root / "human"
    human.mkdir(exist_ok=True)
    for video in test_videos:
        shutil.copy(root / "corpus" / f"{video}.eaf", human / f"{video}.eaf")
    poses = [str(root / "corpus" / f"{video}.pose") for video in test_videos]
    bench(root, "spot", "--run", summary["run_id"], *poses, "--out", "own", "--format", "eaf")
    labels = root / "labels.txt"
    labels.write_text("".join(f"{name}\n" for name in json.loads((run_dir / "pipeline" / "classes.json").read_text())))
    out = bench(root, "score", str(human), str(root / "own"), "--tier", "Gloss", "--against", "spotted", "--labels",
                str(labels), "--json")  # fmt: skip
    scored = json.loads(out.stdout[out.stdout.index("{") :])
    assert abs(scored["f1"] - summary["f1"]) < 1e-9, (scored["f1"], summary["f1"])
    assert len(scored["per_file"]) == len(test_videos)


def test_the_loop_on_a_real_recording(trained):
    """The real video fixture (a real signer, 29.97 fps, MediaPipe on its frames) with an annotator's ``.eaf``:
    spotted with scores and alternatives over a range, reviewed, and scored against the human tier."""
    import pympi
    import xmlschema

    root, names, summary = trained
    real = root / "real"
    real.mkdir(exist_ok=True)
    video = shutil.copy(Path(__file__).parent / "fixtures" / "test_video.mp4", real / "signer.mp4")
    human = pympi.Elan.Eaf()
    human.add_linked_file(Path(video).resolve().as_uri(), relpath="./signer.mp4", mimetype="video/mp4")
    human.add_tier("Gloss")
    human.add_annotation("Gloss", 400, 1200, names[0])
    human.to_file(str(real / "signer.eaf"))
    bench(root, "spot", "--run", summary["run_id"], str(video), "--out", "real-out", "--candidates", "2",
          "--start", "0.2", "--end", "1.8", "--format", "eaf", "--format", "json")  # fmt: skip
    eaf_path = root / "real-out" / "signer.eaf"
    xmlschema.XMLSchema(str(EAF_XSD)).validate(str(eaf_path))
    eaf = pympi.Elan.Eaf(str(eaf_path))
    assert eaf.get_annotation_data_for_tier("Gloss") == [(400, 1200, names[0])]
    assert {"spotted", "spotted-score", "spotted-2", "spotted-2-score"} <= set(eaf.get_tier_names())
    segments = json.loads((root / "real-out" / "signer.json").read_text())["segments"]
    assert all(s["start_ms"] >= 150 and s["end_ms"] <= 1850 for s in segments)  # the recording's own times
    page = root / "real-review.html"
    bench(root, "review", str(root / "real-out"), "--out", str(page), "--tier", "Gloss")
    html = page.read_text()
    assert 'src="real/signer.mp4"' in html and "signer" in html
    out = bench(root, "score", str(real), str(root / "real-out"), "--tier", "Gloss", "--json")
    scored = json.loads(out.stdout[out.stdout.index("{") :])
    assert [p["file"] for p in scored["files"]["paired"]] == ["signer"] and 0.0 <= scored["f1"] <= 1.0
    assert scored["num_ground_truth"] == 1
