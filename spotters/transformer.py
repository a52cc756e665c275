"""ActionFormer style spotter: a convolutional embedding, local windowed self-attention encoder layers, then the
reference's heads; its network is :mod:`spotters.models.transformer`."""

from __future__ import annotations

from benchmark.interfaces import Spotter


class TransformerSpotter(Spotter):
    name = "transformer"
    description = "ActionFormer style transformer encoder with local windowed self-attention"
    defaults = {
        "reduce_dims": [512],
        "hidden": 256,
        "layers": 4,  # encoder layers
        "heads": 4,  # attention heads (must divide hidden)
        "window": 19,  # clips each clip attends to (centred)
        "mlp_ratio": 4,
        "dropout": 0.1,
        "head_dim": 256,
        "head_layers": 4,
        "reg_bias": 0.0,
    }
    rules = {"layers": ">=1", "heads": ">=1", "window": ">=1", "mlp_ratio": ">=1", "head_layers": ">=1"}

    def create_model(self, feature_dim, num_outputs, settings):
        from spotters.models.transformer import LocalTransformer

        return LocalTransformer(feature_dim, num_outputs, settings)
