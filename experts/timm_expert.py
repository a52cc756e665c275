"""Any timm 2D image backbone as a clip expert: frames through the backbone, features averaged over time.

``model`` picks the backbone.  ``pretrained: true`` asks timm for its own weights (needs a network or a filled
Hugging Face cache), which is why this expert overrides :meth:`pretrained_file`; a path loads a local timm
state dict (its classifier is dropped).
"""

from __future__ import annotations

from benchmark.interfaces import Expert


class TimmExpert(Expert):
    name = "timm"
    modality = "rgb-crop"
    input_kind = "video"
    description = "any timm 2D backbone (setting `model`, default resnet18) per frame + temporal average pooling"
    defaults = {"model": "resnet18", "dropout": 0.0}  # model: any name timm knows (checked when it is created)
    rules = {"dropout": "0..<1"}

    def feature_dim(self, settings):
        from experts.models.timm_frames import num_features

        s = self.with_defaults(settings)
        return num_features(str(s["model"]), int(s["in_channels"] or 3))

    def create_model(self, in_channels, num_outputs, settings, *, pretrained=False):
        from experts.models.timm_frames import frame_classifier

        return frame_classifier(
            str(settings["model"]),
            in_channels,
            num_outputs,
            dropout=float(settings["dropout"] or 0),
            pretrained=bool(pretrained and settings["pretrained"] is True),
        )

    def pretrained_file(self, value):
        """``true`` is timm's hub (loaded by :meth:`create_model`), not a file."""
        return None if value is True else super().pretrained_file(value)

    def convert_checkpoint(self, state: dict, model) -> dict:
        from benchmark.engine.checkpoints import adapt_input_channels

        if not any(k.startswith(("backbone.", "classifier.")) for k in state):  # a plain timm state dict
            head = (model.backbone.pretrained_cfg or {}).get("classifier", "fc")
            state = {f"backbone.{k}": v for k, v in state.items() if not k.startswith(f"{head}.")}
        return adapt_input_channels(state, model.state_dict())
