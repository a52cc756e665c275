"""The bench CLI as a user meets it: help, list, plugins, show, errors."""

from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner

from benchmark.commands.main import cli


def invoke(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_help_imports_no_heavy_library():
    code = (
        "import sys; from click.testing import CliRunner; from benchmark.commands.main import cli; "
        "r = CliRunner().invoke(cli, ['--help']); assert r.exit_code == 0, r.output; "
        "heavy = [m for m in ('torch', 'mlflow', 'mediapipe', 'cv2', 'matplotlib', 'pytorchvideo', 'timm', 'ray') "
        "if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_help_lists_every_command():
    result = invoke("--help")
    for command in ("run", "list", "plugins", "show", "score", "compare", "perf", "data", "cache"):
        assert f"  {command} " in result.output, command


def test_list_shows_benchmarks_and_components_by_kind():
    out = invoke("list").output
    assert "reference-mssl" in out and "profiles: cpu, tiny" in out
    assert out.count("profiles: cpu, tiny") == 9  # the entries extending the reference inherit its profiles
    for heading in ("Datasets", "Modalities", "Experts", "Spotters", "Decoders", "Metrics"):
        assert heading in out
    for name in ("i3d", "p3d", "stgcn", "conv-bilstm", "vote", "chalearn-f1", "synthetic", "skeleton"):
        assert f"  {name} " in out


def test_plugins_lists_versions_hooks_and_status():
    rows = json.loads(invoke("plugins", "--json").output)
    by_name = {r["name"]: r for r in rows}
    assert by_name["experts.plugin"]["status"] == "ok"
    assert by_name["experts.plugin"]["distribution"] == "signspot-bench"
    assert "register_experts" in by_name["experts.plugin"]["hooks"]
    assert "run_finished" in by_name["benchmark.tracking.plugin"]["hooks"]


def test_show_resolves_profile_and_sets():
    out = invoke("show", "reference-mssl", "--profile", "cpu", "--set", "spotter.training.epochs=7").output
    assert out.startswith("# reference-mssl v3, profile cpu")
    import yaml

    cfg = yaml.safe_load(out)
    assert cfg["spotter"]["training"]["epochs"] == 7 and cfg["expert_training"]["epochs"] == 6


def test_errors_are_one_clean_line():
    result = CliRunner().invoke(cli, ["show", "referense-mssl"])
    assert result.exit_code == 1
    assert "did you mean 'reference-mssl'" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(cli, ["run", "--expert", "i3dd", "--profile", "tiny"])
    assert result.exit_code == 1 and "unknown expert 'i3dd'; did you mean 'i3d'?" in result.output


def test_user_registry_option(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("mine:\n  extends: reference-mssl\n  description: my entry\n  version: 2\n")
    out = invoke("--registry", str(path), "list").output
    assert "mine" in out
    out = invoke("--registry", str(path), "show", "mine").output
    assert "# mine v2" in out
