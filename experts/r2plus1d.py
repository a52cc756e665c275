"""R(2+1)D ResNet (pytorchvideo's ``create_r2plus1d``): an alternative RGB expert, factorised 2D + 1D convs.

Kinetics weights (``R2PLUS1D_16x4_R50.pyth``) load by name; ``width`` as for I3D; ``depth`` is the ResNet depth.
"""

from __future__ import annotations

from experts.pytorchvideo_expert import DROPOUT, PYTORCHVIDEO_ZOO, WIDTH, PyTorchVideoExpert, stem_width


class R2Plus1DExpert(PyTorchVideoExpert):
    name = "r2plus1d"
    modality = "rgb-crop"
    description = "R(2+1)D ResNet-50 (pytorchvideo create_r2plus1d), adaptive pooling; 2048-d (width small: 512)"
    defaults = {"width": "full", "depth": 50, "dropout": 0.5}
    rules = {"width": WIDTH, "depth": (50, 101, 152), "dropout": DROPOUT}  # pytorchvideo's ResNet depths
    pretrained_filename = "R2PLUS1D_16x4_R50.pyth"
    pretrained_url = f"{PYTORCHVIDEO_ZOO}/R2PLUS1D_16x4_R50.pyth"

    def feature_dim(self, settings):
        return 32 * stem_width(self.with_defaults(settings))

    def create_model(self, in_channels, num_outputs, settings, *, pretrained=False):
        from experts.models.pytorchvideo import r2plus1d

        return r2plus1d(
            in_channels,
            num_outputs,
            stem=stem_width(settings),
            depth=int(settings["depth"]),
            dropout=float(settings["dropout"] or 0.0),
        )
