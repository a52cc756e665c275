"""Independent experts trained at the same time, one process per device (``bench run --devices cuda:0,cuda:1``).

The experts of a run do not depend on each other: each reads its own modality arrays and writes its own
checkpoint and features.  With more than one device, the experts whose stages are not cached yet are dealt
round-robin to the devices, and one worker process per device (spawned: CUDA cannot be forked) trains and
extracts its experts in turn.  A worker reruns the cached stages before its expert (the dataset, preprocessing),
so nothing but the configuration and the cache path crosses between processes.  The run then takes every
expert's features from the cache as usual, and its tracker records the stages a worker computed as computed,
with the worker's time (:attr:`Stages.elsewhere`).  The same devices given twice (``cpu,cpu``) is allowed:
that is how CPU machines test this path.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import time
from dataclasses import dataclass

from benchmark.errors import BenchError
from benchmark.runtime.cpus import available_cores


@dataclass(frozen=True)
class ExpertJob:
    """What one worker needs: the resolved configuration, the cache, its device, its experts, its threads."""

    config: dict
    cache_dir: str
    device: str
    expert_ids: tuple[str, ...]
    threads: int


def pending_experts(stages, data, pre, config: dict) -> list[str]:
    """The experts whose training or features are not cached yet."""
    from benchmark.stages.experts import feature_key, train_key

    pending = []
    for eid, spec in config["experts"].items():
        expert = stages.component("expert", spec["name"])
        trained = train_key(expert, pre.input_keys[spec["modality"]], data, config, eid)
        done = stages.cache.is_done("train-expert", trained) and stages.cache.is_done(
            "extract-features", feature_key(expert, trained, config, eid)
        )
        if not done:
            pending.append(eid)
    return pending


def train_experts_on_devices(stages, data, pre, config: dict, devices: list[str]) -> dict[str, float]:
    """Compute the pending experts' stages in one process per device; ``{stage name: seconds}`` computed."""
    pending = pending_experts(stages, data, pre, config)
    if len(pending) < 2 or len(devices) < 2:
        return {}
    devices = devices[: len(pending)]
    threads = max(1, available_cores() // len(devices))
    jobs = [
        ExpertJob(config, str(stages.cache.root), device, tuple(pending[i :: len(devices)]), threads)
        for i, device in enumerate(devices)
    ]
    for job in jobs:
        stages.echo(f"experts {', '.join(job.expert_ids)} on {job.device} (a worker process, {threads} thread(s))")
    import multiprocessing as mp

    computed: dict[str, float] = {}
    with cf.ProcessPoolExecutor(len(jobs), mp_context=mp.get_context("spawn")) as pool:
        futures = {pool.submit(run_job, job): job for job in jobs}
        for future in cf.as_completed(futures):
            job = futures[future]
            try:
                out = future.result()
            except Exception as exc:  # a worker that raised or died: the run fails naming it
                raise BenchError(f"experts {', '.join(job.expert_ids)} on {job.device} failed: {exc}") from exc
            stages.echo(f"  worker {out['pid']} on {job.device}: {', '.join(out['seconds'])} done")
            computed.update(out["seconds"])
    return computed


def run_job(job: ExpertJob) -> dict:
    """In the worker process: the job's experts, one after the other, on its device."""
    from benchmark.plugins import get_plugin_manager
    from benchmark.runtime.cpus import use_threads
    from benchmark.runtime.torch_setup import choose_device
    from benchmark.stages.base import Stages
    from benchmark.stages.data import open_dataset, run_data
    from benchmark.stages.experts import expert_features
    from benchmark.stages.pipeline import seed_everything
    from benchmark.stages.preprocess import preprocess
    from benchmark.storage.cache import StageCache

    use_threads(job.threads)
    seed_everything(int(job.config["seed"]))
    pm = get_plugin_manager()
    cache = StageCache(job.cache_dir)
    device = choose_device(job.device)
    seconds: dict[str, float] = {}

    def collect(hook: str, run=None, stage=None, result=None, **_) -> None:
        if hook == "stage_finished" and result is not None and not result.reused and ":" in str(stage):
            seconds[str(stage)] = float(result.seconds)

    started = time.time()
    stages = Stages(cache, pm.components, collect, None, device=device, progress=False, echo=_quiet)
    on_bad = job.config["dataset"].get("on_bad_annotation", "fail")
    data = run_data(
        open_dataset(job.config, pm.components, cache.root, progress=False), echo=_quiet, on_bad_annotation=on_bad
    )
    pre = preprocess(stages, data, job.config)
    data = pre.restrict(data)
    for eid in job.expert_ids:
        expert_features(stages, data, pre, job.config, eid)
    seconds = {k: v for k, v in seconds.items() if k.split(":")[0] in ("train-expert", "extract-features")}
    return {"pid": os.getpid(), "device": device, "seconds": seconds, "started": started, "ended": time.time()}


def _quiet(message: str) -> None:
    """Workers report through their results (their lines would interleave)."""
