"""`bench sweep` on this machine: declared and ad-hoc grids, shared stages computed once, trials as MLflow child
runs under one parent, a stored result reused on a second run, a failing trial that fails alone."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from benchmark.commands.main import cli

REGISTRY = """
small:
  extends: reference-mssl
  description: a tiny benchmark for sweep tests (two experts)
  version: 1
  profiles: null
  dataset: {settings: {videos: 5, classes: 3, signers: 2, seconds: 8, size: 96, workers: 1}}
  preprocess:
    workers: 1
    pose: {model_complexity: 1}
    rgb-crop: {size: 32}
    rgb-hands: {box: 8}
  experts:
    rgb: {settings: {width: small}}
    hands: null
    flow: null
  expert_training: {epochs: 1, max_clips_per_epoch: 16, input_size: 24, batch_size: 8, milestones: [1], lr: 1.0e-3}
  spotter:
    settings: {reduce_dims: [32], hidden: 16, lstm_hidden: 8, head_dim: 8}
    training: {epochs: 2, batch_size: 2, milestones: [1], lr: 1.0e-3}

sweeps:
  small-grid:
    description: two spotters x two decoders, one seed
    benchmark: small
    grid:
      spotter: [conv-bilstm, tcn]
      decoder: [vote, argmax]
    seeds: [0]
"""


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    (root / "registry.yaml").write_text(REGISTRY)
    return root


def sweep(workspace: Path, *args: str, json_out: bool = True, env: dict | None = None):
    base = ["--registry", str(workspace / "registry.yaml"), "--cache-dir", str(workspace / "cache"), "sweep"]
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{workspace / 'mlflow.db'}", **(env or {})}
    result = CliRunner().invoke(cli, [*base, *args, *(["--json"] if json_out else ["--no-progress"])], env=env)
    return result


def parsed(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout[result.stdout.index("{") :])


@pytest.fixture(scope="module")
def first(workspace):
    return parsed(sweep(workspace, "small-grid"))


def client(workspace):
    from mlflow.tracking import MlflowClient

    return MlflowClient(f"sqlite:///{workspace / 'mlflow.db'}")


def test_declared_sweep_computes_each_shared_stage_once(first):
    trials = first["trials"]
    assert len(trials) == 4 and all(t["status"] == "FINISHED" and 0.0 <= t["f1"] <= 1.0 for t in trials)
    computed = [name for t in trials for name in t["computed"]]
    for stage in ("preprocess", "train-expert:rgb", "extract-features:rgb", "train-expert:skeleton"):
        assert computed.count(stage) == 1, (stage, computed)
    assert computed.count("train-spotter") == 2  # one per spotter: the decoders share it
    assert computed.count("decode") == 4
    by = {(t["config"], t["seed"]): t for t in trials}
    assert "train-spotter" in by[("spotter=tcn decoder=argmax", 0)]["reused"]
    table = {row["config"]: row for row in first["table"]}
    assert set(table) == {
        "spotter=conv-bilstm decoder=vote",
        "spotter=conv-bilstm decoder=argmax",
        "spotter=tcn decoder=vote",
        "spotter=tcn decoder=argmax",
    }
    assert all(row["n"] == 1 and row["std_f1"] == 0.0 and row["mean_f1"] is not None for row in table.values())
    means = [row["mean_f1"] for row in first["table"]]
    assert means == sorted(means, reverse=True)


def test_a_trial_and_a_bench_run_of_the_same_configuration_and_seed_agree(workspace, first):
    """Same configuration, same seed, same F1 and interval: a sweep is a set of `bench run`s. A decoder axis
    selects the spotter's epoch with the base entry's decoder (so trials share one spotter): the run that
    matches it says so with `spotter.training.select_decoder`."""
    trials = {t["config"]: t for t in first["trials"]}

    def run(*args: str) -> dict:
        argv = ["--registry", str(workspace / "registry.yaml"), "--cache-dir", str(workspace / "cache")]
        result = CliRunner().invoke(cli, [*argv, "run", "small", *args, "--device", "cpu", "--json", "--no-track"])
        return parsed(result)

    plain = run("--seed", "0")
    assert plain["f1"] == pytest.approx(trials["spotter=conv-bilstm decoder=vote"]["f1"])
    assert plain["f1_ci"] == pytest.approx(trials["spotter=conv-bilstm decoder=vote"]["f1_ci"])
    swapped = run("--spotter", "tcn", "--decoder", "argmax", "--set", "spotter.training.select_decoder=vote")
    assert swapped["f1"] == pytest.approx(trials["spotter=tcn decoder=argmax"]["f1"])


def test_compare_two_configurations_of_a_sweep(workspace, first):
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{workspace / 'mlflow.db'}"}
    sweep_id = first["sweep_run_id"]
    trials = {t["config"]: t for t in first["trials"]}
    a, b = "spotter=conv-bilstm decoder=vote", "spotter=tcn decoder=vote"
    result = CliRunner().invoke(cli, ["compare", "--sweep", sweep_id, a, b, "--json"], env=env)
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["f1_a"] == pytest.approx(trials[a]["f1"]) and out["f1_b"] == pytest.approx(trials[b]["f1"])
    assert out["f1_ci_a"] == pytest.approx(trials[a]["f1_ci"]) and out["seeds_a"] == [0]
    same = json.loads(CliRunner().invoke(cli, ["compare", "--sweep", sweep_id, a, a, "--json"], env=env).output)
    assert same["p_value"] == 1.0 and same["verdict"] == "no difference at 95 %"
    unknown = CliRunner().invoke(cli, ["compare", "--sweep", sweep_id, a, "spotter=lstm"], env=env)
    assert unknown.exit_code == 1 and "no finished trial of configuration 'spotter=lstm'" in unknown.output
    assert repr(b) in unknown.output


def test_an_entry_compares_by_the_trials_of_its_seed_sweep(workspace, first):
    """`bench compare ENTRY ENTRY` reads a seed-only sweep's trials as the entry's seed runs (the grid sweep's
    trials are not the entry as declared); spotter seeds on one run seed are labelled ``run/spotter``."""
    seeds = parsed(sweep(workspace, "small", "--seeds", "0,1"))
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{workspace / 'mlflow.db'}"}
    result = CliRunner().invoke(cli, ["compare", "small", "small", "--json"], env=env)
    out = json.loads(result.output)
    assert out["seeds_a"] == [0, "0/1"] and out["p_value"] == 1.0
    assert out["f1_a"] == pytest.approx(np.mean([t["f1"] for t in seeds["trials"]]))
    missing = CliRunner().invoke(cli, ["compare", "small", "small", "--profile", "gpu"], env=env)
    assert missing.exit_code == 1 and "with --profile gpu" in missing.output


def test_trials_are_child_runs_of_one_sweep_run(workspace, first):
    c = client(workspace)
    parent = c.get_run(first["sweep_run_id"])
    assert parent.info.status == "FINISHED" and parent.info.run_name == "small-grid"
    assert c.get_experiment(parent.info.experiment_id).name == "small"
    artifacts = {a.path for a in c.list_artifacts(parent.info.run_id)}
    assert {"sweep_results.tsv", "sweep_results.json", "sweep_f1.png"} <= artifacts
    children = c.search_runs([parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")
    assert len(children) == 4 and all(r.info.status == "FINISHED" for r in children)
    tcn_argmax = next(r for r in children if r.data.tags["sweep.config"] == "spotter=tcn decoder=argmax")
    assert tcn_argmax.data.tags["sweep.spotter"] == "tcn" and tcn_argmax.data.params["sweep.decoder"] == "argmax"
    assert tcn_argmax.data.params["spotter.training.select_decoder"] == "vote"  # its epoch chosen with the base's
    assert tcn_argmax.data.tags["signspot.kind"] == "sweep-trial" and "f1" in tcn_argmax.data.metrics
    # `bench compare` lists bench runs only; `--sweep` prints the sweep's table from its child runs
    out = CliRunner().invoke(
        cli,
        ["compare", "--sweep", parent.info.run_id, "--json"],
        env={"MLFLOW_TRACKING_URI": f"sqlite:///{workspace / 'mlflow.db'}"},
    )
    assert out.exit_code == 0, out.output
    again = json.loads(out.stdout)
    assert {r["config"]: r["mean_f1"] for r in again["table"]} == {r["config"]: r["mean_f1"] for r in first["table"]}


def test_same_sweep_again_computes_nothing_and_continues_the_same_run(workspace, first):
    second = parsed(sweep(workspace, "small-grid"))
    assert second["sweep_run_id"] == first["sweep_run_id"]
    assert all(t["computed"] == [] for t in second["trials"])
    assert [t["f1"] for t in second["trials"]] == [t["f1"] for t in first["trials"]]
    assert [t["run_id"] for t in second["trials"]] == [t["run_id"] for t in first["trials"]]
    c = client(workspace)
    kids = c.search_runs(
        [c.get_run(first["sweep_run_id"]).info.experiment_id], f"tags.`mlflow.parentRunId` = '{first['sweep_run_id']}'"
    )
    assert len(kids) == 4


def test_dry_run_says_what_each_trial_computes_or_reuses(workspace, first):
    out = sweep(
        workspace, "small", "--grid", "spotter=conv-bilstm,transformer", "--seeds", "3,4", "--dry-run", json_out=False
    )
    assert out.exit_code == 0, out.output
    text = out.stdout
    assert "4 trials of small" in text and "trial 3: spotter=transformer seed=4" in text
    assert "train-expert:rgb: reuse (cached)" in text and "train-spotter: compute" in text
    scoped = sweep(
        workspace,
        "small",
        "--grid",
        "spotter=tcn",
        "--seeds",
        "1,2",
        "--seed-scope",
        "run",
        "--dry-run",
        json_out=False,
    )
    assert scoped.exit_code == 0, scoped.output
    assert scoped.stdout.count("train-expert:rgb: compute") == 2  # a run seed re-trains the experts


def test_local_jobs_run_trials_in_processes(workspace, first):
    out = parsed(sweep(workspace, "small", "--grid", "spotter=tcn", "--seeds", "5,6", "--jobs", "2"))
    assert [t["status"] for t in out["trials"]] == ["FINISHED", "FINISHED"]
    assert [t["computed"] for t in out["trials"]] == [["train-spotter", "decode", "score"]] * 2
    assert out["table"][0]["n"] == 2 and out["table"][0]["std_f1"] is not None


def test_a_failing_trial_fails_alone(workspace, first):
    from benchmark import hookimpl
    from benchmark.interfaces import Spotter
    from benchmark.plugins import get_plugin_manager

    class Exploding(Spotter):
        name = "exploding"
        description = "a spotter whose model creation raises"

        def create_model(self, feature_dim, num_outputs, settings):
            raise RuntimeError("spotter exploded")

    class Plugin:
        @hookimpl
        def register_spotters(self, registry):
            registry.add("exploding", Exploding())

    get_plugin_manager().register_plugin(Plugin(), "tp-exploding")
    out = parsed(sweep(workspace, "small", "--grid", "spotter=conv-bilstm,exploding", "--seeds", "0"))
    status = {t["config"]: t for t in out["trials"]}
    assert status["spotter=conv-bilstm"]["status"] == "FINISHED"
    bad = status["spotter=exploding"]
    assert bad["status"] == "FAILED" and "spotter exploded" in bad["error"]
    row = next(r for r in out["table"] if r["config"] == "spotter=exploding")
    assert row["failed"] == 1 and row["mean_f1"] is None
    run = client(workspace).get_run(bad["run_id"])
    assert run.info.status == "FAILED" and "spotter exploded" in run.data.tags["error"]
    assert run.data.tags["mlflow.parentRunId"] == out["sweep_run_id"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--grid", "spoter=tcn"], "unknown axis 'spoter'; did you mean 'spotter'?"),
        (
            ["--grid", "experts=rgb+skelton"],
            "unknown expert id 'skelton' of benchmark 'small'; did you mean 'skeleton'?",
        ),
        (
            ["--grid", "spotter.settings.hiden=8,16"],
            "unknown setting 'hiden' of spotter 'conv-bilstm'; did you mean 'hidden'?",
        ),
        (["--grid", "spotter=conv-bilsm"], "unknown spotter 'conv-bilsm'; did you mean 'conv-bilstm'?"),
    ],
)
def test_bad_axes_fail_before_any_work(workspace, args, message):
    out = CliRunner().invoke(
        cli,
        [
            "--registry",
            str(workspace / "registry.yaml"),
            "--cache-dir",
            str(workspace / "empty-cache"),
            "sweep",
            "small",
            *args,
            "--no-progress",
        ],
    )
    assert out.exit_code == 1 and message in out.output, out.output
    assert not (workspace / "empty-cache").exists()


def test_declared_sweeps_are_validated(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        textwrap.dedent("""
        sweeps:
          oops:
            benchmark: reference-mssl
            grid: {spotter: [tcn]}
            seed: [0, 1]
    """)
    )
    out = CliRunner().invoke(cli, ["--registry", str(path), "list"])
    assert out.exit_code == 1 and "unknown sweep key (did you mean 'seeds'?)" in out.output


def test_joining_a_cluster_needs_a_shared_cache_and_a_tracking_server(workspace, monkeypatch):
    base = [
        "--registry",
        str(workspace / "registry.yaml"),
        "sweep",
        "small-grid",
        "--executor",
        "ray",
        "--address",
        "127.0.0.1:6379",
    ]
    out = CliRunner().invoke(cli, base)
    assert out.exit_code == 1 and "--cache-shared" in out.output
    out = CliRunner().invoke(cli, [*base, "--cache-shared"], env={"MLFLOW_TRACKING_URI": "sqlite:///x.db"})
    assert out.exit_code == 1 and "mlflow server" in out.output and "sqlite:///x.db" in out.output
