"""ActionFormer style network: a convolutional embedding, then pre-norm transformer encoder layers whose
self-attention is local (each clip attends to clips within ``window // 2`` of it, :mod:`spotters.models.attention`),
then the reference's heads.  Single-level: the ``actionformer`` spotter adds the feature pyramid."""

from __future__ import annotations

import torch
from torch import nn

from spotters.models.attention import EncoderLayer, window_mask
from spotters.models.layers import ConvNormReLU, Heads, Reduce, length_mask


class LocalTransformer(nn.Module):
    def __init__(self, feature_dim: int, num_outputs: int, s: dict):
        super().__init__()
        hidden = int(s["hidden"])
        self.window = max(1, int(s["window"]))
        self.reduce = Reduce(feature_dim, list(s["reduce_dims"]))
        self.embed = nn.ModuleList([ConvNormReLU(self.reduce.out_dim, hidden), ConvNormReLU(hidden, hidden)])
        self.layers = nn.ModuleList(
            EncoderLayer(hidden, int(s["heads"]), int(s["mlp_ratio"]), float(s["dropout"]))
            for _ in range(int(s["layers"]))
        )
        self.norm = nn.LayerNorm(hidden)
        self.heads = Heads.from_settings(hidden, num_outputs, s)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor):  # x [B, T, D], lengths [B]
        mask = length_mask(lengths.to(x.device), x.shape[1])  # [B, T]
        m = mask[:, None, :].to(x.dtype)  # [B, 1, T]
        h = self.reduce(x, mask).transpose(1, 2)  # [B, d, T]
        for conv in self.embed:
            h = conv(h, m)  # [B, hidden, T]
        h = h.transpose(1, 2)  # [B, T, hidden]
        allowed = window_mask(mask, self.window)  # [B, 1, T, T]
        mv = m.transpose(1, 2)  # [B, T, 1]
        for layer in self.layers:
            h = layer(h, allowed, mv)  # [B, T, hidden]
        return self.heads(self.norm(h).transpose(1, 2), m)  # [B, T, num_outputs], [B, T, 2]
