"""I3D ResNet-50 (pytorchvideo's ``i3d_r50`` architecture), the reference's RGB and hand-masked RGB expert.

Same layers as ``pytorchvideo.models.hub.resnet.i3d_r50``, so the Kinetics-400 checkpoint ``I3D_8x8_R50.pyth``
(weights under ``model_state``) loads by name, but with adaptive average pooling so any input size works.
``pretrained``: a path to that file, or ``auto`` for the torch hub cache copy.  ``width: small`` (stem 16
instead of 64) is the CPU profile's size; the feature is 32 x stem width.  For a 2-channel (flow) input the
RGB stem weights are averaged over colour and repeated.
"""

from __future__ import annotations

from experts.pytorchvideo_expert import DROPOUT, PYTORCHVIDEO_ZOO, WIDTH, PyTorchVideoExpert, stem_width


class I3DExpert(PyTorchVideoExpert):
    name = "i3d"
    modality = "rgb-crop"
    description = "I3D ResNet-50 (pytorchvideo i3d_r50, Kinetics-400 weights optional), 2048-d (small: 512)"
    defaults = {"width": "full", "dropout": 0.5}
    rules = {"width": WIDTH, "dropout": DROPOUT}
    pretrained_filename = "I3D_8x8_R50.pyth"
    pretrained_url = f"{PYTORCHVIDEO_ZOO}/I3D_8x8_R50.pyth"

    def feature_dim(self, settings):
        return 32 * stem_width(self.with_defaults(settings))

    def create_model(self, in_channels, num_outputs, settings, *, pretrained=False):
        from experts.models.pytorchvideo import i3d

        return i3d(in_channels, num_outputs, stem=stem_width(settings), dropout=float(settings["dropout"] or 0.0))
