"""Plugin manager: built-ins, entry points, broken plugins, duplicates, unknown names, SIGNSPOT_PLUGINS."""

from __future__ import annotations

import pytest

from benchmark import hookimpl
from benchmark.errors import BrokenPluginError, DuplicateNameError, UnknownNameError
from benchmark.plugins import DEFAULT_PLUGINS, SignspotPluginManager
from tests.conftest import make_distribution

GOOD = """
from benchmark import hookimpl
from benchmark.interfaces import Decoder


class TpDecoder(Decoder):
    def decode(self, probs, offsets, clips, settings, n_frames=None):
        return []


@hookimpl
def register_decoders(registry):
    registry.add("tp-decoder", TpDecoder(), description="third-party decoder")
"""


def test_builtins_all_load_and_register_reference_components():
    pm = SignspotPluginManager(load_entry_points=False)
    assert [p.name for p in pm.plugins()] == list(DEFAULT_PLUGINS)
    assert pm.broken() == [], [p.error for p in pm.broken()]
    assert "reference-mssl" in pm.components("benchmark")
    for kind, name in [
        ("expert", "i3d"),
        ("expert", "p3d"),
        ("expert", "stgcn"),
        ("spotter", "conv-bilstm"),
        ("decoder", "vote"),
        ("metric", "chalearn-f1"),
        ("dataset", "synthetic"),
        ("dataset", "chalearn-mssl"),
        ("modality", "flow-tvl1"),
    ]:
        assert name in pm.components(kind), (kind, name)


def test_entry_point_plugin_is_discovered_with_distribution(fake_site):
    make_distribution(fake_site, "tp-good", "1.2.3", {"tp-good": "tp_good"}, {"tp_good": GOOD})
    pm = SignspotPluginManager()
    info = pm.info["tp-good"]
    assert (info.distribution, info.version, info.status, info.hooks) == (
        "tp-good",
        "1.2.3",
        "ok",
        ["register_decoders"],
    )
    comp = pm.components("decoder").component("tp-decoder")
    assert comp.plugin == "tp-good" and comp.distribution == "tp-good"


def test_plugin_that_fails_to_import_is_broken_not_fatal(fake_site):
    make_distribution(
        fake_site, "tp-broken", "0.1", {"tp-broken": "tp_broken"}, {"tp_broken": "raise ImportError('needs libfoo')\n"}
    )
    make_distribution(fake_site / "b", "tp-good", "1.0", {"tp-good": "tp_good"}, {"tp_good": GOOD})
    import sys

    sys.path.insert(0, str(fake_site / "b"))
    try:
        pm = SignspotPluginManager()
    finally:
        sys.path.remove(str(fake_site / "b"))
    assert pm.info["tp-broken"].status == "broken"
    assert "needs libfoo" in pm.info["tp-broken"].error
    assert "tp-decoder" in pm.components("decoder")  # the rest keeps working
    with pytest.raises(BrokenPluginError) as err:
        pm.components("decoder").get("no-such-decoder")
    assert "tp-broken" in str(err.value) and "needs libfoo" in str(err.value)


def test_plugin_raising_in_registration_is_broken(fake_site):
    source = (
        GOOD
        + """
@hookimpl
def register_spotters(registry):
    raise RuntimeError("bad spotter table")
"""
    )
    make_distribution(fake_site, "tp-raises", "2.0", {"tp-raises": "tp_raises"}, {"tp_raises": source})
    pm = SignspotPluginManager()
    assert "conv-bilstm" in pm.components("spotter")
    assert pm.info["tp-raises"].status == "broken"
    assert "bad spotter table" in pm.info["tp-raises"].error
    assert "tp-decoder" not in pm.components("decoder")  # a broken plugin provides nothing


def test_unknown_hook_name_marks_plugin_broken(fake_site):
    source = "from benchmark import hookimpl\n@hookimpl\ndef register_expertz(registry):\n    pass\n"
    make_distribution(fake_site, "tp-typo", "1.0", {"tp-typo": "tp_typo"}, {"tp_typo": source})
    pm = SignspotPluginManager()
    assert "register_expertz" in pm.info["tp-typo"].error


def test_duplicate_name_names_both_providers(fake_site):
    source = "from benchmark import hookimpl\n@hookimpl\ndef register_decoders(registry):\n"
    source += "    registry.add('vote', object())\n"
    make_distribution(fake_site, "tp-dup", "1.0", {"tp-dup": "tp_dup"}, {"tp_dup": source})
    pm = SignspotPluginManager()
    # the duplicate makes the registering plugin broken, with both providers named
    err = {p.name: p for p in pm.plugins()}["tp-dup"].error  # plugins() runs every registration hook
    assert "'vote'" in err and "spotters.decoders.plugin" in err and "tp-dup" in err
    assert "vote" in pm.components("decoder")


def test_duplicate_name_error_in_registry():
    from benchmark.config.registry import ComponentRegistry

    reg = ComponentRegistry("expert")
    reg.set_provider("a", "dist-a")
    reg.add("x", object())
    reg.set_provider("b", "dist-b")
    with pytest.raises(DuplicateNameError, match=r"by plugin 'a' \(dist-a\) and by plugin 'b' \(dist-b\)"):
        reg.add("x", object())


def test_unknown_name_lists_known_with_closest_match():
    pm = SignspotPluginManager(load_entry_points=False)
    with pytest.raises(UnknownNameError) as err:
        pm.components("expert").get("i3D")
    msg = str(err.value)
    assert "did you mean 'i3d'?" in msg and "p3d" in msg and "stgcn" in msg


def test_env_var_limits_third_party_plugins(fake_site, monkeypatch):
    make_distribution(fake_site, "tp-good", "1.0", {"tp-good": "tp_good"}, {"tp_good": GOOD})
    monkeypatch.setenv("SIGNSPOT_PLUGINS", "none")
    pm = SignspotPluginManager()
    assert "tp-good" not in pm.info and "vote" in pm.components("decoder")
    monkeypatch.setenv("SIGNSPOT_PLUGINS", "tp-good")
    assert "tp-good" in SignspotPluginManager().info
    monkeypatch.setenv("SIGNSPOT_PLUGINS", "some-other")
    assert "tp-good" not in SignspotPluginManager().info


def test_lifecycle_notification_errors_are_not_fatal(caplog, monkeypatch):
    monkeypatch.setenv("SIGNSPOT_MLFLOW", "0")  # the built-in tracker would warn about the stand-in run "R"
    pm = SignspotPluginManager(load_entry_points=False)
    calls = []

    class Tracker:
        @hookimpl
        def run_started(self, run):
            calls.append(run)
            raise RuntimeError("tracker down")

    pm.register_plugin(Tracker(), "tp-tracker")
    pm.notify("run_started", run="R")
    assert calls == ["R"]
    assert "tracker down" in caplog.text


def test_component_not_implementing_its_contract_is_refused_by_name(fake_site):
    source = (
        "from benchmark import hookimpl\n@hookimpl\ndef register_spotters(registry):\n"
        "    registry.add('tp-fake', object())\n"
    )
    make_distribution(fake_site, "tp-fake", "1.0", {"tp-fake": "tp_fake"}, {"tp_fake": source})
    pm = SignspotPluginManager()
    with pytest.raises(
        BrokenPluginError,
        match=r"spotter 'tp-fake' of plugin 'tp-fake' is 'object', not a "
        r"benchmark.interfaces.Spotter instance",
    ):
        pm.components("spotter").get("tp-fake")


def test_lazy_spec_is_imported_on_first_use_and_reports_a_bad_import(fake_site):
    source = (
        "from benchmark import hookimpl\n@hookimpl\ndef register_decoders(registry):\n"
        "    registry.add('tp-lazy', 'tp_lazy_impl:TpDecoder')\n"
        "    registry.add('tp-missing', 'tp_lazy_nowhere:Thing')\n"
    )
    impl = GOOD.replace("TpDecoder(Decoder)", "TpDecoder(Decoder)").split("@hookimpl")[0]
    make_distribution(fake_site, "tp-lazy", "1.0", {"tp-lazy": "tp_lazy"}, {"tp_lazy": source, "tp_lazy_impl": impl})
    import sys

    pm = SignspotPluginManager()
    registry = pm.components("decoder")
    assert "tp_lazy_impl" not in sys.modules and registry.component("tp-lazy").lazy
    assert type(registry.get("tp-lazy")).__name__ == "TpDecoder" and "tp_lazy_impl" in sys.modules
    with pytest.raises(
        BrokenPluginError,
        match=r"decoder 'tp-missing' of plugin 'tp-lazy' \(tp_lazy_nowhere:Thing\)"
        r": cannot import tp_lazy_nowhere",
    ):
        registry.get("tp-missing")


def test_trace_env_prints_every_hook_call_with_its_plugin(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "SIGNSPOT_TRACE_PLUGINS": "1"}
    out = subprocess.run(
        [sys.executable, "-m", "benchmark.commands.main", "list"], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "signspot hook register_experts(registry=<ComponentRegistry>) -> experts.plugin" in out.stderr
    assert "signspot hook register_benchmarks(registry=<BenchmarkRegistry>) -> benchmark.config.builtin" in out.stderr
    out = subprocess.run(
        [sys.executable, "-m", "benchmark.commands.main", "--help"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "signspot hook register_commands(cli=<BenchGroup>) -> benchmark.datasets.plugin" in out.stderr


def test_plugin_raising_in_register_commands_is_broken(fake_site):
    source = (
        "from benchmark import hookimpl\n@hookimpl\ndef register_commands(cli):\n"
        "    raise RuntimeError('no commands today')\n"
    )
    make_distribution(fake_site, "tp-cmd", "1.0", {"tp-cmd": "tp_cmd"}, {"tp_cmd": source})
    import click

    pm = SignspotPluginManager()
    pm.register_commands(click.Group())
    assert pm.info["tp-cmd"].status == "broken" and "no commands today" in pm.info["tp-cmd"].error


def test_every_kind_has_its_registration_hookspec_and_one_list_names_the_kinds():
    """interfaces.KINDS is the one list of component kinds: each has a registration hook, nothing else does."""
    from benchmark.interfaces import KINDS
    from benchmark.plugins import REGISTRATION_HOOKS, hook_names

    assert list(REGISTRATION_HOOKS) == [*KINDS, "benchmark"]
    registration = {n for n in hook_names() if n.startswith("register_") and n != "register_commands"}
    assert set(REGISTRATION_HOOKS.values()) == registration
    assert REGISTRATION_HOOKS["modality"] == "register_modalities"


def test_builtin_names_leave_out_a_third_party_component(fake_site):
    """What `bench perf` measures by default: the built-ins, not an installed plugin's (measured when named)."""
    make_distribution(fake_site, "tp-good", "1.2.3", {"tp-good": "tp_good"}, {"tp_good": GOOD})
    pm = SignspotPluginManager()
    assert "tp-decoder" in pm.components("decoder")
    assert "tp-decoder" not in pm.builtin_names("decoder")
    assert pm.builtin_names("decoder")[0] == "vote"
