"""Registers the built-in experts.  Cheap to import: the expert classes import torch, pytorchvideo and timm
only when they create a model, so each is registered as an instance."""

from __future__ import annotations

from benchmark import hookimpl
from experts.i3d import I3DExpert
from experts.p3d import P3DExpert
from experts.r2plus1d import R2Plus1DExpert
from experts.skeleton_transformer import SkeletonTransformerExpert
from experts.stgcn import STGCNExpert
from experts.timm_expert import TimmExpert
from experts.x3d import X3DExpert

EXPERTS = (I3DExpert, P3DExpert, STGCNExpert, X3DExpert, R2Plus1DExpert, TimmExpert, SkeletonTransformerExpert)


@hookimpl
def register_experts(registry):
    for cls in EXPERTS:
        registry.add(cls.name, cls())
