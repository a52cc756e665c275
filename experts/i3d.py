"""I3D ResNet-50 (pytorchvideo's ``i3d_r50`` architecture), the reference's RGB and hand-masked RGB expert.

Same layers as ``pytorchvideo.models.hub.resnet.i3d_r50`` (stem 5x7x7, stage-1 max pool, inflated conv_a
kernels), so the Kinetics-400 checkpoint ``I3D_8x8_R50.pyth`` (weights under ``model_state``) loads by name,
but with adaptive average pooling so any input size works.  ``pretrained``: a path to that file, or ``auto``
for the torch hub cache copy.  ``width: small`` (stem 16 instead of 64) is the CPU profile's size; the
feature is 32 x stem width (2048 at full width).  For a 2-channel (flow) input the RGB stem weights are
averaged over colour and repeated.
"""
from __future__ import annotations

from torch import nn

from experts.pytorchvideo_models import PyTorchVideoExpert, stem_width

I3D_URL = "https://dl.fbaipublicfiles.com/pytorchvideo/model_zoo/kinetics/I3D_8x8_R50.pyth"


class I3DExpert(PyTorchVideoExpert):
    name = "i3d"
    modality = "rgb-crop"
    description = "I3D ResNet-50 (pytorchvideo i3d_r50, Kinetics-400 weights optional), 2048-d (small: 512)"
    default_settings = {"width": "full", "dropout": 0.5, "pretrained": None, "pretrained_strict": True}
    pretrained_filename = "I3D_8x8_R50.pyth"

    def feature_dim(self, settings):
        return 32 * stem_width(self.settings_with_defaults(settings))

    def _create(self, in_chans, s):
        from pytorchvideo.models.resnet import create_resnet

        stem = stem_width(s)
        net = create_resnet(
            input_channel=in_chans,
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
        return net, 32 * stem
