"""The one stage mechanism: cache lookup, lifecycle notifications, timing and a :class:`StageResult`.

Every stage of a run goes through :meth:`Stages.run` (or :meth:`Stages.group` for a stage made of stages, such
as one expert's training and extraction): trackers see the same ``stage_started`` / ``stage_finished`` pair
for each, the cache decides reuse in one place, and ``reused`` lists what a run did not recompute.

A :class:`Stages` object is all a stage unit needs besides its inputs, so a stage can run on its own (a sweep
schedules them), in this process or another one.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.errors import raise_if_terminated
from benchmark.interfaces import EpochCallback
from benchmark.stages.names import store_of
from benchmark.storage.cache import StageCache, make_key


@dataclass
class RunContext:
    """What trackers see of a run (the ``run`` argument of every lifecycle hook)."""

    benchmark: str
    entry_version: str
    profile: str | None
    config: dict
    run_name: str
    seed: int
    device: str
    components: dict  # dataset, experts ("name:id"), spotter, decoder, metrics
    plugins: list[dict]  # name, distribution, version, status of every plugin
    dataset_fingerprint: str | None
    git_commit: str | None
    cache_dir: Path
    output_dir: Path
    run_id: str | None = None  # set by the tracker that tracks the run
    links: dict[str, str] = field(default_factory=dict)  # label -> where to look at the run (set by trackers)
    parent_run_id: str | None = None  # a sweep trial: the sweep's tracked run
    tags: dict[str, str] = field(default_factory=dict)  # extra tags (a sweep trial: its axis values, its node)
    params: dict[str, str] = field(default_factory=dict)  # extra params (a sweep trial: its axis values)
    started_at: int | None = None  # epoch ms when the run began (before the dataset was opened): its start time
    overrides: list[str] = field(default_factory=list)  # what the command line changed: "spotter=tcn", "seed=3"
    dataset: dict = field(default_factory=dict)  # name, root, fingerprint, videos per split, classes, eval split


@dataclass
class SweepContext:
    """What trackers see of a sweep (``sweep_started`` / ``sweep_finished`` / ``sweep_failed``)."""

    name: str
    benchmark: str
    profile: str | None
    grid: dict
    seeds: list[int]
    seed_scope: str
    key: str  # the same sweep (same trials) has the same key: a second run continues its tracked run
    trials: int
    output_dir: Path
    description: str = ""
    run_id: str | None = None  # set by the tracker: trials are its child runs
    links: dict[str, str] = field(default_factory=dict)


@dataclass
class StageResult:
    """What a finished stage hands to trackers (``stage_finished``) and to the next stage."""

    name: str
    key: str
    reused: bool
    seconds: float
    metrics: dict = field(default_factory=dict)
    artifacts: list = field(default_factory=list)
    params: dict = field(default_factory=dict)
    folder: Path | None = None


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Stages:
    """Runs stages for one run: ``components(kind)`` finds plugins, ``notify`` reaches trackers."""

    def __init__(
        self,
        cache: StageCache,
        components: Callable[[str], Any],
        notify: Callable[..., None] | None = None,
        run: RunContext | None = None,
        *,
        device: str = "cpu",
        progress: bool = True,
        workers: int | None = None,
        echo: Callable[[str], None] = say,
    ):
        self.cache = cache
        self.components = components
        self._notify = notify
        self.run_context = run
        self.device = device
        self.progress = progress
        self.workers = workers
        self.echo = echo
        self.reused: list[str] = []
        self.computed: list[str] = []
        self.elsewhere: dict[str, float] = {}  # stage name -> seconds: computed by a worker process for this run
        self._groups: list[list[StageResult]] = []

    def component(self, kind: str, name: str):
        return self.components(kind).get(name)

    def notify(self, hook: str, **kwargs) -> None:
        raise_if_terminated()
        if self._notify is not None:
            self._notify(hook, run=self.run_context, **kwargs)

    def run(
        self,
        name: str,
        key: str,
        compute: Callable[[Path], Mapping | None],
        *,
        store: str | None = None,
        extend: bool = False,
        cached: bool = True,
    ) -> StageResult:
        """Run stage ``name`` unless its output for ``key`` is cached.

        :param compute: ``compute(folder) -> {"params": ..., "metrics": ...}`` fills ``folder``
        :param store: the cache folder the output lives in (default: ``name`` up to a ``:``)
        :param extend: the folder is shared and extended in place (preprocessing): ``compute`` always runs and
            reports ``{"computed": False}`` when it found nothing to do
        :param cached: False for a stage computed every time (scoring) into the run's output folder
        """
        store = store or store_of(name)
        self.notify("stage_started", stage=name)
        start = time.perf_counter()
        if not cached:
            folder = self.run_context.output_dir if self.run_context else Path(".")
            manifest, reused = dict(compute(folder) or {}), False
        elif extend:
            folder = self.cache.path(store, key)
            folder.mkdir(parents=True, exist_ok=True)
            manifest = dict(compute(folder) or {})
            reused = not manifest.get("computed", True)
        else:
            folder, reused = self.cache.run(store, key, compute)
            manifest = self.cache.manifest(store, key)
        seconds = time.perf_counter() - start
        if reused and name in self.elsewhere:  # a worker of this run computed it (:mod:`benchmark.stages.parallel`)
            reused, seconds = False, self.elsewhere.pop(name)
        result = StageResult(
            name,
            key,
            reused,
            seconds,
            metrics=dict(manifest.get("metrics") or {}),
            params=dict(manifest.get("params") or {}),
            artifacts=list(manifest.get("artifacts") or []),
            folder=folder,
        )
        if reused:
            self.reused.append(name)
            self.echo(f"  reused {name} (cache {folder})")
        else:
            self.computed.append(name)
            if cached:
                self.echo(f"  finished {name} in {seconds:.1f} s")
        if self._groups:
            self._groups[-1].append(result)
        self.notify("stage_finished", stage=name, result=result)
        return result

    @contextmanager
    def group(self, name: str) -> Iterator[list[StageResult]]:
        """A stage made of the stages run inside the ``with`` block (reused when all of them were)."""
        self.notify("stage_started", stage=name)
        start = time.perf_counter()
        children: list[StageResult] = []
        self._groups.append(children)
        try:
            yield children
        finally:
            self._groups.pop()
        result = StageResult(
            name,
            make_key([c.key for c in children]),
            bool(children) and all(c.reused for c in children),
            time.perf_counter() - start,
        )
        if self._groups:
            self._groups[-1].append(result)
        self.notify("stage_finished", stage=name, result=result)

    def on_epoch(self, stage: str) -> EpochCallback:
        """The epoch callback a trainer gets: ``on_epoch(epoch, metrics)`` -> ``epoch_finished`` of ``stage``."""

        def on_epoch(epoch: int, metrics: Mapping[str, float]) -> None:
            self.notify("epoch_finished", stage=stage, epoch=int(epoch), metrics=dict(metrics))

        return on_epoch


@dataclass(frozen=True)
class Step:
    """One cached unit of the graph as a planner sees it: ``name`` (``train-expert:rgb``), the cache ``store``
    its output lives in, its ``key``, the steps it reads (``needs``), and its expert when it has one."""

    stage: str  # the graph stage it belongs to
    name: str
    store: str
    key: str
    needs: tuple[str, ...] = ()
    expert_id: str | None = None


@dataclass(frozen=True)
class Stage:
    """A stage of the graph (:mod:`benchmark.stages.graph`), declared at the end of its own module.

    ``run(stages, walk, config, experts)`` adds its hand-off to the walk (:class:`~benchmark.stages.handoffs.Walk`);
    ``steps(config, data, components, earlier)`` returns its cached units, keyed from the steps before it
    (``earlier``: name -> :class:`Step`) without running anything; ``done(cache, step, config, data, components)``
    says whether a step is cached (default: its key is in the cache)."""

    name: str
    run: Callable
    steps: Callable
    done: Callable | None = None
