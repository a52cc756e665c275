"""Spotter losses and targets against hand-computed values, degenerate cases included."""

import math

import pytest
import torch

from benchmark.config.entries import trainer_defaults
from benchmark.engine.losses import EPS, SpottingLoss, class_balanced_weights, diou_loss_1d
from benchmark.engine.targets import spotting_targets


def loss(class_counts=None, **overrides) -> SpottingLoss:
    """The loss from the complete default ``spotter.training.loss`` with ``overrides``."""
    return SpottingLoss({**trainer_defaults()["spotter_training"]["loss"], **overrides}, class_counts=class_counts)


def t(rows):
    return torch.tensor(rows, dtype=torch.float32)


def test_diou_hand_computed():
    # pred (1, 3) vs target (2, 2): inter 1+2=3, union 1+3+2+2-3=5, IoU .6, c 2+3=5, rho ((3-1)-(2-2))/2=1
    # pred (0, 0) vs target (2, 1): inter 0, union 3, c 3, rho (0-(1-2))/2=.5 -> 1 + .25/9
    # pred (1, 0) vs target (0, 0): inter 0, union 1, c 1, rho ((0-1)-0)/2=-.5 -> 1 + .25
    loss = diou_loss_1d(t([[1, 3], [0, 0], [1, 0], [2, 3]]), t([[2, 2], [2, 1], [0, 0], [2, 3]]))
    expected = [1 - 0.6 + (1 / 5) ** 2, 1 + 0.25 / 9, 1.25, 0.0]
    assert loss.tolist() == pytest.approx(expected, abs=1e-5)
    iou_only = diou_loss_1d(t([[1, 3]]), t([[2, 2]]), distance=False)
    assert iou_only.item() == pytest.approx(0.4, abs=1e-6)


def test_diou_zero_length_is_finite_and_zero_when_exact():
    pred = t([[0, 0]]).requires_grad_(True)
    loss = diou_loss_1d(pred, t([[0, 0]]))
    assert loss.item() == 0.0
    loss.sum().backward()
    assert torch.isfinite(pred.grad).all()
    # the eps changes a regular value by at most EPS / union
    assert diou_loss_1d(t([[0, 0]]), t([[2, 1]])).item() == pytest.approx(1 + 0.25 / 9, abs=EPS)


def batch(labels, pred_offsets, clamp=None, num_outputs=3):
    lab, off, fg = spotting_targets(labels, clamp)
    n = len(labels)
    logits = torch.zeros(1, n, num_outputs)
    return (
        logits,
        t([pred_offsets]),
        torch.from_numpy(lab)[None],
        torch.from_numpy(off)[None],
        torch.ones(1, n, dtype=torch.bool),
        torch.from_numpy(fg)[None],
    )


def test_ce_plus_diou_and_degenerate_batches():
    loss_fn = loss(classification="ce", regression="diou", regression_weight=2.0)
    # one foreground clip (a one-clip sign, target (0, 0)), predicted (1, 0): DIoU 1.25
    total, cls, reg = loss_fn(*batch([0, 2, 0], [[5, 5], [1, 0], [7, 7]]))
    assert cls.item() == pytest.approx(math.log(3), abs=1e-6)  # uniform logits over 3 outputs
    assert reg.item() == pytest.approx(1.25, abs=1e-5)
    assert total.item() == pytest.approx(math.log(3) + 2 * 1.25, abs=1e-5)
    # no foreground clip: regression 0, not NaN, and the graph still backpropagates
    logits, offs, lab, off_t, valid, fg = batch([0, 0, 0], [[1, 1], [2, 2], [0, 0]])
    offs.requires_grad_(True)
    total, cls, reg = loss_fn(logits, offs, lab, off_t, valid, fg)
    assert reg.item() == 0.0 and math.isfinite(total.item())
    total.backward()
    assert torch.equal(offs.grad, torch.zeros_like(offs))


def test_padding_is_ignored():
    loss_fn = loss()
    logits, offs, lab, off_t, valid, fg = batch([1, 1, 0, 0], [[0, 1], [1, 0], [0, 0], [0, 0]])
    logits[0, 2:] = torch.tensor([-50.0, 50.0, 0.0])  # would be a huge CE if counted
    valid[0, 2:] = False
    _, cls, reg = loss_fn(logits, offs, lab, off_t, valid, fg)
    assert cls.item() == pytest.approx(math.log(3), abs=1e-6)
    assert reg.item() == pytest.approx(0.0, abs=1e-5)  # exact offsets


def test_focal_and_balanced_variants():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.2, 0.1], [0.0, 3.0, 0.0]])
    labels = torch.tensor([0, 2, 1])
    ce = torch.nn.functional.cross_entropy(logits, labels).item()
    focal0 = loss(classification="focal", focal_gamma=0.0).classification_loss(logits, labels)
    assert focal0.item() == pytest.approx(ce, abs=1e-6)
    p = torch.softmax(logits, -1)[torch.arange(3), labels]
    focal2 = loss(classification="focal", focal_gamma=2.0).classification_loss(logits, labels)
    assert focal2.item() == pytest.approx((-((1 - p) ** 2) * p.log()).mean().item(), abs=1e-6)
    equal = loss([5, 5, 5], classification="balanced").classification_loss(logits, labels)
    assert equal.item() == pytest.approx(ce, abs=1e-6)
    w = class_balanced_weights([1000, 10, 0], beta=0.99)
    assert w.mean() == pytest.approx(1.0) and w[0] < w[1] < w[2]
    with pytest.raises(ValueError, match="classification"):
        loss(classification="hinge")


def test_focal_alpha_weighs_signs_and_background():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.2, 0.1], [0.0, 3.0, 0.0], [1.0, 1.0, 1.0]])
    labels = torch.tensor([0, 2, 1, 0])
    p = torch.softmax(logits, -1)[torch.arange(4), labels]
    terms = -((1 - p) ** 2) * p.log()
    weighted = loss(classification="focal", focal_alpha=0.25).classification_loss(logits, labels)
    want = (terms * torch.tensor([0.75, 0.25, 0.25, 0.75])).mean()  # alpha on signs, 1 - alpha on background
    assert weighted.item() == pytest.approx(want.item(), abs=1e-6)
    plain = loss(classification="focal", focal_alpha=None).classification_loss(logits, labels)
    assert plain.item() == pytest.approx(terms.mean().item(), abs=1e-6) and plain.item() != weighted.item()
    ce = loss(classification="ce", focal_alpha=0.25).classification_loss(logits, labels)  # focal only
    assert ce.item() == pytest.approx(torch.nn.functional.cross_entropy(logits, labels).item(), abs=1e-6)
    for bad in (0.0, 1.0, 2):
        with pytest.raises(ValueError, match="focal_alpha must be null or in"):
            loss(focal_alpha=bad)


def test_targets_runs_and_clamp():
    lab, off, fg = spotting_targets([0, 3, 3, 3, 0, 2, 2, 3, 0, 1])
    assert fg.tolist() == [False, True, True, True, False, True, True, True, False, True]
    assert off.tolist() == [[0, 0], [0, 2], [1, 1], [2, 0], [0, 0], [0, 1], [1, 0], [0, 0], [0, 0], [0, 0]]
    _, off, _ = spotting_targets([1] * 7, offset_clamp=4)
    assert off[:, 0].tolist() == [0, 1, 2, 3, 4, 4, 4] and off[:, 1].tolist() == [4, 4, 4, 3, 2, 1, 0]
    lab, off, fg = spotting_targets([])
    assert lab.shape == (0,) and off.shape == (0, 2)


def test_clip_extent_compares_inclusive_clip_ranges():
    # extent .5: pred (1, 0) -> (1.5, .5), target (0, 0) -> (.5, .5): inter .5+.5=1, union 1.5+.5+.5+.5-1=2,
    # IoU .5, c 1.5+.5=2, rho ((.5-1.5)-(.5-.5))/2=-.5 -> 1 - .5 + (.5/2)^2 = .5625
    ranged_diou = loss(regression="diou", clip_extent=0.5)
    got = ranged_diou.regression_loss(t([[1, 0], [0, 0], [2, 1]]), t([[0, 0], [0, 0], [2, 1]]))
    assert got.item() == pytest.approx((0.5625 + 0.0 + 0.0) / 3, abs=1e-6)
    # a one-clip sign: with point offsets every non-zero prediction has the same loss (no gradient toward
    # the answer); with the extent the loss falls as the prediction approaches (0, 0)
    point, ranged = loss(regression="iou", clip_extent=0.0), loss(regression="iou", clip_extent=0.5)
    zero = t([[0, 0]])
    assert point.regression_loss(t([[2, 2]]), zero).item() == pytest.approx(
        point.regression_loss(t([[0.5, 0.5]]), zero).item(), abs=1e-5
    )
    assert ranged.regression_loss(t([[0.5, 0.5]]), zero).item() < ranged.regression_loss(t([[2, 2]]), zero).item()
    with pytest.raises(ValueError, match="clip_extent must be >= 0"):
        loss(clip_extent=-1)


def test_regression_bias_starts_offsets_alive():
    from spotters.models.layers import Heads

    torch.manual_seed(0)
    alive = Heads(8, 8, 3, layers=2, reg_bias=1.0)
    assert torch.equal(alive.reg.last.bias.detach(), torch.ones(2))
    _, offsets = alive(torch.randn(4, 8, 50), torch.ones(4, 1, 50))
    assert (offsets > 0).float().mean().item() > 0.95  # the ReLU passes (almost) everything at the start


def test_every_loss_setting_is_required():
    """The loss reads the complete ``spotter.training.loss`` (defaults live in registry.yaml only)."""
    complete = trainer_defaults()["spotter_training"]["loss"]
    SpottingLoss(complete)
    for key in complete:
        with pytest.raises(KeyError, match=key):
            SpottingLoss({k: v for k, v in complete.items() if k != key})
