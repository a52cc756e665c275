"""Confidence intervals and paired comparisons over test videos (issue 21): numbers, not shapes."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.metrics.chalearn import score
from benchmark.metrics.uncertainty import bootstrap_ci, f1, paired_difference, point, video_counts


class Official:
    def compute(self, gt, pred):
        return score(gt, pred)


def ground_truth(n_videos: int, rng) -> dict:
    out = {}
    for v in range(n_videos):
        starts = np.sort(rng.choice(np.arange(0, 20_000, 1000), size=4, replace=False))
        out[f"v{v}"] = [[int(rng.integers(0, 5)), int(s), int(s + 600)] for s in starts]
    return out


def shifted(gt: dict, shift_ms: int) -> dict:
    return {v: [[c, s + shift_ms, e + shift_ms] for c, s, e in signs] for v, signs in gt.items()}


def test_per_video_counts_add_up_to_the_official_pooled_score():
    rng = np.random.default_rng(0)
    gt = ground_truth(12, rng)
    pred = shifted(gt, 150)
    pred["v3"] = pred["v3"][:2] + [[4, 100, 300]]  # a miss and a false positive
    counts = video_counts(Official(), gt, pred)
    pooled = score(gt, pred)
    assert np.sum(list(counts.values()), axis=0).tolist() == [pooled["tp"], pooled["fp"], pooled["fn"]]
    assert point(list(counts.values())) == pytest.approx(pooled["f1"], abs=1e-12)


def test_perfect_predictions_have_the_interval_one_one():
    gt = ground_truth(10, np.random.default_rng(1))
    counts = list(video_counts(Official(), gt, gt).values())
    assert bootstrap_ci(counts) == [1.0, 1.0]


def test_the_interval_is_deterministic_with_a_seed_and_covers_the_point():
    rng = np.random.default_rng(2)
    counts = np.stack([rng.integers(0, 30, 40), rng.integers(0, 10, 40), rng.integers(0, 10, 40)], axis=1)
    a, b = bootstrap_ci(counts, seed=5), bootstrap_ci(counts, seed=5)
    assert a == b and a != bootstrap_ci(counts, seed=6)
    assert a[0] < point(counts) < a[1] and 0.01 < a[1] - a[0] < 0.3
    more = np.concatenate([counts] * 4)  # four times the videos: about half the width
    width = bootstrap_ci(more, seed=5)
    assert (width[1] - width[0]) < 0.65 * (a[1] - a[0])


def test_seeds_widen_the_interval_when_they_disagree():
    rng = np.random.default_rng(3)
    base = np.stack([rng.integers(5, 30, 30), rng.integers(0, 10, 30), rng.integers(0, 10, 30)], axis=1)
    same = np.stack([base, base, base])
    spread = np.stack([base, base + [0, 15, 0], base + [0, 0, 15]])
    one, many = bootstrap_ci(same), bootstrap_ci(spread)
    assert one == pytest.approx(bootstrap_ci(base), abs=0.01)  # identical seeds: about the videos' interval
    assert (many[1] - many[0]) > (one[1] - one[0])


def test_identical_runs_compare_as_no_difference_with_p_one():
    gt = ground_truth(10, np.random.default_rng(4))
    counts = list(video_counts(Official(), gt, shifted(gt, 200)).values())
    out = paired_difference(counts, counts)
    assert out["delta_f1"] == 0.0 and out["delta_ci"] == [0.0, 0.0]
    assert out["p_value"] == 1.0 and out["verdict"] == "no difference at 95 %"


def test_a_run_better_on_every_video_wins():
    gt = ground_truth(20, np.random.default_rng(5))
    good = list(video_counts(Official(), gt, shifted(gt, 100)).values())
    worse = {v: signs[:2] + [[0, 30_000, 30_500]] for v, signs in shifted(gt, 100).items()}
    bad = list(video_counts(Official(), gt, worse).values())
    assert all(f1(g) > f1(b) for g, b in zip(good, bad))
    out = paired_difference(good, bad)
    assert out["p_value"] < 0.05 and out["verdict"] == "A better" and out["delta_ci"][0] > 0
    back = paired_difference(bad, good)
    assert back["verdict"] == "B better" and back["delta_f1"] == pytest.approx(-out["delta_f1"])


def test_a_small_difference_on_few_videos_is_no_difference():
    gt = ground_truth(6, np.random.default_rng(6))
    a = list(video_counts(Official(), gt, shifted(gt, 100)).values())
    b_pred = shifted(gt, 100)
    b_pred["v0"] = b_pred["v0"][:3]
    b = list(video_counts(Official(), gt, b_pred).values())
    out = paired_difference(a, b)
    assert out["delta_f1"] > 0 and out["p_value"] > 0.05 and out["verdict"] == "no difference at 95 %"


def test_seeds_that_cannot_be_paired_compare_their_means_without_rounding():
    """Two seeds against one: each side's mean counts over its seeds (halves kept, not truncated)."""
    one = np.array([[10, 2, 3]] * 8)
    two = np.stack([one, one + [1, 0, 0]])  # tp 10 and 11: mean 10.5 per video
    out = paired_difference(two, one)
    expected = 2 * 84 / (2 * 84 + 16 + 24) - point(one)  # 8 videos: tp 84, fp 16, fn 24
    assert out["delta_f1"] == pytest.approx(expected) and out["delta_f1"] > 0


def test_the_same_seeds_are_paired_whatever_order_the_runs_came_in():
    from benchmark.metrics.uncertainty import paired_by_seed

    rng = np.random.default_rng(7)
    per_seed = {s: rng.integers(0, 20, (5, 3)) for s in (0, 1, 10)}
    a, b = paired_by_seed([per_seed[s] for s in (10, 0, 1)], [10, 0, 1], [per_seed[s] for s in (1, 10, 0)], [1, 10, 0])
    assert np.array_equal(a, b) and np.array_equal(a[2], per_seed[10])  # numeric order: 0, 1, 10
    other, same = paired_by_seed([per_seed[0]], [0], [per_seed[1]], [1])  # other seeds: left as they are
    assert np.array_equal(other[0], per_seed[0]) and np.array_equal(same[0], per_seed[1])
