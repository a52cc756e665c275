"""The stage graph: every stage of a run, in order.  Each stage is declared once, at the end of its own module
(:class:`~benchmark.stages.base.Stage`: its name, its body, its cached steps with their store, key and inputs);
this module lists them and walks them.

Every caller walks this graph instead of repeating the front of the run:

* ``Pipeline.stages`` walks all of it;
* a ``--devices`` worker walks it up to the experts, for its own experts (:mod:`benchmark.stages.parallel`);
* a sweep's shared task walks it up to the stage it computes, and a sweep's planner asks :func:`steps` for
  each stage's ``(name, store, key, needs)`` without running anything (:mod:`benchmark.sweep.plan`);
* ``bench spot`` runs the preprocessing stage and the bodies of extraction and decoding
  (:func:`benchmark.stages.experts.extractor`, :func:`benchmark.stages.decode.decode_batches`).

Adding a stage: its module (key, body, ``STAGE_SPEC``), its name in :mod:`benchmark.stages.names`, and one line
of :data:`GRAPH`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from benchmark.stages import decode, experts, preprocess, score, spotter
from benchmark.stages.base import Stage, Stages, Step
from benchmark.stages.handoffs import RunData, Walk
from benchmark.stages.names import SCORE

GRAPH: tuple[Stage, ...] = (
    preprocess.STAGE_SPEC,
    experts.STAGE_SPEC,
    spotter.STAGE_SPEC,
    decode.STAGE_SPEC,
    score.STAGE_SPEC,
)
STAGES: tuple[str, ...] = tuple(s.name for s in GRAPH)


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
        for step in stage.steps(config, data, components, dict(out)):
            out[step.name] = step
    return list(out.values())


def is_done(cache, step: Step, config: dict, data: RunData, components) -> bool:
    """Whether ``step``'s output is already in the cache (for this run: preprocessing is checked for every
    modality and video it needs)."""
    stage = next(s for s in GRAPH if s.name == step.stage)
    if stage.done is not None:
        return bool(stage.done(cache, step, config, data, components))
    return cache.is_done(step.store, step.key)
