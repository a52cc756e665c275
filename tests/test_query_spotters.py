"""Query by example in a run (issue 23): the built-in query spotters through MSSL's decoder, and both OSLWL
entries end to end on the tiny profile (tracked, like every entry)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmark.engine.clips import ClipSpec

BENCH = str(Path(sys.executable).with_name("bench"))


def random_pose(frames: int, seed: int) -> np.ndarray:
    """A smooth random walk of MediaPipe Holistic joints ``[T, 75, 4]`` (x, y in [0, 1], visibility 1)."""
    rng = np.random.default_rng(seed)
    steps = rng.normal(0, 0.01, (frames, 75, 2)).cumsum(axis=0) + rng.uniform(0.3, 0.7, (1, 75, 2))
    pose = np.ones((frames, 75, 4), np.float32)
    pose[..., :2], pose[..., 2] = steps, 0.0
    return pose


def decode(probs, offsets, clips, n_frames):
    from spotters.decoders.soft_nms import SoftNMSDecoder

    decoder = SoftNMSDecoder()
    return decoder.decode(probs, offsets, clips, decoder.with_defaults({"score_threshold": 0.3}), n_frames=n_frames)


def test_dtw_finds_a_query_pasted_verbatim_at_its_exact_position():
    from spotters.queries import DTWSpotter

    query = random_pose(30, 1)
    target = np.concatenate([random_pose(60, 2), query, random_pose(50, 3)])
    clips, size = ClipSpec(1, 1, 0, 25.0), (256, 144)
    spotter = DTWSpotter()
    settings = spotter.with_defaults({"trim": 0.0, "span": 1.0})
    (probs, offsets) = spotter.match({"t": (target, size)}, [(query, size)], settings, clips, {"t": 140})["t"]
    assert probs.shape == (140, 2) and offsets.shape == (140, 2) and probs[:, 0].max() == 0.0
    assert int(np.argmax(probs[:, 1])) == 89 and probs[89, 1] == pytest.approx(1.0)
    top = max(decode(probs, offsets, clips, 140), key=lambda s: s[3])
    assert top[:3] == [0, 60 * 40, 89 * 40]  # frames 60 .. 89 at 25 fps


def test_embedding_finds_pasted_clip_features_and_the_best_query_takes_each_position():
    from spotters.queries import EmbeddingSpotter, outputs

    rng = np.random.default_rng(0)
    query = np.abs(rng.normal(size=(3, 16)))
    other = np.abs(rng.normal(size=(3, 16)))
    target = np.concatenate([np.abs(rng.normal(size=(10, 16))), query, np.abs(rng.normal(size=(7, 16)))])
    clips, spotter = ClipSpec(8, 8, 0, 25.0), EmbeddingSpotter()
    settings = spotter.with_defaults({"widths": [3]})
    probs, offsets = spotter.match({"t": target}, [other, query], settings, clips, {"t": 160})["t"]
    assert int(np.argmax(probs[:, 2])) == 12 and probs[12, 2] == pytest.approx(1.0) and probs[12, 1] == 0.0
    top = max(decode(probs, offsets, clips, 160), key=lambda s: s[3])
    assert top[:3] == [1, 10 * 8 * 40, (13 * 8 - 1) * 40]  # clips 10 .. 12
    # winner takes each position: a lower-scoring query's column is zeroed where another wins
    p, _ = outputs(2, [(np.array([0, 1]), np.array([0.9, 0.2]), np.zeros(2), np.ones(2)),
                       (np.array([0, 1]), np.array([0.5, 0.6]), np.zeros(2), np.ones(2))])  # fmt: skip
    np.testing.assert_allclose(p, [[0.0, 0.9, 0.0], [0.0, 0.0, 0.6]], rtol=1e-6)


def run_entry(root: Path, *args: str) -> dict:
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}", "SIGNSPOT_CACHE_DIR": str(root)}
    out = subprocess.run([BENCH, "run", *args, "--profile", "tiny", "--device", "cpu", "--json", "--no-progress"],
                         capture_output=True, text=True, env=env, timeout=900)  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout[out.stdout.index("{") :])


@pytest.mark.slow
def test_both_oslwl_entries_run_tracked_on_the_tiny_profile(tmp_path_factory):
    import mlflow

    root = tmp_path_factory.mktemp("oslwl-runs")
    dtw = run_entry(root, "reference-oslwl-dtw")
    embedding = run_entry(root, "reference-oslwl-embedding")
    floor = run_entry(root, "reference-oslwl-dtw", "--spotter", "random-windows")
    assert dtw["f1"] > 0 and embedding["f1"] > 0, (dtw["f1"], embedding["f1"])
    assert dtw["val_f1"] is not None and dtw["pipeline"] is None  # chosen on validation; no weights to bundle
    assert dtw["f1"] > floor["f1"]
    client = mlflow.MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    run = client.get_run(dtw["run_id"])
    assert run.info.status == "FINISHED" and run.data.metrics["f1"] == pytest.approx(dtw["f1"])
    review = json.loads((Path(dtw["output_dir"]) / "review.json").read_text())
    names = set(review["classes"])  # the test split's queries, not the training classes
    assert names and all(s[0] < len(names) for v in review["videos"].values() for s in v["segments"])
