"""``bench data eaf``: a dataset's ground truth as ELAN files, the human side of ``bench score`` on ELAN folders
for datasets that ship pickles."""

from __future__ import annotations

import json
import pickle

from click.testing import CliRunner

from benchmark.commands.main import cli


def test_the_ground_truth_pickle_becomes_eaf_files_that_score_as_itself(tmp_path):
    import pympi

    from benchmark.datasets.synthetic import generate

    root = generate(tmp_path / "syn", videos=4, classes=2, signers=2, seconds=8, size=96, progress=False)
    runner = CliRunner()
    out = runner.invoke(cli, ["data", "eaf", str(root), "--out", str(tmp_path / "human")])
    assert out.exit_code == 0, out.output
    truth = pickle.loads((root / "MSSL_TEST_SET_GT.pkl").read_bytes())
    names = (root / "MSSL_SET_LABELS.txt").read_text().split()
    for video, signs in truth.items():
        eaf = pympi.Elan.Eaf(str(tmp_path / "human" / f"{video}.eaf"))
        assert sorted(eaf.get_annotation_data_for_tier("Gloss")) == sorted(
            (s, max(e, s + 1), names[c]) for c, s, e in signs
        )
        [media] = eaf.media_descriptors
        assert media["RELATIVE_MEDIA_URL"] == f"../syn/MSSL_TEST_SET_VIDEOS/{video}.mp4"
    (tmp_path / "labels.txt").write_text("\n".join(names) + "\n")
    scored = runner.invoke(
        cli,
        [
            "score",
            str(tmp_path / "human"),
            str(tmp_path / "human"),
            "--tier",
            "Gloss",
            "--against",
            "Gloss",
            "--labels",
            str(tmp_path / "labels.txt"),
            "--json",
        ],
    )
    assert scored.exit_code == 0, scored.output
    assert json.loads(scored.output[scored.output.index("{") :])["f1"] == 1.0


def test_every_sign_and_unknown_splits(tmp_path):
    from benchmark.datasets.synthetic import generate

    root = generate(tmp_path / "syn", videos=4, classes=2, signers=2, seconds=8, size=96, progress=False)
    runner = CliRunner()
    args = ["data", "eaf", str(root), "--dataset", "synthetic", "--set", "labels=sign", "--out", str(tmp_path / "s")]
    assert runner.invoke(cli, args).exit_code == 0
    import pympi

    [path] = (tmp_path / "s").glob("*.eaf")
    values = {v for _, _, v in pympi.Elan.Eaf(str(path)).get_annotation_data_for_tier("Gloss")}
    assert values == {"SIGN"}
    bad = runner.invoke(cli, ["data", "eaf", str(root), "--split", "dev", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 1 and "no split 'dev'" in bad.output
