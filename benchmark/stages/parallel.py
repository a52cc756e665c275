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


def pending_experts(stages, data, config: dict) -> list[str]:
    """The experts whose training or features are not cached yet, in the entry's order."""
    from benchmark.stages.graph import is_done, steps

    pending = {
        s.expert_id
        for s in steps(config, data, stages.components)
        if s.expert_id and not is_done(stages.cache, s, config, data, stages.components)
    }
    return [eid for eid in config["experts"] if eid in pending]


def train_experts_on_devices(stages, data, config: dict, devices: list[str]) -> dict[str, float]:
    """Compute the pending experts' stages in one process per device; ``{stage name: seconds}`` computed."""
    pending = pending_experts(stages, data, config)
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
    """In the worker process: the graph walked up to the experts, for the job's experts, on its device."""
    from benchmark.plugins import get_plugin_manager
    from benchmark.runtime.process import set_up
    from benchmark.stages.base import Stages
    from benchmark.stages.data import open_run_data
    from benchmark.stages.graph import walk
    from benchmark.stages.names import EXPERT, EXTRACT, TRAIN_EXPERT, store_of
    from benchmark.storage.cache import StageCache

    _, device = set_up(threads=job.threads, seed=int(job.config["seed"]), device=job.device)
    pm = get_plugin_manager()
    cache = StageCache(job.cache_dir)
    seconds: dict[str, float] = {}

    def collect(hook: str, run=None, stage=None, result=None, **_) -> None:
        computed = hook == "stage_finished" and result is not None and not result.reused
        if computed and store_of(str(stage)) in (TRAIN_EXPERT, EXTRACT):
            seconds[str(stage)] = float(result.seconds)

    started = time.time()
    stages = Stages(cache, pm.components, collect, None, device=device, progress=False, echo=_quiet)
    data = open_run_data(job.config, pm.components, cache.root, progress=False, echo=_quiet)
    walk(stages, data, job.config, until=EXPERT, experts=job.expert_ids)
    return {"pid": os.getpid(), "device": device, "seconds": seconds, "started": started, "ended": time.time()}


def _quiet(message: str) -> None:
    """Workers report through their results (their lines would interleave)."""
