"""Modalities on the synthetic signer: MediaPipe finds the drawn body, and the .pose files agree with it."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.config.registry import ComponentRegistry
from benchmark.interfaces import VideoRecord
from benchmark.joints import POSE_LEFT_HAND, POSE_RIGHT_HAND
from benchmark.modalities.plugin import register_modalities
from benchmark.modalities.pose import PoseModality, read_pose_file
from benchmark.preprocessing.frames import FrameStream
from benchmark.preprocessing.plan import modality_plan
from benchmark.preprocessing.pool import preprocess_videos


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    from benchmark.datasets.synthetic import generate

    root = generate(
        tmp_path_factory.mktemp("synth") / "data",
        videos=3,
        classes=2,
        signers=1,
        seconds=4,
        size=360,
        workers=1,
        progress=False,
    )
    video = sorted(root.rglob("*.mp4"))[0]
    return video, video.with_suffix(".pose")


def first_frames(path, n):
    out = []
    for f in FrameStream(path):
        out.append(f)
        if len(out) == n:
            break
    return np.stack(out)


def test_mediapipe_finds_the_synthetic_body_where_the_pose_file_puts_it(synth):
    video, pose_file = synth
    frames = first_frames(video, 12)
    m = PoseModality()
    est = m.compute(VideoRecord("s", "train", video), frames, {}, m.prepare(m.with_defaults({"model_complexity": 1})))
    ref, meta = read_pose_file(pose_file)
    assert (meta["width"], meta["height"]) == (frames.shape[2], frames.shape[1])
    ref = ref[: len(est)]
    assert np.isfinite(est[:, :33, :2]).all()  # a body in every frame
    for joint in (0, 11, 12):  # nose, shoulders: the drawn figure and MediaPipe agree closely
        assert np.abs(est[:, joint, :2] - ref[:, joint, :2]).max() < 0.05, joint
    for hand in (POSE_LEFT_HAND, POSE_RIGHT_HAND):  # where MediaPipe finds a hand, it is the same hand as in the file
        found = np.isfinite(est[:, hand, 0]).all(axis=1)
        if found.any():
            err = np.abs(np.nanmean(est[found][:, hand, :2], 1) - np.nanmean(ref[found][:, hand, :2], 1))
            assert err.max() < 0.05


def test_preprocessing_of_synthetic_video_with_pose_file(synth, tmp_path):
    video, pose_file = synth
    settings = {"rgb-crop": {"size": 64}, "rgb-hands": {"box": 16}, "flow-tvl1": {"scales": 1, "warps": 1}}
    rec = VideoRecord("s", "train", video, pose_file)
    registry = ComponentRegistry("modality")
    register_modalities(registry)
    plan = modality_plan(["rgb-hands", "flow-tvl1", "skeleton"], registry)
    res = preprocess_videos([rec], plan, settings, tmp_path / "out", workers=1, progress=False)
    paths = res["s"].paths
    pose = np.load(paths["pose"])
    crop, hands = np.load(paths["rgb-crop"]), np.load(paths["rgb-hands"])
    t = len(pose)
    assert t == 100 == res["s"].frames and crop.shape == (t, 64, 64, 3) and hands.shape == (t, 64, 64, 3)
    assert np.load(paths["flow-tvl1"]).shape == (t, 64, 64, 2)
    sk = np.load(paths["skeleton"])
    assert sk.shape == (t, 57, 3) and np.isfinite(sk).all()
    # every frame of the file has both hands: two 16x16 boxes (they may overlap or be clipped) stay visible
    kept = (hands.reshape(t, -1, 3) != 0).any(-1).sum(1)
    assert (kept > 0).all() and (kept <= 2 * 16 * 16).all()
    assert (hands[hands != 0] == crop[hands != 0]).all()
    # normalised skeleton: nose x is 0 and shoulders sit at +-0.25 (x distance / twice the shoulder width)
    assert np.abs(sk[:, 0, 0]).max() < 1e-5
    assert np.median(sk[:, 10, 0] - sk[:, 9, 0]) == pytest.approx(-0.5, abs=0.05)
