"""The stage graph: every stage of a run declared once, in order, with its name, cache store, key and inputs.

Every caller walks this graph instead of repeating the front of the run:

* ``Pipeline.stages`` walks all of it;
* a ``--devices`` worker walks it up to the experts, for its own experts (:mod:`benchmark.stages.parallel`);
* a sweep's shared task walks it up to the stage it computes, and a sweep's planner asks :func:`steps` for
  each stage's ``(name, store, key, needs)`` without running anything (:mod:`benchmark.sweep.plan`);
* ``bench spot`` runs the preprocessing stage and the bodies of extraction and decoding
  (:func:`benchmark.stages.experts.extractor`, :func:`benchmark.stages.decode.decode_batches`).

Adding a stage is one module (its key and body) and one line of :data:`GRAPH`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from benchmark.stages.base import Stages
from benchmark.stages.decode import decode, decode_key
from benchmark.stages.experts import expert_features, feature_key, train_key
from benchmark.stages.handoffs import (
    ExpertFeatures,
    Features,
    Predictions,
    Preprocessed,
    RunData,
    RunSummary,
    TrainedSpotter,
)
from benchmark.stages.names import DECODE, EXPERT, EXTRACT, PREPROCESS, SCORE, TRAIN_EXPERT, TRAIN_SPOTTER, per_expert
from benchmark.stages.preprocess import input_keys, preprocess, preprocess_key, preprocessed
from benchmark.stages.score import score, score_key
from benchmark.stages.spotter import spotter_key, train_spotter


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


@dataclass
class Walk:
    """The hand-offs of the stages walked so far."""

    data: RunData
    pre: Preprocessed | None = None
    experts: list[ExpertFeatures] = field(default_factory=list)
    spotter: TrainedSpotter | None = None
    predictions: Predictions | None = None
    summary: RunSummary | None = None

    @property
    def features(self) -> Features:
        return Features(tuple(self.experts))


@dataclass(frozen=True)
class Stage:
    """A stage of the graph: ``run(stages, walk, config, experts)`` adds its hand-off to the walk;
    ``steps(config, data, components, earlier)`` its cached units, from the keys of the steps before it."""

    name: str
    run: Callable[[Stages, Walk, dict, tuple[str, ...]], None]
    steps: Callable[[dict, RunData, Callable, dict[str, Step]], list[Step]]
    done: Callable | None = None  # done(cache, step, config, data, components): default, the cache has its key


# -- the stages' bodies and keys, in order ----------------------------------------------------------------------


def _preprocess(stages: Stages, walk: Walk, config: dict, experts) -> None:
    walk.pre = preprocess(stages, walk.data, config)
    walk.data = walk.pre.restrict(walk.data)


def _preprocess_steps(config, data, components, earlier) -> list[Step]:
    return [Step(PREPROCESS, PREPROCESS, PREPROCESS, preprocess_key(data, config, components("modality")))]


def _preprocess_done(cache, step: Step, config, data, components) -> bool:
    return preprocessed(cache, step.key, data, config, components("modality"))


def _experts(stages: Stages, walk: Walk, config: dict, experts) -> None:
    for eid in experts:
        walk.experts.append(expert_features(stages, walk.data, walk.pre, config, eid))


def _expert_steps(config, data, components, earlier) -> list[Step]:
    inputs = input_keys(data, config, components("modality"))
    out = []
    for eid, spec in config["experts"].items():
        expert = components("expert").get(spec["name"])
        trained = train_key(expert, inputs[spec["modality"]], data, config, eid)
        name = per_expert(TRAIN_EXPERT, eid)
        out.append(Step(EXPERT, name, TRAIN_EXPERT, trained, (PREPROCESS,), eid))
        features = feature_key(expert, trained, config, eid)
        out.append(Step(EXPERT, per_expert(EXTRACT, eid), EXTRACT, features, (name,), eid))
    return out


def _spotter(stages: Stages, walk: Walk, config: dict, experts) -> None:
    walk.spotter = train_spotter(stages, walk.data, walk.features, config)


def _spotter_steps(config, data, components, earlier) -> list[Step]:
    extracted = [s for s in earlier.values() if s.store == EXTRACT]
    spotter = components("spotter").get(config["spotter"]["name"])
    key = spotter_key(spotter, data, [s.key for s in extracted], config, components)
    return [Step(TRAIN_SPOTTER, TRAIN_SPOTTER, TRAIN_SPOTTER, key, tuple(s.name for s in extracted))]


def _decode(stages: Stages, walk: Walk, config: dict, experts) -> None:
    walk.predictions = decode(stages, walk.data, walk.features, walk.spotter, config)


def _decode_steps(config, data, components, earlier) -> list[Step]:
    decoder = components("decoder").get(config["decoder"]["name"])
    key = decode_key(decoder, earlier[TRAIN_SPOTTER].key, data, config)
    return [Step(DECODE, DECODE, DECODE, key, (TRAIN_SPOTTER,))]


def _score(stages: Stages, walk: Walk, config: dict, experts) -> None:
    walk.summary = score(stages, walk.data, walk.predictions, config)


def _score_steps(config, data, components, earlier) -> list[Step]:
    return [Step(SCORE, SCORE, SCORE, score_key(earlier[DECODE].key, config), (DECODE,))]


def _never(cache, step, config, data, components) -> bool:
    """Scoring is computed by every run (milliseconds, into the run's own folder)."""
    return False


GRAPH: tuple[Stage, ...] = (
    Stage(PREPROCESS, _preprocess, _preprocess_steps, _preprocess_done),
    Stage(EXPERT, _experts, _expert_steps),
    Stage(TRAIN_SPOTTER, _spotter, _spotter_steps),
    Stage(DECODE, _decode, _decode_steps),
    Stage(SCORE, _score, _score_steps, _never),
)
STAGES: tuple[str, ...] = tuple(s.name for s in GRAPH)


# -- walking it -------------------------------------------------------------------------------------------------


def walk(
    stages: Stages,
    data: RunData,
    config: dict,
    *,
    until: str = SCORE,
    experts: tuple[str, ...] | None = None,
    before: Mapping[str, Callable[[Walk], None]] | None = None,
) -> Walk:
    """Run the graph's stages in order, up to and including ``until``.

    :param experts: the experts the expert stage trains (default: every expert of the entry, in its order)
    :param before: ``{stage name: callback(walk)}`` called before that stage (``--devices`` starts its workers
        before the experts)
    """
    if until not in STAGES:
        raise ValueError(f"no stage {until!r}: the stages are {', '.join(STAGES)}")
    chosen = tuple(config["experts"]) if experts is None else tuple(experts)
    state = Walk(data)
    for stage in GRAPH:
        if before and stage.name in before:
            before[stage.name](state)
        stage.run(stages, state, config, chosen)
        if stage.name == until:
            break
    return state


def steps(config: dict, data: RunData, components) -> list[Step]:
    """Every step of a run of ``config`` on ``data``, in order, keyed without running anything."""
    out: dict[str, Step] = {}
    for stage in GRAPH:
        for step in stage.steps(config, data, components, out):
            out[step.name] = step
    return list(out.values())


def is_done(cache, step: Step, config: dict, data: RunData, components) -> bool:
    """Whether ``step``'s output is already in the cache (for this run: preprocessing is checked for every
    modality and video it needs)."""
    stage = next(s for s in GRAPH if s.name == step.stage)
    if stage.done is not None:
        return bool(stage.done(cache, step, config, data, components))
    return cache.is_done(step.store, step.key)
