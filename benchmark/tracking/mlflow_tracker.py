"""Log every ``bench run`` to MLflow: one experiment per benchmark, a parent run per ``bench run``, a nested
run per stage.

What a run holds: on the parent, the config (params, ``config.yaml``), tags naming what ran and its
description, the dataset as an input, the final metrics (``f1`` first; ``f1_by_iou`` a curve over the IoU
threshold), each stage's ``stage.<name>.seconds`` / ``.reused``, the run's outputs (figures, timelines, the
per-class table) and, on long runs, system metrics; on each stage's run, the stage's own metrics (per epoch
with ``step=epoch``), params, ``seconds`` (its total) and ``reused``.  The final metrics are on the parent
only, so ``metrics.f1 > 0.5`` finds runs, never their stages.

Why the client API and not ``mlflow.start_run``: no global "active run" state, so nested stage runs, a
failing run and several runs in one process (tests) cannot leak into each other.

A tracker must never take the benchmark down: every MLflow call is guarded; the first failure of a run is
logged once as a warning and the rest of that run is tracked as far as MLflow lets us.  The MLflow calls run
on a :class:`~benchmark.tracking.queue.CallQueue` (they overlap with the benchmark); a run's end waits for
them.  Set ``SIGNSPOT_MLFLOW=0`` to switch tracking off, ``SIGNSPOT_MLFLOW_ASYNC=0`` to log inline.

What the core gets back is MLflow-free: ``run.run_id`` (the parent run's id) and ``run.links["MLflow run"]``
(how a person opens it).  What values are sent is :mod:`benchmark.tracking.values`' job; the guarded writes
to one run and its stage runs, :mod:`benchmark.tracking.mlflow_run`'s; where the store is,
:mod:`benchmark.tracking.store`'s.
"""

from __future__ import annotations

import logging
import os
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchmark.tracking import store, system_metrics
from benchmark.tracking.mlflow_run import RunState
from benchmark.tracking.queue import CallQueue
from benchmark.tracking.values import (
    config_yaml,
    dataset_input,
    epoch_metrics,
    final_metrics,
    flatten_config,
    iou_curves,
    numeric_items,
    run_note,
    run_tags,
    sanitize_key,
)

log = logging.getLogger(__name__)

DISABLE_ENV = "SIGNSPOT_MLFLOW"
ASYNC_ENV = "SIGNSPOT_MLFLOW_ASYNC"
LINK = "MLflow run"  # the label of the tracker's entry in ``run.links``
NOT_TRACKED = "not tracked (MLflow tracking failed; see the warning above)"


def _env_on(name: str) -> bool:
    return os.environ.get(name, "1").strip().lower() not in ("0", "false", "no", "off")


def tracking_enabled() -> bool:
    return _env_on(DISABLE_ENV)


def _stage_name(stage: Any) -> str:
    return stage if isinstance(stage, str) else str(getattr(stage, "name", stage))


def _publish(run: Any, run_id: str | None, link: str) -> None:
    """Give the core the parent run's id (unless another tracker set one) and a link a person can use."""
    if run_id is not None and getattr(run, "run_id", None) is None:
        run.run_id = run_id
    links = getattr(run, "links", None)
    if links is None:
        links = run.links = {}
    links[LINK] = link


class MlflowTracker:
    """What the lifecycle hooks of :mod:`benchmark.tracking.plugin` delegate to.

    The hooks only snapshot their arguments and queue the MLflow calls, so the seconds MLflow needs overlap
    with the benchmark instead of adding to it.  ``run_finished`` / ``run_failed`` wait for the queue, so a run
    is complete in MLflow (and ``run.run_id`` / ``run.links`` are set) when they return.
    """

    FINISH_TIMEOUT_S = 300.0
    FAIL_TIMEOUT_S = 60.0

    def __init__(self, asynchronous: bool | None = None) -> None:
        if asynchronous is None:
            asynchronous = _env_on(ASYNC_ENV)
        self._states: dict[int, RunState] = {}  # touched by the queue's worker only (or inline)
        self._calls = CallQueue("signspot-mlflow", at_exit=self._close_orphans, asynchronous=asynchronous)

    @property
    def asynchronous(self) -> bool:
        return self._calls.asynchronous

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued MLflow call is done; False if ``timeout`` seconds passed first."""
        return self._calls.flush(timeout)

    # -- lifecycle (called on the hook's thread: snapshot, then queue) ----------------------------------------

    def run_started(self, run: Any) -> None:
        """Create (or reuse) the benchmark's experiment and the parent run; log params, tags, config.yaml."""
        if not tracking_enabled():
            return
        # MLflow uses concurrent.futures, which refuses its first import once the interpreter is shutting
        # down -- when runs left open are closed (see _close_orphans)
        import concurrent.futures.thread  # noqa: F401

        config = getattr(run, "config", None) or {}
        prepared = (
            {
                **flatten_config(config),
                **{sanitize_key(k): str(v) for k, v in (getattr(run, "params", None) or {}).items()},
            },
            config_yaml(config),
            run_tags(run),
            str(getattr(run, "benchmark", None) or "signspot"),
            getattr(run, "run_name", None),
            getattr(run, "started_at", None),
            dataset_input(run),
        )
        self._calls.submit(lambda: self._run_started(run, *prepared))

    def stage_started(self, run: Any, stage: Any) -> None:
        name = _stage_name(stage)
        self._calls.submit(lambda: self._stage_started(run, name))

    def epoch_finished(self, run: Any, stage: Any, epoch: int, metrics: Mapping) -> None:
        """Per-epoch metrics (as sent: ``round1/loss``, ``epoch_seconds``...) on the stage's nested run,
        ``step=epoch``; an epoch of a stage that was not started gets its own nested run.  A per-epoch
        ``seconds`` is logged as ``epoch_seconds`` (``seconds`` is the stage's total)."""
        name, values = _stage_name(stage), epoch_metrics(numeric_items(metrics))
        self._calls.submit(lambda: self._epoch_finished(run, name, int(epoch), values))

    def stage_finished(self, run: Any, stage: Any, result: Any) -> None:
        """Stage metrics, params, seconds and reused flag on its nested run (then ended); seconds and reused go
        to the parent too, at the run's end (after its final metrics: MLflow lists metrics as first logged)."""
        seconds, reused = getattr(result, "seconds", None), getattr(result, "reused", None)
        metrics = numeric_items(getattr(result, "metrics", None))
        if seconds is not None:
            metrics["seconds"] = float(seconds)
        if reused is not None:
            metrics["reused"] = float(bool(reused))
        snap = {
            "metrics": metrics,
            "params": flatten_config(getattr(result, "params", None) or {}),
            "tags": {
                k: v
                for k, v in {
                    "reused": None if reused is None else str(bool(reused)).lower(),
                    "cache_key": getattr(result, "key", None),
                }.items()
                if v is not None
            },
            "artifacts": list(getattr(result, "artifacts", None) or []),
        }
        name = _stage_name(stage)
        self._calls.submit(lambda: self._stage_finished(run, name, snap))

    def run_finished(self, run: Any, summary: Mapping) -> None:
        """Final metrics (``f1`` first, ``f1_by_iou`` curves), stage totals and artifacts on the parent run (a
        JSON table such as ``per_class.json`` as an MLflow table); everything ends FINISHED.  Waits for MLflow."""
        summary = dict(summary or {})
        metrics = numeric_items({k: v for k, v in summary.items() if k != "artifacts"})
        artifacts = list(summary.get("artifacts") or [])
        self._calls.submit(lambda: self._run_finished(run, metrics, artifacts))
        self._wait(self.FINISH_TIMEOUT_S)

    def run_failed(self, run: Any, error: BaseException) -> None:
        """Record the error (tag ``error`` + ``error.txt``) and end every open run FAILED.  Waits for MLflow."""
        message = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        tb = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        status = "KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED"  # Ctrl-C, SIGTERM
        self._calls.submit(lambda: self._run_failed(run, message, tb, status))
        self._wait(self.FAIL_TIMEOUT_S)

    # -- lifecycle (on the worker) ----------------------------------------------------------------------------

    def _run_started(self, run, params, config_text, tags, experiment, run_name, started_at, dataset) -> None:
        st = RunState()
        self._states[id(run)] = st
        with st.guard("start run"):
            uri = store.tracking_uri()
            store.check_server(uri)
            from mlflow.tracking import MlflowClient

            st.client = MlflowClient(uri)
            st.experiment_id = store.experiment(st.client, experiment)
            with st.guard("close orphaned runs"):
                from benchmark.tracking.orphans import close_orphans

                close_orphans(st.client, [st.experiment_id])
            try:  # mlflow.user, mlflow.source.name...: what `mlflow.start_run` would add
                from mlflow.tracking.context.registry import resolve_tags

                tags = {**resolve_tags({}), **tags}
            except Exception as exc:  # MLflow's context providers are a nicety
                log.debug("MLflow context tags unavailable: %s", exc)
            # started when the pipeline started (the dataset is opened before the run is announced)
            r = st.client.create_run(st.experiment_id, run_name=run_name, tags=tags, start_time=started_at)
            st.run_id = r.info.run_id
            _publish(run, st.run_id, store.ui_hint(uri, st.experiment_id, st.run_id))
        if not st.run_id:
            st.dead = True
            _publish(run, None, NOT_TRACKED)
            return
        with st.guard("log params"):
            st.log(st.run_id, params=params)
        with st.guard("log config.yaml"):
            st.client.log_text(st.run_id, config_text, "config.yaml")
        if dataset is not None:
            with st.guard("log the dataset input"):
                st.log_dataset(dataset)
        if _env_on(system_metrics.ENV):
            with st.guard("start system metrics"):
                st.monitor = system_metrics.start(st.run_id, uri)

    def _stage_started(self, run, name) -> None:
        st = self._state(run)
        if st is not None:
            st.open_stage(name, getattr(run, "benchmark", None))

    def _epoch_finished(self, run, name, epoch, values) -> None:
        st = self._state(run)
        if st is None:
            return
        rid = st.find_stage(name) or st.open_stage(name, getattr(run, "benchmark", None))
        if rid is None:
            return
        with st.guard(f"log epoch {epoch} of {name}"):
            st.log(rid, metrics=values, step=epoch)

    def _stage_finished(self, run, name, snap) -> None:
        st = self._state(run)
        if st is None:
            return
        rid = st.find_stage(name) or st.open_stage(name, getattr(run, "benchmark", None))
        if rid is not None:
            with st.guard(f"log stage {name}"):
                st.log(rid, metrics=snap["metrics"], params=snap["params"], tags=snap["tags"])
            st.log_paths(getattr(run, "output_dir", None), rid, snap["artifacts"], f"stage {name}")
        st.stage_totals.update(
            {f"stage.{sanitize_key(name)}.{k}": v for k, v in snap["metrics"].items() if k in ("seconds", "reused")}
        )
        if rid is not None:
            st.close_stage(name, "FINISHED")

    def _run_finished(self, run, metrics, artifacts) -> None:
        st = self._states.pop(id(run), None)
        if st is None or st.dead or not st.run_id:
            return
        with st.guard("log final metrics"):
            st.log(st.run_id, metrics=final_metrics(metrics))
        with st.guard("write the result into the description"):
            st.client.set_tag(st.run_id, "mlflow.note.content", run_note(run, metrics))
        with st.guard("log F1 by IoU"):
            st.log_curves(st.run_id, iou_curves(metrics))
        st.log_stage_totals()
        st.log_paths(getattr(run, "output_dir", None), st.run_id, artifacts, "run")
        self._log_models(run, st)
        st.stop_monitor()
        st.close_all_stages("FINISHED")
        with st.guard("end run"):
            st.client.set_terminated(st.run_id, "FINISHED")

    def _run_failed(self, run, message, tb, status="FAILED") -> None:
        st = self._states.pop(id(run), None)
        if st is None or st.dead or not st.run_id:
            return
        st.fail(message, tb, status)

    def _close_orphans(self) -> None:
        """Runs still open when the program ends (no run_finished/run_failed came) end FAILED, not RUNNING."""
        for key in list(self._states):
            st = self._states.pop(key)
            if st.run_id and not st.dead:
                st.fail("the process exited before the run ended", "")

    # -- plumbing ------------------------------------------------------------------------------------------

    def _wait(self, timeout: float) -> None:
        if not self.flush(timeout):
            log.warning("MLflow tracking did not finish within %.0f s; the tracked run may be incomplete.", timeout)

    def _state(self, run: Any) -> RunState | None:
        st = self._states.get(id(run))
        return st if st is not None and not st.dead and st.run_id else None

    def _log_models(self, run: Any, st: RunState) -> None:
        """The trained pipeline (``pipeline/``, for ``bench spot``) and each expert and the spotter as an MLflow
        model (:mod:`benchmark.tracking.models`), on the parent run while still RUNNING."""
        folder = Path(getattr(run, "output_dir", None) or ".") / "pipeline"
        if not (folder / "spotter" / "model.json").is_file():
            return
        from benchmark.tracking.models import log_pipeline

        with st.guard("log the trained pipeline and its models"):
            log_pipeline(st.client, st.experiment_id, st.run_id, folder)
