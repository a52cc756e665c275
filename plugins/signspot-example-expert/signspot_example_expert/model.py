"""The network: three conv blocks, global average pooling (the feature), a linear classifier."""

import torch
from torch import nn


def _block(cin, cout, pool):
    return nn.Sequential(
        nn.Conv3d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm3d(cout), nn.ReLU(inplace=True), nn.MaxPool3d(pool)
    )


class TinyC3D(nn.Module):
    def __init__(self, in_channels: int, width: int, num_outputs: int):
        super().__init__()
        self.features = nn.Sequential(
            _block(in_channels, width, (1, 2, 2)), _block(width, 2 * width, 2), _block(2 * width, 4 * width, 2)
        )
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.classifier = nn.Linear(4 * width, num_outputs)

    def forward(self, x: torch.Tensor):
        feature = self.pool(self.features(x)).flatten(1)
        return feature, self.classifier(feature)
