"""Every hook a signspot plugin can implement (``from benchmark import hookimpl``).

Registration hooks all work one way: the core hands the plugin the
:class:`~benchmark.config.registry.ComponentRegistry` of one kind and the plugin calls ``registry.add(name, component)``
(or ``registry.add(name, "module:attr")`` to import the component only when it is used).  What a component must
implement is in :mod:`benchmark.interfaces`.  The core calls each plugin's implementation separately, so it knows
which plugin provided which name, and a plugin that raises is marked broken as a whole without taking the others
down.  A plugin may not keep the registry it is given.  There is one registration hook per kind of
:data:`benchmark.interfaces.KINDS` (the one list of kinds), plus ``register_benchmarks``: the core derives the hook
names from that list (:data:`benchmark.plugins.REGISTRATION_HOOKS`), so a new kind needs its hook here too.

Lifecycle hooks are notifications: the stage mechanism (:mod:`benchmark.stages.base`) calls them, trackers (the
built-in MLflow tracker is one) implement them.  Their return values are ignored; an exception in one is logged,
never fatal.  They may read their arguments but must not change them, except ``run.run_id`` and ``run.links``,
which a tracker sets so ``bench run`` can say where the run is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pluggy

from benchmark import PROJECT_NAME

if TYPE_CHECKING:  # pragma: no cover - types for readers and checkers only
    from pathlib import Path

    import click

    from benchmark.config.entries import BenchmarkRegistry
    from benchmark.config.registry import ComponentRegistry
    from benchmark.stages.base import RunContext, StageResult, SweepContext

hookspec = pluggy.HookspecMarker(PROJECT_NAME)


# -- registration -------------------------------------------------------------------------------------------


@hookspec
def register_datasets(registry: ComponentRegistry) -> None:
    """Add datasets: ``registry.add("my-corpus", MyDataset)``.

    :param registry: the dataset registry; a component is a :class:`benchmark.interfaces.Dataset` subclass
        (the class: the core calls its ``open(root, settings, cache_dir, progress=...)`` once per run)
    """


@hookspec
def register_modalities(registry: ComponentRegistry) -> None:
    """Add preprocessing modalities: ``registry.add("depth", DepthModality())``.

    :param registry: the modality registry; a component is a :class:`benchmark.interfaces.Modality` instance.
        Its ``requires`` may name modalities of any plugin.
    """


@hookspec
def register_experts(registry: ComponentRegistry) -> None:
    """Add clip-level experts: ``registry.add("my-net", MyExpert())``.

    :param registry: the expert registry; a component is a :class:`benchmark.interfaces.Expert` instance
    """


@hookspec
def register_spotters(registry: ComponentRegistry) -> None:
    """Add temporal spotters: ``registry.add("my-spotter", MySpotter())``.

    :param registry: the spotter registry; a component is a :class:`benchmark.interfaces.Spotter` instance
    """


@hookspec
def register_decoders(registry: ComponentRegistry) -> None:
    """Add decoders turning per-clip outputs into ``[class, start_ms, end_ms]`` segments.

    :param registry: the decoder registry; a component is a :class:`benchmark.interfaces.Decoder` instance
    """


@hookspec
def register_metrics(registry: ComponentRegistry) -> None:
    """Add metrics comparing ground truth and predictions.

    :param registry: the metric registry; a component is a :class:`benchmark.interfaces.Metric` instance
    """


@hookspec
def register_benchmarks(registry: BenchmarkRegistry) -> None:
    """Add benchmark entries: ``registry.add(name, entry_mapping)`` or ``registry.add_file(path_to_yaml)``.

    :param registry: the benchmark registry; entries are validated when added and resolved when run
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add click commands to the ``bench`` group: ``cli.add_command(my_command)``.

    :param cli: the ``bench`` click group
    """


# -- run lifecycle (notifications) --------------------------------------------------------------------------


@hookspec
def run_started(run: RunContext) -> None:
    """A ``bench run`` began.

    :param run: names, resolved config, seed, device, components, plugin versions, dataset fingerprint, git
        commit, cache and output folders; a tracker sets ``run.run_id`` and ``run.links``
    """


@hookspec
def stage_started(run: RunContext, stage: str) -> None:
    """A stage began.

    :param stage: ``preprocess``, ``expert:<id>`` (a group holding ``train-expert:<id>`` and
        ``extract-features:<id>``), ``train-spotter``, ``decode`` or ``score``
    """


@hookspec
def epoch_finished(run: RunContext, stage: str, epoch: int, metrics: Mapping[str, float]) -> None:
    """A training epoch ended inside ``stage``.

    :param epoch: counted from 1 (per round for experts)
    :param metrics: name -> value (``loss``, ``lr``, ``epoch_seconds``...; experts prefix the round:
        ``round1/loss``)
    """


@hookspec
def stage_finished(run: RunContext, stage: str, result: StageResult) -> None:
    """A stage ended.

    :param result: cache key, whether it was reused, seconds, metrics, params, artifacts and folder
    """


@hookspec
def run_finished(run: RunContext, summary: Mapping[str, Any]) -> None:
    """The run succeeded.

    :param summary: ``f1``, ``precision``, ``recall``, ``f1_iou_*``, other metrics as ``<metric>.<key>``,
        ``seconds``, ``reused``, ``eval_split``, ``artifacts``, ``output_dir``
    """


@hookspec
def run_failed(run: RunContext, error: BaseException) -> None:
    """The run raised ``error`` (also on Ctrl-C); a tracker must close everything it opened.

    :param error: the exception, with its traceback
    """


@hookspec
def sweep_started(sweep: SweepContext) -> None:
    r"""A ``bench sweep`` began (its trials are ``bench run``\ s whose ``run.parent_run_id`` is ``sweep.run_id``).

    :param sweep: name, base benchmark, profile, grid, seeds, the sweep's key (the same trials, the same key);
        a tracker sets ``sweep.run_id`` and ``sweep.links``
    """


@hookspec
def sweep_finished(sweep: SweepContext, table: list[dict], artifacts: list[Path]) -> None:
    """The sweep ended (failed trials included: they are rows of the table).

    :param table: one row per configuration: ``config``, ``n``, ``mean_f1``, ``std_f1``, ``min_f1``, ``max_f1``,
        ``mean_seconds``, ``failed``
    :param artifacts: ``sweep_results.tsv``, ``sweep_results.json``, ``sweep_f1.png``
    """


@hookspec
def sweep_failed(sweep: SweepContext, error: BaseException) -> None:
    """The sweep itself stopped (Ctrl-C, a signal, a bug in the driver)."""


@hookspec
def task_environment() -> dict[str, str]:
    """Environment variables a worker process (another process, or a Ray node) needs to track its runs where
    this process does, e.g. ``{"MLFLOW_TRACKING_URI": ...}``.

    :return: variable name -> value
    """


@hookspec
def tracking_problem() -> str | None:
    """Why this tracker could not record a run now (an unreachable server...), or None when it can.

    Asked before any work: ``bench run`` and ``bench sweep`` stop with the message unless ``--no-track`` (no
    tracking at all) or ``--allow-untracked`` (go on, untracked) says otherwise.
    """


@hookspec
def fetch_pipeline(run_id: str, destination: Path) -> Path | None:
    """The trained pipeline of a tracked run, for ``bench spot --run RUN_ID`` (:mod:`benchmark.storage.bundle`).

    :param run_id: the run, as this tracker named it (``run.run_id``)
    :param destination: a folder to download into (the tracker may reuse what an earlier call left there)
    :return: the bundle folder, or None when this tracker does not know the run; raise
        :class:`benchmark.errors.BenchError` when it knows the run but it has no pipeline
    """
