"""What to compute: the modalities asked for plus what they require, in dependency order, and their settings.

Requirements are looked up in the modality registry, like the requested names, so a plugin modality may
require another plugin's.  The settings a modality computes with are also what its outputs depend on, so the
same function feeds the computation and the cache key (:func:`signature`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from benchmark.config.registry import ComponentRegistry
from benchmark.errors import BenchError
from benchmark.interfaces import Modality

# The top-level keys of the ``preprocess`` section (the other keys are sections named after modalities).
PREPROCESS_DEFAULTS = {
    "workers": 0,  # processes; 0 = every core this process may use
    "on_bad_video": "fail",  # fail: an error naming the video; skip: warn and leave it out of every stage
    "frame_buffer_mb": 512,  # downscaled frames kept in RAM per video before spilling to a temporary file
    "fps": 25.0,  # the frame grid every input is brought to when decoded (benchmark.preprocessing.resample)
}


def modality_plan(names: Iterable[str], registry: ComponentRegistry) -> dict[str, Modality]:
    """``names`` plus every modality they require (transitively), each before what requires it.

    Names are visited in the order given.  A cycle, or a requirement the registry does not hold, is a
    :class:`BenchError` naming the chain or the modality and what it requires.
    """
    plan: dict[str, Modality] = {}
    visiting: list[str] = []

    def visit(name: str, modality: Modality) -> None:
        if name in plan:
            return
        if name in visiting:
            raise BenchError(f"modalities require each other in a cycle: {' -> '.join(visiting + [name])}")
        visiting.append(name)
        for dep in modality.requires:
            try:
                required = registry.get(dep)
            except BenchError as exc:
                raise BenchError(f"modality {name!r} requires {dep!r}, which is not registered: {exc}") from None
            visit(dep, required)
        visiting.pop()
        plan[name] = modality

    for name in names:
        visit(name, registry.get(name))
    return plan


def modality_settings(
    name: str, modality: Modality, preprocess: Mapping[str, Any], plan: Mapping[str, Modality] | None = None
) -> dict:
    """The settings of ``modality``: its defaults, then each section it names in ``settings_from`` (over that
    modality's defaults when ``plan`` holds it), then its own section."""
    merged: dict = {}
    for other in modality.settings_from:
        if plan is not None and other in plan:
            merged.update(plan[other].declared())
        merged.update(preprocess.get(other) or {})
    merged.update(preprocess.get(name) or {})
    return modality.with_defaults(merged)


def prepared_settings(plan: Mapping[str, Modality], preprocess: Mapping[str, Any]) -> dict[str, dict]:
    """``{name: settings as they will run}``: :meth:`Modality.prepare` called once for each modality."""
    return {name: m.prepare(modality_settings(name, m, preprocess, plan)) for name, m in plan.items()}


def signature(plan: Mapping[str, Modality], preprocess: Mapping[str, Any]) -> dict:
    """What the outputs of ``plan`` depend on, for a cache key: ``{name: {"version", "settings"}}``."""
    prepared = prepared_settings(plan, preprocess)
    return {name: {"version": str(m.version), "settings": prepared[name]} for name, m in plan.items()}


def worker_count(workers: int) -> int:
    """``workers`` processes, or for 0 every core this process may use (its CPU affinity and cgroup quota, not
    the machine's core count)."""
    if workers and workers > 0:
        return int(workers)
    from benchmark.runtime.cpus import available_cores

    return available_cores()
