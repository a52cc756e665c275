"""`bench sweep --executor ray` on a real local Ray cluster (``ray.init(num_cpus=2)``, one for this module) against a
real ``mlflow server`` on 127.0.0.1: the issue's own command, then the same command again."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from benchmark.commands.main import cli

try:
    from test_tracking_server import mlflow_server
except ImportError:  # tests/ as a package
    from tests.test_tracking_server import mlflow_server

import ray

COMMAND = [
    "sweep",
    "reference-mssl",
    "--profile",
    "tiny",
    "--grid",
    "spotter=conv-bilstm,tcn",
    "--seeds",
    "0,1",
    "--executor",
    "ray",
    "--json",
]


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("ray-mlflow")
    with mlflow_server(root) as url:
        yield url


@pytest.fixture(scope="module")
def runs(cluster, server, tmp_path_factory):
    cache = tmp_path_factory.mktemp("ray-cache")
    env = {"MLFLOW_TRACKING_URI": server}
    outs = []
    for _ in range(2):
        result = CliRunner().invoke(cli, ["--cache-dir", str(cache), *COMMAND], env=env)
        assert result.exit_code == 0, result.output
        outs.append(json.loads(result.stdout[result.stdout.index("{") :]))
    return outs


def test_issue_command_on_ray_shares_experts_and_tracks_children(runs, server):
    first = runs[0]
    errors = [t.get("error") for t in first["trials"] if t["status"] != "FINISHED"]
    assert len(first["trials"]) == 4 and errors == [], errors
    assert all(t["f1"] is not None for t in first["trials"])
    computed = [s for t in first["trials"] for s in t["computed"]]
    for expert in ("rgb", "hands", "flow", "skeleton"):
        assert computed.count(f"train-expert:{expert}") == 1, computed
    assert computed.count("train-spotter") == 4  # two spotters x two spotter seeds
    assert {r["config"] for r in first["table"]} == {"spotter=conv-bilstm", "spotter=tcn"}
    assert all(r["n"] == 2 and r["std_f1"] is not None and r["mean_f1"] is not None for r in first["table"])
    from mlflow.tracking import MlflowClient

    client = MlflowClient(server)
    parent = client.get_run(first["sweep_run_id"])
    children = client.search_runs([parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")
    assert len(children) == 4 and {c.info.run_id for c in children} == {t["run_id"] for t in first["trials"]}
    assert all(c.info.status == "FINISHED" for c in children) and parent.info.status == "FINISHED"


def test_the_same_command_again_computes_nothing(runs):
    first, second = runs
    assert all(t["computed"] == [] for t in second["trials"])
    assert second["sweep_run_id"] == first["sweep_run_id"]
    assert [t["f1"] for t in second["trials"]] == [t["f1"] for t in first["trials"]]
