"""`bench score HUMAN_DIR SPOTTED_DIR`: ELAN against ELAN, checked against the pickle path and hand-computed
segmentation figures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchmark.commands.score import score as score_command
from benchmark.metrics.elan_pairs import score_elan_folders
from benchmark.metrics.segmentation import boundary_hits, segmentation
from benchmark.storage.safe_pickle import dump_annotations

BENCH = str(Path(sys.executable).with_name("bench"))
LABELS = ["HOUSE", "TREE", "CAR"]


def write_eaf(path: Path, tiers: dict[str, list[tuple[int, int, str]]], scores: dict | None = None) -> Path:
    """An ``.eaf`` with ``{tier: [(start_ms, end_ms, value)]}``; ``scores``: ``{tier: [score per annotation]}``
    written into a ``<tier>-score`` tier (symbolic association), as rank metrics read them."""
    import pympi

    eaf = pympi.Elan.Eaf()
    eaf.remove_tier("default")
    for tier, rows in tiers.items():
        eaf.add_tier(tier)
        for start, end, value in rows:
            eaf.add_annotation(tier, start, end, value)
    for tier, values in (scores or {}).items():
        eaf.add_linguistic_type("signspot-score", constraints="Symbolic_Association", timealignable=False)
        eaf.add_tier(f"{tier}-score", ling="signspot-score", parent=tier)
        for (start, end, _), value in zip(tiers[tier], values):
            eaf.add_ref_annotation(f"{tier}-score", tier, (start + end) // 2, str(value))
    path.parent.mkdir(parents=True, exist_ok=True)
    assert not path.exists()  # pympi renames an existing file to .bak
    eaf.to_file(str(path))
    return path


def invoke(*args: str):
    result = CliRunner().invoke(score_command, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def as_json(*args: str) -> dict:
    result = invoke(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# -- segmentation figures, by hand ---------------------------------------------------------------------------------

# Human signs at 25 fps (40 ms a frame): frames 25..40, 50..60, 100..110.
HUMAN_SEGS = [[0, 1000, 1600], [0, 2000, 2400], [0, 4000, 4400]]
# Spotted: start off by 1 (26) and end off by 2 (42); start off by 3 (53), end exact; the third sign missed;
# one extra (150..155).
SPOTTED_SEGS = [[0, 1040, 1680], [0, 2130, 2400], [0, 6000, 6200]]
# Frames: human 16 + 11 + 11 = 38, spotted 17 + 8 + 6 = 31, both 15 + 8 = 23, either 38 + 31 - 23 = 46.
# Boundaries (6 a side): within 1 frame: start 26~25, end 60=60 -> 2 hits; within 2: also end 42~40 -> 3.
IOU, BF1_1, BF1_2 = 23 / 46, 2 / 6, 3 / 6


def test_segmentation_hand_computed():
    seg = segmentation({"v": HUMAN_SEGS}, {"v": SPOTTED_SEGS})
    assert seg["segment_iou"] == pytest.approx(IOU, abs=1e-12)
    assert (seg["frames_intersection"], seg["frames_union"]) == (23, 46)
    assert seg["boundary_precision_1"] == pytest.approx(2 / 6) and seg["boundary_recall_1"] == pytest.approx(2 / 6)
    assert seg["boundary_f1_1"] == pytest.approx(BF1_1, abs=1e-12)
    assert seg["boundary_f1_2"] == pytest.approx(BF1_2, abs=1e-12)
    assert (seg["segments_human"], seg["segments_spotted"]) == (3, 3)


def test_segmentation_pools_over_videos_and_asymmetric_counts():
    # a second video with one human sign (frames 0..9) and nothing spotted: 10 more frames of union, 2 more
    # human boundaries; a third with only a spotted sign (frames 0..4): 5 more union, 2 more spotted boundaries
    human = {"v": HUMAN_SEGS, "w": [[0, 0, 360]]}
    spotted = {"v": SPOTTED_SEGS, "x": [[3, 0, 160]]}
    seg = segmentation(human, spotted)
    assert seg["segment_iou"] == pytest.approx(23 / 61, abs=1e-12)
    p, r = 3 / 8, 3 / 8
    assert seg["boundary_precision_2"] == pytest.approx(p) and seg["boundary_recall_2"] == pytest.approx(r)
    assert seg["boundary_f1_2"] == pytest.approx(2 * p * r / (p + r), abs=1e-12)
    # at 50 fps (20 ms frames) every offset doubles: starts off by 2 and 6, ends by 4 and 0
    seg50 = segmentation({"v": HUMAN_SEGS}, {"v": SPOTTED_SEGS}, fps=50.0)
    assert seg50["boundary_f1_2"] == pytest.approx(2 / 6) and seg50["boundary_f1_1"] == pytest.approx(1 / 6)


def test_segmentation_empty_sides_and_perfect():
    for human, spotted in (({}, {}), ({"v": HUMAN_SEGS}, {}), ({}, {"v": SPOTTED_SEGS}), ({"v": []}, {"v": []})):
        seg = segmentation(human, spotted)
        assert seg["segment_iou"] == 0.0 and seg["boundary_f1_1"] == 0.0 and seg["boundary_f1_2"] == 0.0
    perfect = segmentation({"v": HUMAN_SEGS}, {"v": [list(s) for s in HUMAN_SEGS]})
    assert perfect["segment_iou"] == 1.0 and perfect["boundary_f1_1"] == 1.0 and perfect["boundary_f1_2"] == 1.0


def test_a_start_matches_only_a_start():
    # spotted frames 36..50 right after the human sign's 25..35: its start is 1 frame from the human end
    seg = segmentation({"v": [[0, 1000, 1400]]}, {"v": [[0, 1440, 2000]]})
    assert seg["boundary_f1_1"] == 0.0 and seg["boundary_f1_2"] == 0.0 and seg["segment_iou"] == 0.0


def test_boundary_hits_are_one_to_one_closest_first():
    assert boundary_hits([10], [10, 11], 1) == 1  # one human boundary serves one spotted boundary
    assert boundary_hits([10, 11], [11], 1) == 1
    # 11 is 1 from 10 and 12; 12 exactly matches 12: closest first gives 12-12 then 11-10 (2 hits)
    assert boundary_hits([10, 12], [12, 11], 1) == 2
    assert boundary_hits([10, 12], [11, 12], 1) == 2  # 11 may not take 12 first (then 12 would miss)
    assert boundary_hits([10], [13], 2) == 0 and boundary_hits([10], [13], 3) == 1


# -- ELAN corpora ----------------------------------------------------------------------------------------------------


@pytest.fixture()
def corpus(tmp_path):
    """Human and spotted folders (class values as bench spot writes them), and the same as pickles by hand."""
    human, spotted = tmp_path / "human", tmp_path / "spotted"
    write_eaf(human / "a.eaf", {"Gloss": [(0, 400, "HOUSE"), (1000, 1400, "*TREE"), (2000, 2400, ":")]})
    write_eaf(human / "sub" / "b.eaf", {"Gloss": [(0, 400, "CAR"), (400, 800, "CAR"), (900, 1300, "DT:ANA")]})
    write_eaf(human / "d.eaf", {"Gloss": [(100, 500, "TREE")]})  # no spotted file: all misses
    rows_a = [(0, 400, "HOUSE"), (1020, 1380, "TREE"), (3000, 3200, "UNKNOWN")]
    write_eaf(spotted / "a.eaf", {"Gloss": [(0, 1, "copied")], "spotted": rows_a}, {"spotted": [0.9, 0.4, 0.3]})
    write_eaf(spotted / "b.eaf", {"spotted": [(0, 800, "CAR"), (2000, 2200, "HOUSE")]}, {"spotted": [0.8, 0.7]})
    write_eaf(spotted / "c.eaf", {"spotted": [(0, 400, "HOUSE")]})  # no human file: left out
    (tmp_path / "labels.txt").write_text("\n".join(LABELS) + "\n", encoding="utf-8")
    # *TREE counts as TREE (merge); ':' and DT:ANA (not a class) are not signs; UNKNOWN is not a class
    gt = {"a": [[0, 0, 400], [1, 1000, 1400]], "b": [[2, 0, 400], [2, 400, 800]], "d": [[1, 100, 500]]}
    pred = {"a": [[0, 0, 400], [1, 1020, 1380]], "b": [[2, 0, 800], [0, 2000, 2200]]}
    scored = {"a": [[0, 0, 400, 0.9], [1, 1020, 1380, 0.4]], "b": [[2, 0, 800, 0.8], [0, 2000, 2200, 0.7]]}
    dump_annotations(gt, tmp_path / "gt.pkl")
    dump_annotations(pred, tmp_path / "pred.pkl")
    (tmp_path / "pred.json").write_text(json.dumps(scored), encoding="utf-8")
    return tmp_path


def elan_args(root: Path, *more: str) -> list[str]:
    return [root / "human", root / "spotted", "--tier", "Gloss", "--labels", root / "labels.txt", *more]


def test_elan_mode_equals_the_pickle_path(corpus):
    pickled = as_json(corpus / "gt.pkl", corpus / "pred.pkl")
    elan = as_json(*elan_args(corpus))
    assert 0 < pickled["f1"] < 1 and pickled["fp"] > 0 and pickled["fn"] > 0  # not a trivial score
    for key in ("f1", "precision", "recall"):
        assert abs(elan[key] - pickled[key]) < 1e-9, key
    assert (elan["tp"], elan["fp"], elan["fn"]) == (pickled["tp"], pickled["fp"], pickled["fn"])
    assert elan["per_class"] == pickled["per_class"] and elan["classes"] == LABELS
    assert elan["num_spotted_not_a_class"] == 1
    files = elan["files"]
    assert [f["file"] for f in files["paired"]] == ["a", "b"]
    assert [f["file"] for f in files["human_only"]] == ["d"] and [f["file"] for f in files["spotted_only"]] == ["c"]
    per_file = {row["file"]: row for row in elan["per_file"]}
    assert set(per_file) == {"a", "b", "d"}
    assert (per_file["d"]["human"], per_file["d"]["spotted"], per_file["d"]["tp"], per_file["d"]["fn"]) == (1, 0, 0, 13)
    for key in ("tp", "fp", "fn"):
        assert sum(row[key] for row in elan["per_file"]) == elan[key]
    assert "segmentation" not in elan  # three classes


def test_score_tier_feeds_rank_metrics(corpus):
    pickled = as_json(corpus / "gt.pkl", corpus / "pred.json", "--metric", "tal-map")
    elan = as_json(*elan_args(corpus, "--metric", "tal-map"))
    assert pickled["map"] > 0 and abs(elan["map"] - pickled["map"]) < 1e-9
    direct = score_elan_folders(corpus / "human", corpus / "spotted", "Gloss", "spotted", str(corpus / "labels.txt"))
    assert abs(direct["f1"] - as_json(corpus / "gt.pkl", corpus / "pred.pkl")["f1"]) < 1e-9


def test_real_cli_and_text_report(corpus):
    pickled = as_json(corpus / "gt.pkl", corpus / "pred.pkl")
    args = [BENCH, "score", *map(str, elan_args(corpus)), "--per-class"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"{pickled['f1']:.4f}" in done.stdout and f"TP {pickled['tp']}  FP {pickled['fp']}" in done.stdout
    lines = [line.split() for line in done.stdout.splitlines()]
    row_d = next(line for line in lines if line and line[0] == "d")
    assert row_d[1:6] == ["1", "0", "0", "0", "13"]  # per-file: human, spotted, TP, FP, FN
    assert any(line and line[0] == "HOUSE" for line in lines)  # per-class table by name
    assert "human file(s) without a spotted one" in done.stderr and str(corpus / "human" / "d.eaf") in done.stderr
    assert "spotted file(s) without a human one" in done.stderr and "'UNKNOWN' x1" in done.stderr


def test_default_classes_are_every_gloss(corpus):
    result = as_json(corpus / "human", corpus / "spotted", "--tier", "Gloss")
    # both tiers after the conventions; ':' excluded, *TREE is TREE
    assert result["classes"] == ["CAR", "DT:ANA", "HOUSE", "TREE", "UNKNOWN"]
    assert result["num_spotted_not_a_class"] == 0 and result["num_ground_truth"] == 6


def variant_folders(root: Path) -> list:
    write_eaf(root / "h" / "v.eaf", {"Gloss": [(1000, 1600, "HOUSE"), (3000, 3600, "*HOUSE")]})
    write_eaf(root / "s" / "v.eaf", {"spotted": [(1000, 1600, "HOUSE"), (3000, 3600, "HOUSE")]})
    return [root / "h", root / "s"]


@pytest.mark.parametrize(
    "variants, counts, in_ignored",
    [("merge", (26, 0, 0), 0), ("ignore", (13, 0, 0), 1), ("background", (13, 13, 0), 0)],
)
def test_variants(tmp_path, variants, counts, in_ignored):
    result = as_json(*variant_folders(tmp_path), "--variants", variants)
    assert (result["tp"], result["fp"], result["fn"]) == counts
    assert result["num_spotted_in_ignored_spans"] == in_ignored and result["classes"] == ["HOUSE"]


def test_overlapping_human_signs_are_kept(tmp_path):
    write_eaf(tmp_path / "h" / "v.eaf", {"Gloss": [(0, 400, "HOUSE"), (200, 600, "TREE"), (300, 500, "HOUSE")]})
    write_eaf(tmp_path / "s" / "v.eaf", {"spotted": [(200, 600, "TREE")]})
    result = as_json(tmp_path / "h", tmp_path / "s")
    assert result["num_ground_truth"] == 3 and (result["tp"], result["fn"]) == (13, 26)


def test_labels_sign_is_one_class_with_segmentation(tmp_path):
    human = [(1000, 1600, "HOUSE"), (2000, 2400, "*CAR"), (4000, 4400, "DT:ANA"), (5000, 5200, ":")]
    spotted = [(1040, 1680, "HOUSE"), (2130, 2400, "TREE"), (6000, 6200, "BLAH")]
    write_eaf(tmp_path / "h" / "v.eaf", {"Gloss": human})
    write_eaf(tmp_path / "s" / "v.eaf", {"spotted": spotted})
    args = [tmp_path / "h", tmp_path / "s", "--labels", "sign"]
    result = as_json(*args)
    assert result["classes"] == ["SIGN"] and result["num_ground_truth"] == 3 and result["num_predictions"] == 3
    # IoU 560/680 (TP at all 13 thresholds) and 270/400 = 0.675 (TP at 0.20..0.65: 10); third missed, one extra
    assert (result["tp"], result["fp"], result["fn"]) == (23, 16, 16)
    assert abs(result["f1"] - 23 / 39) < 1e-12
    seg = result["segmentation"]
    assert abs(seg["segment_iou"] - IOU) < 1e-12 and abs(seg["boundary_f1_1"] - BF1_1) < 1e-12
    assert abs(seg["boundary_f1_2"] - BF1_2) < 1e-12
    assert (seg["segments_human"], seg["segments_spotted"]) == (3, 3)
    text = invoke(*args).output
    assert "segment_iou  0.5000" in text and "boundary_f1_1  0.3333" in text and "boundary_f1_2  0.5000" in text


def test_segmentation_flag_merges_classes(corpus):
    assert "segmentation" in as_json(*elan_args(corpus, "--segmentation"))


# -- errors -----------------------------------------------------------------------------------------------------------


def assert_error(result, *names: str) -> None:
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # a clean error, not a crash
    assert "Traceback" not in result.output
    for name in names:
        assert name in result.output, (name, result.output)


def test_missing_spotted_tier_names_the_file_and_its_tiers(corpus):
    write_eaf(corpus / "spotted2" / "a.eaf", {"Spotted": [(0, 400, "HOUSE")]})
    result = invoke(corpus / "human", corpus / "spotted2", "--tier", "Gloss")
    assert_error(result, str(corpus / "spotted2" / "a.eaf"), "'Spotted'")


def test_missing_human_tier(corpus):
    result = invoke(corpus / "human", corpus / "spotted", "--tier", "Glosa")
    assert_error(result, str(corpus / "human" / "a.eaf"), "'Gloss'", "--tier")


def test_malformed_eaf_names_the_file(corpus):
    bad = corpus / "human" / "e.eaf"
    bad.write_bytes(b"\x00\xffnot xml at all<")
    write_eaf(corpus / "spotted" / "e.eaf", {"spotted": []})
    result = invoke(*elan_args(corpus))
    assert_error(result, str(bad), "cannot be read as an ELAN file")


def test_malformed_eaf_real_cli_has_no_traceback(corpus):
    (corpus / "human" / "a.eaf").write_bytes(b"garbage")
    done = subprocess.run([BENCH, "score", *map(str, elan_args(corpus))], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and str(corpus / "human" / "a.eaf") in done.stderr
    assert "Traceback" not in done.stderr


def test_pairing_errors(tmp_path, corpus):
    write_eaf(corpus / "human" / "other" / "a.eaf", {"Gloss": [(0, 400, "HOUSE")]})
    result = invoke(*elan_args(corpus))
    assert_error(result, str(corpus / "human" / "a.eaf"), str(corpus / "human" / "other" / "a.eaf"))
    write_eaf(tmp_path / "x" / "p.eaf", {"Gloss": []})
    write_eaf(tmp_path / "y" / "q.eaf", {"spotted": []})
    assert_error(invoke(tmp_path / "x", tmp_path / "y"), "paired")
    assert_error(invoke(tmp_path / "x", corpus / "gt.pkl"), "not a folder")


def test_elan_options_are_refused_with_pickles(corpus):
    result = invoke(corpus / "gt.pkl", corpus / "pred.pkl", "--tier", "Gloss")
    assert result.exit_code == 2 and "--tier" in result.output


def test_bad_score_value_is_an_error(tmp_path):
    write_eaf(tmp_path / "h" / "v.eaf", {"Gloss": [(0, 400, "HOUSE")]})
    write_eaf(tmp_path / "s" / "v.eaf", {"spotted": [(0, 400, "HOUSE")]}, {"spotted": ["high"]})
    assert_error(invoke(tmp_path / "h", tmp_path / "s"), str(tmp_path / "s" / "v.eaf"), "'high'")


def test_labels_file_lookup_and_refusals(corpus):
    (corpus / "human" / "classes.txt").write_text("TREE\nHOUSE\n", encoding="utf-8")
    result = as_json(corpus / "human", corpus / "spotted", "--tier", "Gloss", "--labels", "classes.txt")
    assert result["classes"] == ["TREE", "HOUSE"] and result["num_ground_truth"] == 3  # CAR is not a class
    assert_error(invoke(corpus / "human", corpus / "spotted", "--labels", "nope.txt"), "'nope.txt'", "not found")
    (corpus / "bad.txt").write_text("HOUSE\n*TREE\n", encoding="utf-8")
    assert_error(invoke(*elan_args(corpus)[:4], "--labels", corpus / "bad.txt"), "'*TREE'", "variant")
