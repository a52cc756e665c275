"""A small C3D-style 3D CNN expert.  torch is imported inside ``create_model`` so ``bench --help`` stays fast."""

from __future__ import annotations

from benchmark.interfaces import Expert


class TinyC3DExpert(Expert):
    name = "tiny-c3d"
    modality = "rgb-crop"  # the default; a benchmark entry may point it at rgb-hands or flow-tvl1
    description = "Small C3D-style 3D CNN (example third-party expert)"
    defaults = {"width": 32}  # every setting it reads, with its default: other keys are errors
    rules = {"width": "int>=1"}  # what each value may be: `--set ...width=0` fails before any work

    def feature_dim(self, settings):
        return 4 * int(settings["width"])

    def create_model(self, in_channels, num_outputs, settings, *, pretrained=False):
        from signspot_example_expert.model import TinyC3D

        return TinyC3D(in_channels, int(settings["width"]), num_outputs)
