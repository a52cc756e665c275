"""registry.yaml: extends, profiles, --set, validation errors with entry + key path + expectation."""

from __future__ import annotations

import textwrap

import pytest

from benchmark.config.builtin import REGISTRY_FILE
from benchmark.config.entries import BenchmarkRegistry, deep_merge, load_registry_file
from benchmark.errors import ConfigError, UnknownNameError


@pytest.fixture
def registry():
    reg = BenchmarkRegistry()
    reg.add_file(REGISTRY_FILE)
    return reg


def test_reference_states_the_paper_hyperparameters(registry):
    cfg = registry.resolve("reference-mssl").config
    assert list(cfg["experts"]) == ["rgb", "hands", "flow", "skeleton"]
    assert [cfg["experts"][e]["name"] for e in cfg["experts"]] == ["i3d", "i3d", "p3d", "stgcn"]
    assert cfg["experts"]["flow"]["settings"]["depth"] == 199
    t = cfg["expert_training"]
    assert (t["optimizer"], t["lr"], t["weight_decay"], t["epochs"], t["batch_size"], t["milestones"], t["gamma"]) == (
        "adamw",
        1e-4,
        0.05,
        80,
        16,
        [40, 60],
        0.2,
    )
    assert cfg["experts"]["skeleton"]["training"] == {"optimizer": "adam", "lr": 5e-4, "weight_decay": 1e-5}
    s = cfg["spotter"]["training"]
    assert (s["lr"], s["weight_decay"], s["epochs"], s["batch_size"], s["milestones"]) == (
        1e-4,
        0.005,
        80,
        2,
        [20, 40, 60],
    )
    assert cfg["clips"] == {"length": 8, "stride": 4, "pad_left": 4}  # the authors' code
    assert cfg["spotter"]["settings"]["fusion"] == "pointwise" and cfg["spotter"]["settings"]["offset_clamp"] == 4
    assert cfg["decoder"]["name"] == "vote" and cfg["spotter"]["name"] == "conv-bilstm"


def test_extends_and_null_deletes(registry):
    cfg = registry.resolve("skeleton-only").config
    assert list(cfg["experts"]) == ["skeleton"]
    literal = registry.resolve("reference-mssl-factsheet").config
    assert literal["clips"] == {"length": 8, "stride": 8, "pad_left": 0}
    assert literal["spotter"]["settings"]["fusion"] == "temporal-conv"
    assert literal["spotter"]["settings"].get("offset_clamp") is None  # null deletes: the spotter default (none)
    assert literal["spotter"]["settings"]["lstm_hidden"] == 256  # inherited


def test_profiles_and_extends_profile(registry):
    cpu = registry.resolve("reference-mssl", "cpu").config
    assert cpu["expert_training"]["epochs"] == 6 and cpu["expert_training"]["lr"] == 1e-3
    tiny = registry.resolve("reference-mssl", "tiny").config
    assert tiny["expert_training"]["epochs"] == 3 and tiny["expert_training"]["lr"] == 1e-3  # from cpu
    assert tiny["preprocess"]["rgb-crop"]["size"] == 40
    with pytest.raises(ConfigError, match="unknown profile 'cpuu'; did you mean 'cpu'"):
        registry.resolve("reference-mssl", "cpuu")


def test_set_overrides_parse_yaml_values(registry):
    cfg = registry.resolve(
        "reference-mssl",
        None,
        ["spotter.training.epochs=5", "clips.stride=4", "experts.flow=null", "decoder.settings.merge_gap=2"],
    ).config
    assert cfg["spotter"]["training"]["epochs"] == 5 and cfg["clips"]["stride"] == 4
    assert "flow" not in cfg["experts"] and cfg["decoder"]["settings"]["merge_gap"] == 2


@pytest.mark.parametrize(
    "override, path, expected",
    [
        ("spotter.training.epochs=many", "spotter.training.epochs", "expected an integer"),
        ("expert_training.optimizer=rmsprop", "expert_training.optimizer", "expected one of adam, adamw, sgd"),
        ("clips.stride=0", "clips.stride", "expected >= 1"),
        ("experts.rgb.name=3", "experts.rgb.name", "expected a string"),
        ("metrics=[]", "metrics", "non-empty list"),
        ("experts.rgb.widht=1", "experts.rgb.widht", "unknown key"),
        ("colour=blue", "colour", "unknown key"),
    ],
)
def test_validation_errors_name_entry_path_and_expectation(registry, override, path, expected):
    with pytest.raises(ConfigError) as err:
        registry.resolve("reference-mssl", None, [override])
    msg = str(err.value)
    assert "benchmark 'reference-mssl'" in msg and f": {path}: " in msg and expected in msg


def test_unknown_benchmark_suggests(registry):
    with pytest.raises(UnknownNameError, match="did you mean 'reference-mssl'"):
        registry.resolve("reference-msl")


def test_user_registry_file_extends_builtin(registry, tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(
        textwrap.dedent("""
        my-skeleton:
          extends: reference-mssl
          description: mine
          version: 3
          experts: {rgb: null, hands: null, flow: null}
          spotter: {name: tcn}
    """)
    )
    registry.add_file(path)
    res = registry.resolve("my-skeleton")
    assert res.version == "3" and res.source == str(path) and res.config["spotter"]["name"] == "tcn"
    with pytest.raises(Exception, match="already defined"):
        registry.add_file(path)


def test_bad_yaml_and_circular_extends(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2\n")
    with pytest.raises(ConfigError, match=r"bad.yaml.*not valid YAML at line"):
        load_registry_file(bad)
    cyc = tmp_path / "cyc.yaml"
    cyc.write_text("a: {extends: b, description: x, version: 1}\nb: {extends: a, description: y, version: 1}\n")
    reg = BenchmarkRegistry()
    with pytest.raises(ConfigError, match=r"circular extends: a -> b -> a"):  # when the file is read
        reg.add_file(cyc)


def test_unsafe_yaml_is_refused(tmp_path):
    evil = tmp_path / "evil.yaml"
    evil.write_text("x: !!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_registry_file(evil)


def test_merge():
    assert deep_merge({"a": {"b": 1, "c": [1]}, "d": 1}, {"a": {"c": [2]}, "d": None}) == {"a": {"b": 1, "c": [2]}}


def test_profile_does_not_resurrect_removed_experts(registry):
    cfg = registry.resolve("skeleton-only", "cpu").config
    assert list(cfg["experts"]) == ["skeleton"]
    tiny = registry.resolve("skeleton-only", "tiny").config
    assert list(tiny["experts"]) == ["skeleton"] and tiny["expert_training"]["epochs"] == 3
