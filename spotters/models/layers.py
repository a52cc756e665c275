"""Padding-aware building blocks shared by the spotter models.

Every block takes a validity mask so padded clips never influence valid ones: batch norm statistics
are computed on valid rows only, and sequences are zeroed at padded positions before every temporal
convolution (which then behaves exactly like the convolution's own zero padding at the video's end).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F


def length_mask(lengths: torch.Tensor, t: int) -> torch.Tensor:
    """``[B, T]`` bool, True at valid positions."""
    return torch.arange(t, device=lengths.device)[None, :] < lengths[:, None]


class MaskedBatchNorm1d(nn.BatchNorm1d):
    """BatchNorm1d over the valid rows ``[N_valid, C]`` only (batch statistics exclude padding)."""

    def forward(self, rows: torch.Tensor) -> torch.Tensor:  # rows [N, C]
        if self.training and rows.shape[0] < 2:
            # a batch of one valid clip has no variance: normalise with the running statistics
            return F.batch_norm(rows, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps)
        return super().forward(rows)


class Reduce(nn.Module):
    """Per-clip MLP ``D -> dims[0] -> dims[1] ...``, each Linear + BN + ReLU, applied to valid rows."""

    def __init__(self, in_dim: int, dims: Sequence[int]):
        super().__init__()
        layers, prev = [], in_dim
        for d in dims:
            layers += [nn.Linear(prev, int(d)), MaskedBatchNorm1d(int(d)), nn.ReLU(inplace=True)]
            prev = int(d)
        self.net = nn.Sequential(*layers)
        self.out_dim = prev

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # [B, T, D] -> [B, T, out]
        rows = self.net(x[mask])
        out = x.new_zeros(x.shape[0], x.shape[1], self.out_dim)
        out[mask] = rows.to(out.dtype)
        return out


class ChannelLayerNorm(nn.LayerNorm):
    """LayerNorm over the channels of a ``[B, C, T]`` tensor."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.transpose(1, 2)).transpose(1, 2)


class ConvNormReLU(nn.Module):
    """Conv1d (k3 by default) on the masked sequence + LayerNorm over channels + ReLU."""

    def __init__(self, cin: int, cout: int, kernel: int = 3):
        super().__init__()
        self.conv = nn.Conv1d(cin, cout, kernel, padding=kernel // 2)
        self.norm = ChannelLayerNorm(cout)

    def forward(self, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:  # x [B, C, T], m [B, 1, T]
        return F.relu(self.norm(self.conv(x * m)))


class ConvHead(nn.Module):
    """``layers`` Conv1d k3 with LayerNorm + ReLU between (not after the last): in -> mid ... -> out."""

    def __init__(self, cin: int, mid: int, cout: int, layers: int = 4, final_relu: bool = False):
        super().__init__()
        self.blocks = nn.ModuleList(ConvNormReLU(cin if i == 0 else mid, mid) for i in range(layers - 1))
        self.last = nn.Conv1d(mid if layers > 1 else cin, cout, 3, padding=1)
        self.final_relu = final_relu

    def forward(self, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:  # [B, C, T] -> [B, cout, T]
        for block in self.blocks:
            x = block(x, m)
        x = self.last(x * m)
        return F.relu(x) if self.final_relu else x


class Heads(nn.Module):
    """The reference's classification and regression heads on a ``[B, C, T]`` sequence.

    ``reg_bias`` initialises the regression head's last bias (PyTorch's default init when 0).  The offsets
    leave through a ReLU, which passes no gradient where it outputs 0; a positive start (e.g. 1.0 = one clip)
    keeps an offset output from beginning, and possibly staying, dead at zero.
    """

    def __init__(self, cin: int, head_dim: int, num_outputs: int, layers: int = 4, reg_bias: float = 0.0):
        super().__init__()
        self.cls = ConvHead(cin, head_dim, num_outputs, layers)
        self.reg = ConvHead(cin, head_dim, 2, layers, final_relu=True)
        if reg_bias:
            nn.init.constant_(self.reg.last.bias, float(reg_bias))

    @classmethod
    def from_settings(cls, cin: int, num_outputs: int, s) -> Heads:
        """The heads from a spotter's merged settings (``head_dim``, ``head_layers``, ``reg_bias``)."""
        return cls(cin, int(s["head_dim"]), num_outputs, int(s["head_layers"]), float(s["reg_bias"]))

    def forward(self, h: torch.Tensor, m: torch.Tensor):
        logits = self.cls(h, m) * m
        offsets = self.reg(h, m) * m
        return logits.transpose(1, 2), offsets.transpose(1, 2)  # [B, T, C], [B, T, 2]
