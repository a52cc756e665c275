"""The pyramid spotters' loss: classification over every valid point of every level, DIoU regression on the
positive points, with targets assigned per level (:mod:`spotters.pyramid_targets`) from the batch's clip labels.

It reads the complete ``spotter.training.loss`` mapping as every spotter does
(:class:`benchmark.engine.losses.SpottingLoss` parses and checks it):

* ``classification``: ``ce`` and ``balanced`` are means over all valid points of all levels (``balanced`` weighs
  by the training clip counts, not the point counts); ``focal`` (with ``focal_gamma``, ``focal_alpha``) is summed
  and divided by the batch's number of positive points, at least 1.  ActionFormer divides by an exponential
  moving average of that number (momentum 0.9) to smooth batches with few signs; this loss is stateless, so it
  uses the batch's own count.
* ``regression``: ``diou`` (ActionFormer's) or ``iou`` on the predicted and target distances in level-0 clips
  ((D)IoU is scale-free: ActionFormer's division of both by the stride would change only the extent below),
  ``l1`` in level-0 clips, or ``none``; the mean over positive points, times ``regression_weight``.
* ``clip_extent`` is not read: the (D)IoU always compares clip ranges, half a clip (:data:`EXTENT`) added to both
  predicted and target distances, so a one-clip sign has length 1 (with point distances its target would have
  length 0 and a flat loss; see :mod:`benchmark.engine.losses`).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from benchmark.engine.losses import SpottingLoss, diou_loss_1d
from spotters.pyramid_targets import pyramid_targets

EXTENT = 0.5  # level-0 clips added to each distance before the (D)IoU: a clip covers its own stride


class PyramidLoss:
    """``loss(outputs, batch) -> (total, cls_loss, reg_loss)`` for ``outputs = (logits, offsets, levels)``."""

    def __init__(self, settings, class_counts=None, *, center_sample: float, regression_range: float):
        self.clip_loss = SpottingLoss(settings, class_counts)  # parses and checks the settings
        # center_sample and regression_range > 0: the pyramid spotters' rules (spotters.pyramid), checked earlier
        self.center_sample, self.regression_range = center_sample, regression_range

    def targets(self, batch, levels):
        """Per level ``(classes [B, T_l], distances [B, T_l, 2], valid [B, T_l])`` on the outputs' device."""
        labels, lengths = batch.labels.cpu().numpy(), batch.lengths.cpu().numpy()
        # clips with a loss: the batch's valid mask (padding and ignored spans out), else every clip in a video
        kept = batch.valid.cpu().numpy() if batch.valid is not None else np.ones(labels.shape, bool)
        per_video = [
            pyramid_targets(labels[i, :n], len(levels), self.center_sample, self.regression_range)
            for i, n in enumerate(lengths.tolist())
        ]
        out = []
        for level, (logits, _, stride) in enumerate(levels):
            b, t = logits.shape[:2]
            classes, distances = np.zeros((b, t), np.int64), np.zeros((b, t, 2), np.float32)
            for i, video in enumerate(per_video):
                n = video[level][0].size
                classes[i, :n], distances[i, :n] = video[level]
            # a point is valid where its first clip is (padding and ignored spans are not)
            first_clip = np.minimum(np.arange(t) * stride, kept.shape[1] - 1)
            valid = (np.arange(t)[None, :] < -(-lengths[:, None] // stride)) & kept[:, first_clip]
            out.append(tuple(torch.from_numpy(a).to(logits.device) for a in (classes, distances, valid)))
        return out

    def __call__(self, outputs, batch):
        levels = outputs[2]
        rows = []  # per level: logits [M, C], classes [M], offsets [M, 2], distances [M, 2] of valid points
        for (logits, offsets, _), (classes, distances, valid) in zip(levels, self.targets(batch, levels)):
            rows.append((logits[valid], classes[valid], offsets[valid], distances[valid]))
        logits, classes, offsets, distances = (torch.cat(parts) for parts in zip(*rows))
        positive = classes > 0
        loss = self.clip_loss
        if loss.classification == "focal":
            cls = loss.focal_terms(logits, classes).sum() / positive.sum().clamp(min=1)
        else:
            cls = loss.classification_loss(logits, classes)
        reg = regression_loss(loss.regression, offsets[positive], distances[positive])
        return cls + loss.weight * reg, cls, reg


def regression_loss(kind: str, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean over the positive rows ``[M, 2]``; 0 (still in the graph) when there are none."""
    if kind == "none" or pred.shape[0] == 0:
        return pred.sum() * 0.0
    if kind == "l1":
        return F.l1_loss(pred, target)
    return diou_loss_1d(pred + EXTENT, target + EXTENT, distance=kind == "diou").mean()
