"""MS-TCN style network: dilated residual temporal convolutions, optionally in several stages where each
refinement stage reads the softmax of the previous stage's per-clip classes."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from spotters.models.layers import Heads, Reduce, length_mask


class DilatedResidual(nn.Module):
    def __init__(self, ch: int, dilation: int, dropout: float):
        super().__init__()
        self.conv = nn.Conv1d(ch, ch, 3, padding=dilation, dilation=dilation)
        self.pw = nn.Conv1d(ch, ch, 1)
        self.drop = nn.Dropout(dropout)

    def forward(self, x, m):  # x [B, C, T], m [B, 1, T]
        return (x + self.drop(self.pw(F.relu(self.conv(x * m))))) * m


class Stage(nn.Module):
    def __init__(self, cin: int, ch: int, layers: int, dropout: float):
        super().__init__()
        self.inp = nn.Conv1d(cin, ch, 1)
        self.layers = nn.ModuleList(DilatedResidual(ch, 2**i, dropout) for i in range(layers))

    def forward(self, x, m):  # [B, cin, T] -> [B, ch, T]
        h = self.inp(x) * m
        for layer in self.layers:
            h = layer(h, m)
        return h


class TCN(nn.Module):
    def __init__(self, feature_dim: int, num_outputs: int, s: dict):
        super().__init__()
        hidden, n_stages = int(s["hidden"]), max(1, int(s["stages"]))
        self.reduce = Reduce(feature_dim, list(s["reduce_dims"]))
        self.stages = nn.ModuleList(
            Stage(self.reduce.out_dim if i == 0 else num_outputs, hidden, int(s["layers"]), float(s["dropout"]))
            for i in range(n_stages)
        )
        # per-stage classifiers feeding the next stage (MS-TCN refinement)
        self.stage_cls = nn.ModuleList(nn.Conv1d(hidden, num_outputs, 1) for _ in range(n_stages - 1))
        self.heads = Heads.from_settings(hidden, num_outputs, s)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor):  # x [B, T, D], lengths [B]
        mask = length_mask(lengths.to(x.device), x.shape[1])  # [B, T]
        m = mask[:, None, :].to(x.dtype)  # [B, 1, T]
        h = self.reduce(x, mask).transpose(1, 2)  # [B, d, T]
        for i, stage in enumerate(self.stages):
            if i > 0:
                h = F.softmax(self.stage_cls[i - 1](h), dim=1) * m  # [B, num_outputs, T]
            h = stage(h, m)  # [B, hidden, T]
        return self.heads(h, m)  # [B, T, num_outputs], [B, T, 2]
