"""Registers the built-in experts.  Cheap to import: each expert is a lazy handle whose name, modality and
description are known up front; its module (torch, pytorchvideo, timm) is imported on first real use."""
from __future__ import annotations

import importlib
from typing import Any, Mapping

from benchmark import hookimpl
from experts.base import Expert

# name -> (module:class, default modality, description)
BUILTIN = {
    "i3d": ("experts.i3d:I3DExpert", "rgb-crop",
            "I3D ResNet-50 (pytorchvideo i3d_r50, Kinetics-400 weights optional), 2048-d (small: 512)"),
    "p3d": ("experts.p3d:P3DExpert", "flow-tvl1",
            "Pseudo-3D ResNet (P3D-A/B/C), depth 199 (63, 131), 2-channel flow, 2048-d (small: 512)"),
    "stgcn": ("experts.stgcn:STGCNExpert", "skeleton",
              "ST-GCN over the 57-joint MediaPipe graph (spatial partitions, edge importance), 256-d"),
    "x3d": ("experts.pytorchvideo_models:X3DExpert", "rgb-crop",
            "X3D (pytorchvideo create_x3d, X3D-S/M factors), adaptive pooling; 2048-d (width small: 512)"),
    "r2plus1d": ("experts.pytorchvideo_models:R2Plus1DExpert", "rgb-crop",
                 "R(2+1)D ResNet-50 (pytorchvideo create_r2plus1d), adaptive pooling; 2048-d (width small: 512)"),
    "timm": ("experts.timm_expert:TimmExpert", "rgb-crop",
             "any timm 2D backbone (setting `model`, default resnet18) per frame + temporal average pooling"),
    "skeleton-transformer": ("experts.skeleton_transformer:SkeletonTransformerExpert", "skeleton",
                             "transformer encoder over joint x frame tokens (small: dim 128, 2 layers), 128-d"),
}


class LazyExpert(Expert):
    """Stands in for an expert class until it is used; every method delegates to the real instance."""

    def __init__(self, name: str, target: str, modality: str, description: str):
        self.name, self.modality, self.description, self._target = name, modality, description, target
        self._real: Expert | None = None

    def resolve(self) -> Expert:
        if self._real is None:
            module, cls = self._target.split(":")
            self._real = getattr(importlib.import_module(module), cls)()
        return self._real

    @property
    def default_training(self) -> dict:  # type: ignore[override]
        return dict(self.resolve().default_training)

    @property
    def default_settings(self) -> dict:  # type: ignore[override]
        return dict(self.resolve().default_settings)

    @property
    def input_kind(self) -> str:  # type: ignore[override]
        return self.resolve().input_kind

    def settings_with_defaults(self, settings):
        return self.resolve().settings_with_defaults(settings)

    def feature_dim(self, settings: Mapping[str, Any]) -> int:
        return self.resolve().feature_dim(settings)

    def build(self, num_outputs, settings, **kwargs):
        return self.resolve().build(num_outputs, settings, **kwargs)

    def clip_input(self, windows, train, training, rng):
        return self.resolve().clip_input(windows, train, training, rng)

    def convert_checkpoint(self, state, model):
        return self.resolve().convert_checkpoint(state, model)

    def load_pretrained(self, model, path, strict: bool = True):
        return self.resolve().load_pretrained(model, path, strict)


def builtin_experts() -> dict[str, LazyExpert]:
    return {name: LazyExpert(name, *spec) for name, spec in BUILTIN.items()}


@hookimpl
def register_experts(registry):
    for name, expert in builtin_experts().items():
        registry.add(name, expert, description=expert.description)
