"""One tracked run in MLflow: its client and ids, its open stage runs, and every write to it, each guarded.

:class:`~benchmark.tracking.mlflow_tracker.MlflowTracker` decides *when* to write (the lifecycle hooks, the
call queue); this module is *how*: the batched MLflow calls, artifacts and tables, nested stage runs, and the
failure path.  A write that fails is a warning (the first of the run) or a debug line, never an exception:
a tracker must not take the benchmark down.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.tracking import system_metrics
from benchmark.tracking.values import table_columns, truncate

log = logging.getLogger(__name__)

PARENT_TAG = "mlflow.parentRunId"


@dataclass
class RunState:
    """A ``bench run``'s parent run and its open stage runs; touched by the tracker's queue worker only."""

    client: Any = None
    run_id: str | None = None
    experiment_id: str | None = None
    stages: list = field(default_factory=list)  # open nested runs, innermost last: [(stage name, run id)]
    stage_totals: dict = field(default_factory=dict)  # stage.<name>.seconds/.reused, for the parent at the end
    monitor: Any = None  # the system metrics monitor sampling onto the parent run
    warned: bool = False
    dead: bool = False  # creating the parent run failed: nothing more to do for this run

    @contextmanager
    def guard(self, what: str) -> Iterator[None]:
        """Run MLflow calls; an exception is logged (a warning the first time in this run), not raised."""
        try:
            yield
        except Exception as exc:  # a tracker never takes the run down
            if not self.warned:
                log.warning(
                    "MLflow tracking failed (%s): %s: %s; the benchmark run continues.", what, type(exc).__name__, exc
                )
                self.warned = True
            else:
                log.debug("MLflow tracking failed (%s): %s", what, exc)

    def log(self, run_id: str, *, params=None, metrics=None, tags=None, step=0) -> None:
        from mlflow.entities import Metric, Param, RunTag

        now = int(time.time() * 1000)
        self.client.log_batch(
            run_id,
            metrics=[Metric(k, v, now, int(step)) for k, v in (metrics or {}).items()],
            params=[Param(k, v) for k, v in (params or {}).items()],
            tags=[RunTag(k, truncate(v)) for k, v in (tags or {}).items()],
        )

    def log_curves(self, run_id: str, curves: Mapping[str, Mapping[int, float]]) -> None:
        """One metric per curve, a point per step (MLflow draws it as a line against the step)."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        points = [Metric(key, v, now, step) for key, curve in curves.items() for step, v in curve.items()]
        if points:
            self.client.log_batch(run_id, metrics=points)

    def log_stage_totals(self) -> None:
        if self.stage_totals:
            with self.guard("log stage totals on the parent"):
                self.log(self.run_id, metrics=self.stage_totals)
            self.stage_totals = {}

    def log_dataset(self, d: Mapping[str, str]) -> None:
        """The dataset as the run's input (MLflow's Datasets column and the run page list it)."""
        from mlflow.entities import Dataset, DatasetInput, InputTag

        dataset = Dataset(d["name"], d["digest"], d["source_type"], d["source"], d["schema"], d["profile"])
        self.client.log_inputs(self.run_id, [DatasetInput(dataset, [InputTag("mlflow.data.context", d["context"])])])

    def stop_monitor(self) -> None:
        if self.monitor is not None:
            with self.guard("stop system metrics"):
                system_metrics.stop(self.monitor)
            self.monitor = None

    def log_paths(self, out: Path | None, run_id: str, paths, what: str) -> None:
        """Log files and folders; those inside the run's ``output_dir`` keep their relative folder.  A JSON
        file holding a table (:func:`~benchmark.tracking.values.table_columns`) is logged as an MLflow table
        under the same name."""
        for p in paths or []:
            p = Path(p)
            folder = None
            if out is not None:
                try:
                    folder = p.parent.resolve().relative_to(Path(out).resolve()).as_posix()
                except ValueError:
                    folder = None
            folder = None if folder in (None, ".", "") else folder
            with self.guard(f"{what}: artifact {p}"):
                if p.is_dir():
                    self.client.log_artifacts(run_id, str(p), artifact_path="/".join(filter(None, [folder, p.name])))
                elif p.is_file() and (columns := table_columns(p)) is not None:
                    self.client.log_table(run_id, data=columns, artifact_file="/".join(filter(None, [folder, p.name])))
                elif p.is_file():
                    self.client.log_artifact(run_id, str(p), artifact_path=folder)
                else:
                    log.debug("artifact %s does not exist; not logged", p)

    # -- nested stage runs ----------------------------------------------------------------------------------

    def open_stage(self, name: str, benchmark: str | None) -> str | None:
        parent = self.stages[-1][1] if self.stages else self.run_id
        tags = {
            PARENT_TAG: parent,
            "stage": name,
            "benchmark": benchmark,
            "signspot.host": socket.gethostname(),
            "signspot.pid": os.getpid(),
        }
        with self.guard(f"start stage {name}"):
            r = self.client.create_run(
                self.experiment_id, run_name=name, tags={k: str(v) for k, v in tags.items() if v is not None}
            )
            self.stages.append((name, r.info.run_id))
            return r.info.run_id
        return None

    def find_stage(self, name: str) -> str | None:
        for stage, rid in reversed(self.stages):
            if stage == name:
                return rid
        return None

    def close_stage(self, name: str, status: str) -> None:
        """End stage ``name`` and every run opened inside it that is still open."""
        for i in range(len(self.stages) - 1, -1, -1):
            if self.stages[i][0] == name:
                while len(self.stages) > i:
                    stage, rid = self.stages.pop()
                    with self.guard(f"end stage {stage}"):
                        self.client.set_terminated(rid, status)
                return

    def close_all_stages(self, status: str) -> None:
        while self.stages:
            name, rid = self.stages.pop()
            with self.guard(f"end stage {name}"):
                self.client.set_terminated(rid, status)

    def fail(self, message: str, tb: str, status: str = "FAILED") -> None:
        """The error on the parent (tag ``error``, ``error.txt``) and on each open stage; everything ends ``status``."""
        self.log_stage_totals()
        self.stop_monitor()
        with self.guard("record error"):
            self.client.set_tag(self.run_id, "error", truncate(message))
        if tb:
            with self.guard("log error.txt"):
                self.client.log_text(self.run_id, tb, "error.txt")
        for stage, rid in self.stages:
            with self.guard(f"record error on {stage}"):
                self.client.set_tag(rid, "error", truncate(message))
        self.close_all_stages(status)
        with self.guard("end run"):
            self.client.set_terminated(self.run_id, status)
