"""How sure a run's F1 is, and whether one run is better than another: resampling over test videos.

The official F1 pools TP, FP and FN over videos (and IoU thresholds), so a run is summarised by its per-video
counts ``[tp, fp, fn]`` (each video scored alone: the organisers' filter and matching never cross videos, so
the counts add up to the pooled ones exactly).  Then:

* :func:`bootstrap_ci`: the 95 % interval of the pooled F1 over videos drawn with replacement (percentile
  bootstrap, seeded).  Counts of several seeds (``[seeds, videos, 3]``) resample the seeds too and average
  the F1 over them, so the interval covers the spread of seeds as well as of videos;
* :func:`paired_difference`: two runs on the same videos (seeds paired when both have the same number): the
  F1 difference with its paired-bootstrap interval, and a two-sided p-value from the paired randomisation
  test (each video's counts swapped between the two runs at random: under "no difference" the labels A and
  B are exchangeable), and the verdict at 95 %.

1,000 bootstrap resamples put the interval's ends within about 0.005 F1 of their limit on the embedded data
(a percentile's Monte-Carlo error shrinks as 1/sqrt(resamples)); the randomisation test draws 10,000.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

RESAMPLES = 1000
PERMUTATIONS = 10_000
LEVEL = 0.95
SEED = 0


def video_counts(
    metric, ground_truth: Mapping, predictions: Mapping, pooled: Mapping | None = None
) -> dict[str, list[int]] | None:
    """``{video: [tp, fp, fn]}`` of ``metric`` scoring each video alone, or None when the metric's pooled
    counts (``pooled``: its result on all videos, when the caller has it) are not the sum of its per-video
    ones (then it cannot be resampled by video)."""
    counts = {}
    for video, signs in ground_truth.items():
        result = metric.compute({video: signs}, {video: list(predictions.get(video, []))})
        if not all(k in result for k in ("tp", "fp", "fn")):
            return None
        counts[video] = [int(result["tp"]), int(result["fp"]), int(result["fn"])]
    pooled = metric.compute(ground_truth, predictions) if pooled is None else pooled
    total = np.sum(list(counts.values()), axis=0) if counts else np.zeros(3, dtype=int)
    if [int(pooled.get(k, -1)) for k in ("tp", "fp", "fn")] != [int(x) for x in total]:
        return None
    return counts


def f1(counts) -> np.ndarray:
    """The pooled F1 of summed counts ``[..., 3]`` (the organisers' formula: 0 when there is no TP)."""
    counts = np.asarray(counts, dtype=np.float64)
    tp, fp, fn = counts[..., 0], counts[..., 1], counts[..., 2]
    denominator = 2 * tp + fp + fn
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(tp > 0, 2 * tp / np.where(denominator == 0, 1, denominator), 0.0)


def _seeded(counts) -> np.ndarray:
    """Counts as ``[seeds, videos, 3]`` (floats: a mean over seeds that cannot be paired keeps its halves)."""
    counts = np.asarray(counts, dtype=np.float64)
    return counts[None] if counts.ndim == 2 else counts


def point(counts) -> float:
    """The F1 of ``counts`` (``[videos, 3]``, or ``[seeds, videos, 3]``: the mean over seeds)."""
    return float(f1(_seeded(counts).sum(axis=1)).mean())


def _resampled_f1(counts: np.ndarray, seeds: np.ndarray, videos: np.ndarray) -> np.ndarray:
    """F1 per resample: ``seeds`` ``[B, S]`` and ``videos`` ``[B, V]`` index the seeds and videos drawn."""
    picked = counts[seeds[:, :, None], videos[:, None, :]]  # [B, S, V, 3]
    return f1(picked.sum(axis=2)).mean(axis=1)


def _draws(rng, n_seeds: int, n_videos: int, resamples: int) -> tuple[np.ndarray, np.ndarray]:
    seeds = rng.integers(0, n_seeds, size=(resamples, n_seeds)) if n_seeds > 1 else np.zeros((resamples, 1), int)
    return seeds, rng.integers(0, n_videos, size=(resamples, n_videos))


def bootstrap_ci(counts, *, resamples: int = RESAMPLES, seed: int = SEED, level: float = LEVEL) -> list[float]:
    """``[low, high]``: the ``level`` percentile interval of the F1 over resampled videos (and seeds)."""
    counts = _seeded(counts)
    if counts.shape[1] == 0:
        return [0.0, 0.0]
    seeds, videos = _draws(np.random.default_rng(seed), counts.shape[0], counts.shape[1], resamples)
    values = _resampled_f1(counts, seeds, videos)
    alpha = (1 - level) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    return [float(low), float(high)]


def paired_difference(
    counts_a, counts_b, *, resamples: int = RESAMPLES, permutations: int = PERMUTATIONS, seed: int = SEED
) -> dict:
    """``delta_f1`` (A - B), ``delta_ci`` (paired bootstrap, 95 %), ``p_value`` (paired randomisation test,
    two-sided) and ``verdict`` for two runs' counts on the same videos, in the same order."""
    a, b = _seeded(counts_a), _seeded(counts_b)
    if a.shape[1:] != b.shape[1:]:
        raise ValueError(f"paired counts need the same videos: {a.shape[1]} and {b.shape[1]}")
    if a.shape[0] != b.shape[0]:  # seeds that cannot be paired: each run's mean over its seeds
        a, b = a.mean(axis=0, keepdims=True), b.mean(axis=0, keepdims=True)
    rng = np.random.default_rng(seed)
    delta = point(a) - point(b)
    seeds, videos = _draws(rng, a.shape[0], a.shape[1], resamples)
    deltas = _resampled_f1(a, seeds, videos) - _resampled_f1(b, seeds, videos)
    alpha = (1 - LEVEL) / 2
    low, high = np.quantile(deltas, [alpha, 1 - alpha])
    p_value = _randomisation_p(a, b, delta, rng, permutations)
    return {
        "delta_f1": float(delta),
        "delta_ci": [float(low), float(high)],
        "p_value": p_value,
        "verdict": verdict(delta, p_value),
    }


def paired_by_seed(counts_a, seeds_a: list, counts_b, seeds_b: list) -> tuple[np.ndarray, np.ndarray]:
    """Both sides' counts (``[seeds, videos, 3]``) with their seeds in one order when both ran the same seeds,
    so :func:`paired_difference` pairs them seed by seed; else as they are (each side then its own mean)."""
    a, b = _seeded(counts_a), _seeded(counts_b)
    if sorted(map(seed_order, seeds_a)) != sorted(map(seed_order, seeds_b)):
        return a, b
    order = [sorted(range(len(seeds)), key=lambda i, s=seeds: seed_order(s[i])) for seeds in (seeds_a, seeds_b)]
    return a[order[0]], b[order[1]]


def seed_order(seed) -> tuple:
    """Seeds in numeric order, ``"0/2"`` (run seed / spotter seed) after ``0``; a missing one, None, last."""
    parts = str(seed).split("/")
    numeric = all(p.lstrip("-").isdigit() for p in parts)
    return (seed is None, not numeric, tuple(int(p) for p in parts) if numeric else (), str(seed))


def _randomisation_p(a: np.ndarray, b: np.ndarray, delta: float, rng, permutations: int) -> float:
    """The share of random per-video swaps of A's and B's counts whose |difference| reaches the observed one
    (the observed assignment counted in: never 0, and 1 when the runs are identical)."""
    observed = abs(delta) - 1e-12
    hits = 0
    for start in range(0, permutations, 1000):
        n = min(1000, permutations - start)
        swap = rng.random((n, 1, a.shape[1], 1)) < 0.5  # per video, all seeds of it together
        left, right = np.where(swap, b[None], a[None]), np.where(swap, a[None], b[None])
        diff = f1(left.sum(axis=2)).mean(axis=1) - f1(right.sum(axis=2)).mean(axis=1)
        hits += int((np.abs(diff) >= observed).sum())
    return float((hits + 1) / (permutations + 1))


def verdict(delta: float, p_value: float, level: float = LEVEL) -> str:
    if p_value < 1 - level and delta != 0:
        return "A better" if delta > 0 else "B better"
    return f"no difference at {round(level * 100)} %"
