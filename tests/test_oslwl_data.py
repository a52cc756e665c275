"""The OSLWL track's data: the synthetic generator's design (disjoint class sets, one query per target, held-out
dictionary signer), the written folder (official scorer, restricted loader), the ``chalearn-oslwl`` reader and
its errors, and the cache-backed ``synthetic-oslwl`` dataset."""

from __future__ import annotations

import pickle
import shutil

import pytest

from benchmark.datasets.oslwl import LAYOUT, QUERY_SPLITS, ChalearnOSLWL
from benchmark.datasets.synthetic.oslwl import OSLWL_DEFAULTS, generate_oslwl, plan_oslwl
from benchmark.datasets.synthetic.oslwl_dataset import SyntheticOSLWL, settings_hash
from benchmark.errors import BenchError, DataError
from benchmark.metrics.chalearn import score
from benchmark.storage.safe_pickle import load_annotations

SMALL = dict(
    train_videos=2, train_classes=3, queries=2, targets_per_query=2, signers=3, seconds=4.0, target_seconds=3.0, size=64
)
TINY = dict(
    train_videos=1, train_classes=1, queries=1, targets_per_query=1, signers=2, seconds=4.0, target_seconds=3.0, size=64
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return generate_oslwl(tmp_path_factory.mktemp("oslwl") / "data", seed=5, progress=False, **SMALL)


def _signs(job):
    """``[(vocab index, first frame, frames), ...]`` of a job's timeline."""
    out, frame = [], 0
    for item in job["items"]:
        if item.kind == "sign":
            out.append((item.sign, frame, item.frames))
        frame += item.frames
    return out


def test_plan_class_sets_are_disjoint_and_each_target_holds_one_query():
    p = plan_oslwl(train_videos=4, train_classes=5, queries=5, targets_per_query=6, signers=4, seed=1)
    parts = {k: set(v) for k, v in p["parts"].items()}
    names = ("train", "validation", "test", "distractors")
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert not parts[a] & parts[b], (a, b)
    assert [len(p["parts"][k]) for k in ("train", "validation", "test")] == [5, 5, 5]
    for split in ("train", *QUERY_SPLITS):
        assert p["class_names"][split] == [p["vocab"][i].gloss for i in p["parts"][split]]
    positions, starts = set(), set()
    for split in QUERY_SPLITS:
        targets = [j for j in p["jobs"] if j["split"] == split and j["kind"] == "target"]
        assert len(targets) == 5 * 6 and set(p["gt"][split]) == {j["video_id"] for j in targets}
        for job in targets:
            signs = _signs(job)
            queries = [s for s in signs if s[0] not in parts["distractors"]]
            assert len(queries) == 1 and queries[0][0] in parts[split]  # one sign, of this split's queries
            assert len(signs) <= 4 and sum(i.frames for i in job["items"]) == 4.0 * 25
            sign, first, n = queries[0]
            [[c, start, end]] = p["gt"][split][job["video_id"]]
            assert p["parts"][split][c] == sign and (start, end) == (first * 40, (first + n - 1) * 40)
            positions.add(signs.index(queries[0]))
            starts.add(start)
        counts = [sum(gt[0][0] == c for gt in p["gt"][split].values()) for c in range(5)]
        assert counts == [6] * 5  # targets_per_query clips per query
    assert {0, 1, 2} <= positions and len(starts) > 10  # not always first, nor centred


def test_plan_dictionary_signer_and_training_videos():
    p = plan_oslwl(train_videos=4, train_classes=4, queries=3, targets_per_query=2, signers=3, seed=2)
    dictionary = p["dictionary_signer"]
    for split in QUERY_SPLITS:
        jobs = [j for j in p["jobs"] if j["split"] == split]
        assert {j["signer"].index for j in jobs if j["kind"] == "query"} == {dictionary}
        assert dictionary not in {j["signer"].index for j in jobs if j["kind"] == "target"}
        assert sorted(j["video_id"] for j in jobs if j["kind"] == "query") == sorted(p["class_names"][split])
        for j in jobs:
            if j["kind"] == "query":  # rest, sign, rest: 1.5-2.5 s, or the sign with its moves and 3-frame rests
                frames, sign = sum(i.frames for i in j["items"]), j["items"][2].frames
                assert 1.5 * 25 <= frames <= max(2.5 * 25 + 1, sign + 6 + 2 * 13)
                assert [i.kind for i in j["items"]] == ["rest", "move", "sign", "move", "rest"]
    train = [j for j in p["jobs"] if j["kind"] == "train"]
    assert len(train) == 4 and dictionary not in {j["signer"].index for j in train}
    allowed = set(p["parts"]["train"]) | set(p["parts"]["distractors"])
    for j in train:
        signs = _signs(j)
        assert {s for s, _, _ in signs} <= allowed  # no query sign in a training video
        in_class = [(p["parts"]["train"].index(s), f * 40, (f + n - 1) * 40) for s, f, n in signs if s < 4]
        assert in_class == [tuple(a) for a in p["gt"]["train"][j["video_id"]]]


def test_plan_is_deterministic_for_a_seed():
    a, b, c = plan_oslwl(seed=7), plan_oslwl(seed=7), plan_oslwl(seed=8)
    assert a["gt"] == b["gt"] and a["class_names"] == b["class_names"]
    assert [j["items"] for j in a["jobs"]] == [j["items"] for j in b["jobs"]]
    assert a["gt"] != c["gt"] and a["class_names"] != c["class_names"]
    with pytest.raises(BenchError, match="signers must be"):
        plan_oslwl(signers=1)


def test_written_folder_scores_and_loads(folder):
    for lay in LAYOUT.values():
        gt = load_annotations(folder / lay.gt)  # the project's restricted loader
        assert gt == pickle.loads((folder / lay.gt).read_bytes()) and gt
        result = score(gt, gt)  # the official scorer
        assert result["f1"] == 1.0 and result["fn"] == 0
        names = (folder / lay.labels).read_text().splitlines()
        assert all(0 <= c < len(names) for anns in gt.values() for c, _, _ in anns)
        for video in gt:
            assert (folder / lay.videos / f"{video}.mp4").is_file() and (
                folder / lay.videos / f"{video}.pose"
            ).is_file()
        if lay.queries:
            assert sorted(p.stem for p in (folder / lay.queries).glob("*.mp4")) == sorted(names)
            assert sorted(p.stem for p in (folder / lay.queries).glob("*.pose")) == sorted(names)
            assert all(len(anns) == 1 for anns in gt.values())
    assert (folder / "OSLWL.json").is_file() and not list(folder.parent.glob(".*tmp*"))


def test_pose_file_matches_the_video(folder):
    import cv2

    from benchmark.modalities.pose import read_pose_file

    video = sorted((folder / LAYOUT["test"].videos).glob("*.mp4"))[0]
    cap = cv2.VideoCapture(str(video))
    frames, height = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    cap.release()
    pose = read_pose_file(video.with_suffix(".pose"))[0]
    assert frames == 3 * 25 and height == 64 and pose.shape == (frames, 75, 4)


def test_reader(folder):
    ds = ChalearnOSLWL(folder)
    assert ds.splits() == ["train", "validation", "test"]
    assert ds.class_names == (folder / LAYOUT["train"].labels).read_text().splitlines() and ds.num_classes == 3
    assert [len(ds.videos(s)) for s in ds.splits()] == [2, 4, 4]
    for split in QUERY_SPLITS:
        names = ds.query_names(split)
        assert names == (folder / LAYOUT[split].labels).read_text().splitlines() and len(names) == 2
        assert not set(names) & set(ds.class_names)
        queries = ds.queries(split)
        assert [q.video_id for q in queries] == names
        assert all(q.split == split and q.annotations is None and q.video_path.is_file() for q in queries)
        assert all(q.pose_path.is_file() for q in queries)
        assert ds.labelled(split) and ds.classes_of(split) == names
        assert all(len(v.annotations) == 1 and v.annotations[0][0] < 2 for v in ds.videos(split))
    assert ds.query_names("train") == [] and ds.queries("train") == [] and ds.missing_ground_truth("train") == {}
    assert all(v.annotations is not None and v.video_path.is_file() for v in ds.videos("train"))
    assert ds.fingerprint() == ChalearnOSLWL.open(folder, {}, None).fingerprint()
    with pytest.raises(DataError, match="unknown split"):
        ds.videos("dev")
    with pytest.raises(DataError, match="needs a folder"):
        ChalearnOSLWL.open(None, {}, None)
    rep = ChalearnOSLWL.check(folder, {}, None, open_media=True)
    assert rep["problems"] == [] and rep["queries"]["validation"]["queries"] == 2
    assert rep["splits"]["test"]["stats"]["per_class"] == [2, 2]


@pytest.fixture
def broken(folder, tmp_path):
    return shutil.copytree(folder, tmp_path / "copy")


def test_a_renamed_query_file_is_an_error_naming_it(broken):
    qdir = broken / LAYOUT["validation"].queries
    gloss = sorted(qdir.glob("*.mp4"))[0].stem
    for ext in (".mp4", ".pose"):
        (qdir / f"{gloss}{ext}").rename(qdir / f"WRONG{ext}")
    with pytest.raises(DataError) as err:
        ChalearnOSLWL(broken)
    assert f"{qdir / 'WRONG.mp4'}: query 'WRONG' is no line of" in str(err.value)
    assert f"{gloss!r} has no query file" in str(err.value) and "--dataset chalearn-oslwl" in str(err.value)
    rep = ChalearnOSLWL.check(broken, {}, None, open_media=False)
    assert len(rep["problems"]) == 2


def test_a_class_out_of_range_and_a_target_without_ground_truth(broken):
    path = broken / LAYOUT["test"].gt
    gt = load_annotations(path)
    first, second, *_ = sorted(gt)
    gt[first] = [[2, *gt[first][0][1:]]]  # two queries: classes 0 and 1
    del gt[second]
    path.write_bytes(pickle.dumps(gt, protocol=4))
    with pytest.raises(DataError) as err:
        ChalearnOSLWL(broken)
    message = str(err.value)
    assert f"{path}: video {first!r}: annotation #0" in message and "class id 2 outside the class list 0..1" in message
    assert "OSLWL_QUERY_TEST_LABELS.txt names class i" in message
    assert f"{path}: target {second!r} has no ground-truth entry" in message


def test_a_missing_query_folder_or_labels_file(broken):
    shutil.rmtree(broken / LAYOUT["validation"].queries)
    (broken / LAYOUT["train"].labels).unlink()
    with pytest.raises(DataError) as err:
        ChalearnOSLWL(broken)
    assert f"{broken / LAYOUT['validation'].queries}: missing query folder" in str(err.value)
    assert f"{broken / LAYOUT['train'].labels}: missing" in str(err.value)


def test_the_test_ground_truth_is_optional(broken):
    (broken / LAYOUT["test"].gt).unlink()
    ds = ChalearnOSLWL(broken)
    assert not ds.labelled("test") and all(v.annotations is None for v in ds.videos("test"))
    assert ds.labelled("validation") and len(ds.queries("test")) == 2


def test_generator_refuses_a_full_folder_and_leaves_nothing_when_it_fails(folder, tmp_path, monkeypatch):
    with pytest.raises(BenchError, match="not empty"):
        generate_oslwl(folder, progress=False, **SMALL)

    def fail(job):
        raise RuntimeError("killed")

    import benchmark.datasets.synthetic.writer as writer

    monkeypatch.setattr(writer, "render_job", fail)  # the renderer both generators share
    (tmp_path / "parent").mkdir()
    with pytest.raises(RuntimeError):
        generate_oslwl(tmp_path / "parent" / "out", progress=False, **TINY)
    assert list((tmp_path / "parent").iterdir()) == []  # neither the folder nor its temporary sibling


def test_synthetic_dataset_generates_once_and_does_not_depend_on_workers(tmp_path, capfd):
    assert set(SyntheticOSLWL.defaults) == {*OSLWL_DEFAULTS, "workers"}
    assert settings_hash(TINY) == settings_hash({**TINY, "workers": 2}) != settings_hash({**TINY, "seed": 1})
    ds = SyntheticOSLWL.open(None, {**TINY, "workers": 2}, tmp_path / "cache", progress=False)
    assert "synth" not in capfd.readouterr().err
    assert ds.root.parent == tmp_path / "cache" / "datasets" and ds.root.name.startswith("synthetic-oslwl-")
    stamp = (ds.root / "OSLWL.json").stat().st_mtime_ns
    again = SyntheticOSLWL.open(None, {**TINY, "workers": 1}, tmp_path / "cache", progress=False)
    assert again.root == ds.root and (ds.root / "OSLWL.json").stat().st_mtime_ns == stamp
    assert not [p for p in ds.root.parent.iterdir() if p.name.startswith(".")]
    one = generate_oslwl(tmp_path / "one", workers=1, progress=False, **TINY)
    assert ChalearnOSLWL(one).fingerprint() == ds.fingerprint()  # same bytes, whatever the workers
    assert ds.splits() == ["train", "validation", "test"] and len(ds.queries("test")) == 1
    with pytest.raises(DataError, match="unknown setting"):
        SyntheticOSLWL.open(None, {"querys": 3}, tmp_path / "cache")
    rep = SyntheticOSLWL.check(None, {**TINY, "signers": 1}, tmp_path / "cache", open_media=False)
    assert any("signers" in p for p in rep["problems"])


def test_bench_data_synth_track_oslwl_writes_the_layout_and_the_datasets_are_registered(tmp_path):
    from click.testing import CliRunner

    from benchmark.commands.main import cli
    from benchmark.plugins import get_plugin_manager

    runner = CliRunner()
    args = ["--track", "oslwl", "--queries", "2", "--targets-per-query", "1", "--videos", "2", "--seconds", "6"]
    out = runner.invoke(cli, ["data", "synth", str(tmp_path / "o"), *args, "--workers", "1"])
    assert out.exit_code == 0, out.output
    assert len(list((tmp_path / "o" / "VALIDATION" / "OSLWL_QUERY_VAL_SET").glob("*.pose"))) == 2
    assert len(list((tmp_path / "o" / "TRAIN" / "MSSL_TRAIN_SET_VIDEOS").glob("*.pose"))) == 2
    check = runner.invoke(cli, ["data", "check", str(tmp_path / "o"), "--dataset", "chalearn-oslwl"])
    assert check.exit_code == 0 and "no problems found" in check.output, check.output
    wrong = runner.invoke(cli, ["data", "synth", str(tmp_path / "m"), "--queries", "2"])
    assert wrong.exit_code == 2 and "--queries: for --track oslwl" in wrong.output
    names = get_plugin_manager().components("dataset").names()
    assert {"chalearn-oslwl", "synthetic-oslwl"} <= set(names)
