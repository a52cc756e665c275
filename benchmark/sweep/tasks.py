"""One task of a sweep, as a worker runs it (in this process, a local process, or a Ray worker on any node).

A task reruns the stages of its configuration up to the one it computes: the earlier ones are cache hits by
then (the scheduler ran their tasks first), so nothing but paths and keys crosses between processes, and a
worker needs only the cache (shared by every node) and the tracking URI.  A ``trial`` task is a whole
``bench run`` tracked as a child of the sweep's run.  A task never raises: it returns what happened.
"""

from __future__ import annotations

import os
import socket
import time
import traceback
from dataclasses import dataclass, field

from benchmark.sweep.plan import Task


@dataclass(frozen=True)
class TaskEnv:
    """What a worker needs besides the task: where the cache is, the device, its threads, the environment."""

    cache_dir: str
    device: str = "auto"
    threads: int = 1
    environ: dict[str, str] = field(default_factory=dict)  # MLFLOW_TRACKING_URI, SIGNSPOT_PLUGINS, ...
    parent_run_id: str | None = None
    sweep: str = ""


def node_name() -> str:
    """The Ray node id when the task runs on Ray, else the host name."""
    try:
        import ray

        if ray.is_initialized():
            return ray.get_runtime_context().get_node_id()
    except Exception:  # no Ray, or not inside a Ray worker
        pass
    return socket.gethostname()


def execute(task: Task, env: TaskEnv, tags: dict | None = None, params: dict | None = None) -> dict:
    """Run ``task``; returns ``{"status": "FINISHED" | "FAILED", "computed", "reused", "seconds", "node", ...}``."""
    os.environ.update(env.environ)
    start = time.perf_counter()
    node = node_name()
    try:
        from benchmark.plugins import get_plugin_manager
        from benchmark.runtime.process import set_up

        threads, device = set_up(threads=env.threads, seed=int(task.resolved.config["seed"]), device=env.device)
        pm = get_plugin_manager()
        out = (
            _trial(task, env, pm, device, threads, node, tags, params)
            if task.kind == "trial"
            else _shared(task, env, pm, device, threads)
        )
        return {"status": "FINISHED", "seconds": time.perf_counter() - start, "node": node, **out}
    except Exception as exc:  # one task failing must not take the sweep down
        message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return {
            "status": "FAILED",
            "error": message,
            "traceback": traceback.format_exc(),
            "node": node,
            "seconds": time.perf_counter() - start,
            "computed": [],
            "reused": [],
        }


def _trial(task: Task, env: TaskEnv, pm, device: str, threads: int, node: str, tags, params) -> dict:
    from benchmark.stages.pipeline import Pipeline
    from benchmark.storage.cache import StageCache

    pipeline = Pipeline(
        task.resolved,
        pm,
        StageCache(env.cache_dir),
        device=device,
        run_name=f"{env.sweep}: {task.name}",
        workers=threads,
        threads=threads,
        progress=False,
        parent_run_id=env.parent_run_id,
        tags={**(tags or {}), "sweep.node": node},
        params=params,
        echo=_quiet,
    )
    summary = pipeline.run()
    metrics = {k: v for k, v in summary.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return {
        "summary": metrics,
        "run_id": summary.get("run_id"),
        "computed": summary["computed"],
        "reused": summary["reused"],
        "output_dir": summary.get("output_dir"),
        "counts": _counts(summary.get("output_dir")),
    }


def _counts(output_dir) -> dict | None:
    """The trial's per-video counts (``per_video.json``): what the sweep's intervals and groups are made of."""
    import json
    from pathlib import Path

    from benchmark.stages.names import PER_VIDEO

    path = Path(output_dir or "") / PER_VIDEO
    return json.loads(path.read_text(encoding="utf-8"))["counts"] if output_dir and path.is_file() else None


def _shared(task: Task, env: TaskEnv, pm, device: str, threads: int) -> dict:
    """A shared stage: the graph walked up to the task's stage (the cache hits before it), for its expert."""
    from benchmark.stages.base import Stages
    from benchmark.stages.data import open_run_data
    from benchmark.stages.graph import walk
    from benchmark.storage.cache import StageCache

    config = task.resolved.config
    cache = StageCache(env.cache_dir)
    stages = Stages(cache, pm.components, None, None, device=device, progress=False, workers=threads, echo=_quiet)
    data = open_run_data(config, pm.components, cache.root, progress=False, echo=_quiet)
    walk(stages, data, config, until=task.until, experts=(task.expert_id,) if task.expert_id else None)
    return {"computed": list(stages.computed), "reused": list(stages.reused)}


def _quiet(message: str) -> None:
    """Workers report through their results, not by printing between the sweep's progress bar."""
