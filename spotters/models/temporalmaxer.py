"""TemporalMaxer (Tang et al., 2023) over clip features: the pyramid spotters' embedding, then a parameter-free
feature pyramid (each level a masked max-pool k3 s2 of the level below), and the heads shared by every level
(:mod:`spotters.models.pyramid`).

The paper's point is that the transformer blocks of ActionFormer are not needed once features come from a strong
clip backbone: max-pooling keeps the most salient local feature and is free.  As in the paper the embedding
output itself is level 0.  ``dropout`` applies to the embedding output (the only place with weights to drop
before the heads).
"""

from __future__ import annotations

import torch
from torch import nn

from spotters.models.layers import length_mask
from spotters.models.pyramid import ConvEmbedding, PyramidHeads, masked_max_pool


class TemporalMaxer(nn.Module):
    def __init__(self, feature_dim: int, num_outputs: int, s: dict):
        super().__init__()
        hidden = int(s["hidden"])
        self.levels = int(s["levels"])
        self.embed = ConvEmbedding(feature_dim, s["reduce_dims"], hidden, int(s["embed_layers"]))
        self.drop = nn.Dropout(float(s["dropout"]))
        self.heads = PyramidHeads.from_settings(hidden, num_outputs, s)
        self.strides = self.heads.strides

    def forward(self, x: torch.Tensor, lengths: torch.Tensor):  # x [B, T, D], lengths [B]
        mask = length_mask(lengths.to(x.device), x.shape[1])  # [B, T]
        h = self.drop(self.embed(x, mask))  # [B, hidden, T]
        features, masks = [h], [mask]
        for _ in range(self.levels - 1):
            h, mask = masked_max_pool(h, mask)  # [B, hidden, T_l / 2]
            features.append(h)
            masks.append(mask)
        return self.heads(features, masks)  # logits [B, T, C], offsets [B, T, 2], levels
