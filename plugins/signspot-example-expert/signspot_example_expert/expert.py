"""A small C3D-style 3D CNN expert.  torch is imported inside ``build`` so ``bench --help`` stays fast."""
from __future__ import annotations

from experts.base import Expert, modality_channels


class TinyC3DExpert(Expert):
    name = "tiny-c3d"
    modality = "rgb-crop"  # the default; a benchmark entry may point it at rgb-hands or flow-tvl1
    description = "Small C3D-style 3D CNN"
    default_settings = {"width": 32}

    def feature_dim(self, settings):
        return 4 * int(self.settings_with_defaults(settings)["width"])

    def build(self, num_outputs, settings, *, modality=None, pretrained=True):
        from signspot_example_expert.model import TinyC3D

        settings = self.settings_with_defaults(settings)
        model = TinyC3D(modality_channels(self.resolve_modality(settings, modality), settings),
                        int(settings["width"]), num_outputs)
        if pretrained and settings.get("pretrained"):
            self.load_pretrained(model, settings["pretrained"])
        return model
