"""`bench data check` goes through the `Dataset` contract: a pip-installed dataset plugin gets the generic
check (settings, open, splits, annotations, media) without writing one."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from tests.conftest import make_distribution

FIXTURE = Path(__file__).parent / "fixtures" / "reduced_holistic.pose"

TOY = """
from benchmark import hookimpl
from benchmark.interfaces import Dataset, VideoRecord


class Toy(Dataset):
    name = "tp-toy"
    defaults = {"classes": 2}
    rules = {"classes": "int>=1"}

    @classmethod
    def open(cls, root, settings, cache_dir, *, progress=True):
        ds = cls()
        ds.root, ds.class_names = root, [f"SIGN{i}" for i in range(settings["classes"])]
        ds._videos = {
            "train": [VideoRecord("a", "train", None, root / "a.pose", ((0, 0, 100), (7, 200, 300)))],
            "test": [VideoRecord("b", "test", None, root / "b.pose", ((1, 0, 200),))],
        }
        return ds

    def splits(self):
        return ["train", "test"]

    def videos(self, split):
        return self._videos[split]

    def fingerprint(self):
        return "tp-toy"


@hookimpl
def register_datasets(registry):
    registry.add("tp-toy", Toy)
"""


def test_a_plugin_dataset_gets_bench_data_check_for_free(tmp_path, fake_site, monkeypatch):
    from benchmark.commands.main import cli

    make_distribution(fake_site, "tp-toy-dataset", "0.1", {"toy": "tp_toy"}, {"tp_toy": TOY})
    monkeypatch.setenv("SIGNSPOT_PLUGINS", "tp-toy-dataset")
    data = tmp_path / "toy"
    data.mkdir()
    for name in ("a", "b"):
        shutil.copy(FIXTURE, data / f"{name}.pose")
    result = CliRunner().invoke(cli, ["data", "check", str(data), "--dataset", "tp-toy"])
    assert result.exit_code == 1, result.output  # class 7 of a 2-class dataset is a problem, named with its video
    assert "video 'a'" in result.output and "class id 7 outside the class list 0..1" in result.output
    assert "Traceback" not in result.output
    fixed = CliRunner().invoke(cli, ["data", "check", str(data), "--dataset", "tp-toy", "--set", "classes=8"])
    assert fixed.exit_code == 0, fixed.output
    bad = CliRunner().invoke(cli, ["data", "check", str(data), "--dataset", "tp-toy", "--set", "classes=0"])
    assert bad.exit_code == 1 and "classes" in bad.output, bad.output
