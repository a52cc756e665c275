"""Every hook a signspot plugin can implement.

Registration hooks all work one way: the core hands the plugin a :class:`~benchmark.registry.ComponentRegistry`
for one kind of component and the plugin calls ``registry.add(name, component)``.  The core calls each
plugin's implementation separately, so it knows which plugin provided which name and a plugin that raises
is marked broken without taking the others down.

Lifecycle hooks are notifications: the stage runner calls them, trackers (the built-in MLflow tracker is one)
implement them.  Their return values are ignored and an exception in one is reported, never fatal.
"""
import pluggy

from benchmark import PROJECT_NAME

hookspec = pluggy.HookspecMarker(PROJECT_NAME)


# -- registration -------------------------------------------------------------------------------------------


@hookspec
def register_datasets(registry):
    """Add dataset factories: ``registry.add("chalearn-mssl", factory)``.

    A factory is a :class:`benchmark.interfaces.DatasetFactory`: ``factory(root, settings, cache_dir)``
    returns a :class:`benchmark.interfaces.Dataset`.
    """


@hookspec
def register_modalities(registry):
    """Add preprocessing modalities (:class:`benchmark.interfaces.Modality` instances): pose, crops, flow..."""


@hookspec
def register_experts(registry):
    """Add clip-level experts (:class:`experts.base.Expert` instances)."""


@hookspec
def register_spotters(registry):
    """Add temporal spotters (:class:`spotters.base.Spotter` instances)."""


@hookspec
def register_decoders(registry):
    """Add decoders that turn per-clip outputs into ``[class, start_ms, end_ms]`` segments."""


@hookspec
def register_metrics(registry):
    """Add metrics (:class:`benchmark.interfaces.Metric` instances) comparing ground truth and predictions."""


@hookspec
def register_benchmarks(registry):
    """Add benchmark entries: ``registry.add(name, entry_dict)`` or ``registry.add_file(path)`` for a YAML file."""


@hookspec
def register_commands(cli):
    """Add click commands to the ``bench`` group: ``cli.add_command(my_command)``."""


# -- run lifecycle (notifications) --------------------------------------------------------------------------


@hookspec
def run_started(run):
    """A ``bench run`` began. ``run`` is a :class:`benchmark.pipeline.RunContext` (config, names, seed...)."""


@hookspec
def stage_started(run, stage):
    """A stage (``preprocess``, ``train-experts``, ``extract-features``, ``train-spotter``, ``decode``,
    ``score``) or a sub-stage such as ``train-expert:rgb`` began."""


@hookspec
def epoch_finished(run, stage, epoch, metrics):
    """A training epoch ended inside ``stage``; ``metrics`` maps names (``loss``, ``accuracy``...) to floats."""


@hookspec
def stage_finished(run, stage, result):
    """A stage ended. ``result`` is a :class:`benchmark.pipeline.StageResult` (cache key, reused, seconds,
    metrics, artifacts)."""


@hookspec
def run_finished(run, summary):
    """The run succeeded. ``summary`` holds ``f1``, ``precision``, ``recall``, per-threshold F1 and artifacts."""


@hookspec
def run_failed(run, error):
    """The run raised ``error`` (also on KeyboardInterrupt); trackers must close what they opened."""
