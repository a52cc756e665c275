"""What ``bench compare [BENCHMARK]`` shows (:mod:`benchmark.commands.compare`): the MLflow runs of a benchmark
side by side, best F1 first, or a sweep's table rebuilt from its trials' runs.

Reads parent runs only (stage runs carry ``mlflow.parentRunId``) from the tracking URI the tracker writes
to (``MLFLOW_TRACKING_URI`` or MLflow's default ``sqlite:///mlflow.db`` in the working directory).
"""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmark.errors import BenchError
from benchmark.tracking import store

PARENT_FILTER = "tags.`mlflow.parentRunId` IS NULL"

COLUMNS = (  # (row key, header)
    ("run_id", "run id"),
    ("run_name", "run name"),
    ("experts", "experts"),
    ("spotter", "spotter"),
    ("decoder", "decoder"),
    ("profile", "profile"),
    ("f1", "F1"),
    ("precision", "precision"),
    ("recall", "recall"),
    ("seconds", "seconds"),
    ("status", "status"),
    ("start_time", "start time"),
)


def _row(run: Any, experiment_names: dict[str, str]) -> dict:
    tags, metrics = run.data.tags, run.data.metrics
    start = run.info.start_time
    return {
        "run_id": run.info.run_id,
        "run_name": run.info.run_name or tags.get("mlflow.runName", ""),
        "benchmark": tags.get("benchmark") or experiment_names.get(run.info.experiment_id, ""),
        "experts": tags.get("experts", ""),
        "spotter": tags.get("spotter", ""),
        "decoder": tags.get("decoder", ""),
        "profile": tags.get("profile", ""),
        "f1": metrics.get("f1"),
        "precision": metrics.get("precision"),
        "recall": metrics.get("recall"),
        "seconds": metrics.get("seconds"),
        "status": run.info.status,
        "start_time": datetime.fromtimestamp(start / 1000).isoformat(timespec="seconds") if start else None,
        "error": tags.get("error"),
    }


def _sort_key(row: dict):
    f1 = row["f1"]
    missing = f1 is None or (isinstance(f1, float) and math.isnan(f1))
    return (missing, -(f1 or 0.0) if not missing else 0.0, -(_ts(row["start_time"])))


def _ts(iso: str | None) -> float:
    return datetime.fromisoformat(iso).timestamp() if iso else 0.0


def collect_runs(
    benchmark: str | None = None, limit: int | None = None, tracking_uri: str | None = None
) -> tuple[list[dict], str]:
    """Parent runs of ``benchmark``'s experiment (every experiment when None), best F1 first.

    Returns ``(rows, tracking_uri)``; each row has the keys of :data:`COLUMNS` plus ``benchmark`` and
    ``error``.  Only runs made by ``bench run`` (tag ``benchmark``) are listed.
    """
    import os

    if (
        not tracking_uri
        and not os.environ.get("MLFLOW_TRACKING_URI")
        and not Path("mlruns").exists()
        and not Path("mlflow.db").exists()
    ):  # MLflow's default store is not here: skip the slow import
        return [], f"sqlite:///{Path('mlflow.db').resolve()}"
    uri = tracking_uri or store.tracking_uri()
    if _missing_local_store(uri):  # don't create an empty mlflow.db just to say there is nothing in it
        return [], uri
    from mlflow.tracking import MlflowClient

    try:
        store.check_server(uri)
        runs, names = _parent_runs(MlflowClient(uri), benchmark)
    except Exception as exc:  # mlflow raises many kinds; the user needs the URI
        raise BenchError(
            f"cannot read MLflow runs from {uri}: {type(exc).__name__}: {exc}. "
            f"Check MLFLOW_TRACKING_URI (a server must be running for http:// URIs)."
        ) from exc
    rows = [
        _row(r, names)
        for r in runs
        if "mlflow.parentRunId" not in r.data.tags
        and "benchmark" in r.data.tags
        and r.data.tags.get("signspot.kind", "bench-run") == "bench-run"
    ]
    rows.sort(key=_sort_key)
    if limit is not None and limit > 0:
        rows = rows[:limit]
    return rows, uri


def _parent_runs(client, benchmark: str | None) -> tuple[list, dict[str, str]]:
    """Every top-level run of ``benchmark``'s experiment (every active one when None), all pages (F1 order is
    applied by the caller, not the store), and the experiments' names by id.  Dead runs are closed first."""
    from mlflow.entities import ViewType

    if benchmark:
        exp = client.get_experiment_by_name(benchmark)
        exps = [exp] if exp is not None and exp.lifecycle_stage == "active" else []
    else:
        exps = list(client.search_experiments(view_type=ViewType.ACTIVE_ONLY))
    if not exps:
        return [], {}
    from benchmark.tracking.orphans import close_orphans

    close_orphans(client, [e.experiment_id for e in exps])  # never show a dead run as RUNNING
    names = {e.experiment_id: e.name for e in exps}
    runs, token = [], None
    while True:
        page = client.search_runs(
            list(names),
            filter_string=PARENT_FILTER,
            run_view_type=ViewType.ACTIVE_ONLY,
            max_results=1000,
            order_by=["attributes.start_time DESC"],
            page_token=token,
        )
        runs.extend(page)
        token = page.token
        if not token:
            return runs, names


def _missing_local_store(uri: str) -> bool:
    from urllib.parse import unquote, urlparse

    if uri.startswith("sqlite:///"):
        path = unquote(uri[len("sqlite:///") :])
        return path not in ("", ":memory:") and not Path(path).exists()
    if uri.startswith("file:"):
        return not Path(unquote(urlparse(uri).path)).exists()
    return False


def _cell(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if key in ("f1", "precision", "recall"):
        return f"{value:.4f}"
    if key == "seconds":
        return f"{value:.1f}"
    if key == "run_id":
        return value[:8]
    if key == "start_time":
        return value.replace("T", " ")[:16]
    return str(value)


def format_table(rows: list[dict], with_benchmark: bool = False) -> str:
    """A fixed-width text table of ``rows`` (as returned by :func:`collect_runs`)."""
    cols = list(COLUMNS)
    if with_benchmark:
        cols.insert(1, ("benchmark", "benchmark"))
    cells = [[_cell(k, r.get(k)) for k, _ in cols] for r in rows]
    widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, (_, h) in enumerate(cols)]
    numeric = {"f1", "precision", "recall", "seconds"}

    def line(values):
        return "  ".join(
            v.rjust(w) if k in numeric else v.ljust(w) for (k, _), v, w in zip(cols, values, widths)
        ).rstrip()

    out = [line([h for _, h in cols]), line(["-" * w for w in widths])]
    out += [line(c) for c in cells]
    return "\n".join(out)


def sweep_table(run_id: str, tracking_uri: str | None = None) -> tuple[list[dict], list[dict], str]:
    """The table of sweep ``run_id`` rebuilt from its child runs (the latest run of each trial counts):
    ``(table, trials, tracking URI)``."""
    from mlflow.tracking import MlflowClient

    from benchmark.sweep.results import table

    uri = tracking_uri or store.tracking_uri()
    try:
        store.check_server(uri)
        client = MlflowClient(uri)
        parent = client.get_run(run_id)
        children = client.search_runs(
            [parent.info.experiment_id],
            f"tags.`mlflow.parentRunId` = '{run_id}'",
            max_results=5000,
            order_by=["attributes.start_time ASC"],
        )
    except Exception as exc:  # mlflow raises many kinds; the user needs the run id and the URI
        raise BenchError(f"cannot read sweep run {run_id} from {uri}: {type(exc).__name__}: {exc}") from exc
    if parent.data.tags.get("signspot.kind") != "sweep":
        raise BenchError(
            f"run {run_id} in {uri} is not a sweep (no signspot.kind=sweep tag); `bench compare` lists runs"
        )
    latest: dict[tuple, dict] = {}
    for child in children:
        tags, metrics = child.data.tags, child.data.metrics
        if "sweep.config" not in tags:
            continue
        latest[(tags["sweep.config"], tags.get("sweep.seed"))] = {
            "config": tags["sweep.config"],
            "seed": int(tags.get("sweep.seed", 0)),
            "f1": metrics.get("f1"),
            "seconds": metrics.get("seconds"),
            "status": child.info.status,
            "run_id": child.info.run_id,
            "error": tags.get("error"),
            "node": tags.get("sweep.node"),
        }
    trials = list(latest.values())
    return table(trials), trials, uri
