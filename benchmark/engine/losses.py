"""Spotter losses: classification over all valid clips + 1-D DIoU regression on foreground clips.

DIoU (REFERENCE.md), for predicted offsets ``(ls, le)`` and targets ``(gs, ge)`` from the same clip::

    inter = min(ls, gs) + min(le, ge);  union = ls + le + gs + ge - inter;  IoU = inter / union
    c = max(ls, gs) + max(le, ge);      rho = ((le - ls) - (ge - gs)) / 2;  L = 1 - IoU + (rho / c)^2

Degenerate cases are made finite with ``EPS``: ``IoU = (inter + EPS) / (union + EPS)`` (so two
zero-length segments at the same clip, e.g. a one-clip sign predicted exactly, have IoU 1 and loss 0;
otherwise the change is at most ``EPS / union``) and ``(rho / c)^2 = rho^2 / (c^2 + EPS)`` (``|rho| <= c``, so the term
is 0 when ``c = 0``).  With no foreground clip in a batch the regression loss is 0 (not NaN) and still
connected to the graph.

``clip_extent`` (0 = the reference's point offsets) is added to both predicted and target offsets before the
(D)IoU: with 0.5 each clip stands for its own stride, so the loss compares inclusive clip ranges
``t - s .. t + e`` (exactly what the vote decoder paints) and a one-clip sign has length 1 instead of 0.
Why it exists: with point offsets a sign that fills one clip has a zero-length target, whose IoU is 0 for
every prediction but an exact (0, 0): the loss is flat there, with no gradient toward the answer; at the fact
sheet's 8-frame stride most MSSL signs span one or two clips (entry ``reference-mssl-clip-iou``).

Classification: ``ce`` (mean cross-entropy over valid clips), ``balanced`` (class-balanced CE, Cui et
al. 2019: weight ``(1 - beta) / (1 - beta^n_c)`` from the training clip counts, normalised to mean 1
over classes), ``focal`` (``(1 - p)^gamma * CE``, mean over valid clips, ``gamma = focal_gamma``; with
``focal_alpha`` a float ``alpha``, RetinaNet's weighting: each term times ``alpha`` where the target is a sign,
``1 - alpha`` where it is background; null = unweighted).
Regression: ``diou`` (reference), ``iou``, ``l1`` or ``none``, weighted by ``regression_weight``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch.nn import functional as F

EPS = 1e-6
CLASSIFICATION = ("ce", "balanced", "focal")
REGRESSION = ("diou", "iou", "l1", "none")


def diou_loss_1d(pred: torch.Tensor, target: torch.Tensor, eps: float = EPS, distance: bool = True) -> torch.Tensor:
    """Per-row 1-D (D)IoU loss for offsets ``[M, 2]`` (start, end distances >= 0)."""
    ls, le = pred[..., 0], pred[..., 1]
    gs, ge = target[..., 0], target[..., 1]
    inter = torch.minimum(ls, gs) + torch.minimum(le, ge)
    union = ls + le + gs + ge - inter
    iou = (inter + eps) / (union + eps)
    loss = 1.0 - iou
    if distance:
        c = torch.maximum(ls, gs) + torch.maximum(le, ge)
        rho = ((le - ls) - (ge - gs)) / 2.0
        loss = loss + rho * rho / (c * c + eps)
    return loss


def class_balanced_weights(counts: Sequence[int], beta: float) -> np.ndarray:
    """Cui et al. effective-number weights, mean 1; classes never seen count as one sample."""
    n = np.maximum(np.asarray(counts, dtype=np.float64), 1.0)
    w = (1.0 - beta) / (1.0 - np.power(beta, n))
    return (w / w.mean()).astype(np.float32)


class SpottingLoss:
    """``loss(logits [B,T,C], offsets [B,T,2], labels [B,T], off_targets [B,T,2], valid [B,T], fg [B,T])``
    -> ``(total, cls_loss, reg_loss)``.

    :param settings: the complete ``spotter.training.loss`` mapping (``classification``, ``regression``,
        ``regression_weight``, ``clip_extent``, ``focal_gamma``, ``focal_alpha``, ``beta``)
    :param class_counts: training clips per output, for ``balanced``
    """

    def __init__(self, settings: Mapping, class_counts: Sequence[int] | None = None):
        self.classification = str(settings["classification"])
        self.regression = str(settings["regression"])
        self.weight = float(settings["regression_weight"])
        self.extent = float(settings["clip_extent"])
        self.gamma = float(settings["focal_gamma"])
        alpha = settings["focal_alpha"]
        self.alpha = None if alpha is None else float(alpha)
        beta = float(settings["beta"])
        if self.alpha is not None and not 0.0 < self.alpha < 1.0:
            raise ValueError(f"spotter.training.loss.focal_alpha must be null or in (0, 1), got {alpha!r}")
        if self.extent < 0:
            raise ValueError(
                f"spotter.training.loss.clip_extent must be >= 0 (0.5 = a clip covers its stride), got {self.extent!r}"
            )
        if self.classification not in CLASSIFICATION:
            raise ValueError(
                f"spotter.training.loss.classification must be one of {CLASSIFICATION}, got {self.classification!r}"
            )
        if self.regression not in REGRESSION:
            raise ValueError(f"spotter.training.loss.regression must be one of {REGRESSION}, got {self.regression!r}")
        self.class_weights = None
        if self.classification == "balanced":
            if class_counts is None:
                raise ValueError("loss.classification 'balanced' needs the training clip counts per class")
            self.class_weights = torch.from_numpy(class_balanced_weights(class_counts, beta))

    def classification_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Mean over the given rows (``logits [M, C]``, ``labels [M]``)."""
        if logits.shape[0] == 0:
            return logits.sum() * 0.0
        if self.classification == "ce":
            return F.cross_entropy(logits, labels)
        if self.classification == "balanced":
            w = self.class_weights.to(logits.device, logits.dtype)
            return (F.cross_entropy(logits, labels, reduction="none") * w[labels]).sum() / w[labels].sum()
        return self.focal_terms(logits, labels).mean()

    def focal_terms(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Per-row focal loss ``[M]`` (alpha-weighted when ``focal_alpha`` is set)."""
        logp = F.log_softmax(logits, dim=-1).gather(1, labels[:, None])[:, 0]
        terms = -(1.0 - logp.exp()).pow(self.gamma) * logp
        if self.alpha is None:
            return terms
        return terms * torch.where(labels > 0, self.alpha, 1.0 - self.alpha).to(terms.dtype)

    def regression_loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Mean over the given foreground rows (``[M, 2]``); 0 when there are none."""
        if self.regression == "none" or pred.shape[0] == 0:
            return pred.sum() * 0.0
        if self.regression == "l1":
            return F.l1_loss(pred, target)
        if self.extent:
            pred, target = pred + self.extent, target + self.extent
        return diou_loss_1d(pred, target, distance=self.regression == "diou").mean()

    def __call__(self, logits, offsets, labels, off_targets, valid, fg):
        cls = self.classification_loss(logits[valid], labels[valid])
        sel = fg & valid
        reg = self.regression_loss(offsets[sel], off_targets[sel])
        return cls + self.weight * reg, cls, reg

    def on_batch(self, outputs, batch):
        """The loss as the trainer calls it: a model's ``outputs`` (level 0 is used) and a
        :class:`benchmark.engine.spotter_training.Batch` -> ``(total, cls_loss, reg_loss)``."""
        logits, offsets = outputs[0], outputs[1]
        return self(logits, offsets, batch.labels, batch.offsets, batch.valid, batch.foreground)
