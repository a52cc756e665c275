"""chalearn-mssl loader and `bench data check`: layout, ground truth sources and every bad-input case."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest

from benchmark.datasets.chalearn import ChalearnMSSL, check_dataset, scan
from benchmark.errors import DataError

factory = ChalearnMSSL.open

TRAIN_V = "TRAIN/MSSL_TRAIN_SET_VIDEOS_ELAN"


def make(root: Path, gt, videos=("v1", "v2"), labels=None, txt=None, pose_only=()) -> Path:
    (root / TRAIN_V).mkdir(parents=True)
    for v in videos:
        (root / TRAIN_V / f"{v}.mp4").write_bytes(b"not really a video")
    for v in pose_only:
        (root / TRAIN_V / f"{v}.pose").write_bytes(b"pose")
    if gt is not None:
        with open(root / "TRAIN/MSSL_TRAIN_SET_GT.pkl", "wb") as f:
            pickle.dump(gt, f)
    if txt is not None:
        (root / "TRAIN/MSSL_TRAIN_SET_GT_TXT").mkdir()
        for v, text in txt.items():
            (root / "TRAIN/MSSL_TRAIN_SET_GT_TXT" / f"{v}.txt").write_text(text)
    if labels is not None:
        (root / "MSSL_SET_LABELS.txt").write_text("\n".join(labels) + "\n")
    return root


def test_reads_layout_pickle_and_default_classes(tmp_path):
    root = make(tmp_path, {"v1": [[3, 400, 800], [59, 0, 120]], "v2": []})
    ds = factory(root, {}, tmp_path / "cache")
    assert ds.splits() == ["train"] and ds.num_classes == 60 and ds.class_names[5] == "class_5"
    v1 = ds.videos("train")[0]
    assert v1.video_id == "v1" and v1.video_path.name == "v1.mp4" and v1.pose_path is None
    assert v1.annotations == ((59, 0, 120), (3, 400, 800))  # sorted by start
    assert {v.video_id: v.annotations for v in ds.videos("train")} == {"v1": ((59, 0, 120), (3, 400, 800)), "v2": ()}
    assert len(ds.fingerprint()) == 16


def test_txt_fallback_labels_file_and_pose_only(tmp_path):
    root = make(
        tmp_path,
        None,
        videos=("a",),
        txt={"a": "1,40,80\n0,200,400\n", "b": "2,0,40\n"},
        labels=["HOLA", "ADIOS", "CASA"],
        pose_only=("a", "b"),
    )
    ds = ChalearnMSSL(root)
    assert ds.class_names == ["HOLA", "ADIOS", "CASA"]
    a, b = ds.videos("train")
    assert a.pose_path.name == "a.pose" and a.video_path.name == "a.mp4"
    assert b.video_path is None and b.pose_path.name == "b.pose"  # pose instead of video
    assert a.annotations == ((1, 40, 80), (0, 200, 400))


def test_fingerprint_tracks_annotations_and_files(tmp_path):
    a = make(tmp_path / "a", {"v1": [[1, 0, 40]], "v2": []})
    b = make(tmp_path / "b", {"v1": [[1, 0, 80]], "v2": []})
    c = make(tmp_path / "c", {"v1": [[1, 0, 40]], "v2": []})
    fa, fb, fc = (ChalearnMSSL(p).fingerprint() for p in (a, b, c))
    assert fa != fb and fa == fc
    (c / TRAIN_V / "v2.mp4").write_bytes(b"longer content than before")
    assert ChalearnMSSL(c).fingerprint() != fa


def test_fingerprint_follows_contents_and_remembers_hashes(tmp_path):
    """A file overwritten in place with the same size is a new dataset; hashes are read once per (size, mtime)."""
    root = make(tmp_path / "d", {"v1": [[1, 0, 40]], "v2": []})
    cache = tmp_path / "cache"
    first = factory(root, {}, cache).fingerprint()
    memo = next((cache / "datasets").glob("chalearn-mssl-*.json"))
    assert len(json.loads(memo.read_text())["files"]) == 2
    video = root / TRAIN_V / "v2.mp4"
    stat = video.stat()
    video.write_bytes(b"NOT really a video")  # same size, other content
    assert video.stat().st_size == stat.st_size
    second = factory(root, {}, cache).fingerprint()
    assert second != first
    assert ChalearnMSSL(root).fingerprint() == second  # without a memo: the same fingerprint
    # the memo is trusted while size and mtime stand: a warm start reads no file
    remembered = video.stat().st_mtime_ns
    video.write_bytes(b"not really a video")  # the first content again, and the mtime put back
    os.utime(video, ns=(remembered, remembered))
    assert factory(root, {}, cache).fingerprint() == second
    assert ChalearnMSSL(root).fingerprint() == first  # read afresh: the content decides


@pytest.mark.parametrize(
    "gt, needle",
    [
        ({"v1": [[1, 0, 40]], "ghost": [[1, 0, 40]]}, "ghost"),
        ({"v1": [[60, 0, 40]]}, "class id 60 outside the class list"),
        ({"v1": [[-1, 0, 40]]}, "outside the class list"),
        ({"v1": [[1, 0, 400], [2, 200, 600]]}, "overlapping annotations"),
        ({"v1": [[1, 400, 200]]}, "inverted"),
        ({"v1": [[1, 0.5, 40]]}, "non-integer"),
        ({"v1": [[1, "0", 40]]}, "non-integer"),
        ({"v1": [[1, 0]]}, "is not [class_id, start_ms, end_ms]"),
        ([["v1", 1, 0, 40]], "dict of lists"),
        ({"v1": 5}, "dict of lists"),
    ],
)
def test_bad_ground_truth_is_a_data_error_naming_file_and_video(tmp_path, gt, needle):
    root = make(tmp_path, gt)
    with pytest.raises(DataError) as e:
        ChalearnMSSL(root)
    msg = str(e.value)
    assert needle in msg and "MSSL_TRAIN_SET_GT.pkl" in msg
    if isinstance(gt, dict):
        assert "video" in msg


def test_bad_txt_ground_truth(tmp_path):
    root = make(tmp_path, None, videos=("v1",), txt={"v1": "1,0,40\n2,abc,80\n3,400,200\n"})
    with pytest.raises(DataError) as e:
        ChalearnMSSL(root)
    msg = str(e.value)
    assert "v1.txt" in msg and "non-integer" in msg and "inverted" in msg and "'v1'" in msg


def test_touching_annotations_allowed_and_integral_floats_accepted(tmp_path):
    root = make(tmp_path, {"v1": [[1, 0, 400], [2, 400, 600], [3, 640.0, 680]], "v2": []})
    assert ChalearnMSSL(root).videos("train")[0].annotations[-1] == (3, 640, 680)


def test_malicious_pickle_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    root = make(tmp_path / "d", None)
    with open(root / "TRAIN/MSSL_TRAIN_SET_GT.pkl", "wb") as f:
        pickle.dump({"v1": Evil()}, f)
    with pytest.raises(DataError, match="MSSL_TRAIN_SET_GT.pkl"):
        ChalearnMSSL(root)
    assert not marker.exists()


def test_root_none_and_missing_folder_and_num_classes(tmp_path):
    with pytest.raises(DataError, match="--data PATH"):
        factory(None, {}, tmp_path)
    with pytest.raises(DataError, match="not found"):
        factory(tmp_path / "nope", {}, tmp_path)
    root = make(tmp_path / "d", {"v1": [[9, 0, 40]], "v2": []})
    with pytest.raises(DataError, match="class id 9 outside the class list 0..4"):
        factory(root, {"num_classes": 5}, tmp_path)
    assert factory(root, {"num_classes": 10}, tmp_path).num_classes == 10
    with pytest.raises(DataError, match="num_classes"):
        factory(root, {"num_classes": "ten"}, tmp_path)


def test_check_collects_every_problem(tmp_path):
    root = make(tmp_path, {"v1": [[1, 400, 200], [70, 0, 40]], "ghost": []})
    rep = check_dataset(root)
    text = "\n".join(rep["problems"])
    assert "inverted" in text and "class id 70" in text and "'ghost'" in text
    assert "OpenCV cannot open" in text or "zero decodable frames" in text  # the fake mp4 files
    assert scan(root).findings.problems  # the loader sees the same problems
