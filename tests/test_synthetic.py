"""The embedded synthetic dataset: determinism, timing statistics, the layout the loader reads, the CLI,
the cache-backed dataset and MediaPipe finding the rendered signer."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
from click.testing import CliRunner

from benchmark.commands.data import data
from benchmark.datasets.chalearn import ChalearnMSSL
from benchmark.datasets.synthetic import SyntheticDataset, generate
from benchmark.datasets.synthetic.writer import plan, split_plan

TINY = dict(videos=4, classes=3, signers=2, seconds=4, size=64, progress=False)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("syn") / "a", seed=3, **TINY)


def _pose(path):
    from benchmark.modalities.pose import read_pose_file

    return read_pose_file(path)[0]


def test_loader_reads_synthetic_output(tiny):
    ds = ChalearnMSSL(tiny)
    assert ds.splits() == ["train", "validation", "test"]
    assert ds.num_classes == 3 and all(ds.class_names)
    assert [len(ds.videos(s)) for s in ds.splits()] == [2, 1, 1]
    for s in ds.splits():
        assert ds.labelled(s)
        for v in ds.videos(s):
            assert v.video_path.is_file() and v.pose_path.is_file() and v.annotations is not None
    meta = json.loads((tiny / "SYNTHETIC.json").read_text())
    assert not set(meta["split_signers"]["validation"]) & set(meta["split_signers"]["train"])  # unseen signers
    txt = (tiny / "TRAIN/MSSL_TRAIN_SET_GT_TXT" / f"{ds.videos('train')[0].video_id}.txt").read_text()
    assert txt.count("\n") == len(ds.videos("train")[0].annotations)


def test_pose_file_and_video_agree(tiny):
    import cv2

    v = ChalearnMSSL(tiny).videos("train")[0]
    pose = _pose(v.pose_path)
    cap = cv2.VideoCapture(str(v.video_path))
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    assert (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))) == (114, 64)
    cap.release()
    assert pose.shape == (100, 75, 4) and n == 100
    body = pose[:, [0, 11, 12, 13, 14, 15, 16, 23, 24], :2]
    assert np.isfinite(body).all() and (body > 0).all() and (body < 1).all()
    assert np.isfinite(pose[:, 33:, :3]).mean() > 0.9  # both hands present


def test_same_seed_same_data_other_seed_differs(tiny, tmp_path):
    b = generate(tmp_path / "b", seed=3, **TINY)
    c = generate(tmp_path / "c", seed=4, **TINY)
    gt = lambda r: pickle.loads((r / "TRAIN/MSSL_TRAIN_SET_GT.pkl").read_bytes())
    assert gt(tiny) == gt(b) and gt(tiny) != gt(c)
    va, vb = ChalearnMSSL(tiny).videos("test")[0], ChalearnMSSL(b).videos("test")[0]
    np.testing.assert_array_equal(_pose(va.pose_path), _pose(vb.pose_path))
    assert (tiny / "MSSL_SET_LABELS.txt").read_text() == (b / "MSSL_SET_LABELS.txt").read_text()
    assert ChalearnMSSL(tiny).fingerprint() == ChalearnMSSL(b).fingerprint()


def test_timing_statistics_like_the_real_data():
    p = plan(videos=40, classes=10, signers=4, seconds=60, seed=0)
    anns = [a for g in p["gt"].values() for v in g.values() for a in v]
    gaps = [b[1] - a[2] for g in p["gt"].values() for v in g.values() for a, b in zip(v, v[1:])]
    lengths = np.array([e - s for _, s, e in anns])
    assert all(s % 40 == 0 and e % 40 == 0 for _, s, e in anns)
    assert lengths.min() >= 80 and lengths.max() <= 1640 and 350 <= lengths.mean() <= 650
    gaps = np.array(gaps)
    assert gaps.min() >= 100 and 1200 <= np.median(gaps) <= 2600 and np.percentile(gaps, 90) > 4000
    counts = np.bincount([c for c, _, _ in anns], minlength=10)
    assert counts.min() >= 2 and counts.max() >= 3 * counts.min()  # imbalanced, every class present
    for split, g in p["gt"].items():  # every class in every split
        assert set(range(10)) <= {c for v in g.values() for c, _, _ in v}, split
    for v in (a for g in p["gt"].values() for a in g.values()):
        assert all(b[1] > a[2] for a, b in zip(v, v[1:]))  # no overlap


def test_split_plan_holds_out_signers():
    plan_ = split_plan(24, 4)
    assert [s for s, _ in plan_].count("train") == 12
    train = {w for s, w in plan_ if s == "train"}
    val = {w for s, w in plan_ if s == "validation"}
    assert val == {3} and 3 not in train and {w for s, w in plan_ if s == "test"} == {0, 1, 2, 3}
    assert {s for s, _ in split_plan(3, 1)} == {"train", "validation", "test"}


def test_explicit_split_sizes_and_shorter_evaluation_videos(tmp_path):
    """val_videos / test_videos / eval_seconds: the counts and lengths asked for, the training videos as
    without them, and the old datasets keep their cache folder (an unset size is not in the hash)."""
    from benchmark.datasets.synthetic import DEFAULTS, settings_hash
    from benchmark.datasets.synthetic.writer import video_seconds

    sizes = dict(val_videos=3, test_videos=7, eval_seconds=5)
    p = plan(12, 3, 4, 0, 8.0, 64, **sizes)
    splits = [j["split"] for j in p["jobs"]]
    assert (splits.count("train"), splits.count("validation"), splits.count("test")) == (2, 3, 7)
    assert video_seconds(12, 4, 8.0, **sizes) == [("train", 8.0)] * 2 + [("validation", 5.0)] * 3 + [("test", 5.0)] * 7
    for split, anns in p["gt"].items():  # every sign inside its video's length
        limit = (8000 if split == "train" else 5000) - 40
        assert anns and all(a[2] <= limit for v in anns.values() for a in v), split
    assert sum(len(v) for v in p["gt"]["test"].values()) >= 7  # each short video still holds a sign
    old = plan(4, 3, 4, 0, 8.0, 64)  # the first training videos do not depend on the other splits' sizes
    assert p["gt"]["train"]["p01_n000"] == old["gt"]["train"]["p01_n000"]
    assert p["settings"]["test_videos"] == 7 and "test_videos" not in old["settings"]
    assert settings_hash(DEFAULTS) == settings_hash({k: v for k, v in DEFAULTS.items() if v is not None})
    assert settings_hash(DEFAULTS) != settings_hash({**DEFAULTS, **sizes})
    with pytest.raises(Exception, match="leaves no training video"):
        plan(10, 3, 4, 0, 8.0, 64, val_videos=3, test_videos=7)
    with pytest.raises(Exception, match="eval_seconds"):
        plan(12, 3, 4, 0, 8.0, 64, eval_seconds=2)
    ds = generate(
        tmp_path / "s",
        videos=5,
        classes=2,
        signers=1,
        seconds=4,
        size=64,
        progress=False,
        test_videos=2,
        eval_seconds=6,
    )
    test_gt = pickle.loads((ds / "MSSL_TEST_SET_GT.pkl").read_bytes())
    assert len(test_gt) == 2 and len(list((ds / "MSSL_TEST_SET_VIDEOS").glob("*.mp4"))) == 2
    assert len(ChalearnMSSL(ds).videos("test")) == 2


def test_cli_synth_then_check(tmp_path):
    runner = CliRunner()
    out = tmp_path / "cli"
    r = runner.invoke(
        data,
        [
            "synth",
            str(out),
            "--videos",
            "3",
            "--classes",
            "2",
            "--signers",
            "1",
            "--seed",
            "1",
            "--seconds",
            "4",
            "--size",
            "64",
            "--workers",
            "1",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "frames/s" in r.output
    r = runner.invoke(data, ["check", str(out)])
    assert r.exit_code == 0, r.output
    assert "train" in r.output and "sign length (ms): min" in r.output and "no problems found" in r.output
    assert "total duration 0.2 min" in r.output
    r = runner.invoke(data, ["synth", str(out)])  # refuses to overwrite
    assert r.exit_code != 0 and "not empty" in r.output
    (out / "MSSL_SET_LABELS.txt").write_text("ONLY-ONE\n")
    r = runner.invoke(data, ["check", str(out)])
    assert r.exit_code == 1 and "class id 1 outside the class list" in r.output


def test_factory_generates_once_into_cache(tmp_path, capfd):
    s = dict(videos=3, classes=2, signers=1, seconds=4, size=64, workers=1)
    ds = SyntheticDataset.open(None, s, tmp_path, progress=False)
    assert "synth" not in capfd.readouterr().err  # progress: false is honoured (no bar in --json runs)
    assert ds.root.parent == tmp_path / "datasets" and ds.root.name.startswith("synthetic-")
    stamp = (ds.root / "SYNTHETIC.json").stat().st_mtime_ns
    again = SyntheticDataset.open(None, s, tmp_path, progress=False)
    assert again.root == ds.root and (ds.root / "SYNTHETIC.json").stat().st_mtime_ns == stamp
    assert not [p for p in (tmp_path / "datasets").iterdir() if p.name.startswith(".")]  # no temp left
    with pytest.raises(Exception, match="unknown setting"):
        SyntheticDataset.open(None, {"vidoes": 3}, tmp_path)


def test_mediapipe_finds_the_rendered_signer():
    """MediaPipe 0.10.14 Holistic (model_complexity=1) detects the body on sampled frames of every signer."""
    import cv2
    import mediapipe as mp

    from benchmark.datasets.synthetic.motion import build_skeleton, hand_tracks
    from benchmark.datasets.synthetic.render import Renderer

    p = plan(videos=8, classes=6, signers=4, seconds=6, size=360, seed=0)
    hits, total = 0, 0
    with mp.solutions.holistic.Holistic(static_image_mode=True, model_complexity=1) as holistic:
        for job in p["jobs"][::2][:4]:
            rng = np.random.default_rng(job["index"])
            dom, non = hand_tracks(job["items"], job["vocab"], job["signer"], rng)
            sk = build_skeleton(dom, non, job["signer"], job["width"], job["height"], rng)
            r = Renderer(job["signer"], job["width"], job["height"], rng)
            for i in (20, 70, 120):
                res = holistic.process(cv2.cvtColor(r.draw(sk, i), cv2.COLOR_BGR2RGB))
                total += 1
                if res.pose_landmarks is not None:
                    hits += 1
                    nose = res.pose_landmarks.landmark[0]
                    assert abs(nose.x * job["width"] - sk.body[i, 0, 0]) < 0.1 * job["width"]
    assert hits / total >= 0.8, f"MediaPipe found the body on {hits}/{total} frames"
