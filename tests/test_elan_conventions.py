"""ELAN corpus conventions: ``*`` variants (merge / ignore / background), ``exclude``, media linked from the
``.eaf`` header, the shared past-the-end rule at the media's own frame rate, and ``bench data check``'s report
of all of them (counts and examples, repeated messages summarised, ``--no-open`` on ``.eaf`` files alone)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from benchmark.datasets.check import format_report, summarise
from benchmark.datasets.elan import (
    Conventions,
    ElanCorpus,
    check_elan,
    eaf_for_media,
    linked_media,
    media_descriptors,
    scan,
)
from benchmark.datasets.records import past_end, video_end_ms
from benchmark.errors import DataError

try:
    from tests.test_datasets_elan import by_id, open_elan, write_eaf
except ImportError:  # pragma: no cover
    from test_datasets_elan import by_id, open_elan, write_eaf


def write_pose(path: Path, frames: int, fps: float = 25.0, seed: int = 0) -> Path:
    """A valid ``.pose`` file of ``frames`` frames at ``fps`` (random joints)."""
    from benchmark.datasets.synthetic.motion import Skeleton
    from benchmark.datasets.synthetic.posefile import write_pose as write_skeleton

    rng = np.random.default_rng(seed)
    body = rng.uniform(10, 100, (frames, 33, 3))
    hand = lambda: rng.uniform(10, 100, (frames, 21, 3))
    sk = Skeleton(body, hand(), hand(), np.zeros((frames, 3)), np.zeros((frames, 2)), (10, 8), 40.0, 10.0, 128, 72)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_skeleton(path, sk, fps=fps)
    return path


def write_linked_eaf(path: Path, anns: list[tuple[int, int, str]], media_url: str, relative: str | None = None):
    """An ``.eaf`` (tier ``Gloss``) whose header links ``media_url`` (and ``relative``, RELATIVE_MEDIA_URL)."""
    from pympi.Elan import Eaf, to_eaf

    eaf = Eaf()
    eaf.remove_tier("default")
    eaf.add_tier("Gloss")
    for start, end, value in anns:
        eaf.add_annotation("Gloss", start, end, value)
    eaf.add_linked_file(media_url, relpath=relative, mimetype="video/mp4")
    path.parent.mkdir(parents=True, exist_ok=True)
    to_eaf(str(path), eaf)
    return path


A = [  # a.eaf beside a.pose (same stem)
    (0, 400, "COMER"),
    (400, 800, "*COMER"),
    (800, 1200, ":"),
    (1200, 1210, "BEBER"),  # shorter than one frame at 25 fps
    (1300, 1700, "DT:ANA"),
    (1800, 1900, "..."),
    (2000, 2400, "*BEBER"),
    (2500, 2900, "*CASA"),  # a variant of a gloss that never occurs plainly
]
SESSION = [(0, 400, "BEBER"), (500, 900, "COMER"), (1000, 1400, "*COMER")]  # cams/session1.eaf -> session1_cam2
RENAMED = [(0, 400, "COMER"), (400, 800, "BEBER"), (900, 1000, "DT:ANA")]  # renamed.eaf -> v3.pose (MEDIA_URL)


def corpus(root: Path, media: bool = True) -> Path:
    """Three videos, each annotated by an .eaf found another way; all in train (a splits file)."""
    if media:
        write_pose(root / "a.pose", 100)
        write_pose(root / "cams/session1_cam2.pose", 100, seed=1)
        write_pose(root / "v3.pose", 100, seed=2)
    write_eaf(root / "a.eaf", {"Gloss": A})
    # renamed .eaf linked by RELATIVE_MEDIA_URL; its absolute MEDIA_URL is the annotator's machine's
    write_linked_eaf(
        root / "cams/session1.eaf", SESSION, "file:///C:/Users/x/session1_cam2.pose", "./session1_cam2.pose"
    )
    # linked by MEDIA_URL only: its file name beside the .eaf
    write_linked_eaf(root / "renamed.eaf", RENAMED, "file:///D:/corpus%20old/v3.pose")
    (root / "splits.csv").write_text("video,split\na,train\nsession1_cam2,train\nv3,train\n")
    return root


def ann(ds, video):
    return by_id(ds)[video].annotations


def ignored(ds, video):
    return by_id(ds)[video].ignored


# -- variants and exclude -----------------------------------------------------------------------------------------


def test_variants_merge_is_the_default_and_counts_a_variant_as_its_class(tmp_path):
    root = corpus(tmp_path / "c")
    ds = open_elan(root, tier="Gloss", splits="splits.csv")
    # COMER 3 + *COMER 2 = 5, BEBER 3 + *BEBER 1 = 4, DT:ANA 2, CASA (only *CASA) 1; ':' and '...' excluded
    assert ds.class_names == ["COMER", "BEBER", "DT:ANA", "CASA"]
    assert ann(ds, "a") == (
        (0, 0, 400),
        (0, 400, 800),
        (1, 1200, 1210),
        (2, 1300, 1700),
        (1, 2000, 2400),
        (3, 2500, 2900),
    )
    assert ann(ds, "session1_cam2") == ((1, 0, 400), (0, 500, 900), (0, 1000, 1400))
    assert all(v.ignored == () for v in by_id(ds).values())


def test_variants_ignore_makes_variants_of_classes_ignored_spans(tmp_path):
    root = corpus(tmp_path / "c")
    ds = open_elan(root, tier="Gloss", splits="splits.csv", variants="ignore")
    assert ds.class_names == ["BEBER", "COMER", "DT:ANA"]  # 3, 3, 2: variants are not counted, CASA never a class
    assert ann(ds, "a") == ((1, 0, 400), (0, 1200, 1210), (2, 1300, 1700))
    assert ignored(ds, "a") == ((400, 800), (2000, 2400))  # *COMER, *BEBER; *CASA (no class) is background
    assert ann(ds, "session1_cam2") == ((0, 0, 400), (1, 500, 900))
    assert ignored(ds, "session1_cam2") == ((1000, 1400),)
    assert ignored(ds, "v3") == ()


def test_variants_background(tmp_path):
    root = corpus(tmp_path / "c")
    ds = open_elan(root, tier="Gloss", splits="splits.csv", variants="background")
    assert ds.class_names == ["BEBER", "COMER", "DT:ANA"]
    assert ann(ds, "a") == ((1, 0, 400), (0, 1200, 1210), (2, 1300, 1700))
    assert all(v.ignored == () for v in by_id(ds).values())
    fingerprints = {
        open_elan(root, tier="Gloss", splits="splits.csv", variants=v).fingerprint()
        for v in ("merge", "ignore", "background")
    }
    assert len(fingerprints) == 3  # the setting shapes the labels


def test_variant_marker_setting(tmp_path):
    root = corpus(tmp_path / "c")
    # no variants: '*COMER' is a gloss of its own (taken as written)
    ds = open_elan(root, tier="Gloss", splits="splits.csv", variant_marker="")
    assert ds.class_names == ["BEBER", "COMER", "*COMER", "DT:ANA", "*BEBER", "*CASA"]
    # another marker: '*' is then part of the gloss
    conv = Conventions("merge", "~", None)
    assert conv.split("~ COMER") == ("COMER", True) and conv.split("*COMER") == ("*COMER", False)
    assert Conventions().split("*AFECTAR(s)") == ("AFECTAR(s)", True)  # only the marker is removed
    assert Conventions().split("**X") == ("*X", True)  # once


def test_exclude_default_and_custom(tmp_path):
    conv = Conventions()
    for value in (":", "...", "12.", "?", "1", "*:", "--"):
        assert conv.excluded(value), value
    for value in ("A", "DT:A", "Ñ", "é", "AFECTAR(s)", "*COMER"):
        assert not conv.excluded(value), value
    root = corpus(tmp_path / "c")
    ds = open_elan(root, tier="Gloss", splits="splits.csv", exclude="")  # nothing excluded: ':' and '...' count
    assert ds.class_names == ["COMER", "BEBER", "DT:ANA", "...", ":", "CASA"]
    ds = open_elan(root, tier="Gloss", splits="splits.csv", exclude="^DT:")  # replaces the default
    assert ds.class_names == ["COMER", "BEBER", "...", ":", "CASA"]
    assert ann(ds, "v3") == ((0, 0, 400), (1, 400, 800))  # DT:ANA is background
    with pytest.raises(DataError, match="setting exclude '\\(' is not a regular expression"):
        open_elan(root, tier="Gloss", exclude="(")
    with pytest.raises(DataError, match="setting variants must be one of merge, ignore, background, got 'drop'"):
        open_elan(root, tier="Gloss", variants="drop")


def test_labels_file_with_variants_and_excluded_values(tmp_path):
    root = corpus(tmp_path / "c")
    (root / "labels.txt").write_text("COMER\nCASA\n")
    ds = open_elan(root, tier="Gloss", splits="splits.csv", labels="labels.txt")  # merge: *CASA is CASA
    assert ann(ds, "a") == ((0, 0, 400), (0, 400, 800), (1, 2500, 2900)) and ds.warnings == []
    ds = open_elan(root, tier="Gloss", splits="splits.csv", labels="labels.txt", variants="ignore")
    assert ann(ds, "a") == ((0, 0, 400),) and ignored(ds, "a") == ((400, 800), (2500, 2900))
    assert ds.warnings == [f"{root / 'labels.txt'}: gloss 'CASA' never occurs in the matched tiers"]
    (root / "bad.txt").write_text("COMER\n*BEBER\n:\n")
    with pytest.raises(DataError) as e:
        open_elan(root, tier="Gloss", labels="bad.txt")
    assert "gloss '*BEBER' is a variant (variant_marker '*'), never a class" in str(e.value)
    assert "gloss ':' matches the dataset setting exclude" in str(e.value)


def test_times_are_elan_milliseconds_unchanged(tmp_path):
    root = tmp_path / "c"
    write_pose(root / "a.pose", 100)
    write_eaf(root / "a.eaf", {"G": [(1013, 1027, "X"), (1027, 2039, "Y"), (2041, 2079, "X")]})
    ds = open_elan(root)
    assert ann(ds, "a") == ((0, 1013, 1027), (1, 1027, 2039), (0, 2041, 2079))  # touching 1027: no overlap
    write_eaf(root / "a.eaf", {"G": [(1013, 1030, "X"), (1029, 2039, "Y")]})  # 1 ms of overlap, same 40 ms frame
    with pytest.raises(DataError, match="overlap"):
        open_elan(root)


# -- media linked from the .eaf header ------------------------------------------------------------------------------


def test_media_linked_by_relative_url_and_by_media_url_name(tmp_path):
    root = corpus(tmp_path / "c")
    ds = open_elan(root, tier="Gloss", splits="splits.csv", top_k=4)
    videos = by_id(ds)
    assert sorted(videos) == ["a", "session1_cam2", "v3"]  # a linked media keeps its own stem as the id
    assert videos["session1_cam2"].pose_path == root / "cams/session1_cam2.pose"
    assert ds.annotation_file("session1_cam2") == root / "cams/session1.eaf"
    assert ds.annotation_file("v3") == root / "renamed.eaf"
    assert ds.warnings == []
    assert linked_media(root / "cams/session1.eaf") == [root / "cams/session1_cam2.pose"]
    assert linked_media(root / "renamed.eaf") == [root / "v3.pose"]  # file:///D:/corpus%20old/v3.pose by name
    assert linked_media(root / "a.eaf") == [] and media_descriptors(root / "a.eaf") == []
    assert eaf_for_media(root / "cams/session1_cam2.pose") == root / "cams/session1.eaf"  # for writing back
    assert eaf_for_media(root / "v3.pose") == root / "renamed.eaf"
    assert eaf_for_media(root / "a.pose") == root / "a.eaf"
    write_pose(root / "cams/lonely.pose", 5)
    assert eaf_for_media(root / "cams/lonely.pose") is None
    assert media_descriptors(root / "renamed.eaf") == [
        {"MEDIA_URL": "file:///D:/corpus%20old/v3.pose", "MIME_TYPE": "video/mp4"}
    ]


def test_media_link_conflicts(tmp_path):
    root = tmp_path / "c"
    write_pose(root / "v.pose", 50)
    write_pose(root / "w.pose", 50, seed=1)
    write_eaf(root / "w.eaf", {"G": [(0, 400, "X")]})
    write_linked_eaf(root / "one.eaf", [(0, 400, "X")], "file:///x/v.pose")
    write_linked_eaf(root / "two.eaf", [(0, 400, "X")], "file:///x/v.pose")
    write_linked_eaf(root / "old.eaf", [(0, 400, "X")], "file:///x/w.pose")  # w has its own w.eaf
    write_linked_eaf(root / "gone.eaf", [(0, 400, "X")], "file:///x/elsewhere.mp4")
    res = scan(root, {"on_missing_annotation": "skip"})
    assert res.findings.problems == [
        f"{root / 'two.eaf'}: video 'v': a second annotation file (first: {root / 'one.eaf'}); both link its media,"
        " and a video has one .eaf"
    ]
    assert (
        f"{root / 'old.eaf'}: links the media of video 'w', which has its own w.eaf; ignored" in res.findings.warnings
    )
    assert (
        f"{root / 'gone.eaf'}: no media file gone.mp4 or gone.pose nor the media its header links (elsewhere); ignored"
        in res.findings.warnings
    )


# -- one past-the-end rule, at the media's own rate -------------------------------------------------------------------


def test_past_end_rule():
    assert video_end_ms(100, 25) == 4000 and not past_end(4000, 100, 25) and past_end(4001, 100, 25)
    assert video_end_ms(90, 30) == 3000 and past_end(3001, 90, 30) and not past_end(3000, 90, 30)
    assert video_end_ms(100, 29.97) == 3337 and not past_end(3337, 100, 29.97) and past_end(3338, 100, 29.97)
    assert video_end_ms(100, 0) == 4000  # unknown rate: 25 fps


def test_run_check_uses_the_media_rate_and_names_the_gloss(tmp_path):
    from benchmark.stages.data import check_annotations

    root = tmp_path / "c"
    write_pose(root / "a.pose", 60, fps=30)  # 2000 ms (2400 ms if it were 25 fps)
    write_eaf(root / "a.eaf", {"G": [(0, 400, "X"), (1500, 1900, "X"), (1900, 2300, "Y"), (1950, 2050, "*X")]})
    write_pose(root / "b.pose", 60, fps=30, seed=1)
    write_eaf(root / "b.eaf", {"G": [(1600, 2000, "X")]})  # ends exactly at the video's end: fine
    ds = ElanCorpus(root, {"variants": "ignore"})
    videos = {v.video_id: v for s in ds.splits() for v in ds.videos(s)}
    assert check_annotations(ds, "train", [videos["b"]], "fail", print) == (videos["b"],)
    with pytest.raises(DataError) as e:
        check_annotations(ds, "train", [videos["a"]], "fail", print)
    assert f"{root / 'a.pose'}: video 'a': sign 'Y' [1, 1900, 2300] ends after the video" in str(e.value)
    assert "(60 frames at 30 fps = 2000 ms; 1 such sign(s))" in str(e.value)
    echoed = []
    (clipped,) = check_annotations(ds, "train", [videos["a"]], "clip", echoed.append)
    assert clipped.annotations == ((0, 0, 400), (0, 1500, 1900), (1, 1900, 2000))
    assert videos["a"].ignored == ((1950, 2050),) and clipped.ignored == ((1950, 2000),)
    assert echoed == [
        f"warning: {root / 'a.pose'}: video 'a': 1 sign(s) end after the video (2000 ms), e.g. 'Y' ending at 2300 ms;"
        " clipped (on_bad_annotation: clip)"
    ]


# -- bench data check --------------------------------------------------------------------------------------------------


def test_check_reports_conventions_with_counts_and_examples(tmp_path):
    root = corpus(tmp_path / "c")
    write_pose(root / "v3.pose", 90, fps=30, seed=2)  # another rate
    rep = check_elan(root, {"tier": "Gloss", "splits": "splits.csv"})
    assert rep["problems"] == [] and rep["frame_rates"] == {"25": 2, "30": 1}
    assert rep["total_seconds"] == pytest.approx(4 + 4 + 3)  # frames / each file's own rate
    assert rep["conventions"] == [
        "variants of classes ('*' + a class): 4 annotations of 3 classes, '*COMER' (2), '*BEBER' (1), '*CASA' (1);"
        " counted as their class (variants: merge)",
        "fingerspelling-like values (prefix 'DT:'): 2 annotations, 1 distinct, 'DT:ANA' (2); 1 of them classes"
        " (exclude: '^DT:' would leave them out)",
        "values without a letter: 2 annotations, 2 distinct, '...' (1), ':' (1); all excluded (exclude)",
        "annotations shorter than one frame at 25 fps (40 ms): 1, a.eaf: 'BEBER' 1200-1210 ms (tier 'Gloss')",
    ]
    text = format_report(rep)
    assert "frame rates: 25 fps (2 videos), 30 fps (1)" in text and "annotation values:" in text
    assert "assumes" not in text and "no problems found" in text

    (root / "labels.txt").write_text("COMER\nCASA\nSOL\nLUNA\n")
    rep = check_elan(root, {"tier": "Gloss", "splits": "splits.csv", "labels": "labels.txt", "variants": "ignore"})
    assert rep["conventions"][:2] == [
        "variants of classes ('*' + a class): 3 annotations of 2 classes, '*COMER' (2), '*CASA' (1); ignored spans,"
        " neither sign nor background (variants: ignore)",
        "variants of glosses that are not classes: 1 annotation, '*BEBER' (1); background",
    ]
    assert rep["conventions"][-1] == "glosses of the labels file that never occur: 3 of 4, 'CASA', 'SOL', 'LUNA'"


def test_check_past_end_at_the_media_rate(tmp_path):
    root = tmp_path / "c"
    write_pose(root / "a.pose", 90, fps=30)  # 3000 ms
    write_eaf(root / "a.eaf", {"G": [(0, 400, "X"), (2600, 3000, "X")]})
    assert check_elan(root)["problems"] == []  # ends exactly at the end
    write_eaf(root / "a.eaf", {"G": [(0, 400, "X"), (2600, 3200, "X")]})  # within 3600 ms, were it 25 fps
    assert check_elan(root)["problems"] == [
        f"{root / 'a.pose'}: video 'a': annotation ends at 3200 ms, after the video's end (90 frames at 30 fps ="
        " 3000 ms; sign 'X')"
    ]


def test_check_summarises_repeated_problems_and_names_tiers_differing_by_case(tmp_path):
    root = tmp_path / "c"
    for i, video in enumerate("abc"):
        write_pose(root / f"{video}.pose", 20, seed=i)
        write_eaf(root / f"{video}.eaf", {"Var": [(0, 400, "X")], "Gloss": [(0, 400, "X")]})
    rep = check_elan(root, {"tier": "VAR"})
    assert len(rep["problems"]) == 3
    text = format_report(rep)
    assert (
        "  problem: all 3 files: no tier matches tier 'VAR' ('Var' differs only by case: tier names are"
        " case-sensitive); tiers found: 'Var', 'Gloss' (e.g. a.eaf, b.eaf, c.eaf)" in text.splitlines()
    )
    assert summarise(["x/a.eaf: bad", "x/b.eaf: bad", "x/c.eaf: other", "no file here"], "x", 3) == [
        "2 files: bad (e.g. a.eaf, b.eaf)",
        "x/c.eaf: other",
        "no file here",
    ]
    assert summarise([f"r/{i}.eaf: same" for i in range(5)], "r", 5) == [
        "all 5 files: same (e.g. 0.eaf, 1.eaf, 2.eaf, ...)"
    ]
    # a tier matched while another differs only by case: a warning
    write_eaf(root / "a.eaf", {"Gloss": [(0, 400, "X")], "gloss": [(0, 400, "Y")]})
    res = scan(root, {"tier": "Gloss"})
    assert f"{root / 'a.eaf'}: tier(s) 'gloss' differ from tier 'Gloss' only by case; not read (names are" in " ".join(
        res.findings.warnings
    )


def test_check_no_open_counts_labels_of_eaf_files_without_media(tmp_path):
    from benchmark.commands.main import cli

    root = corpus(tmp_path / "c", media=False)
    args = ["data", "check", str(root), "--dataset", "elan", "--tier", "Gloss", "--set", "splits=splits.csv"]
    res = CliRunner().invoke(cli, [*args, "--no-open"])
    assert res.exit_code == 0, res.output
    # the videos are named after the media the .eaf files link: the ids they will have
    assert "4 classes" in res.output and "train         3 videos (0 video, 0 pose), 12 signs" in res.output
    assert "warning: all 3 files: no media yet; its annotations are counted (--no-open)" in res.output
    assert "duration not measured (--no-open)" in res.output
    assert "    0 COMER      5" in res.output and "    1 BEBER      4" in res.output
    res = CliRunner().invoke(cli, args)  # opening media needs media
    assert res.exit_code == 1 and "no media found" in res.output and "--no-open" in res.output
