"""Registers the built-in preprocessing modalities.  Cheap to import: the modality modules import numpy
only; cv2, mediapipe and pose-format are imported when a modality computes."""
from __future__ import annotations

from functools import lru_cache

from benchmark import hookimpl


@lru_cache(maxsize=1)
def builtin_modalities() -> dict:
    """One instance of each built-in modality, by name (also fills dependencies in the runner)."""
    from benchmark.modalities.crop import RgbCropModality, RgbHandsModality
    from benchmark.modalities.flow import FlowTvl1Modality
    from benchmark.modalities.pose import PoseModality
    from benchmark.modalities.skeleton import SkeletonModality

    mods = (PoseModality(), RgbCropModality(), RgbHandsModality(), FlowTvl1Modality(), SkeletonModality())
    return {m.name: m for m in mods}


@hookimpl
def register_modalities(registry):
    for name, mod in builtin_modalities().items():
        registry.add(name, mod, description=mod.description)
