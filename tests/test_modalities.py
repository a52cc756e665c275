"""Each preprocessing modality on tiny hand-made inputs, with known answers where one exists."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from benchmark import joints
from benchmark.errors import BenchError, DataError
from benchmark.interfaces import VideoRecord
from benchmark.modalities import crop, flow, pose, skeleton

VID = VideoRecord("v", "train")
MODALITIES = {
    m.name: m
    for m in (
        pose.PoseModality(),
        crop.RgbCropModality(),
        crop.RgbHandsModality(),
        flow.FlowTvl1Modality(),
        skeleton.SkeletonModality(),
    )
}


def prepared(name: str, **settings) -> dict:
    """``settings`` over the modality's defaults, prepared: what preprocessing hands to ``compute``."""
    m = MODALITIES[name]
    return m.prepare(m.with_defaults(settings))


def compute(name: str, video, frames, inputs, **settings):
    return MODALITIES[name].compute(video, frames, inputs, prepared(name, **settings))


def blank_pose(t: int) -> np.ndarray:
    return pose.empty_pose(t)


def body_at(t: int, cx: float, cy: float = 0.5) -> np.ndarray:
    """A pose whose nose, shoulders and hips average at (cx, cy)."""
    p = blank_pose(t)
    for j, dx in zip(joints.POSE_CENTRE, (0.0, -0.1, 0.1, -0.05, 0.05)):
        p[:, j] = (cx + dx, cy, 0.0, 1.0)
    return p


def coord_frames(t: int, h: int, w: int) -> np.ndarray:
    """Frames whose R channel is the column and G the row: crops reveal exactly where they were cut."""
    f = np.zeros((t, h, w, 3), np.uint8)
    f[..., 0] = np.arange(w)[None, None, :]
    f[..., 1] = np.arange(h)[None, :, None]
    f[..., 2] = 255
    return f


# -- plugin -------------------------------------------------------------------------------------------------


def test_plugin_registers_one_instance_of_each_with_contract_attributes():
    from benchmark.config.registry import ComponentRegistry
    from benchmark.modalities.plugin import register_modalities

    reg = ComponentRegistry("modality")
    register_modalities(reg)
    assert reg.names() == ["pose", "rgb-crop", "rgb-hands", "flow-tvl1", "skeleton"]
    m = {n: reg.get(n) for n in reg.names()}
    assert all(type(m[n]) is type(MODALITIES[n]) for n in m)
    assert m["skeleton"].requires == ("pose",) and not m["skeleton"].needs_frames
    assert m["rgb-crop"].requires == ("pose",) and m["rgb-crop"].needs_frames
    assert set(m["rgb-hands"].requires) == {"rgb-crop", "pose"} and m["rgb-hands"].settings_from == ("rgb-crop",)
    assert m["flow-tvl1"].requires == ("rgb-crop",)
    assert {n: m[n].channels for n in m} == {"pose": 4, "rgb-crop": 3, "rgb-hands": 3, "flow-tvl1": 2, "skeleton": 3}
    assert all(reg.component(n).description for n in reg.names())


def test_each_modality_declares_its_settings_once():
    assert MODALITIES["rgb-crop"].defaults == {"crop_fraction": 1.0, "size": 256}
    assert MODALITIES["rgb-hands"].defaults == {"box": 64}
    assert MODALITIES["skeleton"].defaults == {"interpolate_missing": True, "normalize": True}
    assert set(MODALITIES["flow-tvl1"].defaults) == {
        "bound",
        "tau",
        "lambda",
        "theta",
        "scales",
        "warps",
        "epsilon",
        "inner_iterations",
        "outer_iterations",
        "scale_step",
        "gamma",
        "median_filtering",
    }
    assert set(MODALITIES["pose"].defaults) == {
        "backend",
        "model_complexity",
        "complexity_fallback",
        "allow_download",
        "use_pose_files",
        "min_detection_confidence",
        "min_tracking_confidence",
        "model_path",
        "static_image_mode",
    }
    # a null flow setting takes its default, as OpenCV's parameters always have
    assert prepared("flow-tvl1", gamma=None, bound=None)["bound"] == 20.0


def test_core_plugin_manager_finds_the_builtin_modalities():
    from benchmark.plugins import get_plugin_manager

    reg = get_plugin_manager().components("modality")
    for name in ("pose", "rgb-crop", "rgb-hands", "flow-tvl1", "skeleton"):
        assert reg.component(name).plugin == "benchmark.modalities.plugin"
        assert type(reg.get(name)) is type(MODALITIES[name]) and reg.get(name) is reg.get(name)


# -- rgb-crop / rgb-hands -----------------------------------------------------------------------------------


def test_crop_is_centred_on_mean_of_nose_shoulders_hips():
    frames = coord_frames(3, 100, 200)
    p = body_at(3, 0.70)
    p[1, joints.POSE_CENTRE] = np.nan  # a frame without body does not count
    out = compute("rgb-crop", VID, frames, {"pose": p}, crop_fraction=1.0, size=100)
    assert out.shape == (3, 100, 100, 3) and out.dtype == np.uint8
    # centre 0.7 * 200 = 140, side 100 -> columns 90..189, full height
    assert out[0, 0, 0, 0] == 90 and out[0, 0, 99, 0] == 189
    assert out[2, 0, :, 1].tolist() == [0] * 100 and out[2, 99, 0, 1] == 99


def test_crop_mean_is_over_frames_and_clamped_to_the_frame():
    p = body_at(2, 0.5)
    p[0, joints.POSE_CENTRE, 0] += 0.4  # frame means 0.9 and 0.5 -> 0.7 overall
    g = crop.crop_geometry(p, 200, 100, 1.0)
    assert g.x0 == pytest.approx(0.45) and g.side_w == pytest.approx(0.5)
    g = crop.crop_geometry(body_at(2, 0.98), 200, 100, 1.0)
    assert g.x0 == pytest.approx(0.5)  # clamped: right edge of the frame
    g = crop.crop_geometry(body_at(2, 0.01), 200, 100, 1.0)
    assert g.x0 == 0.0


def test_crop_of_a_narrow_frame_is_padded_and_fraction_crops_vertically():
    frames = coord_frames(1, 100, 80)
    out = crop.crop_frames(frames, crop.crop_geometry(body_at(1, 0.5), 80, 100, 1.0), 100)
    assert (out[0, :, :10] == 0).all() and (out[0, :, 90:] == 0).all()
    assert out[0, 0, 10, 0] == 0 and out[0, 0, 89, 0] == 79
    g = crop.crop_geometry(body_at(1, 0.5, cy=0.8), 200, 100, 0.5)
    assert g.side_h == pytest.approx(0.5) and g.y0 == pytest.approx(0.5)  # 0.8 - 0.25 clamped to 1 - 0.5
    small = crop.crop_frames(coord_frames(1, 100, 200), g, 50)
    assert small[0, 0, 0, 1] == 50 and small[0, 49, 0, 1] == 99


def test_crop_from_downscaled_frames_matches_full_resolution():
    frames = coord_frames(2, 100, 200).astype(np.float32)
    frames = np.clip(frames * 1.0, 0, 255).astype(np.uint8)
    g = crop.crop_geometry(body_at(2, 0.6), 200, 100, 1.0)
    full = crop.crop_frames(frames, g, 50)
    import cv2

    w, h = crop.buffer_size(200, 100, 1.0, 50)
    assert (w, h) == (100, 50)
    small = np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in frames])
    down = crop.crop_frames(small, g, 50)
    assert np.abs(full.astype(int) - down.astype(int)).max() <= 2


def test_hands_keep_only_a_box_around_each_present_hand():
    size, box = 100, 10
    c = np.full((2, size, size, 3), 7, np.uint8)
    p = body_at(2, 0.5)  # W=H: crop is the whole square frame
    p[:, joints.POSE_LEFT_HAND, 0] = 0.30 + np.linspace(-0.02, 0.02, 21)  # mean 0.30 -> crop x 30
    p[:, joints.POSE_LEFT_HAND, 1] = 0.40
    p[1, joints.POSE_RIGHT_HAND, 0] = 1.0  # right hand only in frame 1, partly off the crop -> box clipped
    p[1, joints.POSE_RIGHT_HAND, 1] = 0.80
    out = compute(
        "rgb-hands",
        VID,
        None,
        {"rgb-crop": c, "pose": p, "meta": {"width": 100, "height": 100}},
        crop_fraction=1.0,
        size=size,
        box=box,
    )
    assert out.shape == c.shape and out.dtype == np.uint8
    mask0 = out[0, ..., 0] > 0
    rows, cols = np.nonzero(mask0)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (35, 44, 25, 34)
    mask1 = out[1, ..., 0] > 0
    assert mask1.sum() == box * box + 10 * 5  # right box 95..104 x 75..84 clipped to 95..99
    assert mask1[75:85, 95:].all()


def test_hands_without_meta_is_a_clear_error():
    with pytest.raises(DataError, match="frame size"):
        compute(
            "rgb-hands",
            VID,
            None,
            {"rgb-crop": np.zeros((1, 8, 8, 3), np.uint8), "pose": blank_pose(1)},
            crop_fraction=1.0,
        )


# -- skeleton -----------------------------------------------------------------------------------------------


def hand_made_pose() -> np.ndarray:
    p = blank_pose(3)
    p[:, :33] = (0.5, 0.5, 0.0, 1.0)
    p[:, 0] = (0.5, 0.3, 0.0, 1.0)  # nose
    p[:, 11] = (0.4, 0.5, 0.0, 1.0)  # left shoulder
    p[:, 12] = (0.6, 0.5, 0.0, 1.0)  # right shoulder  -> width 20 px on a 100x100 frame, scale 40
    p[:, 15] = (0.3, 0.7, 0.1, 1.0)  # left wrist
    p[:, 16] = (0.7, 0.7, 0.0, 1.0)
    p[:, joints.POSE_RIGHT_HAND] = (0.8, 0.9, 0.0, 1.0)
    p[1] = np.nan  # a frame without any pose
    p[2, 0, 0] = 0.7  # the nose moves: frame 1 is interpolated halfway
    return p


def test_skeleton_joints_wrist_fill_and_normalisation_known_answer():
    out = compute("skeleton", VID, None, {"pose": hand_made_pose(), "meta": {"width": 100, "height": 100}})
    assert out.shape == (3, 57, 3) and out.dtype == np.float32
    f0 = out[0]
    assert f0[0].tolist() == pytest.approx([0.0, -0.5, 0.0])  # nose: (50-50, 30-50) / 40
    assert f0[9].tolist() == pytest.approx([-0.25, 0.0, 0.0])  # left shoulder (pose 11 -> skeleton 9)
    assert f0[10].tolist() == pytest.approx([0.25, 0.0, 0.0])
    # left hand missing -> 21 copies of the left wrist: (30-50, 70-50, 0.1*100) / 40
    assert np.allclose(f0[15:36], [-0.5, 0.5, 0.25])
    assert np.allclose(f0[36:57], [(80 - 50) / 40, (90 - 50) / 40, 0.0])
    # frame 1 interpolated: nose x halfway (60 px); nose x is the centre so it is 0 after centring
    raw = compute(
        "skeleton", VID, None, {"pose": hand_made_pose(), "meta": {"width": 100, "height": 100}}, normalize=False
    )
    assert raw[1, 0, 0] == pytest.approx(60.0) and raw[1, 9, 0] == pytest.approx(40.0)
    assert np.isfinite(out).all()
    # without interpolation the empty frame 1 is zeros (then centred and scaled like any frame)
    flat = skeleton.pose_to_skeleton(hand_made_pose(), 100, 100, interpolate=False, normalise=False)
    assert (flat[1] == 0).all() and flat[0, 0, 0] == pytest.approx(50.0)


def test_skeleton_all_missing_is_zeros_and_zero_width_is_guarded():
    out = skeleton.pose_to_skeleton(blank_pose(4), 100, 100, interpolate=True, normalise=True)
    assert out.shape == (4, 57, 3) and (out == 0).all()
    p = hand_made_pose()
    p[1] = p[2]
    p[0, 12, :2] = p[0, 11, :2]  # zero shoulder width in frame 0 -> the video's median width
    out = skeleton.pose_to_skeleton(p, 100, 100, interpolate=True, normalise=True)
    assert np.isfinite(out).all() and out[0, 0, 1] == pytest.approx(-0.5)


def test_skeleton_uses_frame_aspect():
    p = hand_made_pose()
    wide = skeleton.pose_to_skeleton(p, 200, 100, interpolate=True, normalise=True)
    # shoulders 40 px apart on a 200-wide frame -> scale 80; nose y (30 - 50 px) / 80
    assert wide[0, 0, 1] == pytest.approx(-0.25) and wide[0, 9, 0] == pytest.approx(-0.25)


# -- flow ---------------------------------------------------------------------------------------------------


def textured(size: int, seed: int = 0) -> np.ndarray:
    import cv2

    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.uniform(0, 255, (size, size)).astype(np.float32), (0, 0), 2.0)
    img = (img - img.min()) / (img.max() - img.min()) * 255
    return np.repeat(img.astype(np.uint8)[..., None], 3, axis=-1)


def test_flow_of_a_translation_has_the_right_sign_and_magnitude():
    base = textured(96)
    frames = np.stack([base, np.roll(base, 3, axis=1), np.roll(np.roll(base, 3, axis=1), -2, axis=0)])
    s = {"bound": 20, "scales": 3, "warps": 3, "inner_iterations": 20, "outer_iterations": 5}
    out = compute("flow-tvl1", VID, None, {"rgb-crop": frames}, **s)
    assert out.shape == (3, 96, 96, 2) and out.dtype == np.uint8
    f = flow.dequantize(out[:, 16:-16, 16:-16], 20)
    assert np.median(f[0, ..., 0]) == pytest.approx(3.0, abs=0.35)  # moved right by 3 px
    assert np.median(f[0, ..., 1]) == pytest.approx(0.0, abs=0.35)
    assert np.median(f[1, ..., 0]) == pytest.approx(0.0, abs=0.35)
    assert np.median(f[1, ..., 1]) == pytest.approx(-2.0, abs=0.35)  # moved up by 2 px
    assert (out[2] == out[1]).all()  # last flow repeated


def test_flow_quantisation_clips_and_centres():
    q = flow.quantize(np.array([-100.0, -20.0, 0.0, 10.0, 20.0, 55.0]), 20)
    assert q.tolist() == [0, 0, 128, 191, 255, 255]
    static = compute("flow-tvl1", VID, None, {"rgb-crop": np.repeat(textured(32)[None], 2, axis=0)}, scales=1, warps=1)
    assert np.abs(static.astype(int) - 128).max() <= 1


# -- pose ---------------------------------------------------------------------------------------------------


def test_pose_on_frames_without_a_person_is_all_missing():
    frames = np.full((3, 64, 96, 3), 120, np.uint8)
    out = compute("pose", VID, frames, {}, model_complexity=1)
    assert out.shape == (3, 75, 4) and out.dtype == np.float32 and np.isnan(out).all()


def test_pose_complexity_without_model_falls_back_once_or_errors(caplog):
    heavy = pose.legacy_model_path(2)
    if heavy.is_file():
        pytest.skip(f"{heavy} is installed: complexity 2 runs as asked")
    pose._WARNED.clear()
    with caplog.at_level(logging.WARNING, logger="benchmark.modalities.pose"):
        s = prepared("pose", model_complexity=2)
        prepared("pose", model_complexity=2)
    assert s["model_complexity"] == 1 and s["requested_model_complexity"] == 2
    assert sum("falling back to model_complexity 1" in r.message for r in caplog.records) == 1
    assert pose.effective_settings(s) == s  # preparing again is silent and stable
    with pytest.raises(BenchError, match=r"pose_landmark_heavy\.tflite.*model_complexity: 1"):
        pose.effective_settings({"model_complexity": 2, "complexity_fallback": None})


def test_pose_tasks_backend_needs_a_model_file(tmp_path):
    with pytest.raises(BenchError, match=r"model_path.*holistic_landmarker\.task"):
        pose.effective_settings({"backend": "tasks", "model_path": None})
    with pytest.raises(BenchError, match="does not exist"):
        pose.effective_settings({"backend": "tasks", "model_path": str(tmp_path / "missing.task")})
    bad = tmp_path / "bad.task"
    bad.write_bytes(b"not a model")
    s = prepared("pose", backend="tasks", model_path=str(bad))
    assert s["model_path"] == str(bad.resolve())
    with pytest.raises(BenchError, match="cannot load the MediaPipe holistic model"):
        MODALITIES["pose"].open_stream(VID, s, 25.0)
    with pytest.raises(BenchError, match="backend"):
        pose.effective_settings({"backend": "openpose"})


def write_pose_file(path: Path, t: int = 4, width: int = 200, height: int = 100, hands: bool = True) -> np.ndarray:
    """A pose-format file in the MediaPipe Holistic layout; returns the pixel data of POSE_LANDMARKS."""
    from pose_format import Pose
    from pose_format.numpy.pose_body import NumPyPoseBody
    from pose_format.pose_header import PoseHeader, PoseHeaderDimensions
    from pose_format.utils.holistic import holistic_components

    comps = holistic_components()
    if not hands:
        comps = [c for c in comps if "HAND" not in c.name]
    header = PoseHeader(
        version=0.1, dimensions=PoseHeaderDimensions(width=width, height=height, depth=0), components=comps
    )
    n = sum(len(c.points) for c in comps)
    rng = np.random.default_rng(0)
    data = np.zeros((t, 1, n, 3), np.float32)
    data[..., 0] = rng.uniform(0, width, (t, 1, n))
    data[..., 1] = rng.uniform(0, height, (t, 1, n))
    data[..., 2] = rng.uniform(-0.5, 0.5, (t, 1, n))
    conf = np.ones((t, 1, n), np.float32)
    conf[:, :, :33] = 0.9
    conf[1] = 0  # frame 1: nobody
    body = NumPyPoseBody(fps=25, data=data, confidence=conf)
    with open(path, "wb") as f:
        Pose(header, body).write(f)
    return data


def test_pose_file_is_read_instead_of_running_mediapipe(tmp_path):
    path = tmp_path / "v.pose"
    data = write_pose_file(path)
    rec = VideoRecord("v", "train", None, path)
    m = MODALITIES["pose"]
    assert m.read_file(VID, prepared("pose")) is None  # no file: the pose is estimated
    assert m.read_file(rec, prepared("pose", use_pose_files=False)) is None
    out, meta = m.read_file(rec, prepared("pose"))
    assert meta == {"width": 200, "height": 100, "fps": 25.0, "frames": 4, "file": str(path)}
    assert out.shape == (4, 75, 4) and out.dtype == np.float32
    assert out[0, :33, 0] == pytest.approx(data[0, 0, :33, 0] / 200, abs=1e-6)
    assert out[0, :33, 1] == pytest.approx(data[0, 0, :33, 1] / 100, abs=1e-6)
    assert out[0, :33, 2] == pytest.approx(data[0, 0, :33, 2], abs=1e-6)
    assert out[0, :33, 3] == pytest.approx(0.9)
    left = 33 + 468  # LEFT_HAND_LANDMARKS follow POSE (33) and FACE (468) in the file
    assert out[2, joints.POSE_LEFT_HAND, 0] == pytest.approx(data[2, 0, left : left + 21, 0] / 200, abs=1e-6)
    assert out[2, joints.POSE_RIGHT_HAND, 1] == pytest.approx(data[2, 0, left + 21 : left + 42, 1] / 100, abs=1e-6)
    assert np.isnan(out[1]).all() and (out[0, joints.POSE_LEFT_HAND, 3] == 1).all()
    p2 = tmp_path / "nohands.pose"
    write_pose_file(p2, hands=False)
    out2 = pose.read_pose_file(p2)[0]
    assert np.isnan(out2[:, 33:]).all() and np.isfinite(out2[0, :33]).all()


def test_broken_pose_file_names_the_file(tmp_path):
    bad = tmp_path / "bad.pose"
    bad.write_bytes(b"\x00\x01garbage")
    with pytest.raises(DataError, match="bad.pose"):
        pose.read_pose_file(bad)
    with pytest.raises(DataError, match="not found"):
        pose.read_pose_file(tmp_path / "none.pose")
