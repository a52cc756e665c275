"""Networks built with pytorchvideo's builders (I3D, X3D, R(2+1)D) behind one wrapper.

The wrapper keeps pytorchvideo's ``blocks`` layout (so its Kinetics checkpoints load by name), pools with
adaptive average pooling (any clip length and crop size), takes that pooled vector as the feature and puts a
fresh ``classifier`` on top; the builders' own 400-class ``proj`` is left unused.
"""

from __future__ import annotations

from torch import nn

from experts._compat import pytorchvideo_ready

pytorchvideo_ready()  # before the first pytorchvideo import, which needs the shim

from pytorchvideo.models.r2plus1d import create_r2plus1d  # noqa: E402
from pytorchvideo.models.resnet import create_resnet  # noqa: E402
from pytorchvideo.models.x3d import create_x3d  # noqa: E402


class PyTorchVideoClassifier(nn.Module):
    """``blocks[:-1]`` of a pytorchvideo ``Net`` + its head's (adaptive) pooling -> feature -> classifier."""

    def __init__(self, net: nn.Module, feature_dim: int, num_outputs: int, dropout: float):
        super().__init__()
        self.blocks = net.blocks
        head = self.blocks[-1]
        head.proj = None  # the classifier lives in self.classifier
        head.dropout = None
        head.activation = None
        head.output_pool = None
        self.feature_dim = feature_dim
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.classifier = nn.Linear(feature_dim, num_outputs)

    def forward(self, x):  # [B, C, L, H, W]
        for block in self.blocks[:-1]:
            x = block(x)
        features = self.blocks[-1].pool(x).flatten(1)  # [B, D]
        logits = self.classifier(self.dropout(features))  # [B, num_outputs]
        return features, logits


def i3d(in_channels: int, num_outputs: int, *, stem: int, dropout: float) -> PyTorchVideoClassifier:
    """The layers of ``pytorchvideo.models.hub.resnet.i3d_r50`` (stem 5x7x7, stage-1 max pool, inflated conv_a
    kernels) with adaptive pooling; feature ``32 * stem``."""
    net = create_resnet(
        input_channel=in_channels,
        model_depth=50,
        model_num_class=1,
        dropout_rate=0.0,
        stem_dim_out=stem,
        stem_conv_kernel_size=(5, 7, 7),
        stage1_pool=nn.MaxPool3d,
        stage_conv_a_kernel_size=(
            (3, 1, 1),
            [(3, 1, 1), (1, 1, 1)],
            [(3, 1, 1), (1, 1, 1)],
            [(1, 1, 1), (3, 1, 1)],
        ),
        head_pool=nn.AdaptiveAvgPool3d,
        head_output_size=(1, 1, 1),
        head_activation=None,
    )
    return PyTorchVideoClassifier(net, 32 * stem, num_outputs, dropout)


def r2plus1d(in_channels: int, num_outputs: int, *, stem: int, depth: int, dropout: float) -> PyTorchVideoClassifier:
    """``create_r2plus1d`` with adaptive pooling; feature ``32 * stem``."""
    net = create_r2plus1d(
        input_channel=in_channels,
        model_depth=depth,
        model_num_class=1,
        dropout_rate=0.0,
        stem_dim_out=stem,
        head_pool=nn.AdaptiveAvgPool3d,
        head_output_size=(1, 1, 1),
        head_activation=None,
    )
    return PyTorchVideoClassifier(net, 32 * stem, num_outputs, dropout)


def x3d(
    in_channels: int, num_outputs: int, *, width_factor: float, depth_factor: float, dim: int, dropout: float
) -> PyTorchVideoClassifier:
    """``create_x3d`` with its head pool made adaptive (the builder sizes a fixed kernel for one input size)."""
    net = create_x3d(
        input_channel=in_channels,
        input_clip_length=1,
        input_crop_size=32,
        model_num_class=1,
        dropout_rate=0.0,
        width_factor=width_factor,
        depth_factor=depth_factor,
        head_dim_out=dim,
        head_activation=None,
    )
    net.blocks[-1].pool.pool = nn.AdaptiveAvgPool3d(1)
    return PyTorchVideoClassifier(net, dim, num_outputs, dropout)
