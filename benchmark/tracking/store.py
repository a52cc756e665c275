"""Where tracked runs live and how to reach them: the lazy mlflow import, the tracking URI, a server check,
the benchmark's experiment, and the line that tells a person how to open a run.

Runs go to ``MLFLOW_TRACKING_URI`` when set, else to MLflow's own default, which (MLflow 3.x) is
``sqlite:///mlflow.db`` in the working directory with artifacts under ``./mlruns`` -- so a plain ``mlflow ui``
started in the same directory shows every run.  (MLflow falls back to a ``./mlruns`` file store only when one
already exists there.)  We never set the URI ourselves.  Shared by the tracker and ``bench compare``.
"""

from __future__ import annotations

import logging
import os

_mlflow_mod = None

# How a benchmark's experiment opens in the MLflow UI.  MLflow 3.x tags an experiment's kind with
# ``mlflow.experimentKind`` (``custom_model_development`` is "Machine learning"); the 3.17 UI instead takes the
# view from its GenAI / "Model training" switch (kept in the browser, GenAI by default) unless the page's URL
# says ``?workflowType=machine_learning`` -- so the tag is set for the UIs that read it and every link we print
# carries the parameter.  The primary metric puts ``f1`` first in the experiment's charts.
EXPERIMENT_TAGS = {"mlflow.experimentKind": "custom_model_development", "mlflow.experiment.primaryMetric.name": "f1"}
VIEW = "?workflowType=machine_learning"


def mlflow():
    """The mlflow module, imported on first use (the import takes seconds; ``bench --help`` must not pay it)."""
    global _mlflow_mod
    if _mlflow_mod is None:
        import mlflow as module  # deliberately lazy

        # creating the default sqlite store logs INFO lines (table creation, migrations) that would cut
        # through the progress bars; warnings and errors still show
        for name in ("mlflow.store.db.utils", "alembic"):
            logging.getLogger(name).setLevel(logging.WARNING)
        # against a server MLflow prints "View run ... / View experiment ..." on stdout for every run it ends
        # (each stage's too): into `bench run --json`'s output.  The tracker prints its own link, once.
        os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
        # MLflow draws a "Downloading artifacts" bar for every model it logs and every bundle `bench spot`
        # fetches (a few small files), whatever --no-progress says; `bench --verbose` keeps it
        from benchmark.runtime.quiet import verbose

        if not verbose():
            os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        _mlflow_mod = module
    return _mlflow_mod


def tracking_uri() -> str:
    """The tracking URI MLflow will use (env var or MLflow's default)."""
    return mlflow().get_tracking_uri()


def is_server(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


def check_server(uri: str, timeout: float = 5.0) -> None:
    """Fail fast on an unreachable tracking server (MLflow's own client retries for minutes)."""
    if not is_server(uri):
        return
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout):
            return
    except urllib.error.HTTPError:
        return  # the server answers; /health may be behind auth or a proxy
    except OSError as exc:
        raise ConnectionError(f"MLflow tracking server {uri} is unreachable ({exc})") from None


def experiment(client, name: str) -> str:
    """The id of experiment ``name``, created (or restored) when needed, with :data:`EXPERIMENT_TAGS` set where
    missing (an experiment made before, or by hand, gets them too; a value someone chose is kept)."""
    exp = client.get_experiment_by_name(name)
    if exp is None:
        try:
            return client.create_experiment(name, tags=EXPERIMENT_TAGS)
        except Exception:  # created concurrently by another process
            exp = client.get_experiment_by_name(name)
            if exp is None:
                raise
    if exp.lifecycle_stage == "deleted":
        client.restore_experiment(exp.experiment_id)
    for key, value in EXPERIMENT_TAGS.items():
        if key not in (exp.tags or {}):
            client.set_experiment_tag(exp.experiment_id, key, value)
    return exp.experiment_id


def ui_hint(uri: str, experiment_id: str, run_id: str) -> str:
    """How a person opens the run: its URL on a server, else the ``mlflow ui`` line that shows this store."""
    page = f"#/experiments/{experiment_id}/runs/{run_id}{VIEW}"
    if is_server(uri):
        return f"{uri.rstrip('/')}/{page}"
    if uri == f"sqlite:///{os.path.abspath('mlflow.db')}":  # MLflow's default: `mlflow ui` finds it alone
        return f"run `mlflow ui` in {os.getcwd()} and open http://127.0.0.1:5000/{page}"
    return f"mlflow ui --backend-store-uri {uri}  (then open http://127.0.0.1:5000/{page})"
