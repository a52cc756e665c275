"""TemporalMaxer spotter (Tang et al., 2023): ActionFormer's pyramid and heads with parameter-free max-pooling in
place of the transformer blocks, cheap on a CPU; its network is :mod:`spotters.models.temporalmaxer`, its settings
and loss :mod:`spotters.pyramid`."""

from __future__ import annotations

from spotters.pyramid import PYRAMID_DEFAULTS, PYRAMID_RULES, PyramidSpotter


class TemporalMaxerSpotter(PyramidSpotter):
    name = "temporalmaxer"
    description = "TemporalMaxer: max-pooling feature pyramid (no attention), shared heads, centre-sampled targets"
    defaults = dict(PYRAMID_DEFAULTS)
    rules = dict(PYRAMID_RULES)

    def create_model(self, feature_dim, num_outputs, settings):
        from spotters.models.temporalmaxer import TemporalMaxer

        return TemporalMaxer(feature_dim, num_outputs, settings)
