"""Experts built with pytorchvideo's builders: the shared wrapper, X3D and R(2+1)D.

The wrapper keeps pytorchvideo's ``blocks`` layout (so its Kinetics checkpoints load by name), pools with
adaptive average pooling (any clip length and crop size), takes that pooled vector as the feature and puts a
fresh ``classifier`` on top; the public checkpoints' own 400-class ``blocks.N.proj`` is dropped on load.
"""
from __future__ import annotations

import logging
from typing import Any, Mapping

from torch import nn

from experts._compat import pytorchvideo_ready
from experts.base import Expert, modality_channels
from experts.checkpoints import adapt_input_channels, resolve_pretrained

log = logging.getLogger(__name__)
PYTORCHVIDEO_ZOO = "https://dl.fbaipublicfiles.com/pytorchvideo/model_zoo/kinetics"


class PyTorchVideoClassifier(nn.Module):
    """``blocks[:-1]`` of a pytorchvideo ``Net`` + its head's (adaptive) pooling -> feature -> classifier."""

    def __init__(self, net: nn.Module, feature_dim: int, num_outputs: int, dropout: float = 0.5):
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

    def forward(self, x):
        for block in self.blocks[:-1]:
            x = block(x)
        features = self.blocks[-1].pool(x).flatten(1)
        logits = self.classifier(self.dropout(features))
        return features, logits


class PyTorchVideoExpert(Expert):
    """Shared build / checkpoint logic; subclasses implement ``_create(in_chans, settings) -> (net, dim)``."""

    input_kind = "video"
    pretrained_filename: str = ""

    def _create(self, in_chans: int, settings: Mapping[str, Any]):
        raise NotImplementedError

    def build(self, num_outputs: int, settings: Mapping[str, Any], *, modality: str | None = None,
              pretrained: bool = True):
        s = self.settings_with_defaults(settings)
        in_chans = modality_channels(self.resolve_modality(s, modality), s)
        pytorchvideo_ready()  # here, not at import: torchvision takes a second to import
        net, dim = self._create(in_chans, s)
        model = PyTorchVideoClassifier(net, dim, num_outputs, float(s.get("dropout", 0.5) or 0.0))
        if dim != self.feature_dim(s):  # pragma: no cover - guards feature_dim against builder changes
            raise AssertionError(f"{self.name}: built feature dim {dim} != declared {self.feature_dim(s)}")
        if pretrained and s.get("pretrained"):
            path = resolve_pretrained(s["pretrained"], filename=self.pretrained_filename,
                                      url=f"{PYTORCHVIDEO_ZOO}/{self.pretrained_filename}", what=self.name)
            self.load_pretrained(model, path, strict=bool(s.get("pretrained_strict", True)))
        return model

    def convert_checkpoint(self, state: dict, model) -> dict:
        head = f"blocks.{len(model.blocks) - 1}.proj."
        state = {k: v for k, v in state.items() if not k.startswith(head)}
        return adapt_input_channels(state, model.state_dict())


def stem_width(settings: Mapping[str, Any], full: int = 64, small: int = 16) -> int:
    """``width``: ``full`` (default), ``small`` (CPU profile) or an int stem width."""
    width = settings.get("width", "full")
    if width in (None, "full"):
        return full
    if width == "small":
        return small
    try:
        return int(width)
    except (TypeError, ValueError):
        from benchmark.errors import BenchError

        raise BenchError(f"expert setting width must be 'full', 'small' or an integer, got {width!r}") from None


class R2Plus1DExpert(PyTorchVideoExpert):
    name = "r2plus1d"
    modality = "rgb-crop"
    description = "R(2+1)D ResNet-50 (pytorchvideo create_r2plus1d), adaptive pooling; 2048-d (width small: 512)"
    default_settings = {"width": "full", "depth": 50, "dropout": 0.5, "pretrained": None, "pretrained_strict": True}
    pretrained_filename = "R2PLUS1D_16x4_R50.pyth"

    def feature_dim(self, settings):
        return 32 * stem_width(self.settings_with_defaults(settings))

    def _create(self, in_chans, s):
        from pytorchvideo.models.r2plus1d import create_r2plus1d

        stem = stem_width(s)
        net = create_r2plus1d(input_channel=in_chans, model_depth=int(s.get("depth", 50)), model_num_class=1,
                              dropout_rate=0.0, stem_dim_out=stem, head_pool=nn.AdaptiveAvgPool3d,
                              head_output_size=(1, 1, 1), head_activation=None)
        return net, 32 * stem


class X3DExpert(PyTorchVideoExpert):
    name = "x3d"
    modality = "rgb-crop"
    description = "X3D (pytorchvideo create_x3d, X3D-S/M factors), adaptive pooling; 2048-d (width small: 512)"
    default_settings = {"width": "full", "width_factor": 2.0, "depth_factor": 2.2, "head_dim_out": None,
                        "dropout": 0.5, "pretrained": None, "pretrained_strict": True}
    pretrained_filename = "X3D_S.pyth"

    def _factors(self, settings):
        """``(width_factor, depth_factor, feature dim)``; ``width: small`` = 1.0, 1.0, 512 unless set."""
        s = self.settings_with_defaults(settings)
        if s.get("width") == "small":
            return 1.0, 1.0, int(s.get("head_dim_out") or 512)
        return float(s["width_factor"]), float(s["depth_factor"]), int(s.get("head_dim_out") or 2048)

    def feature_dim(self, settings):
        return self._factors(settings)[2]

    def _create(self, in_chans, s):
        from pytorchvideo.models.x3d import create_x3d

        wf, df, dim = self._factors(s)
        net = create_x3d(input_channel=in_chans, input_clip_length=1, input_crop_size=32, model_num_class=1,
                         dropout_rate=0.0, width_factor=wf, depth_factor=df, head_dim_out=dim,
                         head_activation=None)
        net.blocks[-1].pool.pool = nn.AdaptiveAvgPool3d(1)  # the builder's fixed kernel assumes one input size
        return net, dim
