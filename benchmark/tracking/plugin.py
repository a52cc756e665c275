"""The built-in MLflow tracker plugin: lifecycle hooks -> :class:`MlflowTracker`.

``bench compare`` (:mod:`benchmark.tracking.compare`) is a core command of the CLI, imported lazily.

Cheap to import (mlflow is imported when a run starts).  Trackers are ordinary plugins: a third-party
tracker implements the same ``run_started`` ... ``run_failed`` hooks, and may set ``run.run_id`` (when still
None) and add entries to ``run.links`` for ``bench run`` to print.
"""

from __future__ import annotations

import os

from benchmark import hookimpl
from benchmark.tracking.mlflow_tracker import MlflowTracker
from benchmark.tracking.sweeps import SweepTracker

tracker = MlflowTracker()
sweeps = SweepTracker()


@hookimpl
def run_started(run):
    tracker.run_started(run)


@hookimpl
def stage_started(run, stage):
    tracker.stage_started(run, stage)


@hookimpl
def epoch_finished(run, stage, epoch, metrics):
    tracker.epoch_finished(run, stage, epoch, metrics)


@hookimpl
def stage_finished(run, stage, result):
    tracker.stage_finished(run, stage, result)


@hookimpl
def run_finished(run, summary):
    tracker.run_finished(run, summary)


@hookimpl
def run_failed(run, error):
    tracker.run_failed(run, error)


@hookimpl
def sweep_started(sweep):
    sweeps.sweep_started(sweep)


@hookimpl
def sweep_finished(sweep, table, artifacts):
    sweeps.sweep_finished(sweep, table, artifacts)


@hookimpl
def sweep_failed(sweep, error):
    sweeps.sweep_failed(sweep, error)


@hookimpl
def task_environment():
    from benchmark.tracking.mlflow_tracker import tracking_enabled
    from benchmark.tracking.store import tracking_uri

    env = {"SIGNSPOT_MLFLOW": "1" if tracking_enabled() else "0"}
    if tracking_enabled():  # MLflow's default store is relative to the working directory: pin it
        env["MLFLOW_TRACKING_URI"] = tracking_uri()
    return env


@hookimpl
def tracking_problem():
    from benchmark.tracking.mlflow_tracker import tracking_enabled
    from benchmark.tracking.store import check_server

    if not tracking_enabled():
        return None
    uri = os.environ.get("MLFLOW_TRACKING_URI") or ""
    if not uri.startswith(("http://", "https://")):  # a local store is always there (no mlflow import needed)
        return None
    try:
        check_server(uri, timeout=5.0)
    except ConnectionError as exc:
        return (
            f"{exc}: start it (`mlflow server --host 127.0.0.1 --port 5000`), point MLFLOW_TRACKING_URI at a "
            "reachable one, or pass --no-track / --allow-untracked"
        )
    return None


@hookimpl
def fetch_pipeline(run_id, destination):
    from benchmark.tracking.models import fetch_pipeline as fetch

    return fetch(run_id, destination)
