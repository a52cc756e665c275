"""Experiment tracking: the built-in MLflow tracker plugin and what ``bench compare`` reads.

Cheap to import: mlflow is imported only when a run starts or a comparison is asked for.  The core sees no
MLflow: the tracker answers through ``run.run_id`` and ``run.links`` (label -> text a person can use).

* :mod:`benchmark.tracking.plugin` -- the built-in plugin: lifecycle hooks -> :class:`MlflowTracker`;
* :mod:`benchmark.tracking.mlflow_tracker` -- :class:`MlflowTracker`, the run/stage lifecycle in MLflow;
* :mod:`benchmark.tracking.mlflow_run` -- one tracked run: its stage runs and every (guarded) write to it;
* :mod:`benchmark.tracking.values` -- run data -> MLflow keys, params, metrics, tags, config.yaml;
* :mod:`benchmark.tracking.queue` -- :class:`CallQueue`, the background thread the MLflow calls run on;
* :mod:`benchmark.tracking.store` -- the lazy mlflow import, tracking URI, server check, the benchmark's
  experiment (opening in MLflow's "Model training" view), "how to open a run";
* :mod:`benchmark.tracking.system_metrics` -- MLflow's CPU/GPU/memory monitor on long runs;
* :mod:`benchmark.tracking.compare` -- what ``bench compare`` (:mod:`benchmark.commands.compare`) reads and prints.
"""
