"""``bench lookup``: query signs found by example (subsequence DTW on skeletons, no training) in held-back target
clips of the synthetic OSLWL track, written as ``bench spot`` writes its outputs."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchmark.commands.main import cli

EAF_XSD = Path(__file__).parent / "fixtures" / "EAFv3.0.xsd"


@pytest.fixture(scope="module")
def oslwl(tmp_path_factory):
    from benchmark.datasets.synthetic.oslwl import generate_oslwl

    root = tmp_path_factory.mktemp("oslwl") / "data"
    return generate_oslwl(root, train_videos=2, queries=4, targets_per_query=3, seconds=8.0, progress=False)


def lookup(tmp_path, *args):
    out = CliRunner().invoke(cli, ["--cache-dir", str(tmp_path / "cache"), "lookup", *args, "--no-progress"])
    return out


def test_the_query_signs_are_found_in_the_held_back_targets(oslwl, tmp_path):
    import pympi
    import xmlschema

    from benchmark.metrics.chalearn import score

    split = oslwl / "VALIDATION"
    targets = tmp_path / "targets"
    shutil.copytree(split / "OSLWL_VAL_SET_VIDEOS", targets)
    out = lookup(tmp_path, "--dictionary", str(split / "OSLWL_QUERY_VAL_SET"), str(targets), "--out",
                 str(tmp_path / "found"), "--format", "eaf", "--format", "json")  # fmt: skip
    assert out.exit_code == 0, out.output
    names = (split / "OSLWL_QUERY_VAL_LABELS.txt").read_text().split()
    truth = pickle.loads((split / "OSLWL_VAL_SET_GT.pkl").read_bytes())
    found = {}
    for video in truth:
        document = json.loads((tmp_path / "found" / f"{video}.json").read_text())
        found[video] = [[names.index(s["gloss"]), s["start_ms"], s["end_ms"]] for s in document["segments"]]
        assert document["pipeline"].startswith("dtw:") and all(0 <= s["score"] <= 1 for s in document["segments"])
        eaf_path = tmp_path / "found" / f"{video}.eaf"
        xmlschema.XMLSchema(str(EAF_XSD)).validate(str(eaf_path))
        eaf = pympi.Elan.Eaf(str(eaf_path))
        assert sorted(a[2] for a in eaf.get_annotation_data_for_tier("spotted")) == sorted(
            names[c] for c, _, _ in found[video]
        )
    hits = sum(any(f[0] == t[0][0] and f[1] < t[0][2] and t[0][1] < f[2] for f in found[v]) for v, t in truth.items())
    assert hits >= len(truth) // 2, (hits, len(truth))  # the true sign overlaps a hit in most targets
    assert score(truth, found)["f1"] > 0.1


def test_queries_are_named_by_their_files_and_checked_first(oslwl, tmp_path):
    split = oslwl / "VALIDATION"
    first = sorted((split / "OSLWL_QUERY_VAL_SET").glob("*.pose"))[0]
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(first, other / first.name)
    target = str(sorted((split / "OSLWL_VAL_SET_VIDEOS").glob("*.pose"))[0])
    twice = lookup(tmp_path, "--dictionary", str(split / "OSLWL_QUERY_VAL_SET"), "--query", str(other / first.name),
                   target, "--out", str(tmp_path / "x"))  # fmt: skip
    assert twice.exit_code == 1 and f"two query examples of gloss {first.stem!r}" in twice.output
    none = lookup(tmp_path, target, "--out", str(tmp_path / "x"))
    assert none.exit_code == 1 and "no query" in none.output
    broken = tmp_path / "BROKEN.pose"
    broken.write_bytes(b"not a pose file")
    bad = lookup(tmp_path, "--query", str(broken), target, "--out", str(tmp_path / "x"))
    assert bad.exit_code == 1 and "query examples cannot be read" in bad.output and "BROKEN.pose" in bad.output
    assert not (tmp_path / "x").exists()
