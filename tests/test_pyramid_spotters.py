"""The pyramid spotters (actionformer, temporalmaxer): settings, shapes and padding, pooling and the Trident head,
centre-sampled targets against hand-made runs and a loop, the pyramid loss, training and inference with levels."""

import math

import numpy as np
import pytest
import torch

from benchmark.engine.clips import ClipSpec, run_bounds
from benchmark.engine.inference import load_model, predict_batch_with_model
from benchmark.engine.losses import SpottingLoss
from benchmark.engine.spotter_training import Batch, loss_function, pad_batch, train_spotter
from benchmark.interfaces import SHARED_SPOTTER_SETTINGS
from spotters.models.pyramid import masked_max_pool
from spotters.models.trident import trident_distances
from spotters.plugin import SPOTTER_CLASSES
from spotters.pyramid_targets import level_range, pyramid_targets, sign_targets
from tests.test_spotters import Recording, synthetic, training

SPOTTER = {cls.name: cls() for cls in SPOTTER_CLASSES}
PYRAMIDS = ["actionformer", "temporalmaxer"]
TINY = {"reduce_dims": [16], "hidden": 16, "head_dim": 8, "heads": 2, "window": 5, "trident_bins": 6}


def small(name: str, **extra) -> dict:
    spotter = SPOTTER[name]
    return spotter.with_defaults({**{k: v for k, v in TINY.items() if k in spotter.declared()}, **extra})


@pytest.fixture(autouse=True)
def _threads():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# -- settings and model outputs -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PYRAMIDS)
def test_settings_declared_are_the_settings_read(name):
    """The model and the loss together read exactly the declared ``defaults``; every shared key is accepted."""
    spotter = SPOTTER[name]
    assert set(SHARED_SPOTTER_SETTINGS) <= set(spotter.declared())
    settings = Recording(small(name))
    spotter.create_model(20, 5, settings)
    spotter.loss(settings, training()["loss"], [5, 5, 5, 5, 5])
    assert settings.read == set(type(spotter).defaults)
    assert set(SHARED_SPOTTER_SETTINGS) - {"offset_clamp"} <= settings.read
    with pytest.raises(ValueError, match="regression must be one of"):
        spotter.build(20, 5, small(name, regression="gaussian"))
    with pytest.raises(ValueError, match="levels must be >= 1"):
        spotter.build(20, 5, small(name, levels=0))


@pytest.mark.parametrize("regression", ["distance", "trident"])
@pytest.mark.parametrize("name", PYRAMIDS)
def test_forward_levels_shapes_and_padding_invariance(name, regression):
    torch.manual_seed(0)
    model = SPOTTER[name].build(20, 5, small(name, regression=regression, levels=3)).eval()
    x = torch.randn(3, 13, 20)
    lengths = torch.tensor([13, 7, 1])
    x[1, 7:] = 1e3  # garbage in the padding must not matter
    with torch.no_grad():
        logits, offsets, levels = model(x, lengths)
        assert [(lg.shape, off.shape, s) for lg, off, s in levels] == [
            ((3, 13, 5), (3, 13, 2), 1),
            ((3, 7, 5), (3, 7, 2), 2),
            ((3, 4, 5), (3, 4, 2), 4),
        ]
        assert levels[0][0] is logits and levels[0][1] is offsets
        for b, n in enumerate(lengths.tolist()):
            _, _, alone = model(x[b : b + 1, :n], lengths[b : b + 1])
            for (lg, off, s), (lg1, off1, s1) in zip(levels, alone):
                k = -(-n // s)
                assert s == s1 and lg1.shape[1] == k
                torch.testing.assert_close(lg[b, :k], lg1[0], atol=1e-5, rtol=1e-4)
                torch.testing.assert_close(off[b, :k], off1[0], atol=1e-5, rtol=1e-4)
                assert lg[b, k:].abs().sum().item() == 0.0 and off[b, k:].abs().sum().item() == 0.0
                assert (off >= 0).all()
    assert model.strides == [1, 2, 4]


def test_masked_max_pool_ignores_padding_and_halves_lengths():
    h = torch.tensor([[[-3.0, -1.0, -7.0, 50.0, 50.0]], [[1.0, 5.0, 2.0, 9.0, 100.0]]])  # [B=2, C=1, T=5]
    mask = torch.tensor([[True, True, True, False, False], [True, True, True, True, False]])
    pooled, new_mask = masked_max_pool(h, mask)
    # windows (2p - 1, 2p, 2p + 1): padded clips count as -inf (a negative valid maximum stays), ceil(n / 2) valid
    assert pooled[:, 0].tolist() == [[-1.0, -1.0, 0.0], [5.0, 9.0, 0.0]]
    assert new_mask.tolist() == [[True, True, False], [True, True, False]]


def test_trident_expected_distances():
    bins, t = 4, 5
    m = torch.ones(1, 1, t)
    r = torch.zeros(1, 2 * bins + 2, t)
    uniform = trident_distances(r, m, bins)
    torch.testing.assert_close(uniform, torch.full((1, 2, t), 1.5))  # the mean of bins 0..3
    r[0, 2 * bins, 1] = 50.0  # a start response at clip 1: points after it measure their distance to it
    r[0, 2 * bins + 1, 4] = 50.0  # an end response at clip 4
    r[0, 3, 4] = 50.0  # and the relative start logit of point 4 for bin 3
    d = trident_distances(r, m, bins)[0]
    assert d[0].tolist()[1:4] == pytest.approx([0.0, 1.0, 2.0], abs=1e-4)  # start of points 1..3 -> clip 1
    assert d[0, 0].item() == pytest.approx(1.5, abs=1e-4)  # neighbours before the video are 0: uniform
    assert d[0, 4].item() == pytest.approx((3 * math.exp(50) + 0 + 1 + 2) / (math.exp(50) + 3), abs=1e-4)
    assert d[1].tolist() == pytest.approx([1.5, 3.0, 2.0, 1.0, 0.0], abs=1e-4)  # points 1..4 -> clip 4; 0: too far


# -- targets --------------------------------------------------------------------------------------------------


def test_level_ranges():
    assert [level_range(level, 3, 2.0) for level in range(3)] == [(0.0, 2.0), (2.0, 4.0), (4.0, math.inf)]
    assert level_range(0, 1, 2.0) == (0.0, math.inf)


def test_targets_of_hand_made_runs():
    # a one-clip sign (class label 2) at clip 1: level 0, point 1, distances (0, 0); no point above covers it
    out = pyramid_targets([0, 2, 0, 0, 0, 0, 0, 0], 3, 1.5, 2.0)
    assert [cls.tolist() for cls, _ in out] == [[0, 2, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0], [0, 0]]
    assert not any(dist.any() for _, dist in out)
    # a four-clip sign at clips 2..5: every level-0 point reaches >= 2.5 clips (beyond level 0's [0, 2));
    # level 1 points 1 and 2 (clips 2.5, 4.5) reach 2.5 + 0.5 (in [2, 4)); level 2's points 1.5, 5.5 lie outside
    out = pyramid_targets([0, 0, 3, 3, 3, 3, 0, 0], 3, 1.5, 2.0)
    assert [cls.tolist() for cls, _ in out] == [[0] * 8, [0, 3, 3, 0], [0, 0]]
    assert out[1][1].tolist() == [[0, 0], [0.5, 2.5], [2.5, 0.5], [0, 0]]
    # one level: the range is unbounded; centre sampling keeps points within center_sample of the centre (4)
    [(cls, dist)] = pyramid_targets([5] * 9, 1, 1.5, 2.0)
    assert cls.tolist() == [0, 0, 0, 5, 5, 5, 0, 0, 0] and dist[3:6].tolist() == [[3, 5], [4, 4], [5, 3]]
    [(cls, _)] = pyramid_targets([5] * 9, 1, 0.5, 2.0)
    assert cls.tolist() == [0, 0, 0, 0, 5, 0, 0, 0, 0]
    # odd lengths: ceil(n / stride) points per level
    assert [cls.size for cls, _ in pyramid_targets([1] * 7, 3, 1.5, 2.0)] == [7, 4, 2]
    assert [cls.size for cls, _ in pyramid_targets([], 3, 1.5, 2.0)] == [0, 0, 0]


def test_default_ranges_give_every_sign_a_positive_point():
    """With the defaults no sign falls between two levels (with ``regression_range: 2`` a 6-clip sign starting at
    clip 3 would: level 1 sees it reach 4 clips, level 2 only 3)."""
    s = SPOTTER["actionformer"].with_defaults({})
    levels, center, value_range = s["levels"], s["center_sample"], s["regression_range"]
    for length in range(1, 40):
        for first in range(8):
            labels = np.zeros(first + length + 5, np.int64)
            labels[first : first + length] = 1
            hits = sum(int((cls > 0).sum()) for cls, _ in pyramid_targets(labels, levels, center, value_range))
            assert hits > 0, (length, first)
    labels = np.zeros(12, np.int64)
    labels[3:9] = 1
    assert sum(int((cls > 0).sum()) for cls, _ in pyramid_targets(labels, 3, 1.5, 2.0)) == 0


def test_overlapping_signs_go_to_the_shortest():
    signs = (np.array([1, 2]), np.array([0, 2]), np.array([9, 4]))  # sign 2 (clips 2..4) inside sign 1 (0..9)
    cls, dist = sign_targets(signs, 10, 1, (0.0, math.inf), 10.0)
    assert cls.tolist() == [1, 1, 2, 2, 2, 1, 1, 1, 1, 1]
    assert dist[3].tolist() == [1, 1] and dist[0].tolist() == [0, 9]


def loop_targets(labels, levels, center_sample, regression_range):
    """The rule of :mod:`spotters.pyramid_targets`, one point and one sign at a time."""
    signs, t = [], 0
    while t < len(labels):
        u = t
        while u + 1 < len(labels) and labels[u + 1] == labels[t]:
            u += 1
        if labels[t]:
            signs.append((labels[t], t, u))
        t = u + 1
    out = []
    for level in range(levels):
        s = 2**level
        low = 0 if level == 0 else regression_range * 2 ** (level - 1)
        high = math.inf if level == levels - 1 else regression_range * 2**level
        n = -(-len(labels) // s)
        cls, dist = np.zeros(n, np.int64), np.zeros((n, 2), np.float32)
        for p in range(n):
            c = p * s + (s - 1) / 2
            best = None
            for label, a, b in signs:
                reach = max(c - a, b - c) + 0.5
                positive = a <= c <= b and abs(c - (a + b) / 2) <= center_sample * s and low <= reach < high
                if positive and (best is None or b - a < best[2] - best[1]):
                    best = (label, a, b)
            if best is not None:
                cls[p], dist[p] = best[0], (c - best[1], best[2] - c)
        out.append((cls, dist))
    return out


@pytest.mark.parametrize("center_sample, regression_range", [(1.5, 2.0), (0.5, 4.0), (3.0, 1.0)])
def test_targets_equal_the_loop(center_sample, regression_range):
    rng = np.random.default_rng(7)
    labels = []
    while len(labels) < 300:
        labels += [0] * int(rng.integers(0, 4)) + [int(rng.integers(1, 5))] * int(rng.integers(1, 14))
    got = pyramid_targets(labels, 4, center_sample, regression_range)
    want = loop_targets(labels, 4, center_sample, regression_range)
    for (cls, dist), (cls2, dist2) in zip(got, want):
        np.testing.assert_array_equal(cls, cls2)
        np.testing.assert_array_equal(dist, dist2)
    assert sum((cls > 0).any() for cls, _ in got) >= 3  # not a vacuous comparison: most levels have targets


# -- loss -----------------------------------------------------------------------------------------------------


def one_video_batch(labels, num_outputs=3) -> tuple[Batch, list]:
    """A batch of one video, and zero pyramid outputs (uniform logits, zero distances) for 3 levels."""
    n = len(labels)
    lab = torch.tensor([labels])
    batch = Batch(None, torch.tensor([n]), lab, torch.zeros(1, n, 2), torch.ones(1, n, dtype=torch.bool), lab > 0)
    levels = [(torch.zeros(1, -(-n // s), num_outputs), torch.zeros(1, -(-n // s), 2), s) for s in (1, 2, 4)]
    return batch, levels


def pyramid_loss(**overrides):
    """The pyramid loss with ``regression_range: 2`` (the hand-made targets above)."""
    settings = small("temporalmaxer", regression_range=2.0)
    return SPOTTER["temporalmaxer"].loss(settings, training(loss=overrides)["loss"], [9, 1, 1])


def test_pyramid_loss_hand_computed():
    batch, levels = one_video_batch([0, 0, 2, 2, 2, 2, 0, 0])  # the four-clip sign of the targets test
    # level 1 points 1, 2 are positive with targets (0.5, 2.5), (2.5, 0.5); predict (1.5, 1.5) for both: with half
    # a clip added to each distance, (2, 2) against (1, 3): IoU 3 / 5, centre distance 1 of 5: DIoU 0.4 + 1/25
    levels[1][1][0, 1:3] = torch.tensor([1.5, 1.5])
    outputs = (levels[0][0], levels[0][1], levels)
    total, cls, reg = pyramid_loss(classification="ce", regression_weight=2.0)(outputs, batch)
    assert cls.item() == pytest.approx(math.log(3), abs=1e-6)  # uniform over 3 outputs, at 8 + 4 + 2 points
    assert reg.item() == pytest.approx(0.44, abs=1e-5) and total.item() == pytest.approx(math.log(3) + 0.88, abs=1e-5)
    # focal: summed over the 14 points, divided by the 2 positive ones; alpha weighs 2 positives and 12 negatives
    focal0 = pyramid_loss(classification="focal", focal_gamma=0.0)(outputs, batch)[1]
    assert focal0.item() == pytest.approx(14 * math.log(3) / 2, abs=1e-5)
    alpha = pyramid_loss(classification="focal", focal_gamma=0.0, focal_alpha=0.25)(outputs, batch)[1]
    assert alpha.item() == pytest.approx((0.25 * 2 + 0.75 * 12) * math.log(3) / 2, abs=1e-5)
    assert pyramid_loss(regression="none")(outputs, batch)[2].item() == 0.0


def test_pyramid_loss_without_signs_and_with_padding():
    batch, levels = one_video_batch([0, 0, 0, 0, 0])
    offsets = [off.requires_grad_(True) for _, off, _ in levels]
    outputs = (levels[0][0], offsets[0], [(lg, off, s) for (lg, _, s), off in zip(levels, offsets)])
    total, _, reg = pyramid_loss(classification="focal")(outputs, batch)
    assert reg.item() == 0.0 and math.isfinite(total.item())
    total.backward()
    assert all(torch.equal(off.grad, torch.zeros_like(off)) for off in offsets)
    # padding: a second video of 2 clips with huge logits beyond its end changes nothing of the first's loss
    batch, levels = one_video_batch([1, 1, 0, 0, 2, 0, 0, 0])
    alone = pyramid_loss()((levels[0][0], levels[0][1], levels), batch)
    lab = torch.tensor([[1, 1, 0, 0, 2, 0, 0, 0], [1, 1, 9, 9, 9, 9, 9, 9]])
    pair = Batch(None, torch.tensor([8, 2]), lab, None, None, None)
    padded = [(torch.cat([lg, lg]), torch.cat([off, off]), s) for lg, off, s in levels]
    for lg, _, s in padded:
        lg[1, -(-2 // s) :] = torch.tensor([-50.0, 50.0, 0.0])  # would be a huge CE if counted
    both = pyramid_loss()((padded[0][0], padded[0][1], padded), pair)
    n_points = (8 + 4 + 2, 2 + 1 + 1)
    assert both[1].item() == pytest.approx((alone[1].item() * n_points[0] + math.log(3) * 4) / sum(n_points), abs=1e-5)


@pytest.mark.parametrize("name, regression", [("temporalmaxer", "trident"), ("actionformer", "distance")])
def test_loss_decreases_on_a_tiny_problem(name, regression):
    torch.manual_seed(0)
    videos = synthetic(2, np.random.default_rng(3))
    spotter, settings = SPOTTER[name], small(name, regression=regression, dropout=0.0)
    from benchmark.engine.targets import spotting_targets

    items = [(torch.from_numpy(f), *map(torch.from_numpy, spotting_targets(lab))) for f, lab in videos]
    batch = pad_batch(items, "cpu")
    model = spotter.build(12, 4, settings)
    loss_fn = spotter.loss(settings, training(loss={"classification": "focal"})["loss"], [10, 3, 3, 3])
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(25):
        total, _, reg = loss_fn(model(batch.features, batch.lengths), batch)
        assert torch.isfinite(total) and reg.item() > 0
        opt.zero_grad()
        total.backward()
        opt.step()
        losses.append(total.item())
    assert losses[-1] < 0.5 * losses[0], losses


def test_default_loss_is_the_per_clip_loss():
    """Single-level spotters train with SpottingLoss (per clip) on their outputs."""
    videos = synthetic(2, np.random.default_rng(4))
    from benchmark.engine.targets import spotting_targets

    batch = pad_batch(
        [(torch.from_numpy(f), *map(torch.from_numpy, spotting_targets(lab))) for f, lab in videos], "cpu"
    )
    loss_settings = training()["loss"]
    fn = loss_function(SPOTTER["tcn"], small("temporalmaxer"), loss_settings)
    logits, offsets = torch.randn(*batch.labels.shape, 4), torch.rand(*batch.labels.shape, 2)
    want = SpottingLoss(loss_settings)(logits, offsets, batch.labels, batch.offsets, batch.valid, batch.foreground)
    assert [v.item() for v in fn((logits, offsets), batch)] == [v.item() for v in want]


# -- training and inference -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name, regression", [("actionformer", "trident"), ("temporalmaxer", "distance")])
def test_train_spotter_with_levels(name, regression):
    rng = np.random.default_rng(1)
    train, val = synthetic(4, rng), synthetic(2, rng)
    val_data = [(f"v{i}", f, lab.size * 8) for i, (f, lab) in enumerate(val)]
    calls = []

    def decode_fn(probs, offsets, n_frames, levels=None):
        calls.append((probs.shape[0], [(p.shape, o.shape, s) for p, o, s in levels]))
        return []

    settings = small(name, regression=regression)
    plan = training(epochs=2, batch_size=2, lr=3e-3, milestones=[], select="last")
    kwargs = dict(val_data=val_data, decode_fn=decode_fn, score_fn=lambda p: {"f1": 0.0}, seed=3, progress=False)
    a = train_spotter(SPOTTER[name], settings, plan, train, 4, ClipSpec(), **kwargs)
    b = train_spotter(SPOTTER[name], settings, plan, train, 4, ClipSpec(), **kwargs)
    assert a["best_epoch"] == 2 and all(np.isfinite([h["loss"], h["reg_loss"]]).all() for h in a["history"])
    assert a["history"][0]["reg_loss"] > 0
    for k in a["state_dict"]:
        assert torch.equal(a["state_dict"][k], b["state_dict"][k]), k
    n = [f.shape[0] for _, f, _ in val_data]
    assert calls[:2] == [
        (k, [((k, 4), (k, 2), 1), ((-(-k // 2), 4), (-(-k // 2), 2), 2), ((-(-k // 4), 4), (-(-k // 4), 2), 4)])
        for k in n
    ]
    # offset_clamp is not used by the pyramid targets
    clamped = train_spotter(SPOTTER[name], {**settings, "offset_clamp": 0}, plan, train, 4, ClipSpec(), **kwargs)
    assert clamped["history"][0]["loss"] == a["history"][0]["loss"]


@pytest.mark.parametrize("name", PYRAMIDS)
def test_prediction_levels_cut_to_valid_lengths(name):
    torch.manual_seed(0)
    settings = small(name)
    model = load_model(SPOTTER[name], settings, SPOTTER[name].build(20, 5, settings).state_dict(), 20, 5)
    rng = np.random.default_rng(0)
    videos = [rng.standard_normal((n, 20)).astype(np.float32) for n in (17, 3, 0, 9, 1)]
    batched = predict_batch_with_model(model, videos, batch_size=2)
    for f, (probs, offsets, levels) in zip(videos, batched):
        n = f.shape[0]
        assert [(p.shape, o.shape, s) for p, o, s in levels] == [
            ((-(-n // s), 5), (-(-n // s), 2), s) for s in (1, 2, 4)
        ]
        assert probs is levels[0][0] and offsets is levels[0][1]
        assert all(p.dtype == np.float32 and o.dtype == np.float32 for p, o, _ in levels)
        for p, o, _ in levels:
            np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-5)
            assert (o >= 0).all()
        [(_, _, alone)] = predict_batch_with_model(model, [f])
        for (p, o, _), (p1, o1, _) in zip(levels, alone):
            np.testing.assert_allclose(p, p1, atol=1e-5)
            np.testing.assert_allclose(o, o1, atol=1e-5)


def test_trained_pyramid_finds_the_signs_and_their_boundaries():
    """Learning, and the offsets' convention end to end: for each true sign of held-out videos, the point most
    confident of the sign's class (any level, its position inside the sign) proposes ``[c - start, c + end]``,
    which must be the sign's first and last clip (a half-clip shift, e.g. an extent left in the outputs, fails)."""
    rng = np.random.default_rng(0)
    train, val = synthetic(10, rng), synthetic(3, rng)
    settings = small("temporalmaxer", reduce_dims=[24, 16])
    plan = training(epochs=16, batch_size=1, lr=3e-3, milestones=[], select="last", loss={"classification": "focal"})
    out = train_spotter(SPOTTER["temporalmaxer"], settings, plan, train, 4, ClipSpec(), seed=0, progress=False)
    model = load_model(SPOTTER["temporalmaxer"], settings, out["state_dict"], 12, 4)
    errors, right_class = [], []
    for (_, labels), (_, _, levels) in zip(val, predict_batch_with_model(model, [f for f, _ in val])):
        value, first, last = run_bounds(labels)
        for label, a, b in zip(value, first, last):
            if label == 0:
                continue
            best = (-1.0, None)
            for probs, offsets, s in levels:
                c = np.arange(len(probs)) * s + (s - 1) / 2
                inside = np.flatnonzero((c >= a) & (c <= b))
                for p in inside:
                    if probs[p, label] > best[0]:
                        best = (probs[p, label], (c[p] - offsets[p, 0], c[p] + offsets[p, 1]), probs[p].argmax())
            errors.append(max(abs(best[1][0] - a), abs(best[1][1] - b)))
            right_class.append(best[2] == label)
    assert np.mean(right_class) > 0.9, right_class
    assert np.median(errors) < 0.25 and max(errors) < 0.75, np.round(np.sort(errors), 2)  # shifted: median >= 0.5
