"""Value rules: declared beside every component's defaults in one vocabulary (benchmark.config.rules) and checked
once, when an entry is resolved, so a bad value fails in seconds, before any work, naming the key."""

from __future__ import annotations

import ast
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchmark.commands.main import cli
from benchmark.config import rules
from benchmark.config.rules import describe, each, either, optional, problem, rule_problem, type_of, type_problem
from benchmark.errors import ConfigError
from benchmark.interfaces import KINDS
from benchmark.plugins import get_plugin_manager


def resolve(name="reference-mssl", profile="tiny", sets=(), **swaps):
    from benchmark.config.overrides import Overrides, Swaps

    registry = get_plugin_manager().components("benchmark")
    return registry.resolve(name, profile, overrides=Overrides(swaps=Swaps(**swaps), sets=tuple(sets)))


def fails(sets, path, *needles, name="reference-mssl", profile="tiny", **swaps) -> str:
    """Resolving with ``sets`` raises a ConfigError at ``path`` (set by --set) saying every needle."""
    with pytest.raises(ConfigError) as err:
        resolve(name, profile, sets, **swaps)
    msg = str(err.value)
    assert f"(--set): {path}: " in msg, msg
    for needle in needles:
        assert needle in msg, msg
    return msg


# -- the two values of the issue ------------------------------------------------------------------------------


def test_soft_nms_sigma_zero_fails_at_resolution():
    fails(["decoder.settings.sigma=0"], "decoder.settings.sigma", "expected > 0, got 0", "decoder 'soft-nms'",
          name="reference-mssl-temporalmaxer")  # fmt: skip
    fails(["decoder.settings.sigma=0"], "decoder.settings.sigma", "expected > 0", decoder="soft-nms")
    # the reference's vote decoder has no sigma at all
    fails(["decoder.settings.sigma=0"], "decoder.settings.sigma", "unknown setting 'sigma' of decoder 'vote'")


def test_misspelt_fusion_fails_at_resolution_with_the_closest_choice():
    msg = fails(
        ["spotter.settings.fusion=pointwse"],
        "spotter.settings.fusion",
        "expected one of temporal-conv, pointwise, got 'pointwse'",
        "spotter 'conv-bilstm'",
        "did you mean 'pointwise'?",
    )
    assert msg.endswith("did you mean 'pointwise'?")


@pytest.mark.parametrize(
    "name, assignment, needle",
    [
        ("reference-mssl", "spotter.settings.fusion=pointwse", "did you mean 'pointwise'?"),
        ("reference-mssl-temporalmaxer", "decoder.settings.sigma=0", "decoder.settings.sigma: expected > 0"),
    ],
)
def test_bench_run_refuses_them_before_any_work(tmp_path, name, assignment, needle):
    t0 = time.perf_counter()
    args = ["--cache-dir", str(tmp_path / "cache"), "run", name, "--profile", "tiny", "--set", assignment]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1 and needle in result.output and "Traceback" not in result.output, result.output
    assert not (tmp_path / "cache").exists()  # nothing started, not even the synthetic dataset
    assert time.perf_counter() - t0 < 30
    shown = CliRunner().invoke(cli, ["show", name, "--set", assignment])
    assert shown.exit_code == 1 and needle in shown.output, shown.output


# -- one bad value per kind ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sets, path, needles, swaps",
    [
        # datasets
        (["dataset.settings.videos=2"], "dataset.settings.videos", ["between 3 and 100000", "dataset 'synthetic'"], {}),
        (["dataset.settings.fps=0"], "dataset.settings.fps", ["between 1 and 240"], {}),
        # modalities
        (["preprocess.rgb-crop.crop_fraction=0"], "preprocess.rgb-crop.crop_fraction", ["> 0 and <= 1"], {}),
        (["preprocess.pose.model_complexity=3"], "preprocess.pose.model_complexity", ["one of 0, 1, 2"], {}),
        (["preprocess.pose.backend=task"], "preprocess.pose.backend", ["did you mean 'tasks'?"], {}),
        (["preprocess.flow-tvl1.scale_step=1.0"], "preprocess.flow-tvl1.scale_step", ["strictly between 0 and 1"], {}),
        (["preprocess.rgb-hands.box=0"], "preprocess.rgb-hands.box", [">= 1", "modality 'rgb-hands'"], {}),
        # experts
        (["experts.rgb.settings.width=smal"], "experts.rgb.settings.width", ["did you mean 'small'?"], {}),
        (["experts.rgb.settings.width=0"], "experts.rgb.settings.width", ["full, small, or a positive integer"], {}),
        (["experts.flow.settings.depth=100"], "experts.flow.settings.depth", ["one of 63, 131, 199"], {}),
        (["experts.skeleton.settings.dropout=1.0"], "experts.skeleton.settings.dropout", [">= 0 and < 1"], {}),
        # spotters
        (["spotter.settings.dropout=1.0"], "spotter.settings.dropout", [">= 0 and < 1"], {}),
        (["spotter.settings.reduce_dims=[64, 0]"], "spotter.settings.reduce_dims", ["every item a positive"], {}),
        (["spotter.settings.regression=gaussian"], "spotter.settings.regression", ["one of distance, trident"],
         {"spotter": "temporalmaxer"}),
        (["spotter.settings.levels=0"], "spotter.settings.levels", [">= 1"], {"spotter": "actionformer"}),
        # decoders
        (["decoder.settings.min_clips=0"], "decoder.settings.min_clips", [">= 1", "decoder 'vote'"], {}),
        (["decoder.settings.nms_iou=2"], "decoder.settings.nms_iou", ["between 0 and 1"], {"decoder": "segments-nms"}),
        (["decoder.settings.max_per_class=0"], "decoder.settings.max_per_class", ["expected null or >= 1, got 0"],
         {"decoder": "soft-nms"}),
        (["decoder.settings.overlap=merge"], "decoder.settings.overlap", ["drop, keep"], {"decoder": "soft-nms"}),
        # metrics declare no settings: the value an entry gives a metric is its name
        (["metrics=[chalearn-f2]"], "metrics", ["unknown metric 'chalearn-f2'; did you mean 'chalearn-f1'?"], {}),
        # trainers
        (["spotter.training.loss.beta=1"], "spotter.training.loss.beta", [">= 0 and < 1"], {}),
        (["expert_training.rounds=3"], "expert_training.rounds", ["one of 1, 2"], {}),
        (["expert_training.milestones=[0]"], "expert_training.milestones", ["every item a positive integer"], {}),
        (["spotter.training.select=bestt"], "spotter.training.select", ["did you mean 'best'?"], {}),
        (["experts.skeleton.training.lr=-1"], "experts.skeleton.training.lr", ["expected >= 0, got -1"], {}),
    ],
)  # fmt: skip
def test_bad_value_of_every_kind_fails_at_resolution(sets, path, needles, swaps):
    fails(sets, path, *needles, **swaps)


def test_chalearn_dataset_setting_is_checked_too():
    fails(["dataset.name=chalearn-mssl", "dataset.settings.num_classes=0"], "dataset.settings.num_classes",
          "null or a positive integer", "dataset 'chalearn-mssl'", profile=None)  # fmt: skip


def test_a_python_caller_gets_the_same_rules():
    """Settings that skip resolution (a spotter built from Python, prepared pose settings) keep the rules too."""
    from benchmark.errors import BenchError
    from benchmark.modalities.pose import effective_settings

    spotter = get_plugin_manager().components("spotter").get("conv-bilstm")
    with pytest.raises(ValueError, match="conv-bilstm: setting fusion must be one of .*did you mean 'pointwise'"):
        spotter.build(8, 3, {"fusion": "pointwse"})
    with pytest.raises(BenchError, match="setting model_complexity must be one of 0, 1, 2, got 5"):
        effective_settings({"model_complexity": 5})


# -- every built-in component ------------------------------------------------------------------------------------


def builtin_components():
    pm = get_plugin_manager()
    return [(kind, name, pm.components(kind).get(name)) for kind in KINDS for name in pm.builtin_names(kind)]


def test_every_builtin_component_keeps_its_own_rules():
    """Each rule is in the vocabulary, names a declared setting, and the setting's default keeps it."""
    found = builtin_components()
    assert {kind for kind, _, _ in found} == set(KINDS)
    for kind, name, component in found:
        declared, value_rules = component.declared(), component.value_rules()
        assert set(value_rules) <= set(declared), (kind, name, set(value_rules) - set(declared))
        for key, rule in value_rules.items():
            describe(rule)  # a rule outside the vocabulary raises
            assert problem(declared[key], rule) is None, (kind, name, key, declared[key], rule)
            assert type_problem(declared[key], type_of(declared[key])) is None


def test_every_builtin_component_with_settings_declares_rules():
    """Only true-or-false settings need none (skeleton's)."""
    for kind, name, component in builtin_components():
        if not all(isinstance(v, bool) for v in component.declared().values()):
            assert component.value_rules(), (kind, name)


def test_the_reference_entries_resolve_in_every_profile():
    registry = get_plugin_manager().components("benchmark")
    for name in registry.names():
        for profile in (None, *registry.resolve(name).profiles):
            registry.resolve(name, profile)


# -- the vocabulary ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rule, good, bad, expected",
    [
        (">=0", [0, 2.5], [-1], ">= 0"),
        (">=1", [1, 7], [0, 0.5], ">= 1"),
        (">0", [0.1], [0, -3], "> 0"),
        ("0..1", [0, 1, 0.5], [-0.1, 1.1], "between 0 and 1"),
        ("0<..<1", [0.5], [0, 1], "strictly between 0 and 1"),
        ("0..<1", [0, 0.9], [1], ">= 0 and < 1"),
        ("0<..1", [1, 0.1], [0], "> 0 and <= 1"),
        ("4..3600", [4, 3600], [3, 3601], "between 4 and 3600"),
        (">=2", [2], [1], ">= 2"),
        ("int>=1", [1, 5], [0, -2], "a positive integer"),
        ("int>=0", [0], [-1], "an integer >= 0"),
        (("a", "b"), ["a"], ["c"], "one of a, b"),
        ((0, 1, 2), [0, 2], [3, True], "one of 0, 1, 2"),
        (each("int>=1"), [[], [1, 2]], [[0], 3, [1.5]], "a list, every item a positive integer"),
        (either(("full", "small"), "int>=1"), ["small", 32], ["big", 0], "one of full, small, or a positive integer"),
        (optional(">=1"), [None, 3], [0], "null or >= 1"),
    ],
)
def test_vocabulary(rule, good, bad, expected):
    assert describe(rule) == expected
    for value in [None, *good]:
        assert problem(value, rule) is None, value
    for value in bad:
        assert problem(value, rule) is not None, value


def test_types_are_the_type_checks_and_integers_the_rules():
    assert rule_problem("many", ">=0") is None  # a wrong type is the type check's to name
    assert rule_problem(True, ">=0") is None
    assert rule_problem("many", "int>=1") == "expected an integer, got 'many'"
    assert rule_problem(2.5, "int>=1") == "expected an integer, got 2.5"
    assert rule_problem(-1, "int>=1") == "expected a positive integer, got -1"
    assert rule_problem("pointwse", ("temporal-conv", "pointwise"), "spotter 'x'") == (
        "expected one of temporal-conv, pointwise, got 'pointwse' (spotter 'x'); did you mean 'pointwise'?"
    )
    assert type_problem(True, int) == "expected an integer, got bool True"
    assert type_problem(3, type_of("full")) is None  # a text setting takes an integer too (width: 32)
    assert type_problem(3, str) == "expected a string, got int 3"
    assert type_problem("x", type_of(8), like=8) == "expected an integer (like the default 8), got str 'x'"
    with pytest.raises(ValueError, match="unknown value rule '=>1'"):
        describe("=>1")


def test_settings_and_schema_share_one_type_check_and_no_import_cycle():
    config = Path(rules.__file__).parent
    imports = {}
    for module in ("settings", "schema"):
        tree = ast.parse((config / f"{module}.py").read_text())
        imports[module] = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert "benchmark.config.rules" in imports[module]
        names = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        assert not names & {"_type_error", "_type_name", "rule_problem"}, module
    assert "benchmark.config.schema" not in imports["settings"]
