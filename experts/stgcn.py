"""ST-GCN (Yan et al., AAAI 2018) over the 57-joint skeleton: the reference's skeleton expert, 256-d.

Spatial partitioning (root / centripetal / centrifugal), learnable edge-importance masks, the 10 blocks of
:data:`LAYERS` with temporal kernel 9 (:mod:`experts.models.stgcn`).  Trained from scratch with Adam lr 5e-4,
weight decay 1e-5 (REFERENCE.md), hence its :attr:`training_defaults`.  ``width: small`` halves every block's
channels (32-64-128, a 128-d feature, about a quarter of the multiplications): the CPU profile's size, as the
video experts' ``small``; an int sets the first block's channels (the others scale with it).
"""

from __future__ import annotations

from benchmark.interfaces import Expert
from experts.pytorchvideo_expert import WIDTH, stem_width

# (channels, temporal stride) per block; the feature is the last block's channels
LAYERS = ((64, 1), (64, 1), (64, 1), (64, 1), (128, 2), (128, 1), (128, 1), (256, 2), (256, 1), (256, 1))


def layers(settings) -> tuple[tuple[int, int], ...]:
    """:data:`LAYERS` at the ``width`` of ``settings`` (``full``: as published; ``small``: half)."""
    first = stem_width(settings, full=LAYERS[0][0], small=LAYERS[0][0] // 2)
    return tuple((channels * first // LAYERS[0][0], stride) for channels, stride in LAYERS)


class STGCNExpert(Expert):
    name = "stgcn"
    modality = "skeleton"
    input_kind = "skeleton"
    description = "ST-GCN over the 57-joint MediaPipe graph (spatial partitions, edge importance), 256-d (small: 128)"
    training_defaults = {"optimizer": "adam", "lr": 5.0e-4, "weight_decay": 1.0e-5}
    defaults = {"temporal_kernel": 9, "dropout": 0.0, "edge_importance": True, "width": "full"}
    rules = {"temporal_kernel": ">=1", "dropout": "0..<1", "width": WIDTH}

    def feature_dim(self, settings):
        return layers(self.with_defaults(settings))[-1][0]

    def create_model(self, in_channels, num_outputs, settings, *, pretrained=False):
        from experts.models.stgcn import STGCN

        return STGCN(
            in_channels,
            num_outputs,
            layers=layers(settings),
            temporal_kernel=int(settings["temporal_kernel"]),
            dropout=float(settings["dropout"] or 0),
            edge_importance=bool(settings["edge_importance"]),
        )
