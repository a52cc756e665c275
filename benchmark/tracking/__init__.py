"""Experiment tracking: the built-in MLflow tracker plugin and ``bench compare``.

Cheap to import: mlflow is imported only when a run starts or a comparison is asked for.

* :mod:`benchmark.tracking.plugin` -- the built-in plugin (lifecycle hooks + the ``compare`` command);
* :mod:`benchmark.tracking.mlflow_tracker` -- :class:`MlflowTracker`, what the hooks delegate to;
* :mod:`benchmark.tracking.compare` -- the ``bench compare`` click command and its helpers.
"""
