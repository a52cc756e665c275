"""The per-video preprocessing runner: all modalities, parallel workers, resume after a kill, bad inputs."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from benchmark.errors import DataError
from benchmark.interfaces import VideoRecord
from benchmark.modalities.plugin import builtin_modalities
from benchmark.modalities.runner import npy_complete, preprocess_videos, resolve_modalities

SETTINGS = {
    "pose": {"backend": "legacy", "model_complexity": 1},
    "rgb-crop": {"crop_fraction": 1.0, "size": 32},
    "rgb-hands": {"box": 8},
    "flow-tvl1": {"bound": 20, "scales": 1, "warps": 1, "inner_iterations": 5, "outer_iterations": 1},
    "skeleton": {},
}
ALL = ("pose", "rgb-crop", "rgb-hands", "flow-tvl1", "skeleton")


def write_video(path: Path, n: int, w: int = 96, h: int = 64, fourcc: str = "mp4v", shift: int = 1) -> Path:
    """A small figure (head + body) moving right by ``shift`` px per frame."""
    import cv2

    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 25, (w, h))
    assert vw.isOpened()
    for i in range(n):
        img = np.full((h, w, 3), 190, np.uint8)
        cv2.circle(img, (w // 2 + i * shift, h // 4), h // 8, (60, 90, 200), -1)
        cv2.rectangle(img, (w // 2 - 10 + i * shift, h // 4 + 8), (w // 2 + 10 + i * shift, h - 4), (40, 40, 40), -1)
        vw.write(img)
    vw.release()
    return path


def mods(*names):
    m = builtin_modalities()
    return {n: m[n] for n in names}


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    d = tmp_path_factory.mktemp("videos")
    good = [VideoRecord("a", "train", write_video(d / "a.mp4", 12)),
            VideoRecord("b", "train", write_video(d / "b.mp4", 9, w=80, h=80))]
    corrupt = d / "corrupt.mp4"
    corrupt.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    trunc_mp4 = write_video(d / "trunc.mp4", 40)
    trunc_mp4.write_bytes(trunc_mp4.read_bytes()[: trunc_mp4.stat().st_size // 2])
    trunc_avi = write_video(d / "trunc.avi", 60, fourcc="MJPG")
    data = trunc_avi.read_bytes()
    trunc_avi.write_bytes(data[: len(data) // 2])
    empty = d / "empty.mp4"
    empty.write_bytes(b"")
    zero = write_video(d / "zero.mp4", 0)
    zero_avi = write_video(d / "zero.avi", 0, fourcc="MJPG")  # opens, but holds no frame
    short = write_video(d / "short.mp4", 5)
    bad = {
        "corrupt": (corrupt, "OpenCV cannot open"),
        "trunc-mp4": (trunc_mp4, "OpenCV cannot open"),  # mp4v writes its index last: cut = unreadable
        "trunc-avi": (trunc_avi, "truncated: its header says 60 frames but only"),
        "empty": (empty, r"file is empty \(0 bytes\)"),
        "zero": (zero, "OpenCV cannot open"),
        "zero-avi": (zero_avi, "no frame could be decoded"),
        "short": (short, r"5 frames, shorter than one clip \(8 frames\)"),
        "missing": (d / "missing.mp4", "not found"),
    }
    return good, {k: (VideoRecord(k, "train", p), msg) for k, (p, msg) in bad.items()}


def test_resolve_adds_dependencies_in_order():
    order = list(resolve_modalities(mods("flow-tvl1", "skeleton", "rgb-hands")))
    assert order.index("pose") < order.index("rgb-crop") < order.index("flow-tvl1")
    assert order.index("rgb-crop") < order.index("rgb-hands") and order.index("pose") < order.index("skeleton")
    assert set(order) == set(ALL)


def test_all_modalities_shapes_dtypes_and_meta(videos, tmp_path):
    good, _ = videos
    timings = {}
    res = preprocess_videos(good, mods(*ALL), SETTINGS, tmp_path / "out", workers=1, progress=False, timings=timings)
    assert list(res) == ["a", "b"]
    for vid, t, in (("a", 12), ("b", 9)):
        paths = res[vid]
        assert set(paths) == set(ALL)
        assert all(p.parent == tmp_path / "out" / vid and p.name == f"{n}.npy" for n, p in paths.items())
        arr = {n: np.load(p) for n, p in paths.items()}
        assert arr["pose"].shape == (t, 75, 4) and arr["pose"].dtype == np.float32
        assert arr["rgb-crop"].shape == (t, 32, 32, 3) and arr["rgb-crop"].dtype == np.uint8
        assert arr["rgb-hands"].shape == (t, 32, 32, 3) and arr["rgb-hands"].dtype == np.uint8
        assert arr["flow-tvl1"].shape == (t, 32, 32, 2) and arr["flow-tvl1"].dtype == np.uint8
        assert arr["skeleton"].shape == (t, 57, 3) and arr["skeleton"].dtype == np.float32
        assert np.isfinite(arr["skeleton"]).all()
        assert arr["rgb-crop"].max() > 100  # real pixels (backdrop 190), not an empty crop
        assert (arr["rgb-hands"] == 0).all()  # the drawn figure has no hands MediaPipe could find
    import json

    meta = json.loads((tmp_path / "out" / "a" / "meta.json").read_text())
    assert (meta["width"], meta["height"], meta["frames"]) == (96, 64, 12)
    assert timings["computed"] == 2 and timings["frames"] == 21
    assert {"pose", "decode", "rgb-crop", "flow-tvl1"} <= set(timings["seconds"])
    assert not list((tmp_path / "out").rglob("*.tmp"))
    # crop of the 96x64 video at full height: the frame centre (no body found), downscaled 64 -> 32
    import cv2

    from benchmark.modalities.video import read_frames

    frames = read_frames(good[0].video_path)
    small = cv2.resize(frames[0], (48, 32), interpolation=cv2.INTER_AREA)
    assert np.abs(np.load(res["a"]["rgb-crop"])[0].astype(int) - small[:, 8:40].astype(int)).max() <= 1


def test_resume_reuses_finished_outputs_and_never_reads_partial_ones(videos, tmp_path):
    good, _ = videos
    out = tmp_path / "out"
    res = preprocess_videos(good[:1], mods(*ALL), SETTINGS, out, workers=1, progress=False)
    before = {n: np.load(p) for n, p in res["a"].items()}
    vdir = out / "a"
    # a killed run: two outputs never written, one left half-written by a non-atomic writer, a stale temp file
    (vdir / "flow-tvl1.npy").unlink()
    (vdir / "rgb-hands.npy").unlink()
    sk = (vdir / "skeleton.npy").read_bytes()
    (vdir / "skeleton.npy").write_bytes(sk[: len(sk) // 2])
    (vdir / ".flow-tvl1.npy.abc123.tmp").write_bytes(b"half")
    assert not npy_complete(vdir / "skeleton.npy")
    mtimes = {n: os.stat(vdir / f"{n}.npy").st_mtime_ns for n in ("pose", "rgb-crop")}
    timings = {}
    res2 = preprocess_videos(good[:1], mods(*ALL), SETTINGS, out, workers=1, progress=False, timings=timings)
    assert timings["computed"] == 1
    assert "pose" not in timings["seconds"] and "decode" not in timings["seconds"]  # no decoding, no MediaPipe
    assert set(timings["seconds"]) == {"rgb-hands", "flow-tvl1", "skeleton"}
    assert {n: os.stat(vdir / f"{n}.npy").st_mtime_ns for n in ("pose", "rgb-crop")} == mtimes
    assert not list(vdir.glob("*.tmp"))
    for n, p in res2["a"].items():
        np.testing.assert_array_equal(np.load(p), before[n], err_msg=n)
    timings = {}
    preprocess_videos(good[:1], mods(*ALL), SETTINGS, out, workers=1, progress=False, timings=timings)
    assert timings["computed"] == 0 and timings["seconds"] == {}


@pytest.mark.parametrize("kind", ["corrupt", "trunc-mp4", "trunc-avi", "empty", "zero", "zero-avi", "short",
                                  "missing"])
def test_bad_video_fails_naming_file_and_problem_and_writes_nothing(videos, tmp_path, kind):
    _, bad = videos
    rec, msg = bad[kind]
    with pytest.raises(DataError, match=msg) as err:
        preprocess_videos([rec], mods("skeleton", "rgb-crop"), SETTINGS, tmp_path / "out", workers=1, progress=False)
    assert rec.video_path.name in str(err.value)
    assert not list((tmp_path / "out").rglob("*.npy")) and not list((tmp_path / "out").rglob("*.tmp"))


def test_skip_policy_warns_and_leaves_bad_videos_out(videos, tmp_path):
    good, bad = videos
    recs = [good[0], bad["corrupt"][0], bad["short"][0]]
    with pytest.warns(UserWarning, match="skipping video short") as rec:
        res = preprocess_videos(recs, mods("skeleton"), SETTINGS, tmp_path / "out", workers=2, progress=False,
                                on_bad_video="skip")  # the process-pool path
    assert list(res) == ["a"]
    assert sum("skipping video" in str(w.message) for w in rec) == 2
    assert not list((tmp_path / "out" / "short").glob("*.npy"))
    with pytest.raises(DataError, match=r"(corrupt\.mp4: OpenCV cannot open)|(empty\.mp4: file is empty)"):
        preprocess_videos([bad["corrupt"][0], bad["empty"][0]], mods("skeleton"), SETTINGS, tmp_path / "o2",
                          workers=2, progress=False)


def test_pose_only_records_run_skeleton_and_explain_missing_video(tmp_path):
    from tests.test_modalities import write_pose_file

    path = tmp_path / "p.pose"
    write_pose_file(path, t=10)
    rec = VideoRecord("p", "train", None, path)
    res = preprocess_videos([rec], mods("skeleton"), SETTINGS, tmp_path / "out", workers=1, progress=False)
    sk = np.load(res["p"]["skeleton"])
    assert sk.shape == (10, 57, 3) and np.isfinite(sk).all()
    assert np.load(res["p"]["pose"]).shape == (10, 75, 4)
    with pytest.raises(DataError, match="rgb-crop need the video"):
        preprocess_videos([rec], mods("rgb-crop"), SETTINGS, tmp_path / "out", workers=1, progress=False)
    short = tmp_path / "s.pose"
    write_pose_file(short, t=4)
    with pytest.raises(DataError, match=r"s\.pose: 4 frames, shorter than one clip"):
        preprocess_videos([VideoRecord("s", "train", None, short)], mods("skeleton"), SETTINGS, tmp_path / "o2",
                          workers=1, progress=False)


def test_pose_file_beside_video_replaces_mediapipe(videos, tmp_path):
    from tests.test_modalities import write_pose_file

    good, _ = videos
    path = tmp_path / "a.pose"
    write_pose_file(path, t=12, width=96, height=64)
    rec = VideoRecord("a", "train", good[0].video_path, path)
    timings = {}
    res = preprocess_videos([rec], mods("rgb-crop"), SETTINGS, tmp_path / "out", workers=1, progress=False,
                            timings=timings)
    pose = np.load(res["a"]["pose"])
    assert np.isfinite(pose[0, :33]).all() and np.isnan(pose[1]).all()  # the file's values, frame 1 empty
    assert np.load(res["a"]["rgb-crop"]).shape == (12, 32, 32, 3)
    write_pose_file(path, t=30, width=96, height=64)
    with pytest.raises(DataError, match="30 frames but its video"):
        preprocess_videos([rec], mods("rgb-crop"), SETTINGS, tmp_path / "o2", workers=1, progress=False)


def test_frame_buffer_spills_to_disk_with_identical_crop(videos, tmp_path):
    good, _ = videos
    a = preprocess_videos(good[:1], mods("rgb-crop"), SETTINGS, tmp_path / "ram", workers=1, progress=False)
    tiny = {**SETTINGS, "frame_buffer_mb": 0.001}
    b = preprocess_videos(good[:1], mods("rgb-crop"), tiny, tmp_path / "disk", workers=1, progress=False)
    np.testing.assert_array_equal(np.load(a["a"]["rgb-crop"]), np.load(b["a"]["rgb-crop"]))
    assert not [p for p in (tmp_path / "disk").rglob("*") if p.name.startswith(".")]


def test_measure_preprocess_fps_side_by_side_and_parallel_workers_agree(videos, tmp_path):
    from benchmark.modalities.perf import format_table, measure_preprocess

    good, _ = videos
    rows = measure_preprocess(good, mods("skeleton"), SETTINGS, workers_list=(1, 2), out_dir=tmp_path / "perf")
    assert [(r["modality"], r["workers"]) for r in rows] == [
        ("pose", 1), ("skeleton", 1), ("total", 1), ("pose", 2), ("skeleton", 2), ("total", 2)]
    assert all(r["frames"] == 21 and r["seconds"] > 0 and r["fps"] > 0 for r in rows)
    for w in (1, 2):
        pose, sk, total = (r for r in rows if r["workers"] == w)
        assert total["seconds"] == pytest.approx(pose["seconds"] + sk["seconds"], abs=2e-3)
    # the process pool (2 workers) computes exactly what the in-process run computes
    for vid in ("a", "b"):
        for n in ("pose", "skeleton"):
            one, two = (np.load(tmp_path / "perf" / f"workers-{w}" / vid / f"{n}.npy") for w in (1, 2))
            np.testing.assert_array_equal(one, two, err_msg=f"{vid} {n}")
    table = format_table(rows).splitlines()
    assert table[0].split() == ["modality", "frames", "fps@1", "fps@2", "speed-up"]
    assert [ln.split()[0] for ln in table[1:]] == ["pose", "skeleton", "total"]


def test_cache_signature_covers_dependencies_versions_and_merged_settings():
    from benchmark.modalities.runner import cache_signature

    sig = cache_signature(mods("rgb-hands"), {**SETTINGS, "pose": {"model_complexity": 1}})
    assert list(sig) == ["pose", "rgb-crop", "rgb-hands"]
    assert sig["rgb-hands"]["settings"] == {"crop_fraction": 1.0, "size": 32, "box": 8}  # crop section merged in
    assert sig["pose"]["settings"]["model_complexity"] == 1 and sig["pose"]["version"] == "1"
    other = cache_signature(mods("rgb-hands"), {**SETTINGS, "rgb-crop": {"size": 48}})
    assert other["rgb-hands"] != sig["rgb-hands"]
