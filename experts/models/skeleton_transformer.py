"""A small transformer over skeleton tokens (one per joint and frame): the skeleton alternative to ST-GCN.

Token = linear embedding of a joint's (x, y, z) + a learned joint embedding + a sinusoidal frame embedding
(any clip length); a pre-norm ``nn.TransformerEncoder``; feature = mean over tokens after a final LayerNorm.
"""

from __future__ import annotations

import torch
from torch import nn

from benchmark.joints import SKELETON_JOINTS


def sinusoid(length: int, dim: int, device=None) -> torch.Tensor:
    """``[length, dim]`` fixed frame embedding: any clip length works without a learned table."""
    pos = torch.arange(length, device=device, dtype=torch.float32)[:, None]
    i = torch.arange(0, dim, 2, device=device, dtype=torch.float32)
    angle = pos / torch.pow(10000.0, i / dim)
    out = torch.zeros(length, dim, device=device)
    out[:, 0::2] = torch.sin(angle)
    out[:, 1::2] = torch.cos(angle[:, : dim // 2])
    return out


class SkeletonTransformer(nn.Module):
    def __init__(
        self,
        in_channels: int,
        num_outputs: int,
        *,
        dim: int,
        depth: int,
        heads: int,
        mlp_ratio: float,
        dropout: float,
        joints: int = SKELETON_JOINTS,
    ):
        super().__init__()
        self.embed = nn.Linear(in_channels, dim)
        self.joint_embed = nn.Parameter(torch.zeros(joints, dim))
        nn.init.trunc_normal_(self.joint_embed, std=0.02)
        layer = nn.TransformerEncoderLayer(
            dim, heads, int(dim * mlp_ratio), dropout, activation="gelu", batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.feature_dim = dim
        self.classifier = nn.Linear(dim, num_outputs)

    def forward(self, x):  # [B, C, T, V]
        b, _, t, v = x.shape
        tokens = self.embed(x.permute(0, 2, 3, 1))  # [B, T, V, D]
        tokens = tokens + self.joint_embed[None, None, :v] + sinusoid(t, tokens.shape[-1], x.device)[None, :, None]
        tokens = self.encoder(tokens.reshape(b, t * v, -1))
        features = self.norm(tokens).mean(dim=1)
        return features, self.classifier(features)
