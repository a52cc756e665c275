"""Blocks shared by the pyramid spotters (``actionformer``, ``temporalmaxer``): the convolutional embedding, the
masked max-pool that halves a level, and the heads shared by every level.

As in ActionFormer, one set of heads reads every level of the temporal feature pyramid (after a per-level
LayerNorm, its "neck"): classification (``head_layers`` masked Conv1d k3 + LayerNorm + ReLU, the last conv to
``num_outputs``) and regression (the same tower, the last conv to 2 distances, ReLU, times a learnable scale per
level; or the Trident head of :mod:`spotters.models.trident`).  Distances leave in level-0 clips (level units
times the level's stride).  ActionFormer's sigmoid classifier starts every class at probability 0.01 (RetinaNet's
prior); with this benchmark's softmax and background column the same prior is an odds ratio: every sign class
starts at 1/100 of the background's odds.

Padding: a level's valid length is ``ceil(n / stride)``; the pool sees padded clips as ``-inf`` and every level's
padded outputs are zero, so padding never changes valid outputs.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from spotters.models.layers import ChannelLayerNorm, ConvHead, ConvNormReLU, Reduce, length_mask
from spotters.models.trident import trident_distances

PRIOR_ODDS = 0.01  # each sign class against background, at initialisation


def masked_max_pool(h: torch.Tensor, mask: torch.Tensor):
    """Max-pool k3 s2 (padding 1) over valid clips only: ``[B, C, T]``, ``[B, T]`` -> ``[B, C, ceil(T/2)]``,
    ``[B, ceil(T/2)]``; padded outputs are 0."""
    pooled = F.max_pool1d(h.masked_fill(~mask[:, None, :], -math.inf), 3, 2, 1)  # [B, C, ceil(T/2)]
    lengths = (mask.sum(1) + 1) // 2  # ceil(n / 2): point p stands for clips 2p, 2p + 1
    mask = length_mask(lengths, pooled.shape[-1])
    return torch.where(mask[:, None, :], pooled, 0.0), mask


class ConvEmbedding(nn.Module):
    """The shared ``Reduce`` MLP, then ``embed_layers`` masked Conv1d k3 + LayerNorm + ReLU: ``[B, T, D]`` ->
    ``[B, hidden, T]`` (padded clips 0)."""

    def __init__(self, feature_dim: int, reduce_dims, hidden: int, layers: int):
        super().__init__()
        self.reduce = Reduce(feature_dim, list(reduce_dims))
        self.convs = nn.ModuleList(
            ConvNormReLU(self.reduce.out_dim if i == 0 else hidden, hidden) for i in range(layers)
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = mask[:, None, :].to(x.dtype)  # [B, 1, T]
        h = self.reduce(x, mask).transpose(1, 2)  # [B, d, T]
        for conv in self.convs:
            h = conv(h, m)  # [B, hidden, T]
        return h * m


class PyramidHeads(nn.Module):
    """Per-level LayerNorm, then classification and regression heads shared by all levels.

    ``forward(features, masks)`` takes per level ``[B, C, T_l]`` and ``[B, T_l]`` (level ``l`` has stride
    ``2**l``) and returns ``(logits0, offsets0, levels)`` as the spotter contract's pyramid output.
    """

    def __init__(self, cin, head_dim, num_outputs, layers, levels, regression, bins, reg_bias):
        super().__init__()
        self.regression, self.bins = regression, int(bins)
        self.strides = [2**level for level in range(levels)]
        self.norms = nn.ModuleList(ChannelLayerNorm(cin) for _ in range(levels))
        self.cls = ConvHead(cin, head_dim, num_outputs, layers)
        with torch.no_grad():
            self.cls.last.bias.zero_()
            self.cls.last.bias[0] = -math.log(PRIOR_ODDS)
        self.reg = ConvHead(cin, head_dim, 2 if regression == "distance" else 2 * self.bins + 2, layers)
        if regression == "distance":
            self.scales = nn.Parameter(torch.ones(levels))  # ActionFormer's per-level Scale
            if reg_bias:
                nn.init.constant_(self.reg.last.bias, float(reg_bias))

    @classmethod
    def from_settings(cls, cin: int, num_outputs: int, s) -> PyramidHeads:
        return cls(
            cin,
            int(s["head_dim"]),
            num_outputs,
            int(s["head_layers"]),
            int(s["levels"]),
            s["regression"],
            int(s["trident_bins"]),
            float(s["reg_bias"]),
        )

    def forward(self, features, masks):
        levels = []
        for level, (h, mask) in enumerate(zip(features, masks)):
            stride = self.strides[level]
            m = mask[:, None, :].to(h.dtype)  # [B, 1, T_l]
            h = self.norms[level](h)  # [B, C, T_l]
            logits = self.cls(h, m) * m  # [B, num_outputs, T_l]
            r = self.reg(h, m)  # [B, 2 or 2 bins + 2, T_l]
            if self.regression == "distance":
                distances = F.relu(r * self.scales[level])  # [B, 2, T_l], level units
            else:
                distances = trident_distances(r, m, self.bins)  # [B, 2, T_l], level units
            offsets = distances * stride * m  # level-0 clips
            levels.append((logits.transpose(1, 2), offsets.transpose(1, 2), stride))  # [B, T_l, C], [B, T_l, 2]
        return levels[0][0], levels[0][1], levels
