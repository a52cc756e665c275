"""The reference spotter (REFERENCE.md "Stage 2"): reduce, parallel conv and BiLSTM branches, fusion,
classification and DIoU-regression heads.

``fusion: temporal-conv`` (fact sheet: "integrated through a convolutional layer", Conv1d k3) is the
default; ``pointwise`` is the authors' code (1x1 projection).  The fusion norm is a LayerNorm over
channels (padding-safe, like the rest of the temporal module).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from spotters.layers import ConvNormReLU, Heads, Reduce, length_mask

DEFAULTS = {
    "reduce_dims": [2048, 512],
    "hidden": 512,
    "lstm_hidden": 256,
    "lstm_layers": 2,
    "lstm_dropout": 0.3,
    "conv_layers": 2,
    "dropout": 0.5,
    "fusion": "temporal-conv",
    "head_dim": 256,
    "head_layers": 4,
    "reg_bias": 0.0,
}
FUSIONS = {"temporal-conv": 3, "pointwise": 1}


class ConvBiLSTM(nn.Module):
    def __init__(self, feature_dim: int, num_outputs: int, s: dict):
        super().__init__()
        if s["fusion"] not in FUSIONS:
            raise ValueError(f"spotter conv-bilstm: settings.fusion must be one of {sorted(FUSIONS)}, "
                             f"got {s['fusion']!r}")
        hidden = int(s["hidden"])
        self.reduce = Reduce(feature_dim, list(s["reduce_dims"]))
        d = self.reduce.out_dim
        self.convs = nn.ModuleList(ConvNormReLU(d if i == 0 else hidden, hidden) for i in range(int(s["conv_layers"])))
        layers = int(s["lstm_layers"])
        self.lstm = nn.LSTM(d, int(s["lstm_hidden"]), num_layers=layers, batch_first=True, bidirectional=True,
                            dropout=float(s["lstm_dropout"]) if layers > 1 else 0.0)
        conv_out = hidden if self.convs else d
        self.fuse = ConvNormReLU(conv_out + 2 * int(s["lstm_hidden"]), hidden, kernel=FUSIONS[s["fusion"]])
        self.drop = nn.Dropout(float(s["dropout"]))
        self.heads = Heads.from_settings(hidden, num_outputs, s)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor):
        b, t, _ = x.shape
        mask = length_mask(lengths.to(x.device), t)
        m = mask[:, None, :].to(x.dtype)
        h = self.reduce(x, mask)  # [B, T, d]
        c = h.transpose(1, 2)
        for conv in self.convs:
            c = conv(c, m)
        packed = pack_padded_sequence(h, lengths.cpu().clamp(min=1), batch_first=True, enforce_sorted=False)
        r, _ = self.lstm(packed)
        r, _ = pad_packed_sequence(r, batch_first=True, total_length=t)
        f = self.fuse(torch.cat([c, r.transpose(1, 2)], dim=1), m)
        return self.heads(self.drop(f), m)


def build_model(feature_dim: int, num_outputs: int, settings: dict) -> nn.Module:
    return ConvBiLSTM(feature_dim, num_outputs, settings)
