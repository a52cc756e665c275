"""Strict settings: unknown keys and ill-typed values fail before any work, naming the key, the component and the
closest known key; settings written for a replaced component are dropped with a note; `bench show` prints the
merged values."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from benchmark.commands.main import cli
from benchmark.errors import ConfigError
from benchmark.plugins import get_plugin_manager


def resolve(name="reference-mssl", profile=None, sets=(), **swaps):
    from benchmark.config.overrides import Overrides, Swaps

    registry = get_plugin_manager().components("benchmark")
    return registry.resolve(name, profile, overrides=Overrides(swaps=Swaps(**swaps), sets=tuple(sets)))


@pytest.mark.parametrize(
    "assignment, typo, known, owner",
    [
        ("spotter.settings.hiden=64", "hiden", "hidden", "spotter 'conv-bilstm'"),
        ("experts.rgb.settings.widht=small", "widht", "width", "expert 'i3d' (rgb)"),
        ("decoder.settings.min_clip=2", "min_clip", "min_clips", "decoder 'vote'"),
        ("dataset.settings.vidoes=3", "vidoes", "videos", "dataset 'synthetic'"),
        ("preprocess.rgb-crop.sise=32", "sise", "size", "modality 'rgb-crop'"),
        ("preprocess.worker=2", "worker", "workers", "preprocess"),
        ("expert_training.epoch=3", "epoch", "epochs", "expert_training"),
        ("spotter.training.lr_rate=0.1", "lr_rate", "lr", "spotter.training"),
        ("spotter.training.loss.clip_extend=0.5", "clip_extend", "clip_extent", "spotter.training"),
        ("experts.skeleton.training.optimiser=adam", "optimiser", "optimizer", "expert_training"),
    ],
)
def test_misspelled_key_names_key_component_and_closest(assignment, typo, known, owner):
    with pytest.raises(ConfigError) as err:
        resolve(sets=[assignment])
    msg = str(err.value)
    assert f"unknown setting {typo!r} of {owner}; did you mean {known!r}?" in msg, msg
    assert "(--set)" in msg  # says where the key came from


@pytest.mark.parametrize(
    "assignment, path, expected",
    [
        ("expert_training.epochs=abc", "expert_training.epochs", "expected an integer"),
        ("expert_training.epochs=-1", "expert_training.epochs", "expected a positive integer"),
        ("spotter.settings.hidden=wide", "spotter.settings.hidden", "expected an integer"),
        ("decoder.settings.score_threshold=[1]", "decoder.settings.score_threshold", "expected a number"),
        ("preprocess.pose.use_pose_files=3", "preprocess.pose.use_pose_files", "expected true or false"),
    ],
)
def test_ill_typed_values_name_the_key(assignment, path, expected):
    with pytest.raises(ConfigError) as err:
        resolve(sets=[assignment])
    assert f": {path}: {expected}" in str(err.value)


def test_misspelled_key_fails_in_seconds_from_the_command_line(tmp_path):
    """`bench run reference-mssl --set spotter.settings.hiden=64`, as a user types it: no work, a clear line."""
    t0 = time.perf_counter()
    out = subprocess.run(
        [
            str(Path(sys.executable).with_name("bench")),
            "--cache-dir",
            str(tmp_path / "cache"),
            "run",
            "reference-mssl",
            "--set",
            "spotter.settings.hiden=64",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    seconds = time.perf_counter() - t0
    assert out.returncode == 1
    assert "hiden" in out.stderr and "did you mean 'hidden'" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "cache").exists()  # nothing was started, not even the synthetic dataset
    assert seconds < 5, seconds


def test_swapped_spotter_drops_settings_it_does_not_declare_with_a_note():
    res = resolve(profile="cpu", spotter="tcn")
    settings = res.config["spotter"]["settings"]
    assert "lstm_hidden" not in settings and "fusion" not in settings
    assert settings["hidden"] == 128 and settings["head_dim"] == 64 and settings["reduce_dims"] == [256, 128]
    assert settings["layers"] == 10  # tcn's own default, merged in
    assert any("--spotter tcn" in n and "lstm_hidden" in n for n in res.notes), res.notes


def test_keys_given_for_the_component_in_use_are_checked():
    with pytest.raises(ConfigError, match="unknown setting 'lstm_hidden' of spotter 'tcn'"):
        resolve(spotter="tcn", sets=["spotter.settings.lstm_hidden=3"])


def test_entry_replacing_a_component_drops_inherited_settings(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(
        textwrap.dedent("""
        mine:
          extends: reference-mssl
          description: mine
          version: 1
          spotter: {name: transformer, settings: {window: 9}}
          decoder: {name: segments-nms, settings: {nms_iou: 0.4}}
    """)
    )
    registry = get_plugin_manager().components("benchmark")
    registry.add_file(path)
    res = registry.resolve("mine", "cpu")
    spot = res.config["spotter"]["settings"]
    assert spot["window"] == 9 and "fusion" not in spot and spot["hidden"] == 128  # the profile's shared size
    assert res.config["decoder"]["settings"]["nms_iou"] == 0.4
    assert any("replaces spotter 'conv-bilstm' with 'transformer'" in n for n in res.notes), res.notes
    assert any("profile 'cpu'" in n and "lstm_hidden" in n for n in res.notes), res.notes


def test_shared_spotter_sizes_are_accepted_by_every_spotter():
    from benchmark.interfaces import SHARED_SPOTTER_SETTINGS

    for name in get_plugin_manager().components("spotter").names():
        declared = get_plugin_manager().components("spotter").get(name).declared()
        assert set(SHARED_SPOTTER_SETTINGS) <= set(declared), name


def test_show_prints_merged_values():
    out = CliRunner().invoke(cli, ["show", "reference-mssl"], catch_exceptions=False).output
    cfg = yaml.safe_load(out)
    assert cfg["spotter"]["settings"]["lstm_layers"] == 2  # conv-bilstm's default, not written in registry.yaml
    assert cfg["experts"]["rgb"]["settings"]["pretrained_strict"] is True  # every expert's shared key
    assert cfg["experts"]["skeleton"]["training"]["optimizer"] == "adam"  # ST-GCN's own training defaults
    assert cfg["preprocess"]["flow-tvl1"]["tau"] == 0.25  # OpenCV's default, declared by the modality
    assert cfg["spotter"]["training"]["loss"]["focal_gamma"] == 2.0  # the trainers' defaults section
    assert cfg["dataset"]["settings"]["size"] == 360 and cfg["dataset"]["settings"]["test_videos"] is None


def test_trainer_defaults_live_in_registry_yaml_only():
    from benchmark.config.builtin import REGISTRY_FILE
    from benchmark.config.entries import trainer_defaults

    raw = yaml.safe_load(REGISTRY_FILE.read_text())
    assert trainer_defaults()["expert_training"] == raw["defaults"]["expert_training"]
    assert trainer_defaults()["spotter_training"] == raw["defaults"]["spotter"]["training"]
    sources = [
        p.read_text() for p in (Path(REGISTRY_FILE).resolve().parent / "benchmark" / "engine").glob("*_training.py")
    ]
    assert sources and not any("TRAINING_DEFAULTS" in s for s in sources)


def test_reserved_names_and_defaults_outside_the_builtin_file(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("defaults: {expert_training: {epochs: 1}}\n")
    with pytest.raises(ConfigError, match="only the built-in registry.yaml defines the trainers' defaults"):
        get_plugin_manager().components("benchmark").add_file(path)
