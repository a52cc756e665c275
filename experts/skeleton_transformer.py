"""A small transformer over skeleton tokens (one per joint and frame): the skeleton alternative to ST-GCN.

Token = linear embedding of a joint's (x, y, z) + a learned joint embedding + a sinusoidal frame embedding
(any clip length); a pre-norm ``nn.TransformerEncoder``; feature = mean over tokens after a final LayerNorm.
"""
from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import nn

from experts.base import Expert, modality_channels
from experts.graph import NUM_JOINTS


def sinusoid(length: int, dim: int, device=None) -> torch.Tensor:
    pos = torch.arange(length, device=device, dtype=torch.float32)[:, None]
    i = torch.arange(0, dim, 2, device=device, dtype=torch.float32)
    angle = pos / torch.pow(10000.0, i / dim)
    out = torch.zeros(length, dim, device=device)
    out[:, 0::2] = torch.sin(angle)
    out[:, 1::2] = torch.cos(angle[:, : dim // 2])
    return out


class SkeletonTransformer(nn.Module):
    def __init__(self, in_channels=3, num_outputs=61, joints=NUM_JOINTS, dim=128, depth=2, heads=4,
                 mlp_ratio=2.0, dropout=0.1):
        super().__init__()
        self.embed = nn.Linear(in_channels, dim)
        self.joint_embed = nn.Parameter(torch.zeros(joints, dim))
        nn.init.trunc_normal_(self.joint_embed, std=0.02)
        layer = nn.TransformerEncoderLayer(dim, heads, int(dim * mlp_ratio), dropout, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.feature_dim = dim
        self.classifier = nn.Linear(dim, num_outputs)

    def forward(self, x):  # [B, C, T, V]
        b, c, t, v = x.shape
        tokens = self.embed(x.permute(0, 2, 3, 1))  # [B, T, V, D]
        tokens = tokens + self.joint_embed[None, None, :v] + sinusoid(t, tokens.shape[-1], x.device)[None, :, None]
        tokens = self.encoder(tokens.reshape(b, t * v, -1))
        features = self.norm(tokens).mean(dim=1)
        return features, self.classifier(features)


class SkeletonTransformerExpert(Expert):
    name = "skeleton-transformer"
    modality = "skeleton"
    input_kind = "skeleton"
    description = "transformer encoder over joint x frame tokens (small: dim 128, 2 layers), 128-d"
    default_training = {"optimizer": "adamw", "lr": 5.0e-4, "weight_decay": 0.05}
    default_settings = {"dim": 128, "depth": 2, "heads": 4, "mlp_ratio": 2.0, "dropout": 0.1}

    def feature_dim(self, settings):
        return int(self.settings_with_defaults(settings)["dim"])

    def build(self, num_outputs: int, settings: Mapping[str, Any], *, modality: str | None = None,
              pretrained: bool = True):
        s = self.settings_with_defaults(settings)
        model = SkeletonTransformer(modality_channels(self.resolve_modality(s, modality), s), num_outputs,
                                    dim=int(s["dim"]), depth=int(s["depth"]), heads=int(s["heads"]),
                                    mlp_ratio=float(s["mlp_ratio"]), dropout=float(s["dropout"] or 0))
        if pretrained and s.get("pretrained"):
            self.load_pretrained(model, s["pretrained"], strict=bool(s.get("pretrained_strict", True)))
        return model
