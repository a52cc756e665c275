"""A tracked run against a real ``mlflow server`` on 127.0.0.1, read back over its REST API.

``read_back_over_rest(perform_run, ...)`` takes any function that performs a tracked run and returns its
parent MLflow run id, so the simulated lifecycle below can be swapped for a real tiny ``bench run``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from benchmark.tracking.mlflow_tracker import LINK

try:
    from test_tracking import CONFIG, SUMMARY_METRICS, make_pm, make_run, simulate_run
except ImportError:  # tests/ as a package
    from tests.test_tracking import CONFIG, SUMMARY_METRICS, make_pm, make_run, simulate_run

START_TIMEOUT_S = 120  # the server imports mlflow + FastAPI and creates its tables: ~5-20 s on a busy 2-core box


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def mlflow_server(root: Path) -> Iterator[str]:
    """Run ``mlflow server`` (sqlite backend, proxied artifacts under ``root``); yield its URL; always stop it."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = (root / "server.log").open("w")
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}  # no background job workers
    env.pop("MLFLOW_TRACKING_URI", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{root}/server.db",
            "--serve-artifacts",
            "--artifacts-destination",
            str(root / "server-artifacts"),
        ],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"mlflow server exited with {proc.returncode}:\n{(root / 'server.log').read_text()}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"mlflow server not healthy after {START_TIMEOUT_S}s:\n{(root / 'server.log').read_text()}")
            time.sleep(0.25)
        yield url
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)
        log.close()


def _get(url: str, path: str, **query) -> dict:
    with urllib.request.urlopen(f"{url}{path}?{urllib.parse.urlencode(query)}", timeout=30) as r:
        return json.load(r)


def _post(url: str, path: str, body: dict) -> dict:
    req = urllib.request.Request(
        f"{url}{path}", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)


def _artifact_bytes(url: str, artifact_uri: str, rel: str) -> bytes:
    assert artifact_uri.startswith("mlflow-artifacts:/"), artifact_uri  # proxied through the server
    path = artifact_uri[len("mlflow-artifacts:/") :].lstrip("/")
    with urllib.request.urlopen(f"{url}/api/2.0/mlflow-artifacts/artifacts/{path}/{rel}", timeout=30) as r:
        return r.read()


def read_back_over_rest(perform_run: Callable[[], str], root: Path, monkeypatch) -> dict:
    """Start a server, run ``perform_run()`` with ``MLFLOW_TRACKING_URI`` pointing at it, and read the run
    (params, tags, metrics, artifacts, config.yaml, nested runs and their loss histories) over REST."""
    with mlflow_server(root) as url:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
        monkeypatch.delenv("SIGNSPOT_MLFLOW", raising=False)
        run_id = perform_run()
        run = _get(url, "/api/2.0/mlflow/runs/get", run_id=run_id)["run"]
        info, data = run["info"], run["data"]
        listing = _get(url, "/api/2.0/mlflow/artifacts/list", run_id=run_id)
        children = _post(
            url,
            "/api/2.0/mlflow/runs/search",
            {"experiment_ids": [info["experiment_id"]], "filter": f"tags.`mlflow.parentRunId` = '{run_id}'"},
        ).get("runs", [])
        histories = {}
        for child in children:
            cid, name = child["info"]["run_id"], child["info"]["run_name"]
            if any(m["key"] == "loss" for m in child["data"].get("metrics", [])):
                hist = _get(url, "/api/2.0/mlflow/metrics/get-history", run_id=cid, metric_key="loss")["metrics"]
                histories[name] = [
                    (int(m.get("step", 0)), m["value"]) for m in sorted(hist, key=lambda m: m.get("step", 0))
                ]
        experiment = _get(url, "/api/2.0/mlflow/experiments/get", experiment_id=info["experiment_id"])["experiment"]
        return {
            "url": url,
            "info": info,
            "experiment": experiment["name"],
            "params": {p["key"]: p["value"] for p in data.get("params", [])},
            "tags": {t["key"]: t["value"] for t in data.get("tags", [])},
            "metrics": {m["key"]: m["value"] for m in data.get("metrics", [])},
            "artifacts": {f["path"]: f for f in listing.get("files", [])},
            "config_yaml": _artifact_bytes(url, info["artifact_uri"], "config.yaml").decode(),
            "children": {c["info"]["run_name"]: c["info"]["status"] for c in children},
            "loss_histories": histories,
        }


def test_tracked_run_read_back_from_mlflow_server_over_rest(tmp_path, monkeypatch):
    run = make_run(tmp_path, benchmark="bench-server")

    def perform_run() -> str:  # swap for a real tiny `bench run ... --json` returning its run id
        return simulate_run(make_pm(), run, f1=0.8125)

    got = read_back_over_rest(perform_run, tmp_path, monkeypatch)

    assert run.run_id == got["info"]["run_id"]
    page = f"#/experiments/{got['info']['experiment_id']}/runs/{run.run_id}?workflowType=machine_learning"
    assert run.links == {LINK: f"{got['url']}/{page}"}
    assert got["experiment"] == "bench-server"
    assert got["info"]["status"] == "FINISHED" and got["info"]["run_name"] == "reference-mssl [cpu]"
    assert got["params"]["spotter.training.lr"] == "0.0001" and got["params"]["clips.length"] == "8"
    assert got["tags"]["spotter"] == "conv-bilstm" and got["tags"]["profile"] == "cpu"
    assert got["tags"]["plugin.my-expert"] == "signspot-my-expert==1.2.3"
    assert got["metrics"]["f1"] == 0.8125
    assert got["metrics"]["precision"] == SUMMARY_METRICS["precision"]
    assert got["metrics"]["f1_iou_0.50"] == pytest.approx(SUMMARY_METRICS["f1_iou_0.50"])
    assert got["metrics"]["f1_by_iou"] == pytest.approx(SUMMARY_METRICS["f1_iou_0.80"])  # the curve's last step
    assert "per_class.json" in got["artifacts"]
    assert {"config.yaml", "predictions.pkl", "plots"} <= set(got["artifacts"])
    assert got["artifacts"]["plots"]["is_dir"] and int(got["artifacts"]["config.yaml"]["file_size"]) > 0
    assert yaml.safe_load(got["config_yaml"]) == CONFIG
    assert got["children"] == {"preprocess": "FINISHED", "train-experts": "FINISHED", "train-spotter": "FINISHED"}
    assert got["loss_histories"]["train-spotter"] == [(1, 1.0), (2, 0.5)]
    # stored where the server was told to put artifacts, not in the client's working directory
    assert list((tmp_path / "server-artifacts").rglob("config.yaml"))
