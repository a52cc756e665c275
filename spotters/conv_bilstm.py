"""The reference spotter (REFERENCE.md "Stage 2"); its network is :mod:`spotters.models.conv_bilstm`.

``fusion: temporal-conv`` (fact sheet: "integrated through a convolutional layer", Conv1d k3) is the default;
``pointwise`` is the authors' code (1x1 projection).
"""

from __future__ import annotations

from benchmark.interfaces import Spotter

FUSIONS = {"temporal-conv": 3, "pointwise": 1}  # fusion -> kernel size of the fusing Conv1d


class ConvBiLSTMSpotter(Spotter):
    name = "conv-bilstm"
    description = "Reference: reduce MLP, parallel conv + BiLSTM, fusion, cls and DIoU-regression heads"
    defaults = {
        "reduce_dims": [2048, 512],  # per-clip MLP widths before the temporal module
        "hidden": 512,  # conv branch and fusion channels
        "lstm_hidden": 256,  # per direction
        "lstm_layers": 2,
        "lstm_dropout": 0.3,  # between LSTM layers
        "conv_layers": 2,
        "dropout": 0.5,  # on the fused sequence, before the heads
        "fusion": "temporal-conv",  # temporal-conv (Conv1d k3) | pointwise (1x1)
        "head_dim": 256,
        "head_layers": 4,
        "reg_bias": 0.0,  # initial bias of the offset output (see spotters.models.layers.Heads)
    }
    rules = {
        "lstm_hidden": ">=1",
        "lstm_layers": ">=1",
        "lstm_dropout": "0..<1",
        "conv_layers": ">=0",
        "fusion": tuple(FUSIONS),
        "head_layers": ">=1",
    }

    def create_model(self, feature_dim, num_outputs, settings):
        from spotters.models.conv_bilstm import ConvBiLSTM

        return ConvBiLSTM(feature_dim, num_outputs, settings, fusion_kernel=FUSIONS[settings["fusion"]])
