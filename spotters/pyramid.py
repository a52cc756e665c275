"""What the pyramid spotters (``actionformer``, ``temporalmaxer``) share: their settings and their loss.

They predict on a temporal feature pyramid (level ``l`` has stride ``2**l``), the design of ActionFormer,
TemporalMaxer and TriDet: every level classifies its points and regresses the distances to the sign's start
and end, and each sign is assigned to the level whose scale fits it.  Their model returns the contract's
pyramid output ``(logits, offsets, levels)``; their training targets are assigned per point with centre
sampling (:mod:`spotters.pyramid_targets`), their loss is :class:`spotters.pyramid_loss.PyramidLoss`.

The defaults are chosen for MSSL-like data: signs of 80..1640 ms (median 440 ms) and clips every 4 frames
(160 ms), so a sign spans 0.5..10 clips.  ``regression_range: 3`` gives level ``l`` the points whose larger distance
to a boundary is ``3 * 2**(l-1) .. 3 * 2**l`` clips: signs up to about 5 clips (most MSSL signs) on level 0,
about 6..11 clips on level 1, longer ones on level 2.  A smaller range (2, 2.5) spreads signs more evenly but
leaves some sign lengths at some grid positions without a positive point on any level (the level below sees the
sign reaching beyond its range, the level above, from its coarser points, short of its own); 3 and ActionFormer's
4 leave none, and 3 gives the upper levels more of the targets (ActionFormer's 4 suits THUMOS, where actions span
tens of feature points).  ``levels: 3`` (strides 1, 2, 4) covers the longest signs; ``center_sample: 1.5``
(ActionFormer's radius, in strides) keeps a few points per sign.  ``offset_clamp`` is ignored: the level ranges
replace it.
"""

from __future__ import annotations

from benchmark.interfaces import Spotter

PYRAMID_DEFAULTS = {
    "reduce_dims": [512],  # per-clip MLP widths before the embedding
    "hidden": 256,  # channels of the embedding and of every pyramid level
    "head_dim": 256,
    "dropout": 0.1,
    "reg_bias": 1.0,  # initial bias of the distance output: one level unit (regression: distance only)
    "embed_layers": 2,  # masked Conv1d k3 + LayerNorm + ReLU
    "levels": 3,  # pyramid levels, strides 1, 2, 4, ...
    "head_layers": 3,  # Conv1d k3 per head, the last one the output
    "regression": "distance",  # distance (ActionFormer: ReLU x per-level scale) | trident (TriDet's bins)
    "trident_bins": 16,  # regression: trident: distances 0 .. bins - 1 in level units
    "center_sample": 1.5,  # a point is positive within this many strides of its sign's centre
    "regression_range": 3.0,  # level l takes max distances [range 2^(l-1), range 2^l) clips (level 0 from 0)
}
REGRESSION = ("distance", "trident")
PYRAMID_RULES = {
    "embed_layers": ">=1",
    "levels": ">=1",
    "head_layers": ">=1",
    "regression": REGRESSION,
    "trident_bins": ">=2",
    "center_sample": ">0",
    "regression_range": ">0",
}


class PyramidSpotter(Spotter):
    """Base of the pyramid spotters: the loss that assigns targets per level."""

    def loss(self, settings, loss_settings, class_counts=None):
        """``callable(outputs, batch) -> (total, cls_loss, reg_loss)`` for this spotter's pyramid outputs.

        :param settings: the spotter's merged settings (``center_sample``, ``regression_range``)
        :param loss_settings: the complete ``spotter.training.loss`` mapping
        :param class_counts: training clips per output (for ``classification: balanced``)
        """
        from spotters.pyramid_loss import PyramidLoss

        return PyramidLoss(
            loss_settings,
            class_counts,
            center_sample=float(settings["center_sample"]),
            regression_range=float(settings["regression_range"]),
        )
