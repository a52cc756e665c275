"""The training-free matcher (benchmark.matching.dtw): subsequence DTW finds a pasted query where it is, at its
speed, above other signs; NMS and thresholds; skeleton normalisation; match_many = detect per pair."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from benchmark.matching import (
    detect,
    local_costs,
    match_many,
    normalised_joints,
    score_curve,
    subsequence_dtw,
    subsequence_dtw_costs,
)
from benchmark.matching.dtw import TAU, hits, nms
from benchmark.modalities.skeleton import pose_to_skeleton

D = 96


def walk(rng: np.random.Generator, frames: int, dims: int = D) -> np.ndarray:
    """A smooth random trajectory (a stand-in for a signing stream): integrated, smoothed noise."""
    steps = rng.normal(0.0, 1.0, (frames + 8, dims))
    kernel = np.hanning(9) / np.hanning(9).sum()
    smooth = np.stack([np.convolve(steps[:, k], kernel, mode="valid") for k in range(dims)], 1)[:frames]
    return (np.cumsum(smooth, 0) * 0.012).astype(np.float32)  # costs ~0.2 apart, as between real signs


def stretched(x: np.ndarray, factor: float) -> np.ndarray:
    """``x`` played ``1/factor`` times as fast (linear interpolation), ``round(len * factor)`` frames."""
    t = np.linspace(0, len(x) - 1, int(round(len(x) * factor)))
    return np.stack([np.interp(t, np.arange(len(x)), x[:, k]) for k in range(x.shape[1])], 1).astype(np.float32)


def iou(a, b) -> float:
    return (min(a[1], b[1]) - max(a[0], b[0])) / (max(a[1], b[1]) - min(a[0], b[0]))


def scene(seed: int = 0, m: int = 40, at: int = 137, n: int = 600):
    rng = np.random.default_rng(seed)
    query = walk(rng, m)
    target = walk(rng, n)
    target[at : at + m] = query  # pasted verbatim
    return query, target


def test_pasted_query_is_found_at_its_exact_frames_and_ms():
    query, target = scene()
    cost, start = subsequence_dtw(query, target)
    end = int(np.argmin(cost))
    assert end == 137 + 40 - 1 and start[end] == 137
    assert cost[end] < 1e-3
    score = score_curve(cost)
    assert int(np.argmax(score)) == end and score.min() >= 0.0 and score.max() <= 1.0
    top = detect(query, target, fps=30.0, threshold=0.5)[0]
    assert top[:2] == [round(137 * 1000 / 30), round(176 * 1000 / 30)]  # 4567, 5867: the frame grid, rounded
    assert top[2] == pytest.approx(score[end])


@pytest.mark.parametrize("factor", [0.6, 1.5, 1.9])
def test_time_stretched_query_is_found(factor):
    rng = np.random.default_rng(1)
    query = walk(rng, 40)
    sign = stretched(query, factor)
    target = walk(rng, 600)
    target[300 : 300 + len(sign)] = sign
    top = detect(query, target, fps=25.0, threshold=0.3)[0]
    truth = (300 * 40, (300 + len(sign) - 1) * 40)
    assert iou(top[:2], truth) >= 0.8


def test_true_sign_outscores_another_sign():
    rng = np.random.default_rng(2)
    query, other = walk(rng, 40), walk(rng, 40)
    target = walk(rng, 800)
    target[100:140] = query + rng.normal(0, 0.02, (40, D))  # the sign, a little noisy (cost ~0.02)
    target[500:540] = other
    score = score_curve(subsequence_dtw(query, target)[0])
    assert score[100:160].max() > score[480:580].max() + 0.2
    found = detect(query, target, fps=25.0, threshold=0.0)
    assert iou(found[0][:2], (100 * 40, 139 * 40)) >= 0.8
    assert all(iou(hit[:2], (100 * 40, 139 * 40)) < 0.3 for hit in found[1:])  # one hit per sign after NMS


def brute_force(costs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every path of the step rules: the target advances 0, 1 or 2 per query frame, never 0 twice running."""
    m, n = costs.shape
    best, first = np.full(n, np.inf), np.full(n, -1)
    for moves in itertools.product((0, 1, 2), repeat=m - 1):
        if any(a == b == 0 for a, b in itertools.pairwise(moves)):
            continue
        cols = np.concatenate([[0], np.cumsum(moves)])
        for s in range(n - cols[-1]):
            mean = costs[np.arange(m), s + cols].mean()
            if mean < best[s + cols[-1]]:
                best[s + cols[-1]], first[s + cols[-1]] = mean, s
    return best, first


def test_dynamic_programme_equals_every_path_tried():
    costs = np.random.default_rng(3).random((5, 14))
    cost, start = subsequence_dtw_costs(costs)
    want_cost, want_start = brute_force(costs)
    np.testing.assert_allclose(cost, want_cost)
    np.testing.assert_array_equal(start, want_start)
    assert np.isinf(cost[:2]).all() and (start[:2] == -1).all()  # 5 query frames need at least 3 target frames


def test_band_zero_keeps_the_diagonal_only():
    costs = np.random.default_rng(4).random((6, 20))
    cost, start = subsequence_dtw_costs(costs, band=0)
    diagonal = np.array([costs[np.arange(6), j - 5 + np.arange(6)].mean() for j in range(5, 20)])
    np.testing.assert_allclose(cost[5:], diagonal)
    np.testing.assert_array_equal(start[5:], np.arange(15))
    assert np.isinf(cost[:5]).all()


def test_local_costs_are_rms_euclidean():
    rng = np.random.default_rng(5)
    q, t = rng.normal(size=(3, 8)), rng.normal(size=(4, 8)) + 100.0  # far from 0: float32 precision holds
    want = np.linalg.norm(q[:, None] - t[None], axis=-1) / np.sqrt(8)
    np.testing.assert_allclose(local_costs(q, t), want, rtol=1e-4)


def test_nms_keeps_the_best_of_overlapping_hits():
    kept = nms(np.array([0, 5, 100]), np.array([40, 45, 140]), np.array([0.8, 0.9, 0.7]), 0.3)
    assert kept.tolist() == [1, 2]
    assert nms(np.array([0, 30]), np.array([40, 70]), np.array([0.8, 0.9]), 0.3).tolist() == [1, 0]  # IoU 11/71


def test_hits_threshold_nms_and_max_hits():
    score = np.zeros(300)
    score[[50, 55, 200]] = [0.9, 0.8, 0.5]  # three peaks, the first two overlapping
    start = np.arange(300) - 39
    assert [h[:2] for h in hits(score, start, 25.0, 0.4)] == [[440, 2000], [6440, 8000]]
    assert [h[2] for h in hits(score, start, 25.0, 0.6)] == [0.9]
    assert len(hits(score, start, 25.0, 0.4, nms_iou=0.95)) == 3  # no suppression: the 0.8 comes back
    assert len(hits(score, start, 25.0, 0.0, max_hits=1)) == 1
    assert hits(score, start, 25.0, 0.95) == []


def test_score_curve_is_absolute_and_bounded():
    cost = np.array([np.inf, 0.0, TAU * np.log(2), 1.0, -1e-9])
    np.testing.assert_allclose(score_curve(cost), [0.0, 1.0, 0.5, np.exp(-1.0 / TAU), 1.0])
    assert score_curve(np.full(3, np.inf)).tolist() == [0.0, 0.0, 0.0]
    # absolute: a target full of near-matches does not lower the score of the match itself
    assert score_curve(np.array([0.02, 0.5, 0.5]))[0] == score_curve(np.array([0.02, 0.03, 0.03]))[0]


def make_pose(frames: int = 12, seed: int = 6) -> np.ndarray:
    """A random but plausible ``[T, 75, 4]`` pose: joints around the shoulders, all visible."""
    rng = np.random.default_rng(seed)
    pose = np.empty((frames, 75, 4), np.float32)
    pose[..., :2] = rng.uniform(0.3, 0.7, (frames, 75, 2))
    pose[..., 2] = rng.normal(0, 0.1, (frames, 75))
    pose[..., 3] = 1.0
    pose[:, 11, :2], pose[:, 12, :2] = (0.6, 0.4), (0.4, 0.4)  # the signer's left shoulder, then the right
    return pose


def test_normalisation_ignores_place_and_size_in_the_picture():
    pose = make_pose()
    moved = pose.copy()
    moved[..., :3] *= 0.6  # smaller (z with it, as MediaPipe scales it with x)
    moved[..., 0] += 0.25
    moved[..., 1] -= 0.1
    for kwargs in ({}, {"velocity": True}, {"use_z": True}):
        np.testing.assert_allclose(normalised_joints(moved, **kwargs), normalised_joints(pose, **kwargs), atol=1e-5)
    feats = normalised_joints(pose, (640, 360))
    assert feats.shape == (12, 92) and feats.dtype == np.float32
    assert normalised_joints(pose, velocity=True).shape == (12, 184)
    assert normalised_joints(pose, use_z=True).shape == (12, 138)
    shoulders = normalised_joints(pose).reshape(12, 46, 2)[:, :2]  # centred on them, 2 shoulder widths = 1
    np.testing.assert_allclose(shoulders, np.broadcast_to([[0.25, 0.0], [-0.25, 0.0]], (12, 2, 2)), atol=1e-6)


def test_missing_joints_are_filled_from_neighbouring_frames():
    pose = make_pose()
    full = normalised_joints(pose)
    gappy = pose.copy()
    gappy[5, 33:54, :3] = np.nan  # the left hand lost for one frame ...
    gappy[5, 13, 3] = 0.0  # ... and the left elbow with zero confidence
    pose_mid = pose.copy()
    pose_mid[5, 33:54, :3] = (pose[4, 33:54, :3] + pose[6, 33:54, :3]) / 2
    pose_mid[5, 13, :3] = (pose[4, 13, :3] + pose[6, 13, :3]) / 2
    got = normalised_joints(gappy)
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, normalised_joints(pose_mid), atol=1e-5)
    np.testing.assert_allclose(np.delete(got, 5, 0), np.delete(full, 5, 0), atol=1e-6)
    no_hand = pose.copy()
    no_hand[:, 54:75, :3] = np.nan  # the right hand never seen: on its wrist (body joint 16)
    right = normalised_joints(no_hand).reshape(12, 46, 2)[:, 25:]
    np.testing.assert_allclose(right, np.repeat(right[:, :1], 21, 1))
    assert np.isfinite(normalised_joints(np.full((4, 75, 4), np.nan, np.float32))).all()  # nobody: zeros


def test_skeleton_modality_output_gives_the_same_features():
    pose = make_pose()
    skeleton = pose_to_skeleton(pose, 640, 360, interpolate=True, normalise=True)
    np.testing.assert_allclose(normalised_joints(skeleton), normalised_joints(pose, (640, 360)), atol=1e-5)
    with pytest.raises(ValueError, match="pose"):
        normalised_joints(np.zeros((4, 10, 3)))


def test_detect_takes_poses():
    pose = make_pose(frames=80)
    found = detect(pose[30:45], pose, fps=25.0, threshold=0.5)
    assert found[0][:2] == [30 * 40, 44 * 40]


def test_match_many_equals_detect_per_pair():
    rng = np.random.default_rng(7)
    queries = {f"q{i}": walk(rng, m) for i, m in enumerate((30, 45, 60))}
    targets = {"a": walk(rng, 400), "b": walk(rng, 500)}
    targets["a"][50:95] = queries["q1"]
    targets["b"][300:345] = stretched(queries["q0"], 1.5)
    got = match_many(queries, targets, fps=25.0, threshold=0.2, max_hits=5)
    assert set(got) == {"a", "b"}
    for tid, target in targets.items():
        want = sorted(
            [qi, *hit]
            for qi, query in enumerate(queries.values())
            for hit in detect(query, target, fps=25.0, threshold=0.2, max_hits=5)
        )
        assert sorted(got[tid]) == want
        assert [r[1] for r in got[tid]] == sorted(r[1] for r in got[tid])
    assert [1, 50 * 40, 94 * 40] in [r[:3] for r in got["a"]]
