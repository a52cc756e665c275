"""The house rules of issue 20, held by ``scripts/house.py``: no import cycle, the plugin API importing no
built-in plugin, no private import across modules, modules <= 400 lines, functions <= 60, stage names spelled
once."""

from __future__ import annotations

import runpy
from pathlib import Path

HOUSE = runpy.run_path(str(Path(__file__).resolve().parents[1] / "scripts" / "house.py"))


def test_the_project_keeps_the_house_rules():
    report = HOUSE["survey"](Path(__file__).resolve().parents[1])
    assert report["modules"] > 100  # it read the project
    for kind in HOUSE["VIOLATIONS"]:
        assert report[kind] == [], (kind, report[kind])
    assert {"benchmark.interfaces", "benchmark.hookspecs"} <= set(report["root_modules"])


def test_cycles_are_found_lazy_imports_included(tmp_path):
    cycles = HOUSE["cycles"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    pkg = tmp_path / "benchmark"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "one.py").write_text("def f():\n    from benchmark.two import g\n    from benchmark.two import _h\n")
    (pkg / "two.py").write_text("from benchmark import one\n\n\ndef g():\n    return 'train-spotter'\n")
    for name in ("experts", "spotters"):
        (tmp_path / name).mkdir()
    report = HOUSE["survey"](tmp_path)
    assert report["cycles"] == [["benchmark.one", "benchmark.two"]]
    assert report["private"] == ["benchmark.one imports benchmark.two._h"]
    assert len(report["stage_names"]) == 1 and "train-spotter" in report["stage_names"][0]
