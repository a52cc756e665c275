"""MS-TCN style spotter: dilated residual temporal convolutions (dilation 1, 2, 4, ...), optionally in several
refinement stages, then the reference's heads; its network is :mod:`spotters.models.tcn`."""

from __future__ import annotations

from benchmark.interfaces import Spotter


class TCNSpotter(Spotter):
    name = "tcn"
    description = "MS-TCN style dilated residual temporal convolutions (optional stages)"
    defaults = {
        "reduce_dims": [512],
        "hidden": 256,
        "layers": 10,  # residual layers per stage, dilation 2**i
        "stages": 1,  # 1 = single stage; more = MS-TCN refinement on the previous stage's softmax
        "dropout": 0.5,
        "head_dim": 256,
        "head_layers": 4,
        "reg_bias": 0.0,
    }
    rules = {"layers": ">=1", "stages": ">=1", "head_layers": ">=1"}

    def create_model(self, feature_dim, num_outputs, settings):
        from spotters.models.tcn import TCN

        return TCN(feature_dim, num_outputs, settings)
