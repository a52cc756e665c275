"""Local (windowed) self-attention blocks, shared by the ``transformer`` and ``actionformer`` spotters.

ActionFormer restricts self-attention to a window around each clip: a sign is decided by its own clips and a
little context, and the cost grows with ``T x window`` instead of ``T^2`` in its banded implementation.  Here
the window is a boolean mask on a full ``[T, T]`` attention (exact, simpler; MSSL videos are at most a few
hundred clips long).  Padded clips are masked out as keys; every clip may attend to itself so no row is empty.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def window_mask(mask: torch.Tensor, window: int) -> torch.Tensor:
    """``[B, 1, T, T]`` bool: query ``i`` may attend to key ``j`` when ``|i - j| <= window // 2`` and ``j`` is
    valid, and always to itself.  ``mask`` is ``[B, T]`` bool (True = valid)."""
    t = mask.shape[1]
    idx = torch.arange(t, device=mask.device)
    band = (idx[:, None] - idx[None, :]).abs() <= window // 2  # [T, T]
    allowed = (band[None] & mask[:, None, :]) | torch.eye(t, dtype=torch.bool, device=mask.device)[None]
    return allowed[:, None]  # [B, 1, T, T]


class LocalAttention(nn.Module):
    """Multi-head self-attention under a given ``allowed`` mask (see :func:`window_mask`)."""

    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        if dim % heads:
            raise ValueError(f"spotter: hidden ({dim}) must be divisible by heads ({heads})")
        self.heads, self.dropout = heads, dropout
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, allowed):  # x [B, T, C], allowed [B, 1, T, T] bool
        b, t, c = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)  # 3 x [B, H, T, C/H]
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, dropout_p=self.dropout if self.training else 0.0)
        return self.proj(y.transpose(1, 2).reshape(b, t, c))  # [B, T, C]


class EncoderLayer(nn.Module):
    """Pre-norm transformer layer: local self-attention and an MLP, each residual; padded clips zeroed."""

    def __init__(self, dim: int, heads: int, mlp_ratio: int, dropout: float):
        super().__init__()
        self.n1, self.n2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = LocalAttention(dim, heads, dropout)
        self.mlp = nn.Sequential(
            nn.Linear(dim, dim * mlp_ratio), nn.GELU(), nn.Dropout(dropout), nn.Linear(dim * mlp_ratio, dim)
        )
        self.drop = nn.Dropout(dropout)

    def forward(self, x, allowed, mv):  # x [B, T, C], mv [B, T, 1]
        x = x + self.drop(self.attn(self.n1(x), allowed))
        x = x + self.drop(self.mlp(self.n2(x)))
        return x * mv
