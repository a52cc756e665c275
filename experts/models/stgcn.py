"""ST-GCN (Yan et al., AAAI 2018) over the 57-joint skeleton graph of :mod:`experts.graph`.

Input ``[B, C, L, V]``, batch-normalised per joint and coordinate first; each block is a spatial graph
convolution over the partitions of :func:`experts.graph.spatial_adjacency`, weighted by a learnable edge-importance
mask, then a temporal convolution; feature = mean over time and joints.
"""

from __future__ import annotations

import torch
from torch import nn

from benchmark.joints import SKELETON_JOINTS
from experts.graph import spatial_adjacency


class GraphConv(nn.Module):
    """Spatial graph convolution: one 1x1 conv per partition, summed over neighbours with ``A``."""

    def __init__(self, in_channels, out_channels, partitions):
        super().__init__()
        self.k = partitions
        self.conv = nn.Conv2d(in_channels, out_channels * partitions, kernel_size=1)

    def forward(self, x, a):
        x = self.conv(x)
        n, kc, t, v = x.shape
        x = x.view(n, self.k, kc // self.k, t, v)
        return torch.einsum("nkctv,kvw->nctw", x, a).contiguous()


class STGCNBlock(nn.Module):
    def __init__(self, in_channels, out_channels, partitions, temporal_kernel=9, stride=1, dropout=0.0, residual=True):
        super().__init__()
        pad = (temporal_kernel - 1) // 2
        self.gcn = GraphConv(in_channels, out_channels, partitions)
        self.tcn = nn.Sequential(
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, (temporal_kernel, 1), (stride, 1), (pad, 0)),
            nn.BatchNorm2d(out_channels),
            nn.Dropout(dropout, inplace=True),
        )
        if not residual:
            self.residual = None
        elif in_channels == out_channels and stride == 1:
            self.residual = nn.Identity()
        else:
            self.residual = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, (stride, 1)), nn.BatchNorm2d(out_channels)
            )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x, a):
        res = 0 if self.residual is None else self.residual(x)
        return self.relu(self.tcn(self.gcn(x, a)) + res)


class STGCN(nn.Module):
    """``layers``: ``(channels, temporal stride)`` per block; the feature is the last block's channels."""

    def __init__(
        self, in_channels: int, num_outputs: int, *, layers, temporal_kernel: int, dropout: float, edge_importance: bool
    ):
        super().__init__()
        self.register_buffer("A", torch.from_numpy(spatial_adjacency()), persistent=False)
        k = self.A.shape[0]
        self.data_bn = nn.BatchNorm1d(in_channels * SKELETON_JOINTS)
        blocks, c_in = [], in_channels
        for i, (c_out, stride) in enumerate(layers):
            blocks.append(
                STGCNBlock(c_in, c_out, k, temporal_kernel, stride, 0.0 if i == 0 else dropout, residual=i != 0)
            )
            c_in = c_out
        self.blocks = nn.ModuleList(blocks)
        shape = tuple(self.A.shape)
        self.edge_importance = nn.ParameterList(
            [nn.Parameter(torch.ones(shape), requires_grad=edge_importance) for _ in self.blocks]
        )
        self.feature_dim = c_in
        self.classifier = nn.Linear(c_in, num_outputs)

    def forward(self, x):  # x: [B, C, T, V]
        b, c, t, v = x.shape
        x = self.data_bn(x.permute(0, 3, 1, 2).reshape(b, v * c, t))
        x = x.view(b, v, c, t).permute(0, 2, 3, 1).contiguous()
        for block, importance in zip(self.blocks, self.edge_importance):
            x = block(x, self.A * importance)
        features = x.mean(dim=(2, 3))
        return features, self.classifier(features)
