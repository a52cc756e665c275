"""``labels: sign``: segmentation as spotting with one class SIGN (issue 22, a sign-boundary tier), in the ``elan``
dataset (every annotation of the tier, whatever its gloss) and the embedded ``synthetic`` one (every sign of the
timeline, query signs and the others)."""

from __future__ import annotations

try:
    from tests.test_datasets_elan import by_id, open_elan, write_corpus
except ImportError:  # pragma: no cover
    from test_datasets_elan import by_id, open_elan, write_corpus


def test_every_annotation_of_the_tier_is_a_sign_variants_and_fingerspelling_included(tmp_path):
    root = write_corpus(
        tmp_path / "corpus",
        {
            "a": {"Gloss": [(0, 400, "CASA"), (500, 900, "*CASA"), (1000, 1400, "DT:ANA"), (1500, 1900, "RARE")]},
            "b": {"Gloss": [(0, 400, "COMER"), (450, 460, ":"), (600, 1000, "*AFECTAR(s)")], "Other": []},
            "c": {"Gloss": [(100, 300, "CASA")]},
        },
    )
    ds = open_elan(root, tier="Gloss", labels="sign")
    assert ds.class_names == ["SIGN"]
    videos = by_id(ds)
    assert [list(a) for a in videos["a"].annotations] == [[0, 0, 400], [0, 500, 900], [0, 1000, 1400], [0, 1500, 1900]]
    # ':' is a marker, not a sign (exclude still applies); nothing is ignored, every variant is a sign
    assert [list(a) for a in videos["b"].annotations] == [[0, 0, 400], [0, 600, 1000]]
    assert not any(v.ignored for v in videos.values())
    # with classes, the same corpus has several classes and the variant and marker rules apply as before
    glossed = open_elan(root, tier="Gloss", variants="ignore", cache=tmp_path / "c2")
    assert "SIGN" not in glossed.class_names and len(glossed.class_names) > 1
    assert ds.fingerprint() != glossed.fingerprint()


def test_synthetic_sign_labels_hold_every_sign_of_the_same_folder(tmp_path):
    from benchmark.datasets.synthetic import SyntheticDataset

    settings = {"videos": 4, "classes": 2, "signers": 2, "seconds": 12, "size": 96, "workers": 1}
    glosses = SyntheticDataset.open(None, settings, tmp_path, progress=False)
    signs = SyntheticDataset.open(None, {**settings, "labels": "sign"}, tmp_path, progress=False)
    assert signs.root == glosses.root  # one folder: the labels are read differently, the data is the same
    assert signs.class_names == ["SIGN"] and len(glosses.class_names) == 2
    assert signs.fingerprint() != glosses.fingerprint()
    more = 0
    for split in glosses.splits():
        for g, s in zip(glosses.videos(split), signs.videos(split)):
            queries = {(a[1], a[2]) for a in g.annotations}
            every = [(a[1], a[2]) for a in s.annotations]
            assert queries <= set(every) and all(a[0] == 0 for a in s.annotations)
            assert every == sorted(every) and all(e1 < s2 for (_, e1), (s2, _) in zip(every, every[1:]))
            more += len(every) - len(queries)
    assert more > 0  # the non-query signs are signs too


def test_an_unknown_labels_value_is_refused_by_name():
    import pytest

    from benchmark.datasets.synthetic import SyntheticDataset
    from benchmark.errors import BenchError

    with pytest.raises(BenchError, match="labels.*'sign'"):
        SyntheticDataset.checked({"labels": "signs"}, BenchError)
