"""Any timm 2D image backbone run per frame, its features averaged over time.

``in_chans`` other than 3 (2 for flow) uses timm's own first-layer adaptation.
"""

from __future__ import annotations

import functools

import timm
import torch
from torch import nn

from benchmark.errors import BenchError


class FrameBackboneClassifier(nn.Module):
    """[B, C, L, H, W] -> backbone on B*L frames -> mean over L -> feature -> classifier."""

    def __init__(self, backbone: nn.Module, num_outputs: int, dropout: float):
        super().__init__()
        self.backbone = backbone
        self.feature_dim = int(backbone.num_features)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.classifier = nn.Linear(self.feature_dim, num_outputs)

    def forward(self, x):  # [B, C, L, H, W]
        b, c, t, h, w = x.shape
        frames = x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)  # [B*L, C, H, W]
        features = self.backbone(frames).view(b, t, -1).mean(dim=1)  # [B, D]
        return features, self.classifier(self.dropout(features))


def frame_classifier(
    model: str, in_channels: int, num_outputs: int, *, dropout: float, pretrained: bool
) -> FrameBackboneClassifier:
    """``pretrained``: timm's own weights for ``model`` (from its hub: a network or a filled cache)."""
    try:
        backbone = timm.create_model(model, pretrained=pretrained, num_classes=0, in_chans=in_channels)
    except RuntimeError as exc:
        raise BenchError(f"timm expert: cannot create model {model!r}: {exc}") from None
    return FrameBackboneClassifier(backbone, num_outputs, dropout)


@functools.lru_cache(maxsize=32)
def num_features(model: str, in_channels: int) -> int:
    """The backbone's feature width, read from a model built on the meta device (no memory, no init cost)."""
    with torch.device("meta"):
        return int(timm.create_model(model, pretrained=False, num_classes=0, in_chans=in_channels).num_features)
