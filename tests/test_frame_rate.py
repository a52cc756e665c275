"""Times are right at any frame rate (issue: real recordings): the same synthetic content rendered at 25 and at
30 fps trains to the same F1, and a pipeline trained at 25 fps spots the 30 fps videos at the same times; a real
signer's 29.9 fps video (tests/fixtures/test_video.mp4, MIT, see THIRD_PARTY_NOTICES.md) is spotted inside its
own 1939 ms, its pose found by MediaPipe, quietly.

One tracked run per rate (``skeleton-only``, tiny profile, the embedded synthetic dataset rendered with
``dataset.settings.fps``) serves every test."""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmark.joints import POSE_RIGHT_HAND

BENCH = str(Path(sys.executable).with_name("bench"))
FIXTURE = Path(__file__).parent / "fixtures" / "test_video.mp4"
FIXTURE_MS = 1939  # 58 frames at 29.917 fps
pytestmark = pytest.mark.slow


def bench(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
        "SIGNSPOT_CACHE_DIR": str(root / "cache"),
    }
    out = subprocess.run([BENCH, *args], capture_output=True, text=True, env=env, cwd=root, timeout=900)
    assert out.returncode == 0, out.stdout + out.stderr
    return out


def run_at(root: Path, fps: int) -> dict:
    out = bench(
        root,
        "run",
        "skeleton-only",
        "--profile",
        "tiny",
        "--set",
        f"dataset.settings.fps={fps}",
        "--device",
        "cpu",
        "--json",
        "--no-progress",
    )
    return {**json.loads(out.stdout[out.stdout.index("{") :]), "stderr": out.stderr}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("rates")
    return root, {fps: run_at(root, fps) for fps in (25, 30)}


def dataset_folder(root: Path, fps: int) -> Path:
    """The synthetic dataset the run of that rate generated in its cache."""
    for meta in (root / "cache" / "datasets").glob("synthetic-*/SYNTHETIC.json"):
        if json.loads(meta.read_text())["fps"] == fps:
            return meta.parent
    raise AssertionError(f"no {fps} fps synthetic dataset under {root / 'cache'}")


def test_the_same_content_at_25_and_30_fps_scores_the_same(runs):
    root, by_rate = runs
    meta = json.loads((dataset_folder(root, 30) / "SYNTHETIC.json").read_text())
    assert meta["fps"] == 30
    f1 = {fps: r["f1"] for fps, r in by_rate.items()}
    assert f1[25] > 0.4, f1  # it learned something
    assert abs(f1[25] - f1[30]) <= 0.03, f1
    # the 30 fps inputs were brought to the 25 fps grid: 16 s = 400 frames, whatever the source rate
    metas = list((root / "cache" / "preprocess").glob("*/p01_n000/meta.json"))
    rates = sorted(
        (m["source_fps"], m["frames"], m["source_frames"]) for m in map(json.loads, map(Path.read_text, metas))
    )
    assert rates == [(25.0, 400, 400), (30.0, 400, 480)], rates


def spotted(root: Path, run_id: str, inputs: Path, out: str) -> dict:
    bench(root, "spot", "--run", run_id, str(inputs), "--out", out, "--format", "json", "--no-progress")
    return {path.stem: json.loads(path.read_text())["segments"] for path in sorted((root / out).glob("*.json"))}


def test_a_25_fps_pipeline_spots_30_fps_videos_at_the_same_times(runs):
    root, by_rate = runs
    run_id = by_rate[25]["run_id"]
    at = {
        fps: spotted(root, run_id, dataset_folder(root, fps) / "MSSL_TEST_SET_VIDEOS", f"spot{fps}") for fps in (25, 30)
    }
    assert sorted(at[25]) == sorted(at[30]) and at[25]
    total = 0
    for video, segments in at[25].items():
        other = at[30][video]
        assert len(other) == len(segments), (video, segments, other)
        for a, b in zip(segments, other):
            assert a["class_id"] == b["class_id"], (video, a, b)
            assert abs(a["start_ms"] - b["start_ms"]) <= 40 and abs(a["end_ms"] - b["end_ms"]) <= 40, (video, a, b)
        total += len(segments)
    assert total > 0
    # and the 25 fps spots are the run's own test predictions
    with open(Path(by_rate[25]["output_dir"]) / "predictions.pkl", "rb") as f:
        predictions = pickle.load(f)
    for video, segments in at[25].items():
        assert [[s["class_id"], s["start_ms"], s["end_ms"]] for s in segments] == [
            list(p[:3]) for p in predictions[video]
        ]


FOREIGN = re.compile(
    r"absl::|TensorFlow Lite|XNNPACK|inference_feedback_manager|landmark_projection|W0000|I0000|gl_context"
)


def test_a_real_29_9_fps_video_is_spotted_inside_its_own_time_line(runs):
    root, by_rate = runs
    folder = root / "real"
    folder.mkdir()
    shutil.copy(FIXTURE, folder / FIXTURE.name)
    out = bench(
        root,
        "spot",
        "--run",
        by_rate[25]["run_id"],
        str(folder),
        "--out",
        "real-out",
        "--format",
        "json",
        "--no-progress",
    )
    assert not [line for line in out.stderr.splitlines() if FOREIGN.search(line)], out.stderr
    segments = json.loads((root / "real-out" / "test_video.json").read_text())["segments"]
    for s in segments:
        assert 0 <= s["start_ms"] <= s["end_ms"] <= FIXTURE_MS, segments
    (pose_file,) = (root / "cache" / "preprocess").glob("*/test_video/pose.npy")
    meta = json.loads((pose_file.parent / "meta.json").read_text())
    assert (meta["frames"], meta["source_frames"], round(meta["source_fps"], 2)) == (49, 58, 29.92), meta
    pose = np.load(pose_file)
    body = ~np.isnan(pose[:, :33, 0]).all(axis=1)
    right = ~np.isnan(pose[:, POSE_RIGHT_HAND, 0]).all(axis=1)
    assert body.mean() > 0.9 and right.mean() > 0.5, (body.mean(), right.mean())
