"""ActionFormer (Zhang et al., ECCV 2022) over clip features: embedding, local-attention stem, a temporal feature
pyramid of local-attention levels, and heads shared by every level (:mod:`spotters.models.pyramid`).

ActionFormer downsamples inside its transformer blocks (strided depthwise convolutions on queries, keys and
values, a strided max-pool on the skip path); here each level is a masked max-pool k3 s2 followed by an ordinary
local-attention block at the new level, the same window counted in that level's points (so it covers twice the
clips of the level below).  No drop-path.
"""

from __future__ import annotations

import torch
from torch import nn

from spotters.models.attention import EncoderLayer, window_mask
from spotters.models.layers import length_mask
from spotters.models.pyramid import ConvEmbedding, PyramidHeads, masked_max_pool


class ActionFormer(nn.Module):
    def __init__(self, feature_dim: int, num_outputs: int, s: dict):
        super().__init__()
        hidden, levels = int(s["hidden"]), int(s["levels"])
        self.window = max(1, int(s["window"]))
        self.embed = ConvEmbedding(feature_dim, s["reduce_dims"], hidden, int(s["embed_layers"]))

        def block():
            return EncoderLayer(hidden, int(s["heads"]), int(s["mlp_ratio"]), float(s["dropout"]))

        self.stem = nn.ModuleList(block() for _ in range(int(s["stem_layers"])))
        self.branch = nn.ModuleList(block() for _ in range(levels - 1))  # one block per downsampled level
        self.heads = PyramidHeads.from_settings(hidden, num_outputs, s)
        self.strides = self.heads.strides

    def attend(self, layer: EncoderLayer, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """One local-attention block on ``[B, C, T]`` features."""
        mv = mask[:, :, None].to(h.dtype)  # [B, T, 1]
        return layer(h.transpose(1, 2), window_mask(mask, self.window), mv).transpose(1, 2)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor):  # x [B, T, D], lengths [B]
        mask = length_mask(lengths.to(x.device), x.shape[1])  # [B, T]
        h = self.embed(x, mask)  # [B, hidden, T]
        for layer in self.stem:
            h = self.attend(layer, h, mask)  # [B, hidden, T]
        features, masks = [h], [mask]
        for layer in self.branch:
            h, mask = masked_max_pool(h, mask)  # [B, hidden, T_l / 2]
            h = self.attend(layer, h, mask)
            features.append(h)
            masks.append(mask)
        return self.heads(features, masks)  # logits [B, T, C], offsets [B, T, 2], levels
