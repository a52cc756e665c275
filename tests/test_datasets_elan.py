"""The ``elan`` dataset: ELAN corpora written with pympi-ling, media as ``.pose`` files; every setting and bad input.

:func:`write_corpus` (hand-made annotations) and :func:`write_synthetic_corpus` (the synthetic signer's motion
and ground truth as an ELAN corpus, learnable) are importable by other tests.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from benchmark.datasets.elan import ElanCorpus, seeded_splits
from benchmark.errors import BenchError, DataError

# -- corpus writers ---------------------------------------------------------------------------------------------


def write_pose(path: Path, frames: int, seed: int = 0) -> Path:
    """A valid MediaPipe-Holistic ``.pose`` file of ``frames`` frames (random joints)."""
    from benchmark.datasets.synthetic.motion import Skeleton
    from benchmark.datasets.synthetic.posefile import write_pose as write_skeleton

    rng = np.random.default_rng(seed)
    body = rng.uniform(10, 100, (frames, 33, 3))
    hand = lambda: rng.uniform(10, 100, (frames, 21, 3))
    sk = Skeleton(body, hand(), hand(), np.zeros((frames, 3)), np.zeros((frames, 2)), (10, 8), 40.0, 10.0, 128, 72)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_skeleton(path, sk)
    return path


def write_eaf(path: Path, tiers: dict[str, list[tuple[int, int, str]]]) -> Path:
    """An ``.eaf`` with ``{tier: [(start_ms, end_ms, value), ...]}`` (pympi's default tier removed)."""
    from pympi.Elan import Eaf, to_eaf

    eaf = Eaf()
    eaf.remove_tier("default")
    for tier, anns in tiers.items():
        eaf.add_tier(tier)
        for start, end, value in anns:
            eaf.add_annotation(tier, start, end, value)
    path.parent.mkdir(parents=True, exist_ok=True)
    to_eaf(str(path), eaf)
    return path


def write_corpus(root: Path, videos: dict[str, dict[str, list]], frames: int = 100, folder: str = "") -> Path:
    """``{video: {tier: [(start, end, value)]}}`` -> ``root/<folder>/<video>.pose`` + ``.eaf`` beside it."""
    for i, (video, tiers) in enumerate(videos.items()):
        write_pose(root / folder / f"{video}.pose", frames, seed=i)
        write_eaf(root / folder / f"{video}.eaf", tiers)
    return root


def write_synthetic_corpus(root: Path, videos: int = 6, classes: int = 3, seconds: float = 4.0, seed: int = 0):
    """The synthetic signer (exact joints, no rendering) as an ELAN corpus: ``<video>.pose`` + ``<video>.eaf``
    (tier ``Gloss``, the sign's gloss name; a ``Translation`` tier beside it).

    :return: ``(class_names, {video: [[class_id, start_ms, end_ms], ...]})``, the ground truth as written
    """
    from benchmark.datasets.synthetic.motion import build_skeleton, hand_tracks
    from benchmark.datasets.synthetic.posefile import write_pose as write_skeleton
    from benchmark.datasets.synthetic.writer import plan

    p = plan(videos=videos, classes=classes, signers=2, seed=seed, seconds=seconds, size=144)
    names = [p["vocab"][c].gloss for c in range(classes)]
    truth = {}
    for job in p["jobs"]:
        rng = np.random.default_rng(np.random.SeedSequence([seed, 7, job["index"]]))
        dom, non = hand_tracks(job["items"], job["vocab"], job["signer"], rng)
        sk = build_skeleton(dom, non, job["signer"], job["width"], job["height"], rng)
        video = job["video_id"]
        root.mkdir(parents=True, exist_ok=True)
        write_skeleton(root / f"{video}.pose", sk)
        anns = [list(map(int, a)) for a in p["gt"][job["split"]][video]]
        gloss = [(s, e, names[c]) for c, s, e in anns if e > s]
        write_eaf(root / f"{video}.eaf", {"Gloss": gloss, "Translation": [(0, 1000, "a sentence")]})
        truth[video] = [a for a in anns if a[2] > a[1]]
    return names, truth


def open_elan(root: Path, cache: Path | None = None, **settings) -> ElanCorpus:
    return ElanCorpus.open(root, settings, cache or root.parent / "cache")


def by_id(ds: ElanCorpus) -> dict:
    return {v.video_id: v for s in ds.splits() for v in ds.videos(s)}


# -- reading ----------------------------------------------------------------------------------------------------


def test_reads_media_and_eaf_at_any_depth_with_tier_glob(tmp_path):
    root = tmp_path / "corpus"
    write_pose(root / "signer1/session/a.pose", 100)
    (root / "signer1/session/a.mp4").write_bytes(b"video beside the pose")  # one video, both files
    write_eaf(
        root / "annotations/a.eaf",  # an .eaf anywhere in the tree, matched by stem
        {"Gloss RH": [(1010, 2030, "HOUSE"), (2500, 2900, "  CAR ")], "Gloss LH": [(3000, 3100, "HOUSE")]},
    )
    write_corpus(root, {"b": {"Gloss RH": [(0, 400, "CAR")], "Translation": [(0, 400, "a car")]}}, folder="x/y")
    write_corpus(root, {"c": {"Gloss RH": [(40, 80, "HOUSE")]}})
    ds = open_elan(root, tier="Gloss*", top_k=2)
    assert ds.class_names == ["HOUSE", "CAR"]  # 3 x HOUSE, 2 x CAR (the Translation tier is not matched)
    videos = by_id(ds)
    a = videos["a"]
    assert a.pose_path == root / "signer1/session/a.pose" and a.video_path == root / "signer1/session/a.mp4"
    # ELAN's milliseconds, read unchanged (the frame grid is the pipeline's, benchmark.engine.clips)
    assert a.annotations == ((0, 1010, 2030), (1, 2500, 2900), (0, 3000, 3100))
    assert videos["b"].annotations == ((1, 0, 400),)
    assert ds.annotation_file("a") == root / "annotations/a.eaf"
    assert sorted(videos) == ["a", "b", "c"] and all(ds.labelled(s) for s in ds.splits())
    assert ds.missing_ground_truth("train") == {} and ds.warnings == []
    assert len(ds.fingerprint()) == 16


def test_tier_errors_list_the_tiers_found(tmp_path):
    root = write_corpus(tmp_path / "c", {"a": {"Gloss RH": [(0, 400, "X")], "Mouth": [(0, 400, "m")]}})
    with pytest.raises(DataError) as e:
        open_elan(root, tier="Lexeme*")
    msg = str(e.value)
    assert f"{root / 'a.eaf'}: no tier matches tier 'Lexeme*'; tiers found: 'Gloss RH', 'Mouth'" in msg
    with pytest.raises(DataError, match="2 tiers \\('Gloss RH', 'Mouth'\\); set the dataset setting tier"):
        open_elan(root)  # the default: the file's only tier
    assert open_elan(root, tier="Gloss RH").class_names == ["X"]  # an exact name
    with pytest.raises(DataError, match="no tier matches tier 'gloss\\*'"):
        open_elan(root, tier="gloss*")  # case-sensitive


def test_reference_tier_takes_its_parents_times(tmp_path):
    from pympi.Elan import Eaf, to_eaf

    root = tmp_path / "c"
    write_pose(root / "a.pose", 50)
    eaf = Eaf()
    eaf.remove_tier("default")
    eaf.add_linguistic_type("ref", "Symbolic_Association")
    eaf.add_tier("Sign")
    eaf.add_annotation("Sign", 400, 800, "sign-1")
    eaf.add_tier("Gloss", ling="ref", parent="Sign")
    eaf.add_ref_annotation("Gloss", "Sign", 600, "HELLO")
    to_eaf(str(root / "a.eaf"), eaf)
    assert by_id(open_elan(root, tier="Gloss"))["a"].annotations == ((0, 400, 800),)


def test_labels_file_versus_top_k(tmp_path):
    root = tmp_path / "c"
    write_corpus(
        root,
        {
            "a": {"G": [(0, 400, "ZEBRA"), (400, 800, "APPLE"), (800, 1200, "MOON"), (1200, 1600, "SUN")]},
            "b": {"G": [(0, 400, "ZEBRA"), (400, 800, "APPLE"), (800, 1200, "SUN")]},
        },
    )
    # top_k: most frequent first, ties by name (APPLE, SUN, ZEBRA occur twice, MOON once)
    assert open_elan(root).class_names == ["APPLE", "SUN", "ZEBRA", "MOON"]
    ds = open_elan(root, top_k=2)
    assert ds.class_names == ["APPLE", "SUN"]
    assert by_id(ds)["a"].annotations == ((0, 400, 800), (1, 1200, 1600))  # ZEBRA and MOON are background
    assert open_elan(root, top_k=10).warnings == [f"{root}: only 4 distinct glosses (top_k 10): 4 classes"]

    (root / "glosses.txt").write_text("MOON\nZEBRA\nUNICORN\n\n")
    ds = open_elan(root, labels="glosses.txt")  # relative to the dataset folder
    assert ds.class_names == ["MOON", "ZEBRA", "UNICORN"]
    assert by_id(ds)["a"].annotations == ((1, 0, 400), (0, 800, 1200))
    assert ds.warnings == [f"{root / 'glosses.txt'}: gloss 'UNICORN' never occurs in the matched tiers"]
    (tmp_path / "elsewhere.txt").write_text("SUN\n")
    os.chdir(tmp_path)
    assert open_elan(root, labels="elsewhere.txt").class_names == ["SUN"]  # then the working directory

    (root / "bad.txt").write_text("MOON\n\nSUN\nMOON\n")
    with pytest.raises(DataError) as e:
        open_elan(root, labels="bad.txt")
    assert "blank line(s)" in str(e.value) and "gloss 'MOON' listed 2 times" in str(e.value)
    with pytest.raises(DataError, match="setting labels: file 'nope.txt' not found"):
        open_elan(root, labels="nope.txt")


def test_splits_csv(tmp_path):
    root = write_corpus(tmp_path / "c", {v: {"G": [(0, 400, "X")]} for v in ("a", "b", "c", "d")})
    (root / "splits.csv").write_text("video,split,signer\na,train,1\nb,validation,1\nc,test,2\n")
    ds = open_elan(root, splits="splits.csv", top_k=1)
    assert [(s, [v.video_id for v in ds.videos(s)]) for s in ds.splits()] == [
        ("train", ["a"]),
        ("validation", ["b"]),
        ("test", ["c"]),
    ]
    assert ds.warnings == [f"{root / 'splits.csv'}: video 'd' has no split; left out"]
    (root / "bad.csv").write_text("video,split\na,dev\nzz,train\na,train\na,test\n")
    with pytest.raises(DataError) as e:
        open_elan(root, splits="bad.csv")
    msg = str(e.value)
    assert "line 2: split 'dev' is not one of train, validation, test" in msg
    assert "line 3: video 'zz' is not in the dataset" in msg and "line 5: video 'a' listed in train and test" in msg
    (root / "nohead.csv").write_text("a,train\n")
    with pytest.raises(DataError, match="needs the columns video,split"):
        open_elan(root, splits="nohead.csv")


def test_seeded_split_is_deterministic_70_15_15():
    videos = [f"v{i:02d}" for i in range(20)]
    first = seeded_splits(videos, 0)
    assert first == seeded_splits(list(reversed(videos)), 0)  # the order given does not matter
    counts = {s: sum(1 for x in first.values() if x == s) for s in ("train", "validation", "test")}
    assert counts == {"train": 14, "validation": 3, "test": 3}
    assert seeded_splits(videos, 1) != first
    more = seeded_splits([*videos, "new"], 0)
    assert sum(more[v] != first[v] for v in videos) <= 2  # adding a video moves at most the boundary ones
    for n in (3, 4, 6):
        assert set(seeded_splits(videos[:n], 0).values()) == {"train", "validation", "test"}
    assert set(seeded_splits(videos[:2], 0).values()) == {"train", "test"}


def test_seeded_split_in_the_dataset(tmp_path):
    root = write_corpus(tmp_path / "c", {f"v{i}": {"G": [(0, 400, "X")]} for i in range(6)}, frames=20)
    ds = open_elan(root, seed=3)
    assert ds.splits() == ["train", "validation", "test"]
    assert [len(ds.videos(s)) for s in ds.splits()] == [4, 1, 1]
    assert {v: r.split for v, r in by_id(ds).items()} == seeded_splits([f"v{i}" for i in range(6)], 3)
    assert ds.fingerprint() != open_elan(root, seed=4).fingerprint()


def test_overlap_policies(tmp_path):
    root = write_corpus(
        tmp_path / "c", {"a": {"R": [(0, 800, "X"), (400, 1200, "Y")], "L": [(800, 900, "X"), (2000, 2400, "Y")]}}
    )
    with pytest.raises(DataError) as e:
        open_elan(root, tier="*")  # default: error
    msg = str(e.value)
    assert (
        f"{root / 'a.eaf'}: video 'a': annotations 'X' 0-800 ms (tier 'R') and 'Y' 400-1200 ms (tier 'R') overlap"
        in msg
    )
    assert "'X' 800-900 ms (tier 'L')" in msg  # inside Y, which reaches 1200
    ds = open_elan(root, tier="*", overlap="drop")
    # Y overlaps X and is dropped; the second X then overlaps nothing kept
    assert by_id(ds)["a"].annotations == ((0, 0, 800), (0, 800, 900), (1, 2000, 2400))
    assert ds.warnings[-1:] == [f"{root / 'a.eaf'}: video 'a': 1 overlapping annotation(s) dropped (overlap: drop)"]
    ds = open_elan(root, tier="*", overlap="keep")
    assert by_id(ds)["a"].annotations == ((0, 0, 800), (1, 400, 1200), (0, 800, 900), (1, 2000, 2400))
    # touching signs do not overlap
    ok = write_corpus(tmp_path / "t", {"a": {"G": [(0, 400, "X"), (400, 800, "Y")]}})
    assert by_id(open_elan(ok))["a"].annotations == ((0, 0, 400), (1, 400, 800))


def test_malformed_and_non_eaf_files_are_errors_naming_them(tmp_path):
    root = write_corpus(tmp_path / "c", {"a": {"G": [(0, 400, "X")]}, "b": {"G": [(0, 400, "X")]}})
    (root / "b.eaf").write_text("<ANNOTATION_DOCUMENT><TIER")  # truncated
    write_pose(root / "c.pose", 20)
    (root / "c.eaf").write_text("<html></html>")  # XML, but not ELAN
    with pytest.raises(DataError) as e:
        open_elan(root)
    msg = str(e.value)
    assert f"{root / 'b.eaf'}: cannot be read as an ELAN file" in msg
    assert f"{root / 'c.eaf'}: cannot be read as an ELAN file" in msg
    assert "2 problem(s)" in msg and "bench data check" in msg


def test_media_without_eaf_fail_skip_or_empty(tmp_path):
    from benchmark.stages.data import run_data

    root = write_corpus(tmp_path / "c", {f"v{i}": {"G": [(0, 400, "X")]} for i in range(4)}, frames=20)
    write_pose(root / "sub/lonely.pose", 20)
    write_eaf(root / "orphan.eaf", {"G": [(0, 400, "X")]})  # an .eaf without media: a warning
    with pytest.raises(DataError) as e:
        open_elan(root)
    assert f"{root / 'sub/lonely.pose'}: video 'lonely': no annotation file lonely.eaf" in str(e.value)
    assert "on_missing_annotation to skip" in str(e.value)

    ds = open_elan(root, on_missing_annotation="skip")
    assert "lonely" not in by_id(ds)
    assert f"{root / 'sub/lonely.pose'}: video 'lonely': no lonely.eaf; left out" in ds.warnings
    assert f"{root / 'orphan.eaf'}: no media file orphan.mp4 or orphan.pose; ignored" in ds.warnings

    ds = open_elan(root, on_missing_annotation="empty")
    lonely = by_id(ds)["lonely"]
    assert lonely.annotations == ()
    assert ds.missing_ground_truth(lonely.split) == {"lonely": str(root / "sub/lonely.eaf")}
    if lonely.split in ("train", "test"):  # the core decides (--on-bad-annotation)
        with pytest.raises(DataError, match="video 'lonely' of the labelled .* split has no ground-truth entry"):
            run_data(ds, on_bad_annotation="fail")
    assert "lonely" in {v.video_id for vs in run_data(ds, on_bad_annotation="clip").videos.values() for v in vs}


def test_duplicate_stems_are_errors_naming_both(tmp_path):
    root = write_corpus(tmp_path / "c", {"a": {"G": [(0, 400, "X")]}}, folder="one")
    write_pose(root / "two/a.pose", 20)
    (root / "one/a.mov").write_bytes(b"x")  # a video beside the .pose: the same video
    (root / "one/a.mp4").write_bytes(b"x")  # a second one: which is it?
    write_eaf(root / "three/a.eaf", {"G": [(0, 400, "X")]})
    with pytest.raises(DataError) as e:
        open_elan(root)
    msg = str(e.value)
    assert f"{root / 'one/a.mp4'}: video 'a': a second media file in the same folder ({root / 'one/a.mov'})" in msg
    assert f"{root / 'two/a.pose'}: video 'a': a second media file in another folder ({root / 'one/a.pose'})" in msg
    assert f"{root / 'three/a.eaf'}: video 'a': a second annotation file (first: {root / 'one/a.eaf'})" in msg


def test_fingerprint_follows_contents_and_caches_hashes(tmp_path):
    import json

    tiers = {"G": [(0, 400, "ABC")], "Note": [(0, 400, "hello")]}
    root = write_corpus(tmp_path / "c", {"a": tiers, "b": tiers})
    cache = tmp_path / "cache"
    fp = open_elan(root, cache, tier="G").fingerprint()
    stores = list((cache / "datasets").glob("elan-*.json"))
    assert len(stores) == 1
    hashed = json.loads(stores[0].read_text())["files"]
    assert sorted(Path(k).name for k in hashed) == ["a.pose", "b.pose"]
    assert open_elan(root, cache, tier="G").fingerprint() == fp  # unchanged, read from the remembered hashes

    # an .eaf changed without changing its size nor its labels (a tier that is not read)
    eaf = root / "a.eaf"
    size, labels = eaf.stat().st_size, by_id(open_elan(root, cache, tier="G"))["a"].annotations
    eaf.write_text(eaf.read_text().replace(">hello<", ">hallo<"))
    assert eaf.stat().st_size == size and by_id(open_elan(root, cache, tier="G"))["a"].annotations == labels
    assert open_elan(root, cache, tier="G").fingerprint() != fp

    # a .pose changed in place, same size (the mtime differs: the remembered hash is not reused)
    pose = root / "b.pose"
    before = open_elan(root, cache, tier="G").fingerprint()
    data = bytearray(pose.read_bytes())
    data[-1] ^= 0xFF
    st = pose.stat()
    pose.write_bytes(bytes(data))
    os.utime(pose, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert open_elan(root, cache, tier="G").fingerprint() != before

    # settings that change the labels change it; without a cache it is the same value
    assert (
        open_elan(root, cache, tier="*", overlap="keep").fingerprint() != open_elan(root, cache, tier="G").fingerprint()
    )
    assert ElanCorpus(root, {"tier": "G"}).fingerprint() == open_elan(root, cache, tier="G").fingerprint()


def test_settings_are_checked(tmp_path):
    root = write_corpus(tmp_path / "c", {"a": {"G": [(0, 400, "X")]}})
    with pytest.raises(DataError, match="unknown setting 'tiers'"):
        open_elan(root, tiers="G")
    with pytest.raises(DataError, match="setting overlap must be one of error, drop, keep, got 'merge'"):
        open_elan(root, overlap="merge")
    with pytest.raises(DataError, match="setting top_k must be an integer >= 1, got 0"):
        open_elan(root, top_k=0)
    with pytest.raises(DataError, match="needs a folder"):
        ElanCorpus.open(None, {}, tmp_path)
    with pytest.raises(DataError, match="dataset folder not found"):
        open_elan(tmp_path / "missing")


def test_registered_and_run_data_chooses_the_splits(tmp_path):
    from benchmark.plugins import get_plugin_manager
    from benchmark.stages.data import run_data

    assert get_plugin_manager().components("dataset").get("elan") is ElanCorpus
    names, truth = write_synthetic_corpus(tmp_path / "c", videos=6, classes=3, seconds=4.0)
    ds = open_elan(tmp_path / "c", tier="Gloss", top_k=3)
    assert sorted(ds.class_names) == sorted(names)
    index = [names.index(n) for n in ds.class_names]  # top_k orders by frequency
    got = {v: [[index[c], s, e] for c, s, e in r.annotations] for v, r in by_id(ds).items()}
    assert got == {v: sorted(a, key=lambda x: (x[1], x[2])) for v, a in truth.items()}  # the grid round trip
    data = run_data(ds, on_bad_annotation="fail")
    assert data.eval_split == "test" and data.select_split == "validation"
    assert [len(data.videos[s]) for s in ("train", "validation", "test")] == [4, 1, 1]
    assert data.fingerprint == ds.fingerprint()


def test_bench_data_check_elan(tmp_path):
    from benchmark.commands.main import cli

    root = tmp_path / "c"
    write_synthetic_corpus(root, videos=4, classes=2, seconds=4.0)
    res = CliRunner().invoke(cli, ["data", "check", str(root), "--dataset", "elan", "--tier", "Gloss"])
    assert res.exit_code == 0, res.output
    assert "2 classes" in res.output and "no problems found" in res.output
    assert "instances per class" in res.output and "(0 video, 2 pose)" in res.output
    assert "ground truth the .eaf files (tier 'Gloss')" in res.output

    write_eaf(root / "p01_n000.eaf", {"Gloss": [(0, 400, "X"), (10_000, 10_400, "X")]})  # past the 4 s media
    res = CliRunner().invoke(
        cli, ["data", "check", str(root), "--dataset", "elan", "--tier", "Gloss", "--set", "labels=null"]
    )
    assert res.exit_code == 1
    assert "annotation ends at 10400 ms, after the video's end (100 frames" in res.output
    res = CliRunner().invoke(cli, ["data", "check", str(root), "--dataset", "elan"])
    assert res.exit_code == 1 and "2 tiers ('Gloss', 'Translation')" in res.output
    res = CliRunner().invoke(cli, ["data", "check", str(root), "--tier", "Gloss"])
    assert res.exit_code == 2 and "add --dataset elan" in res.output


def test_bad_elan_annotation_fails_the_run_data_check(tmp_path):
    from benchmark.stages.data import run_data

    root = write_corpus(tmp_path / "c", {f"v{i}": {"G": [(0, 400, "X"), (3000, 3400, "X")]} for i in range(3)}, 50)
    ds = open_elan(root)
    with pytest.raises(BenchError, match="ends after the video"):
        run_data(ds, on_bad_annotation="fail")
