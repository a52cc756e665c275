"""A run's trained pipeline in MLflow: the bundle folder as artifacts and each model as an MLflow model.

``pipeline/`` (artifacts of the parent run) is the bundle of :mod:`benchmark.storage.bundle`: weights-only state dicts
and the ``model.json`` that rebuilds each model.  ``bench spot --run RUN_ID`` downloads exactly that, so it
never unpickles anything from the server.

Each expert (``expert-<id>``) and the spotter (``spotter``) is also an MLflow logged model of the run
(``mlflow.pytorch``, pickle format, with ``model.json`` as an extra file and its settings as params), for
``mlflow.pytorch.load_model("runs:/RUN_ID/spotter")`` or ``models:/<model_id>`` and the run page's models.
That is a second copy of the weights; ``SIGNSPOT_MLFLOW_MODELS=0`` logs the bundle only.  The pickle format,
because ``pt2`` (a traced graph) needs an example input and fails on models torch.export cannot trace.
"""

from __future__ import annotations

import logging
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

ARTIFACT = "pipeline"
ENV_MODELS = "SIGNSPOT_MLFLOW_MODELS"


def log_pipeline(client, experiment_id: str, run_id: str, folder: Path, components=None) -> list[str]:
    """Log the bundle at ``folder`` on ``run_id``; the logged models' URIs (empty with ``SIGNSPOT_MLFLOW_MODELS=0``)."""
    from benchmark.storage.bundle import Bundle

    folder = Path(folder)
    client.log_artifacts(run_id, str(folder), artifact_path=ARTIFACT)
    if os.environ.get(ENV_MODELS, "1").strip().lower() in ("0", "false", "no", "off"):
        return []
    bundle = Bundle(folder).check()
    if components is None:
        from benchmark.plugins import get_plugin_manager

        components = get_plugin_manager().components
    parts = [f"experts/{e}" for e in bundle.expert_ids] + ["spotter"]
    return [_log_model(client, experiment_id, run_id, bundle, part, components) for part in parts]


def _log_model(client, experiment_id: str, run_id: str, bundle, part: str, components) -> str:
    import mlflow
    import mlflow.pytorch
    import torch

    from benchmark import __version__
    from benchmark.tracking.values import flatten_config

    meta = bundle.meta(part)
    name = "spotter" if part == "spotter" else "expert-" + part.split("/", 1)[1]
    module = bundle.build(part, components)
    model = mlflow.initialize_logged_model(
        name=name,
        source_run_id=run_id,
        experiment_id=experiment_id,  # else MLflow files it under the active (default) experiment
        params={k: str(v)[:500] for k, v in flatten_config({"settings": meta.get("settings") or {}}).items()},
        tags={"signspot.part": part, "signspot.component": str(meta.get("name"))},
    )
    with _pickle_warning_filtered():
        info = mlflow.pytorch.log_model(
            module,
            name=name,
            model_id=model.model_id,
            run_id=run_id,
            serialization_format="pickle",
            pip_requirements=[f"signspot-bench=={__version__}", f"torch=={torch.__version__.split('+')[0]}"],
            extra_files=[str(bundle.folder / part / "model.json")],
            metadata={"signspot": meta},
        )
    client.set_tag(run_id, f"signspot.model.{name}", info.model_uri)
    return info.model_uri


PICKLE_WARNING = "Saving pytorch model by Pickle or CloudPickle format requires exercising caution"


class _DropPickleWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(PICKLE_WARNING)


@contextmanager
def _pickle_warning_filtered():
    """MLflow 3.x warns on every pickled model (five lines per run).  The pickle format is deliberate (see the
    module doc: ``pt2`` needs an example input and a model torch.export can trace, and
    ``mlflow.pytorch.load_model`` needs a whole module, not a state dict), and ``bench spot`` never reads these
    copies (it reads the weights-only bundle), so exactly that warning is dropped; ``bench --verbose`` keeps it."""
    from benchmark.runtime.quiet import verbose

    if verbose():
        yield
        return
    target, drop = logging.getLogger("mlflow.pytorch"), _DropPickleWarning()
    target.addFilter(drop)
    try:
        yield
    finally:
        target.removeFilter(drop)


def fetch_pipeline(run_id: str, destination: Path) -> Path | None:
    """Download run ``run_id``'s bundle into ``destination`` (reused when already there); None when this
    tracking store has no such run."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from benchmark.errors import BenchError
    from benchmark.storage.bundle import Bundle
    from benchmark.tracking import store

    uri = store.tracking_uri()
    store.check_server(uri)
    client = MlflowClient(uri)
    try:
        run = client.get_run(run_id)
    except MlflowException:
        return None
    target = Path(destination) / run_id
    if (target / ARTIFACT / "spotter" / "model.json").is_file():
        return Bundle(target / ARTIFACT).check().folder
    if run.info.status != "FINISHED":
        raise BenchError(f"run {run_id} ended {run.info.status}: only a finished run has a trained pipeline")
    names = {a.path for a in client.list_artifacts(run_id)}
    if ARTIFACT not in names:
        parent = run.data.tags.get("mlflow.parentRunId")
        hint = f" (a stage run: use its parent {parent})" if parent else ""
        raise BenchError(
            f"run {run_id} has no trained pipeline{hint}: it was logged by an older signspot-bench or is a "
            "sweep's summary run; re-run its benchmark to log one"
        )
    partial = target.with_name(target.name + ".partial")  # a download cut short is never taken for a bundle
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    client.download_artifacts(run_id, ARTIFACT, str(partial))  # no bar: benchmark.tracking.store
    shutil.rmtree(target, ignore_errors=True)
    os.replace(partial, target)
    return Bundle(target / ARTIFACT).check().folder
