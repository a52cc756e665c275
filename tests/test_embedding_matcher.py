"""The clip-feature matcher (benchmark.matching.embedding) and the random-window floor
(benchmark.matching.baseline): a pasted query is found at its clips to the ms, scores are clipped cosines,
test-time transfer pulls the query towards the targets' copies, NMS and threshold filter, rest trimming; the
random baseline is deterministic, inside its targets and scores near zero."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.engine.clips import ClipSpec, frame_to_ms
from benchmark.matching.baseline import random_windows
from benchmark.matching.embedding import (
    embed,
    match_many,
    query_embedding,
    transfer,
    window_embeddings,
    window_scores,
)
from benchmark.metrics.chalearn import score

D = 256  # random clips are ~orthogonal (cos ~ N(0, 1/16)), as an expert's features of unrelated signs
FACT_SHEET = ClipSpec(length=8, stride=8, pad_left=0, fps=25.0)  # clip i = frames 8i .. 8i + 7
CENTRED = ClipSpec(length=8, stride=4, pad_left=4, fps=25.0)  # offset -2: clip i = frames 4i - 2 .. 4i + 1


def clips(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.normal(0.0, 1.0, (n, D)).astype(np.float32)


def scene(seed: int = 0, n: int = 40, at: int = 17, m: int = 3):
    rng = np.random.default_rng(seed)
    query, target = clips(rng, m), clips(rng, n)
    target[at : at + m] = query
    return query, target


def iou(a, b) -> float:
    return (min(a[1], b[1]) - max(a[0], b[0]) + 1) / (max(a[1], b[1]) - min(a[0], b[0]) + 1)


# -- embeddings and window scores ------------------------------------------------------------------------


def test_window_scores_are_clipped_cosines_of_mean_embeddings_and_peak_at_the_pasted_clips():
    query, target = scene()
    q = query_embedding(query)
    scores, first, last = window_scores(target, q, widths=(2, 3, 4))
    assert len(scores) == (40 - 1) + (40 - 2) + (40 - 3) and scores.min() >= 0.0 and scores.max() <= 1.0 + 1e-12
    best = int(np.argmax(scores))
    assert (first[best], last[best]) == (17, 19) and scores[best] == pytest.approx(1.0, abs=1e-9)
    # brute force: normalise each clip, mean, normalise, cosine, clip at 0 (negative cosines exist here)
    unit = lambda v: v / np.linalg.norm(v)
    t64 = target.astype(np.float64)
    raw = np.array([unit(np.mean([unit(c) for c in t64[a : b + 1]], 0)) @ q for a, b in zip(first, last)])
    assert (raw < 0).any()
    np.testing.assert_allclose(scores, np.clip(raw, 0, 1), atol=1e-9)


def test_query_embedding_is_the_normalised_mean_of_normalised_clips():
    rng = np.random.default_rng(1)
    x = clips(rng, 5).astype(np.float64)
    x[2] *= 100.0  # a loud clip weighs no more than the others
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    expected = unit.mean(0) / np.linalg.norm(unit.mean(0))
    np.testing.assert_allclose(query_embedding(x), expected, atol=1e-9)
    assert np.linalg.norm(query_embedding(x)) == pytest.approx(1.0)


def test_trim_drops_the_rest_at_both_ends_only():
    rng = np.random.default_rng(2)
    rest = rng.normal(0, 1, D)
    sign = clips(rng, 3)
    at_rest = lambda k: rest + rng.normal(0, 0.1, (k, D))  # rest clips: cos ~0.99 to each other
    example = np.vstack([at_rest(2), sign[:1], at_rest(1), sign[1:], at_rest(2)])  # a hold like rest inside
    np.testing.assert_allclose(query_embedding(example, trim=0.1), embed(example[2:6]), atol=1e-12)
    assert query_embedding(example) @ embed(sign) < 0.7  # untrimmed, the rest dominates
    np.testing.assert_array_equal(query_embedding(example, trim=0.0), embed(example))
    np.testing.assert_array_equal(query_embedding(example[:2], trim=0.5), embed(example[:2]))  # only ends
    all_rest = at_rest(5)
    np.testing.assert_array_equal(query_embedding(all_rest, trim=0.1), embed(all_rest))  # never empty


def test_widths_are_cut_to_short_targets_and_bad_input_raises():
    rng = np.random.default_rng(3)
    emb, first, last = window_embeddings(clips(rng, 2), (2, 3, 4))
    assert first.tolist() == [0] and last.tolist() == [1]  # 3 and 4 cut to 2, counted once
    emb, first, last = window_embeddings(np.zeros((0, D)), (2, 3))
    assert emb.shape == (0, D) and len(first) == 0
    with pytest.raises(ValueError):
        window_scores(clips(rng, 5), np.ones(D + 1), (2,))
    with pytest.raises(ValueError):
        window_embeddings(clips(rng, 5), (0, 2))


# -- match_many -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("spec", "ms"), [(FACT_SHEET, (17 * 320, 20 * 320 - 40)), (CENTRED, (2640, 3080))])
def test_pasted_query_is_found_exactly_at_its_clips_in_ms(spec, ms):
    query, target = scene()
    other = clips(np.random.default_rng(9), 3)
    out = match_many({"q0": other, "q1": query}, {"t": target}, spec, threshold=0.6)
    assert out["t"] == [[1, ms[0], ms[1], pytest.approx(1.0, abs=1e-9)]]
    # by ClipSpec itself: clips 17..19 -> frames -> ms
    assert tuple(ms) == spec.clip_to_ms(17, 19)


def test_hits_are_clamped_to_the_target_frames_and_sorted_by_start():
    rng = np.random.default_rng(4)
    query, target = clips(rng, 3), clips(rng, 40)
    target[37:40] = query  # the last clips: clip 39 = frames 312..319, but the video has 315 frames
    target[5:8] = query
    out = match_many({"q": query}, {"t": target}, FACT_SHEET, threshold=0.9, frames={"t": 315})
    assert [r[:3] for r in out["t"]] == [[0, 40 * 40, 40 * 63], [0, 40 * 296, 40 * 314]]
    unclamped = match_many({"q": query}, {"t": target}, FACT_SHEET, threshold=0.9)
    assert unclamped["t"][1][2] == 40 * 319


def test_threshold_nms_and_max_hits_filter():
    query, target = scene()
    loose = match_many({"q": query}, {"t": target}, FACT_SHEET, threshold=0.3, nms_iou=1.0)
    frames = [(s // 40, e // 40) for _, s, e, _ in loose["t"]]
    assert len(loose["t"]) >= 3 and all(r[3] >= 0.3 for r in loose["t"])
    assert any(iou(a, b) > 0.3 for i, a in enumerate(frames) for b in frames[i + 1 :])  # nested windows
    kept = match_many({"q": query}, {"t": target}, FACT_SHEET, threshold=0.3, nms_iou=0.3)["t"]
    frames = [(s // 40, e // 40) for _, s, e, _ in kept]
    assert 1 <= len(kept) < len(loose["t"]) and all(r[3] >= 0.3 for r in kept)
    assert all(iou(a, b) <= 0.3 for i, a in enumerate(frames) for b in frames[i + 1 :])
    assert max(kept, key=lambda r: r[3])[1:3] == [17 * 320, 20 * 320 - 40]
    assert match_many({"q": query}, {"t": target}, FACT_SHEET, threshold=1.0 + 1e-6)["t"] == []
    top = match_many({"q": query}, {"t": target}, FACT_SHEET, threshold=0.3, max_hits=1)["t"]
    assert [r[1:3] for r in top] == [[17 * 320, 20 * 320 - 40]]


# -- test-time transfer ---------------------------------------------------------------------------------


def transfer_scene(seed: int = 5, copies: int = 4):
    """A sign, a noisy example of it (the query), ``copies`` noisy copies pasted in targets, one more in a
    probe target; every clip's noise is as large as the sign itself."""
    rng = np.random.default_rng(seed)
    sign = clips(rng, 3)
    noisy = lambda: sign + clips(rng, 3)
    targets = {}
    for i in range(copies):
        t = clips(rng, 30)
        t[10 + i : 13 + i] = noisy()
        targets[f"t{i}"] = t
    probe = clips(rng, 30)
    probe[20:23] = noisy()
    return sign, noisy(), targets, probe


def test_transfer_moves_the_query_towards_the_targets_copies():
    sign, example, targets, probe = transfer_scene()
    q = query_embedding(example)
    pool = np.vstack([window_embeddings(t, (3,))[0] for t in targets.values()])
    np.testing.assert_array_equal(transfer(pool, q, 0), q)
    moved = transfer(pool, q, 4)
    assert np.linalg.norm(moved) == pytest.approx(1.0)
    assert moved @ embed(sign) > q @ embed(sign) + 0.1
    assert moved @ embed(sign) > transfer(pool, q, 1) @ embed(sign) + 0.05  # k copies: k more examples
    before, first, _ = window_scores(probe, q, (3,))
    after, _, _ = window_scores(probe, moved, (3,))
    assert first[np.argmax(after)] == 20 and after[20] > before[20] + 0.1  # the probe copy's score rises


def test_match_many_transfer_raises_the_score_of_a_held_out_copy():
    _, example, targets, probe = transfer_scene()
    targets = {**targets, "probe": probe}
    kw = dict(clips=FACT_SHEET, threshold=0.3, widths=(3,))
    plain = match_many({"q": example}, targets, **kw)["probe"]
    moved = match_many({"q": example}, targets, transfer_k=4, **kw)["probe"]
    at = [20 * 320, 23 * 320 - 40]
    score_of = lambda rows: max(r[3] for r in rows if r[1:3] == at)
    assert score_of(moved) > score_of(plain) + 0.1


# -- random-window baseline -----------------------------------------------------------------------------


def test_random_windows_are_deterministic_in_range_and_inside_targets():
    targets = {f"v{i}": 100 + 13 * i for i in range(20)} | {"empty": 0, "tiny": 3}
    a = random_windows(targets, n_queries=7, fps=25.0, seed=3, per_target=4)
    assert a == random_windows(targets, n_queries=7, fps=25.0, seed=3, per_target=4)
    assert a != random_windows(targets, n_queries=7, fps=25.0, seed=4, per_target=4)
    reordered = random_windows(dict(reversed(list(targets.items()))), n_queries=7, fps=25.0, seed=3, per_target=4)
    assert reordered == a  # each target's guesses depend on the seed and its id only
    assert a["empty"] == []
    assert {r[0] for rows in a.values() for r in rows} == set(range(7))  # every class drawn, none out of range
    for tid, rows in a.items():
        if tid == "empty":
            continue
        last_ms = int(frame_to_ms(targets[tid] - 1, 25.0))
        assert len(rows) == 4 and rows == sorted(rows, key=lambda r: (r[1], r[0], r[2]))
        for cls, start, end, s in rows:
            assert 0 <= cls < 7 and s == 0.5 and 0 <= start <= end <= last_ms
            assert start % 40 == 0 and end % 40 == 0
            if tid != "tiny":
                assert 300 - 40 <= end - start + 40 <= 800 + 40  # frames, rounded from 300..800 ms


def test_random_windows_score_near_zero_against_one_sign_per_target():
    rng = np.random.default_rng(0)
    n_frames, n_classes = 250, 10  # 10 s targets, 10 query signs
    gt = {}
    for i in range(50):
        start = int(rng.integers(0, n_frames - 15)) * 40
        gt[f"v{i}"] = [[int(rng.integers(0, n_classes)), start, start + 480]]
    pred = random_windows(dict.fromkeys(gt, n_frames), n_queries=n_classes, fps=25.0, seed=1)
    assert score(gt, pred)["f1"] < 0.2
