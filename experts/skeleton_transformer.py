"""A small transformer over skeleton tokens (one per joint and frame): the skeleton alternative to ST-GCN.

The network is :mod:`experts.models.skeleton_transformer`; the feature is its ``dim``.
"""

from __future__ import annotations

from benchmark.interfaces import Expert


class SkeletonTransformerExpert(Expert):
    name = "skeleton-transformer"
    modality = "skeleton"
    input_kind = "skeleton"
    description = "transformer encoder over joint x frame tokens (small: dim 128, 2 layers), 128-d"
    training_defaults = {"optimizer": "adamw", "lr": 5.0e-4, "weight_decay": 0.05}
    defaults = {"dim": 128, "depth": 2, "heads": 4, "mlp_ratio": 2.0, "dropout": 0.1}
    rules = {"dim": ">=1", "depth": ">=1", "heads": ">=1", "mlp_ratio": ">0", "dropout": "0..<1"}

    def feature_dim(self, settings):
        return int(self.with_defaults(settings)["dim"])

    def create_model(self, in_channels, num_outputs, settings, *, pretrained=False):
        from experts.models.skeleton_transformer import SkeletonTransformer

        return SkeletonTransformer(
            in_channels,
            num_outputs,
            dim=int(settings["dim"]),
            depth=int(settings["depth"]),
            heads=int(settings["heads"]),
            mlp_ratio=float(settings["mlp_ratio"]),
            dropout=float(settings["dropout"] or 0),
        )
