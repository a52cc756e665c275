"""Where sweep tasks run: this machine (``local``: in this process, or ``--jobs N`` processes) or a Ray cluster.

Both give the scheduler the same three calls: ``submit`` a task, ``wait`` for one to finish, ``result``.  On Ray
each task asks for ``--cpus-per-trial`` CPUs (and ``--gpus-per-trial`` GPUs for the tasks that train a model),
and tasks are spread over the nodes; Ray is imported only here, and a local cluster is started only when no
``--address`` is given and this process has not joined one already.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
from typing import Any

from benchmark.errors import BenchError
from benchmark.sweep.tasks import execute

GPU_TASKS = ("expert", "spotter", "trial")  # the tasks that train or run a model


class LocalExecutor:
    """``jobs`` tasks at once on this machine: in this process when 1, else in a process pool."""

    name = "local"

    def __init__(self, jobs: int = 1):
        if jobs < 1:
            raise BenchError(f"--jobs must be >= 1, got {jobs}")
        self.jobs = jobs
        self.capacity = jobs
        self._pool = None
        if jobs > 1:
            import multiprocessing as mp

            self._pool = cf.ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn"))

    def submit(self, task, env, tags, params) -> cf.Future:
        if self._pool is not None:
            return self._pool.submit(execute, task, env, tags, params)
        future: cf.Future = cf.Future()
        future.set_result(execute(task, env, tags, params))
        return future

    def wait(self, handles: list) -> list:
        done, _ = cf.wait(handles, return_when=cf.FIRST_COMPLETED)
        return list(done)

    def result(self, handle) -> dict:
        try:
            return handle.result()
        except Exception as exc:  # a worker process that died (out of memory, a signal)
            return {
                "status": "FAILED",
                "error": f"the worker process died: {type(exc).__name__}: {exc}",
                "computed": [],
                "reused": [],
                "seconds": 0.0,
                "node": "?",
            }

    def shutdown(self, cancel: bool = False) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=not cancel, cancel_futures=cancel)


class RayExecutor:
    """Tasks as Ray remote functions: each asks for its CPUs (and GPUs) and Ray places them on the nodes."""

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        cpus_per_trial: float = 1.0,
        gpus_per_trial: float = 0.0,
        num_cpus: int | None = None,
    ):
        try:
            import ray
        except ImportError:
            raise BenchError(
                "--executor ray needs Ray: pip install 'signspot-bench[ray]' (or pip install ray)"
            ) from None
        self.ray = ray
        self.started = False
        if not ray.is_initialized():
            if address:
                ray.init(address=address, log_to_driver=False)
            else:
                ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
                self.started = True
        self.cpus, self.gpus = float(cpus_per_trial), float(gpus_per_trial)
        self.capacity = None  # Ray queues what does not fit
        self._remote = ray.remote(execute)

    def submit(self, task, env, tags, params) -> Any:
        gpus = self.gpus if task.kind in GPU_TASKS else 0.0
        options = {"num_cpus": self.cpus, "num_gpus": gpus, "scheduling_strategy": "SPREAD", "max_retries": 0}
        return self._remote.options(**options).remote(task, env, tags, params)

    def wait(self, handles: list) -> list:
        done, _ = self.ray.wait(list(handles), num_returns=1)
        return done

    def result(self, handle) -> dict:
        try:
            return self.ray.get(handle)
        except Exception as exc:  # a worker or node that died
            return {
                "status": "FAILED",
                "error": f"the Ray task died: {type(exc).__name__}: {exc}",
                "computed": [],
                "reused": [],
                "seconds": 0.0,
                "node": "?",
            }

    def shutdown(self, cancel: bool = False, handles: list = ()) -> None:
        if cancel:
            for handle in handles:
                with contextlib.suppress(Exception):  # already finished
                    self.ray.cancel(handle, force=True)
        if self.started:
            self.ray.shutdown()
