"""ActionFormer spotter (Zhang et al., ECCV 2022): local self-attention on a temporal feature pyramid, heads shared
by every level; its network is :mod:`spotters.models.actionformer`, its settings and loss :mod:`spotters.pyramid`.

``window: 9`` lets a clip see 4 clips (640 ms) either side at level 0, a sign and its neighbourhood, and twice
as far at every level above.
"""

from __future__ import annotations

from spotters.pyramid import PYRAMID_DEFAULTS, PYRAMID_RULES, PyramidSpotter


class ActionFormerSpotter(PyramidSpotter):
    name = "actionformer"
    description = "ActionFormer: local-attention feature pyramid, shared heads, centre-sampled targets per level"
    defaults = {
        **PYRAMID_DEFAULTS,
        "stem_layers": 2,  # local-attention blocks at stride 1
        "window": 9,  # points each point attends to (centred), at every level
        "heads": 4,  # attention heads (must divide hidden)
        "mlp_ratio": 4,
    }
    rules = {**PYRAMID_RULES, "stem_layers": ">=0", "window": ">=1", "heads": ">=1", "mlp_ratio": ">=1"}

    def create_model(self, feature_dim, num_outputs, settings):
        from spotters.models.actionformer import ActionFormer

        return ActionFormer(feature_dim, num_outputs, settings)
