"""Any timm 2D image backbone as a clip expert: frames through the backbone, features averaged over time.

``model`` picks the backbone (default ``resnet18``); ``in_chans`` follows the modality (2 for flow, via timm's
own first-layer adaptation).  ``pretrained: true`` asks timm for its weights (needs a network or a filled
Hugging Face cache); a path loads a local timm state dict (its classifier is dropped).
"""
from __future__ import annotations

import functools
from typing import Any, Mapping

import torch
from torch import nn

from experts.base import Expert, modality_channels
from experts.checkpoints import adapt_input_channels


class FrameBackboneClassifier(nn.Module):
    """[B, C, L, H, W] -> backbone on B*L frames -> mean over L -> feature -> classifier."""

    def __init__(self, backbone: nn.Module, num_outputs: int, dropout: float = 0.0):
        super().__init__()
        self.backbone = backbone
        self.feature_dim = int(backbone.num_features)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.classifier = nn.Linear(self.feature_dim, num_outputs)

    def forward(self, x):
        b, c, t, h, w = x.shape
        frames = x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
        features = self.backbone(frames).view(b, t, -1).mean(dim=1)
        return features, self.classifier(self.dropout(features))


@functools.lru_cache(maxsize=32)
def _num_features(model: str, in_chans: int) -> int:
    import timm

    with torch.device("meta"):  # no memory, no init cost: we only want the width
        return int(timm.create_model(model, pretrained=False, num_classes=0, in_chans=in_chans).num_features)


class TimmExpert(Expert):
    name = "timm"
    modality = "rgb-crop"
    input_kind = "video"
    description = "any timm 2D backbone (setting `model`, default resnet18) per frame + temporal average pooling"
    default_settings = {"model": "resnet18", "pretrained": None, "pretrained_strict": True, "dropout": 0.0}

    def feature_dim(self, settings):
        s = self.settings_with_defaults(settings)
        return _num_features(str(s["model"]), modality_channels(self.resolve_modality(s), s))

    def build(self, num_outputs: int, settings: Mapping[str, Any], *, modality: str | None = None,
              pretrained: bool = True):
        import timm

        from benchmark.errors import BenchError

        s = self.settings_with_defaults(settings)
        in_chans = modality_channels(self.resolve_modality(s, modality), s)
        try:
            backbone = timm.create_model(str(s["model"]), pretrained=bool(pretrained and s.get("pretrained") is True),
                                         num_classes=0, in_chans=in_chans)
        except RuntimeError as exc:
            raise BenchError(f"timm expert: cannot create model {s['model']!r}: {exc}") from None
        model = FrameBackboneClassifier(backbone, num_outputs, float(s.get("dropout") or 0))
        if pretrained and s.get("pretrained") and s.get("pretrained") is not True:
            self.load_pretrained(model, s["pretrained"], strict=bool(s.get("pretrained_strict", True)))
        return model

    def convert_checkpoint(self, state: dict, model) -> dict:
        if not any(k.startswith(("backbone.", "classifier.")) for k in state):  # a plain timm state dict
            head = (model.backbone.pretrained_cfg or {}).get("classifier", "fc")
            state = {f"backbone.{k}": v for k, v in state.items() if not k.startswith(f"{head}.")}
        return adapt_input_channels(state, model.state_dict())
