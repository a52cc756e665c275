"""ActionFormer style network: a convolutional embedding, then pre-norm transformer encoder layers whose
self-attention is local (each clip attends to clips within ``window // 2`` of it), then the reference's heads.
Padded clips are masked out as keys; every clip may attend to itself so no row is empty."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from spotters.models.layers import ConvNormReLU, Heads, Reduce, length_mask


class LocalAttention(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        if dim % heads:
            raise ValueError(f"spotter transformer: hidden ({dim}) must be divisible by heads ({heads})")
        self.heads, self.dropout = heads, dropout
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, allowed):  # x [B, T, C], allowed [B, 1, T, T] bool
        b, t, c = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)  # 3 x [B, H, T, C/H]
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, dropout_p=self.dropout if self.training else 0.0)
        return self.proj(y.transpose(1, 2).reshape(b, t, c))  # [B, T, C]


class EncoderLayer(nn.Module):
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
        t = x.shape[1]
        mask = length_mask(lengths.to(x.device), t)  # [B, T]
        m = mask[:, None, :].to(x.dtype)  # [B, 1, T]
        h = self.reduce(x, mask).transpose(1, 2)  # [B, d, T]
        for conv in self.embed:
            h = conv(h, m)  # [B, hidden, T]
        h = h.transpose(1, 2)  # [B, T, hidden]
        idx = torch.arange(t, device=x.device)
        band = (idx[:, None] - idx[None, :]).abs() <= self.window // 2  # [T, T]
        allowed = (band[None] & mask[:, None, :]) | torch.eye(t, dtype=torch.bool, device=x.device)[None]
        allowed = allowed[:, None]  # [B, 1, T, T]: valid keys in the window, and always the clip itself
        mv = m.transpose(1, 2)  # [B, T, 1]
        for layer in self.layers:
            h = layer(h, allowed, mv)  # [B, T, hidden]
        return self.heads(self.norm(h).transpose(1, 2), m)  # [B, T, num_outputs], [B, T, 2]
