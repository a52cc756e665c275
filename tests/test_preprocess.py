"""Preprocessing: the plan (dependencies through the registry), all modalities, parallel workers, resume after a
kill, bad inputs, and a plugin modality requiring another plugin's."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from benchmark.config.registry import ComponentRegistry
from benchmark.errors import BenchError, DataError
from benchmark.interfaces import Modality, VideoRecord
from benchmark.modalities.plugin import register_modalities
from benchmark.preprocessing.plan import modality_plan, signature, worker_count
from benchmark.preprocessing.pool import VideoOutputs, preprocess_videos
from benchmark.preprocessing.video import npy_complete

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


def builtin_registry() -> ComponentRegistry:
    registry = ComponentRegistry("modality")
    register_modalities(registry)
    return registry


def mods(*names):
    """The plan of ``names``: the built-in modalities plus what they require, in dependency order."""
    return modality_plan(names, builtin_registry())


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    d = tmp_path_factory.mktemp("videos")
    good = [
        VideoRecord("a", "train", write_video(d / "a.mp4", 12)),
        VideoRecord("b", "train", write_video(d / "b.mp4", 9, w=80, h=80)),
    ]
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


def test_plan_adds_dependencies_in_order():
    registry = builtin_registry()
    plan = modality_plan(["flow-tvl1", "skeleton", "rgb-hands"], registry)
    order = list(plan)
    assert order.index("pose") < order.index("rgb-crop") < order.index("flow-tvl1")
    assert order.index("rgb-crop") < order.index("rgb-hands") and order.index("pose") < order.index("skeleton")
    assert set(order) == set(ALL)
    assert all(plan[n] is registry.get(n) for n in order)


class Stub(Modality):
    """A modality that computes nothing; only its name and requirements matter to the plan."""

    def __init__(self, name, requires=()):
        self.name, self.requires = name, tuple(requires)

    def compute(self, video, frames, inputs, settings):
        raise AssertionError("not computed")


def test_plan_names_cycles_and_missing_requirements():
    registry = ComponentRegistry("modality")
    for stub in (Stub("a", ["b"]), Stub("b", ["c"]), Stub("c", ["a"]), Stub("lonely", ["absent"])):
        registry.add(stub.name, stub)
    with pytest.raises(BenchError, match="cycle: a -> b -> c -> a"):
        modality_plan(["a"], registry)
    with pytest.raises(BenchError, match="modality 'lonely' requires 'absent', which is not registered"):
        modality_plan(["lonely"], registry)
    with pytest.raises(BenchError, match="unknown modality 'lonley'; did you mean 'lonely'"):
        modality_plan(["lonley"], registry)


def test_worker_count_zero_means_the_cores_this_process_may_use():
    assert worker_count(3) == 3
    assert worker_count(0) == len(os.sched_getaffinity(0))


def test_all_modalities_shapes_dtypes_and_meta(videos, tmp_path):
    good, _ = videos
    timings = {}
    res = preprocess_videos(good, mods(*ALL), SETTINGS, tmp_path / "out", workers=1, progress=False, timings=timings)
    assert list(res) == ["a", "b"]
    for (
        vid,
        t,
    ) in (("a", 12), ("b", 9)):
        assert isinstance(res[vid], VideoOutputs) and res[vid].frames == t
        paths = res[vid].paths
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

    from benchmark.preprocessing.frames import read_frames

    frames = read_frames(good[0].video_path)
    small = cv2.resize(frames[0], (48, 32), interpolation=cv2.INTER_AREA)
    assert np.abs(np.load(res["a"].paths["rgb-crop"])[0].astype(int) - small[:, 8:40].astype(int)).max() <= 1


def test_resume_reuses_finished_outputs_and_never_reads_partial_ones(videos, tmp_path):
    good, _ = videos
    out = tmp_path / "out"
    res = preprocess_videos(good[:1], mods(*ALL), SETTINGS, out, workers=1, progress=False)
    before = {n: np.load(p) for n, p in res["a"].paths.items()}
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
    assert res2["a"].frames == 12
    for n, p in res2["a"].paths.items():
        np.testing.assert_array_equal(np.load(p), before[n], err_msg=n)
    timings = {}
    res3 = preprocess_videos(good[:1], mods(*ALL), SETTINGS, out, workers=1, progress=False, timings=timings)
    assert timings["computed"] == 0 and timings["seconds"] == {}
    assert res3 == res2  # answered from the headers: same paths, same frame count


@pytest.mark.parametrize("kind", ["corrupt", "trunc-mp4", "trunc-avi", "empty", "zero", "zero-avi", "short", "missing"])
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
        res = preprocess_videos(
            recs, mods("skeleton"), SETTINGS, tmp_path / "out", workers=2, progress=False, on_bad_video="skip"
        )  # the process-pool path
    assert list(res) == ["a"]
    assert sum("skipping video" in str(w.message) for w in rec) == 2
    assert not list((tmp_path / "out" / "short").glob("*.npy"))
    with pytest.raises(DataError, match=r"(corrupt\.mp4: OpenCV cannot open)|(empty\.mp4: file is empty)"):
        preprocess_videos(
            [bad["corrupt"][0], bad["empty"][0]], mods("skeleton"), SETTINGS, tmp_path / "o2", workers=2, progress=False
        )


def test_pose_only_records_run_skeleton_and_explain_missing_video(tmp_path):
    from tests.test_modalities import write_pose_file

    path = tmp_path / "p.pose"
    write_pose_file(path, t=10)
    rec = VideoRecord("p", "train", None, path)
    res = preprocess_videos([rec], mods("skeleton"), SETTINGS, tmp_path / "out", workers=1, progress=False)
    sk = np.load(res["p"].paths["skeleton"])
    assert sk.shape == (10, 57, 3) and np.isfinite(sk).all()
    assert np.load(res["p"].paths["pose"]).shape == (10, 75, 4) and res["p"].frames == 10
    import json

    meta = json.loads((tmp_path / "out" / "p" / "meta.json").read_text())  # the frame size comes from the file
    assert (meta["width"], meta["height"], meta["frames"]) == (200, 100, 10)
    with pytest.raises(DataError, match="rgb-crop need the video"):
        preprocess_videos([rec], mods("rgb-crop"), SETTINGS, tmp_path / "out", workers=1, progress=False)
    short = tmp_path / "s.pose"
    write_pose_file(short, t=4)
    with pytest.raises(DataError, match=r"s\.pose: 4 frames, shorter than one clip"):
        preprocess_videos(
            [VideoRecord("s", "train", None, short)],
            mods("skeleton"),
            SETTINGS,
            tmp_path / "o2",
            workers=1,
            progress=False,
        )


def test_pose_file_beside_video_replaces_mediapipe(videos, tmp_path):
    from tests.test_modalities import write_pose_file

    good, _ = videos
    path = tmp_path / "a.pose"
    write_pose_file(path, t=12, width=96, height=64)
    rec = VideoRecord("a", "train", good[0].video_path, path)
    timings = {}
    res = preprocess_videos(
        [rec], mods("rgb-crop"), SETTINGS, tmp_path / "out", workers=1, progress=False, timings=timings
    )
    pose = np.load(res["a"].paths["pose"])
    assert np.isfinite(pose[0, :33]).all() and np.isnan(pose[1]).all()  # the file's values, frame 1 empty
    assert np.load(res["a"].paths["rgb-crop"]).shape == (12, 32, 32, 3)
    assert "decode" in timings["seconds"]  # the video was decoded for the crop, MediaPipe never ran
    # a file a frame or two off its video is fitted: cut, or padded with NaN (pose is float)
    write_pose_file(path, t=14, width=96, height=64)
    cut = preprocess_videos([rec], mods("pose"), SETTINGS, tmp_path / "cut", workers=1, progress=False)
    assert np.load(cut["a"].paths["pose"]).shape == (12, 75, 4) and cut["a"].frames == 12
    write_pose_file(path, t=10, width=96, height=64)
    padded = np.load(
        preprocess_videos([rec], mods("pose"), SETTINGS, tmp_path / "pad", workers=1, progress=False)["a"].paths["pose"]
    )
    assert padded.shape == (12, 75, 4) and np.isfinite(padded[0, :33]).all() and np.isnan(padded[10:]).all()
    write_pose_file(path, t=30, width=96, height=64)
    with pytest.raises(DataError, match=r"a\.pose has 30 frames but its video .*a\.mp4 has 12"):
        preprocess_videos([rec], mods("rgb-crop"), SETTINGS, tmp_path / "o2", workers=1, progress=False)


def test_fit_length_pads_floats_with_nan_repeats_the_rest_cuts_and_names_the_file():
    from benchmark.preprocessing.video import fit_length

    rec = VideoRecord("v", "train", Path("v.mp4"))
    floats = np.arange(6, dtype=np.float32).reshape(3, 2)
    padded = fit_length(floats, 5, "pose", "v.pose", rec)
    assert padded.shape == (5, 2) and padded.dtype == np.float32
    assert (padded[:3] == floats).all() and np.isnan(padded[3:]).all()
    ints = np.arange(6, dtype=np.uint8).reshape(3, 2)
    repeated = fit_length(ints, 4, "crop", "v.crop", rec)
    assert repeated.dtype == np.uint8 and repeated.tolist() == [[0, 1], [2, 3], [4, 5], [4, 5]]
    assert fit_length(ints, 1, "crop", "v.crop", rec).tolist() == [[0, 1]]
    assert fit_length(ints, 3, "crop", "v.crop", rec) is ints
    with pytest.raises(DataError, match=r"crop file v\.crop has 3 frames but its video v\.mp4 has 6"):
        fit_length(ints, 6, "crop", "v.crop", rec)


def test_frame_buffer_spills_to_disk_with_identical_crop(videos, tmp_path):
    good, _ = videos
    a = preprocess_videos(good[:1], mods("rgb-crop"), SETTINGS, tmp_path / "ram", workers=1, progress=False)
    tiny = {**SETTINGS, "frame_buffer_mb": 0.001}
    b = preprocess_videos(good[:1], mods("rgb-crop"), tiny, tmp_path / "disk", workers=1, progress=False)
    np.testing.assert_array_equal(np.load(a["a"].paths["rgb-crop"]), np.load(b["a"].paths["rgb-crop"]))
    assert not [p for p in (tmp_path / "disk").rglob("*") if p.name.startswith(".")]


def test_measure_preprocess_fps_side_by_side_and_parallel_workers_agree(videos, tmp_path):
    from benchmark.perf.preprocess import format_table, measure_preprocess

    good, _ = videos
    rows = measure_preprocess(good, mods("skeleton"), SETTINGS, workers_list=(1, 2), out_dir=tmp_path / "perf")
    with pytest.raises(BenchError, match="modality 'skeleton' requires 'pose'"):
        measure_preprocess(good, {"skeleton": mods("skeleton")["skeleton"]}, SETTINGS, out_dir=tmp_path / "p2")
    assert [(r["modality"], r["workers"]) for r in rows] == [
        ("pose", 1),
        ("skeleton", 1),
        ("total", 1),
        ("pose", 2),
        ("skeleton", 2),
        ("total", 2),
    ]
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


def test_signature_covers_dependencies_versions_and_merged_settings():
    sig = signature(mods("rgb-hands"), {**SETTINGS, "pose": {"model_complexity": 1}})
    assert list(sig) == ["pose", "rgb-crop", "rgb-hands"]
    assert sig["rgb-hands"]["settings"] == {"crop_fraction": 1.0, "size": 32, "box": 8}  # crop section merged in
    assert sig["pose"]["settings"]["model_complexity"] == 1 and sig["pose"]["version"] == "1"
    other = signature(mods("rgb-hands"), {**SETTINGS, "rgb-crop": {"size": 48}})
    assert other["rgb-hands"] != sig["rgb-hands"]
    # sections left out take the declared defaults, those of the section rgb-hands reads from included
    bare = signature(mods("rgb-hands"), {})
    assert bare["rgb-hands"]["settings"] == {"crop_fraction": 1.0, "size": 256, "box": 64}
    assert bare["pose"]["settings"]["use_pose_files"] is True


# -- a plugin modality requiring another plugin's -------------------------------------------------------------


class Brightness(Modality):
    """Mean brightness per frame, float32 [T] (needs frames, downscaled to 8x8)."""

    name = "tp-brightness"
    defaults = {"scale": 1.0}

    def frame_size(self, width, height, settings):
        return (8, 8)

    def compute(self, video, frames, inputs, settings):
        return (np.asarray(frames, np.float32).mean(axis=(1, 2, 3)) * settings["scale"]).astype(np.float32)


class BrightnessChange(Modality):
    """Frame-to-frame change of tp-brightness, float32 [T] (0 for the first frame); never sees a frame."""

    name = "tp-brightness-change"
    requires = ("tp-brightness",)
    needs_frames = False

    def compute(self, video, frames, inputs, settings):
        assert frames is None and inputs["meta"]["frames"] == len(inputs["tp-brightness"])
        return np.diff(np.asarray(inputs["tp-brightness"]), prepend=inputs["tp-brightness"][0]).astype(np.float32)


def test_plugin_modality_requiring_another_plugin_modality_is_planned_and_computed(videos, tmp_path):
    good, _ = videos
    registry = builtin_registry()
    registry.set_provider("tp_plugin", "tp-plugin")
    registry.add("tp-brightness", Brightness)  # a class: the registry instantiates it once
    registry.add("tp-brightness-change", BrightnessChange())
    plan = modality_plan(["tp-brightness-change"], registry)
    assert list(plan) == ["tp-brightness", "tp-brightness-change"]
    preprocess = {"tp-brightness": {"scale": 2.0}}
    assert signature(plan, preprocess) == {
        "tp-brightness": {"version": "1", "settings": {"scale": 2.0}},
        "tp-brightness-change": {"version": "1", "settings": {}},
    }
    res = preprocess_videos(good, plan, preprocess, tmp_path / "out", workers=1, progress=False)
    assert set(res["a"].paths) == {"tp-brightness", "tp-brightness-change"} and res["a"].frames == 12
    brightness = np.load(res["a"].paths["tp-brightness"])
    change = np.load(res["a"].paths["tp-brightness-change"])
    assert brightness.shape == change.shape == (12,) and brightness.dtype == change.dtype == np.float32
    import cv2

    from benchmark.preprocessing.frames import read_frames

    small = [cv2.resize(f, (8, 8), interpolation=cv2.INTER_AREA) for f in read_frames(good[0].video_path)]
    np.testing.assert_allclose(brightness, [2 * f.mean() for f in small], rtol=1e-6)  # 8x8 frames, scale 2
    assert brightness.min() > 2 * 100  # real pixels (backdrop 190), not an empty frame
    np.testing.assert_allclose(change, np.diff(brightness, prepend=brightness[0]), atol=1e-5)
