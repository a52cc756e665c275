"""A simulated multi-node Ray cluster on this machine (``ray.cluster_utils.Cluster``: a head without CPUs and two
worker nodes with one CPU each) running a tiny sweep against one ``mlflow server``: the trials land on both
workers, and each trial's run records the node that ran it."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from benchmark.commands.main import cli

try:
    from test_sweep import REGISTRY
    from test_tracking_server import mlflow_server
except ImportError:  # tests/ as a package
    from tests.test_sweep import REGISTRY
    from tests.test_tracking_server import mlflow_server

import ray


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster

    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    workers = [c.add_node(num_cpus=1) for _ in range(2)]
    c.wait_for_nodes()
    yield c, {w.node_id for w in workers}
    if ray.is_initialized():
        ray.shutdown()
    c.shutdown()


def test_trials_run_on_both_worker_nodes(cluster, tmp_path):
    c, worker_ids = cluster
    (tmp_path / "registry.yaml").write_text(REGISTRY)
    with mlflow_server(tmp_path) as url:
        args = [
            "--registry",
            str(tmp_path / "registry.yaml"),
            "--cache-dir",
            str(tmp_path / "shared-cache"),
            "sweep",
            "small",
            "--grid",
            "spotter=conv-bilstm,tcn",
            "--seeds",
            "0,1",
            "--executor",
            "ray",
            "--address",
            c.address,
            "--cache-shared",
            "--json",
        ]
        result = CliRunner().invoke(cli, args, env={"MLFLOW_TRACKING_URI": url})
        assert result.exit_code == 0, result.output
        out = json.loads(result.stdout[result.stdout.index("{") :])
        assert all(t["status"] == "FINISHED" for t in out["trials"])
        nodes = {t["node"] for t in out["trials"]}
        assert nodes == worker_ids, (nodes, worker_ids)  # both workers, never the CPU-less head
        from mlflow.tracking import MlflowClient

        client = MlflowClient(url)
        for trial in out["trials"]:
            assert client.get_run(trial["run_id"]).data.tags["sweep.node"] == trial["node"]
