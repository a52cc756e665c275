"""Pseudo-3D ResNet (Qiu et al., ICCV 2017), the reference's TV-L1 flow expert (P3D-199, 2048-d).

The network (:mod:`experts.models.p3d`) keeps the public ``p3d_model.py`` layer names, so the public
checkpoints (``p3d_flow_199.checkpoint.pth.tar``, weights under ``state_dict``, maybe ``module.`` prefixed)
load by name; their 400-class ``fc`` is dropped for ``classifier``.  Depths 63, 131, 199 use the ResNet-50,
-101, -152 stage depths.  ``width: small`` (base 16 instead of 64) for CPU.
"""

from __future__ import annotations

from benchmark.interfaces import Expert
from experts.pytorchvideo_expert import DROPOUT, WIDTH, stem_width

DEPTHS = {63: (3, 4, 6, 3), 131: (3, 4, 23, 3), 199: (3, 8, 36, 3)}  # blocks per stage res2..res5


class P3DExpert(Expert):
    name = "p3d"
    modality = "flow-tvl1"
    input_kind = "video"
    description = "Pseudo-3D ResNet (P3D-A/B/C), depth 199 (63, 131), 2-channel flow, 2048-d (small: 512)"
    defaults = {"depth": 199, "width": "full", "dropout": 0.5}
    rules = {"depth": tuple(DEPTHS), "width": WIDTH, "dropout": DROPOUT}
    pretrained_filename = "p3d_flow_199.checkpoint.pth.tar"

    def feature_dim(self, settings):
        return 32 * stem_width(self.with_defaults(settings))

    def create_model(self, in_channels, num_outputs, settings, *, pretrained=False):
        from experts.models.p3d import P3D

        return P3D(
            DEPTHS[int(settings["depth"])],
            in_channels,
            num_outputs,
            base=stem_width(settings),
            dropout=float(settings["dropout"] or 0),
        )

    def pretrained_file(self, value):
        """As the base, with no download address (the P3D weights are shared on file hosts only)."""
        from benchmark.engine.checkpoints import pretrained_path

        return pretrained_path(
            value,
            filename=self.pretrained_filename,
            url=None,
            what="p3d (P3D-199 flow weights are shared on file hosts only)",
        )

    def convert_checkpoint(self, state: dict, model) -> dict:
        from benchmark.engine.checkpoints import adapt_input_channels

        state = {k: v for k, v in state.items() if not k.startswith("fc.")}  # the public 400-class head
        return adapt_input_channels(state, model.state_dict())
