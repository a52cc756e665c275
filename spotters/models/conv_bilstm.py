"""The reference spotter's network (REFERENCE.md "Stage 2"): reduce, parallel conv and BiLSTM branches, fusion,
classification and DIoU-regression heads.  The fusion norm is a LayerNorm over channels (padding-safe, like the
rest of the temporal module)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from spotters.models.layers import ConvNormReLU, Heads, Reduce, length_mask


class ConvBiLSTM(nn.Module):
    def __init__(self, feature_dim: int, num_outputs: int, s: dict, fusion_kernel: int = 3):
        """``fusion_kernel``: the fusing Conv1d's width (the component maps its ``fusion`` setting to it)."""
        super().__init__()
        hidden = int(s["hidden"])
        self.reduce = Reduce(feature_dim, list(s["reduce_dims"]))
        d = self.reduce.out_dim
        self.convs = nn.ModuleList(ConvNormReLU(d if i == 0 else hidden, hidden) for i in range(int(s["conv_layers"])))
        layers = int(s["lstm_layers"])
        self.lstm = nn.LSTM(
            d,
            int(s["lstm_hidden"]),
            num_layers=layers,
            batch_first=True,
            bidirectional=True,
            dropout=float(s["lstm_dropout"]) if layers > 1 else 0.0,
        )
        conv_out = hidden if self.convs else d
        self.fuse = ConvNormReLU(conv_out + 2 * int(s["lstm_hidden"]), hidden, kernel=fusion_kernel)
        self.drop = nn.Dropout(float(s["dropout"]))
        self.heads = Heads.from_settings(hidden, num_outputs, s)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor):  # x [B, T, D], lengths [B]
        t = x.shape[1]
        mask = length_mask(lengths.to(x.device), t)  # [B, T]
        m = mask[:, None, :].to(x.dtype)  # [B, 1, T]
        h = self.reduce(x, mask)  # [B, T, d]
        c = h.transpose(1, 2)  # [B, d, T]
        for conv in self.convs:
            c = conv(c, m)  # [B, hidden, T]
        packed = pack_padded_sequence(h, lengths.cpu().clamp(min=1), batch_first=True, enforce_sorted=False)
        r, _ = self.lstm(packed)
        r, _ = pad_packed_sequence(r, batch_first=True, total_length=t)  # [B, T, 2 lstm_hidden]
        f = self.fuse(torch.cat([c, r.transpose(1, 2)], dim=1), m)  # [B, hidden, T]
        return self.heads(self.drop(f), m)  # [B, T, num_outputs], [B, T, 2]
