"""A sweep in MLflow: one parent run per sweep (experiment = the base benchmark, run name = the sweep's), whose
child runs are the trials (each a ``bench run`` with ``mlflow.parentRunId``), and which holds the results table
(``sweep_results.tsv``, ``sweep_results.json``) and the plot ``sweep_f1.png``.

The parent run is found again by its ``signspot.sweep_key`` tag: running the same sweep again reopens it and adds
only the trials that were missing or failed.  Calls are synchronous: trials need the parent's id to start.
"""

from __future__ import annotations

import logging
import os
import socket
import traceback
from pathlib import Path
from typing import Any

from benchmark.tracking import store
from benchmark.tracking.values import truncate

log = logging.getLogger(__name__)

LINK = "MLflow sweep"


class SweepTracker:
    def __init__(self) -> None:
        self._clients: dict[int, Any] = {}

    def sweep_started(self, sweep: Any) -> None:
        from benchmark.tracking.mlflow_tracker import tracking_enabled

        if not tracking_enabled():
            return
        try:
            from mlflow.tracking import MlflowClient

            uri = store.tracking_uri()
            store.check_server(uri)
            client = MlflowClient(uri)
            exp_id = store.experiment(client, sweep.benchmark)
            from benchmark.tracking.orphans import close_orphans

            close_orphans(client, [exp_id])
            found = client.search_runs(
                [exp_id],
                f"tags.`signspot.sweep_key` = '{sweep.key}'",
                max_results=1,
                order_by=["attributes.start_time DESC"],
            )
            tags = {
                "signspot.kind": "sweep",
                "signspot.sweep_key": sweep.key,
                "benchmark": sweep.benchmark,
                "sweep.name": sweep.name,
                "profile": sweep.profile or "none",
                "signspot.host": socket.gethostname(),
                "signspot.pid": str(os.getpid()),
            }
            if sweep.description:
                tags["mlflow.note.content"] = sweep.description
            if found:
                run_id = found[0].info.run_id
                client.update_run(run_id, status="RUNNING")
                for k, v in tags.items():
                    client.set_tag(run_id, k, v)
            else:
                run_id = client.create_run(exp_id, run_name=sweep.name, tags=tags).info.run_id
                from mlflow.entities import Param

                params = {f"grid.{axis}": truncate(str(values), 6000) for axis, values in sweep.grid.items()}
                params.update(
                    {"seeds": str(list(sweep.seeds)), "seed_scope": sweep.seed_scope, "trials": str(sweep.trials)}
                )
                client.log_batch(run_id, params=[Param(k, v) for k, v in params.items()])
            self._clients[id(sweep)] = client
            sweep.run_id = run_id
            sweep.links[LINK] = store.ui_hint(uri, exp_id, run_id)
        except Exception as exc:  # a tracker never takes the sweep down
            log.warning(
                "MLflow tracking of sweep %s failed: %s: %s; the sweep continues untracked.",
                sweep.name,
                type(exc).__name__,
                exc,
            )

    def sweep_finished(self, sweep: Any, table: list, artifacts: list) -> None:
        client = self._clients.pop(id(sweep), None)
        if client is None or not sweep.run_id:
            return
        try:
            from mlflow.entities import Metric

            for path in artifacts:
                client.log_artifact(sweep.run_id, str(Path(path)))
            best = max(
                (row for row in table if row.get("mean_f1") is not None), key=lambda r: r["mean_f1"], default=None
            )
            if best is not None:
                client.log_batch(sweep.run_id, metrics=[Metric("best_mean_f1", float(best["mean_f1"]), 0, 0)])
                client.set_tag(sweep.run_id, "best_config", truncate(str(best["config"])))
            client.set_terminated(sweep.run_id, "FINISHED")
        except Exception as exc:  # a tracker never takes the sweep down
            log.warning("MLflow tracking of sweep %s failed at its end: %s: %s", sweep.name, type(exc).__name__, exc)

    def sweep_failed(self, sweep: Any, error: BaseException) -> None:
        client = self._clients.pop(id(sweep), None)
        if client is None or not sweep.run_id:
            return
        try:
            message = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
            client.set_tag(sweep.run_id, "error", truncate(message))
            client.log_text(
                sweep.run_id, "".join(traceback.format_exception(type(error), error, error.__traceback__)), "error.txt"
            )
            client.set_terminated(sweep.run_id, "KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED")
        except Exception as exc:  # a tracker never takes the sweep down
            log.warning("MLflow tracking of sweep %s failed: %s: %s", sweep.name, type(exc).__name__, exc)
