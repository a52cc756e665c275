"""Registers the built-in preprocessing modalities, one instance each.

Cheap to import: the modality modules are imported when the hook runs, and they import numpy only (cv2,
mediapipe and pose-format load when a modality computes).
"""

from __future__ import annotations

from benchmark import hookimpl


@hookimpl
def register_modalities(registry):
    from benchmark.modalities.crop import RgbCropModality, RgbHandsModality
    from benchmark.modalities.flow import FlowTvl1Modality
    from benchmark.modalities.pose import PoseModality
    from benchmark.modalities.skeleton import SkeletonModality

    for modality in (PoseModality(), RgbCropModality(), RgbHandsModality(), FlowTvl1Modality(), SkeletonModality()):
        registry.add(modality.name, modality)
