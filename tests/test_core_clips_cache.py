"""Clip segmentation and the clip -> ms mapping; the atomic stage cache."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.engine.clips import ClipSpec, frame_labels, runs, segments_from_clip_labels
from benchmark.storage.cache import StageCache, make_key


def test_frame_labels_follow_the_40ms_rule():
    labels = frame_labels([[2, 80, 440], [0, 480, 480]], 14)
    assert labels.tolist() == [0, 0, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 1, 0]


def test_fact_sheet_clips_are_consecutive():
    spec = ClipSpec.from_settings({"length": 8, "stride": 8})
    assert spec.pad_left == 0 and spec.num_clips(17) == 3
    assert spec.window_indices(17)[2].tolist() == [16] * 8  # the last partial clip repeats the last frame
    labels = np.array([0] * 5 + [4] * 11 + [0])
    assert spec.clip_labels(labels).tolist() == [0, 4, 0]  # clip 0: 5 bg vs 3 fg; clip 2 holds one frame


def test_authors_clips_are_centred_windows_every_4_frames():
    spec = ClipSpec.from_settings({"length": 8, "stride": 4})
    assert spec.pad_left == 4
    assert spec.window_indices(10).tolist() == [
        [0, 0, 0, 0, 0, 1, 2, 3],
        [0, 1, 2, 3, 4, 5, 6, 7],
        [4, 5, 6, 7, 8, 9, 9, 9],
    ]


def test_majority_tie_goes_to_background():
    spec = ClipSpec(8, 8, 0)
    assert spec.clip_labels(np.array([0] * 4 + [7] * 4)).tolist() == [0]


def test_consecutive_clip_run_maps_back_to_ms_exactly():
    spec = ClipSpec.from_settings({"length": 8, "stride": 8})
    assert spec.offset == 0
    assert spec.clip_to_ms(2, 4) == (16 * 40, 39 * 40)  # clips 2..4 -> frames 16..39
    start, end = spec.clip_to_ms(3, 6)
    labels = spec.clip_labels(frame_labels([[5, start, end]], 100))
    assert segments_from_clip_labels(labels, spec) == [[5, start, end]]  # round trip
    assert spec.clip_to_ms(0, 10, n_frames=30) == (0, 29 * 40)  # clamped to the last frame


def test_centred_windows_map_to_their_centre():
    spec = ClipSpec.from_settings({"length": 8, "stride": 4})  # window of clip i: frames 4i-4 .. 4i+3
    assert spec.offset == -2  # clip i stands for frames 4i-2 .. 4i+1
    assert spec.clip_to_ms(2, 4) == (6 * 40, 17 * 40)
    assert spec.clip_to_ms(0, 0) == (0, 1 * 40)  # clamped at the start
    # a sign labelled on frames 14..29 gives clips 4..7 (majority) and comes back as frames 14..29
    labels = spec.clip_labels(frame_labels([[1, 14 * 40, 29 * 40]], 60))
    assert labels.tolist()[3:9] == [0, 2, 2, 2, 2, 0]
    assert segments_from_clip_labels(labels, spec, 60) == [[1, 14 * 40, 29 * 40]]
    starts, ends = spec.clips_to_frames([0, 4], [1, 7], [60, -1])
    assert starts.tolist() == [0, 14] and ends.tolist() == [5, 29]


def test_runs_vectorised():
    assert runs(np.array([0, 2, 2, 0, 3, 3, 3, 2])) == [(2, 1, 2), (3, 4, 6), (2, 7, 7)]
    assert runs(np.array([], dtype=int)) == []


def test_cache_publishes_atomically_and_resumes(tmp_path):
    cache = StageCache(tmp_path)
    key = make_key("x", {"a": 1})
    assert key == make_key("x", {"a": 1}) and key != make_key("x", {"a": 2})
    calls = []

    def crash(folder):
        (folder / "item1").write_text("done")
        calls.append("crash")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cache.run("stage", key, crash)
    assert not cache.is_done("stage", key) and not cache.path("stage", key).exists()

    def finish(folder):
        calls.append(sorted(p.name for p in folder.iterdir()))  # the partial work survived the kill
        (folder / "item2").write_text("done")
        return {"metrics": {"n": 2}}

    folder, reused = cache.run("stage", key, finish)
    assert not reused and calls[-1] == ["item1"]
    assert sorted(p.name for p in folder.iterdir()) == ["item1", "item2", "manifest.json"]
    folder2, reused2 = cache.run("stage", key, finish)
    assert reused2 and folder2 == folder and len(calls) == 2
    assert cache.manifest("stage", key)["metrics"] == {"n": 2}


def _write_package(root, body_b="X = 1\n"):
    pkg = root / "fakeplug"
    (pkg / "models").mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("class Component:\n    version = '1'\n")
    (pkg / "models" / "__init__.py").write_text("")
    (pkg / "models" / "b.py").write_text(body_b)
    (root / "single_file_plugin.py").write_text("class Solo:\n    pass\n")


def _fresh_import(name):
    import importlib
    import sys

    for mod in [m for m in sys.modules if m == name.split(".")[0] or m.startswith(name.split(".")[0] + ".")]:
        del sys.modules[mod]
    importlib.invalidate_caches()
    return importlib.import_module(name)


def test_code_version_covers_the_whole_package_of_a_component(tmp_path, monkeypatch):
    """Editing a helper module next to a component (model code, training loop) must invalidate its cache."""
    from benchmark.storage.cache import code_version, source_files

    _write_package(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    comp = _fresh_import("fakeplug.a").Component()
    names = sorted(p.relative_to(tmp_path).as_posix() for p in source_files(comp))
    assert names == ["fakeplug/__init__.py", "fakeplug/a.py", "fakeplug/models/__init__.py", "fakeplug/models/b.py"]
    before = code_version(comp)
    assert code_version(comp) == before
    _write_package(tmp_path, body_b="X = 2\n")
    assert code_version(comp) != before


def test_code_version_of_a_top_level_module_reads_only_its_file(tmp_path, monkeypatch):
    from benchmark.storage.cache import source_files

    _write_package(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    solo = _fresh_import("single_file_plugin").Solo
    assert [p.name for p in source_files(solo)] == ["single_file_plugin.py"]


def test_builtin_components_hash_their_model_code():
    """The built-in component classes are torch-free; their model modules (e.g. spotters/models/layers.py) and the
    engine that trains and runs them (benchmark/engine) count."""
    from benchmark.plugins import get_plugin_manager
    from benchmark.storage.cache import source_files

    pm = get_plugin_manager()
    spotter_files = {p.name for p in source_files(pm.components("spotter").get("conv-bilstm"))}
    assert {"conv_bilstm.py", "layers.py", "losses.py", "spotter_training.py"} <= spotter_files
    expert_files = {p.relative_to(p.parents[1]).as_posix() for p in source_files(pm.components("expert").get("i3d"))}
    assert {"experts/i3d.py", "engine/expert_training.py", "engine/extraction.py"} <= expert_files
    assert any(f.startswith("models/") for f in expert_files), expert_files
