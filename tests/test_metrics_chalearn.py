"""Golden tests of the official ChaLearn F1 (numbers worked out by hand in the comments) plus a randomised
comparison with a plain loop port of the organisers' ``extract_performances``."""

from __future__ import annotations

import time

import numpy as np
import pytest

from benchmark.errors import DataError
from benchmark.metrics.chalearn import THRESHOLDS, calculate_metrics, score, score_strict

T = 13  # thresholds


def f1_of(tp, fp, fn):
    """The organisers' calculate_metrics, written out (the expected numbers below use it)."""
    if tp == 0:
        return 0.0
    p, r = tp / (tp + fp), tp / (tp + fn)
    return (2 * (p * r)) / (p + r)


def counts(result):
    return result["tp"], result["fp"], result["fn"]


# -- thresholds -------------------------------------------------------------------------------------------


def test_thresholds_are_numpys_arange_values():
    assert [repr(float(t)) for t in THRESHOLDS] == [
        "0.2",
        "0.25",
        "0.3",
        "0.35",
        "0.39999999999999997",
        "0.44999999999999996",
        "0.49999999999999994",
        "0.5499999999999999",
        "0.5999999999999999",
        "0.6499999999999999",
        "0.7",
        "0.7499999999999998",
        "0.7999999999999998",
    ]
    assert np.array_equal(THRESHOLDS, np.arange(0.2, 0.8 + 0.05 - 1e-4, 0.05))


# -- the organisers' own example ------------------------------------------------------------------------------

# evaluation_utils.py's __main__: 25 signs (classes 20, 70, 64, 71, 36) against a permutation of themselves.
ORGANISERS_GT = [
    [20, 3800, 4680],
    [70, 13400, 13960],
    [20, 14680, 15360],
    [20, 15400, 16000],
    [20, 31760, 32520],
    [70, 39160, 39840],
    [20, 41760, 42600],
    [70, 51720, 52200],
    [20, 53120, 53880],
    [20, 53880, 54280],
    [20, 61160, 61960],
    [20, 64640, 65440],
    [70, 67440, 68280],
    [64, 68920, 69520],
    [20, 70600, 71280],
    [20, 73800, 74360],
    [20, 80080, 80760],
    [20, 88360, 88800],
    [20, 94480, 95120],
    [20, 101360, 102080],
    [20, 106960, 107680],
    [20, 109000, 109640],
    [71, 111920, 112240],
    [36, 115000, 115760],
    [20, 127840, 128560],
]
ORGANISERS_PERMUTATION = [0, 1, 7, 3, 22, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 2, 4, 19, 20, 21, 23, 24]


def test_organisers_example_single_threshold():
    assert sorted(ORGANISERS_PERMUTATION) == list(range(25))
    gt = {"v": ORGANISERS_GT}
    pred = {"v": [ORGANISERS_GT[i] for i in ORGANISERS_PERMUTATION]}
    # every sign is its own prediction (IoU 1); [20,53120,53880] then [20,53880,54280]: end == next start,
    # so nothing is dropped (the filter drops only end > next start) -> 25 TP, 0 FP, 0 FN
    assert counts(score(gt, pred, thresholds=[0.5])) == (25, 0, 0)


def test_organisers_example_all_thresholds():
    gt = {"v": ORGANISERS_GT}
    pred = {"v": [ORGANISERS_GT[i] for i in ORGANISERS_PERMUTATION]}
    r = score(gt, pred)
    assert counts(r) == (25 * T, 0, 0)  # 325
    assert (r["f1"], r["precision"], r["recall"]) == (1.0, 1.0, 1.0)
    assert all(r[f"f1_iou_{k}"] == 1.0 for k in r["per_threshold"])
    assert list(r["per_threshold"]) == [f"{0.2 + 0.05 * i:.2f}" for i in range(T)]
    assert r["per_class"][20]["tp"] == 18 * T and r["per_class"][70]["tp"] == 4 * T
    assert r["per_class"][36] == {"tp": T, "fp": 0, "fn": 0, "precision": 1.0, "recall": 1.0, "f1": 1.0}


# -- empty inputs -------------------------------------------------------------------------------------------


def test_empty_ground_truth():
    # no video in the ground truth: every prediction is ignored -> 0/0/0, all metrics 0
    r = score({}, {"v": [[1, 0, 400]]})
    assert counts(r) == (0, 0, 0) and r["f1"] == r["precision"] == r["recall"] == 0.0
    assert r["num_ignored_predictions"] == 1
    # a video with no signs: its 2 predictions are FP at each of 13 thresholds -> FP 26
    r = score({"v": []}, {"v": [[1, 0, 400], [2, 0, 400]]})
    assert counts(r) == (0, 26, 0) and r["f1"] == 0.0


def test_empty_predictions():
    gt = {"v": [[1, 0, 400], [2, 1000, 1400]]}
    for pred in ({}, {"v": []}):
        r = score(gt, pred)
        assert counts(r) == (0, 0, 2 * T) and r["f1"] == 0.0  # FN 26
        assert r["per_threshold"]["0.50"] == {"tp": 0, "fp": 0, "fn": 2, "precision": 0.0, "recall": 0.0, "f1": 0.0}


# -- quirks -----------------------------------------------------------------------------------------------


def test_prediction_spanning_two_signs_counts_twice_and_fp_goes_negative():
    gt = {"v": [[3, 0, 400], [3, 400, 800]]}
    pred = {"v": [[3, 0, 800]]}
    # IoU with each sign = 400 / 800 = 0.5 >= the 7 thresholds 0.2 .. 0.49999999999999994
    # at those: TP 2, FP 1 - 2 = -1, FN 0; at the 6 others: TP 0, FP 1, FN 2
    r = score(gt, pred)
    assert counts(r) == (14, -7 + 6, 12)
    assert r["precision"] == 14 / 13 and r["recall"] == 14 / 26
    assert r["f1"] == f1_of(14, -1, 12)  # = 0.7
    assert r["per_threshold"]["0.50"]["tp"] == 2 and r["per_threshold"]["0.50"]["fp"] == -1
    assert r["per_threshold"]["0.50"]["precision"] == 2.0  # 2 / (2 - 1): the organisers' arithmetic
    assert r["per_threshold"]["0.55"] == {"tp": 0, "fp": 1, "fn": 2, "precision": 0.0, "recall": 0.0, "f1": 0.0}
    # strict: the prediction matches one sign only (tie on IoU: the first sign) -> TP 7, FP 6, FN 19
    s = score_strict(gt, pred)
    assert counts(s) == (7, 6, 19) and s["f1"] == f1_of(7, 6, 19)


def test_same_class_overlapping_predictions_drop_the_earlier_one():
    gt = {"v": [[5, 1000, 2000]]}
    # sorted by start: the perfect one is followed by a same-class prediction starting at 1500 < its end
    # 2000, so the perfect one is dropped; the kept one has IoU 500 / 1500 = 1/3 -> TP at 0.2, 0.25, 0.3
    r = score(gt, {"v": [[5, 1500, 2500], [5, 1000, 2000]]})
    assert counts(r) == (3, 2 * T - 3, T - 3)  # FP counts both predictions: 23
    assert r["f1"] == f1_of(3, 23, 10) == pytest.approx(2 / 13)
    # strict matching has no such filter: the perfect prediction matches at every threshold
    assert counts(score_strict(gt, {"v": [[5, 1500, 2500], [5, 1000, 2000]]})) == (T, T, 0)
    # touching (end == next start) is not an overlap: nothing dropped
    assert counts(score(gt, {"v": [[5, 1000, 2000], [5, 2000, 2500]]})) == (T, T, 0)
    # a different class may overlap freely
    assert counts(score(gt, {"v": [[5, 1000, 2000], [6, 1500, 2500]]})) == (T, T, 0)
    # only the NEXT one matters: [5,1000,2000], [6,1200,1300], [5,1500,2500] keeps the perfect one
    assert counts(score(gt, {"v": [[5, 1000, 2000], [6, 1200, 1300], [5, 1500, 2500]]})) == (T, 2 * T, 0)


def test_missing_video_and_unknown_video():
    gt = {"a": [[1, 0, 400]], "b": [[2, 0, 400]]}
    pred = {"a": [[1, 0, 400]], "c": [[2, 0, 400]]}  # b missing (all FN), c not in the ground truth (ignored)
    r = score(gt, pred)
    assert counts(r) == (T, 0, T) and r["f1"] == f1_of(13, 0, 13) == pytest.approx(2 / 3)
    assert r["num_ignored_predictions"] == 1 and r["num_videos"] == 2
    assert r["per_class"][1]["tp"] == T and r["per_class"][2] == {
        "tp": 0,
        "fp": 0,
        "fn": T,
        "precision": 0.0,
        "recall": 0.0,
        "f1": 0.0,
    }


def test_wrong_class_never_matches():
    r = score({"v": [[1, 0, 400]]}, {"v": [[2, 0, 400]]})
    assert counts(r) == (0, T, T)
    assert r["per_class"][2]["fp"] == T and r["per_class"][1]["fn"] == T


def test_tied_starts_follow_numpys_default_argsort():
    # A = [7, 0, 1000] and B = [7, 0, 400] start together; the ground truth is [7, 0, 400].
    # order A, B: A is dropped (same class, 1000 > 0), B matches with IoU 1 -> TP 13, FP 13, FN 0
    # order B, A: B is dropped (400 > 0), A matches with IoU 0.4 at 0.2 .. 0.39999999999999997 -> TP 5
    pred = [[7, 0, 1000], [7, 0, 400]]
    order = np.argsort(np.array([0, 0]))
    expected = (T, T, 0) if order.tolist() == [0, 1] else (5, 21, 8)
    assert counts(score({"v": [[7, 0, 400]]}, {"v": pred})) == expected


def test_unstable_tie_order_matches_a_loop_port():
    # many tied starts with alternating classes: np.argsort (unstable) may order them unlike a stable sort
    rng = np.random.default_rng(3)
    for trial in range(30):
        n = int(rng.integers(17, 60))
        starts = rng.integers(0, 4, size=n) * 400
        pred = [[int(rng.integers(0, 2)), int(s), int(s + rng.integers(1, 12) * 100)] for s in starts]
        gt = [[int(rng.integers(0, 2)), int(s), int(s + 400)] for s in range(0, 1600, 200)]
        assert counts(score({"v": gt}, {"v": pred})) == reference_counts({"v": gt}, {"v": pred}), trial


# -- threshold boundaries -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "gt_end, n_thresholds",
    [
        (300, 3),  # IoU 0.3 exactly: 0.2, 0.25, 0.3 (0.3 >= 0.3)
        (400, 5),  # IoU 0.4 >= 0.39999999999999997
        (500, 7),  # IoU 0.5 >= 0.49999999999999994
        (600, 9),  # IoU 0.6
        (700, 11),  # IoU 0.7 >= 0.7 (np.linspace would give 0.7000000000000002 and miss it)
        (750, 12),  # IoU 0.75 >= 0.7499999999999998
        (799, 12),  # IoU 0.799 < 0.7999999999999998
        (800, 13),  # IoU 0.8 >= 0.7999999999999998
        (199, 0),  # IoU 0.199 < 0.2
    ],
)
def test_iou_exactly_at_a_threshold_counts(gt_end, n_thresholds):
    r = score({"v": [[1, 0, gt_end]]}, {"v": [[1, 0, 1000]]})
    assert counts(r) == (n_thresholds, T - n_thresholds, T - n_thresholds)


def test_threshold_floats_matter_against_a_naive_list():
    # IoU exactly 0.3 and 0.7: the organisers' np.arange values (0.3, 0.7) count them; thresholds built as
    # np.linspace(0.2, 0.8, 13) are 0.30000000000000004 and 0.7000000000000002 and do not
    gt = {"v": [[1, 0, 300], [2, 2000, 2700]]}
    pred = {"v": [[1, 0, 1000], [2, 2000, 3000]]}
    official = score(gt, pred)["per_threshold"]
    naive = score(gt, pred, thresholds=np.linspace(0.2, 0.8, 13))["per_threshold"]
    assert official["0.30"]["tp"] == 2 and naive["0.30"]["tp"] == 1
    assert official["0.70"]["tp"] == 1 and naive["0.70"]["tp"] == 0


def test_zero_length_segments_never_match_each_other():
    # identical zero-length segments: IoU is 0/0 = NaN in the organisers' code, and NaN >= t is False
    r = score({"v": [[1, 400, 400]]}, {"v": [[1, 400, 400]]})
    assert counts(r) == (0, T, T)
    # a zero-length prediction inside a sign: IoU 0 -> no match
    assert counts(score({"v": [[1, 0, 400]]}, {"v": [[1, 200, 200]]})) == (0, T, T)


# -- per-threshold / per-class consistency -------------------------------------------------------------------


def test_per_threshold_and_per_class_pool_to_the_totals():
    rng = np.random.default_rng(0)
    gt, pred = random_case(rng, videos=6, per_video=15, classes=4)
    r = score(gt, pred)
    pt = r["per_threshold"]
    assert sum(b["tp"] for b in pt.values()) == r["tp"]
    assert sum(b["fp"] for b in pt.values()) == r["fp"]
    assert sum(b["fn"] for b in pt.values()) == r["fn"]
    pc = r["per_class"]
    assert sum(b["tp"] for b in pc.values()) == r["tp"]
    assert sum(b["fp"] for b in pc.values()) == r["fp"]
    assert sum(b["fn"] for b in pc.values()) == r["fn"]
    for key, b in pt.items():
        assert r[f"f1_iou_{key}"] == b["f1"] == f1_of(b["tp"], b["fp"], b["fn"])
    assert r["f1"] == f1_of(r["tp"], r["fp"], r["fn"])


def test_calculate_metrics_zero_tp():
    assert calculate_metrics(0, 5, 5) == (0.0, 0.0, 0.0)
    assert calculate_metrics(3, 1, 0) == (0.75, 1.0, (2 * 0.75) / 1.75)


# -- a loop port of the organisers' extract_performances, for randomised comparison ----------------------------


def reference_counts(gt, pred, thresholds=THRESHOLDS):
    """Per GT video and threshold, step by step as the organisers' evaluate.py / evaluation_utils.py do."""
    tp_all = fp_all = fn_all = 0
    for video in gt:
        g = np.asarray(gt[video])
        p = np.asarray(pred[video]) if video in pred else np.array([])
        for thr in thresholds:
            if g.shape[0] == 0 and p.shape[0] == 0:
                continue
            if g.shape[0] == 0:
                fp_all += p.shape[0]
                continue
            if p.shape[0] == 0:
                fn_all += g.shape[0]
                continue
            ps = p[np.argsort(p[:, 1])]
            keep = [i == len(ps) - 1 or ps[i][0] != ps[i + 1][0] or ps[i][2] <= ps[i + 1][1] for i in range(len(ps))]
            kept = ps[np.array(keep)]
            tp = 0
            for cls, start, end in g:
                hits = 0
                for _, s2, e2 in kept[kept[:, 0] == cls]:
                    with np.errstate(divide="ignore", invalid="ignore"):
                        iou = (min(end, e2) - max(start, s2)) / (max(end, e2) - min(start, s2))
                    iou = 0 if iou < 0 else iou
                    if iou >= thr:
                        hits += 1
                tp += hits > 0
            tp_all += tp
            fn_all += g.shape[0] - tp
            fp_all += p.shape[0] - tp
    return int(tp_all), int(fp_all), int(fn_all)


def reference_strict_counts(gt, pred, thresholds=THRESHOLDS):
    """Greedy one-to-one per threshold: pairs with IoU >= t, highest IoU first (ties: gt, then pred order)."""
    g = [(vi, *row) for vi, v in enumerate(gt) for row in gt[v]]
    p = [(vi, *row) for vi, v in enumerate(gt) for row in pred.get(v, [])]
    tp_all = fp_all = fn_all = 0
    for thr in thresholds:
        cand = []
        for i, (gv, gc, gs, ge) in enumerate(g):
            for j, (pv, pc, ps, pe) in enumerate(p):
                if gv == pv and gc == pc and max(ge, pe) > min(gs, ps):
                    iou = max((min(ge, pe) - max(gs, ps)) / (max(ge, pe) - min(gs, ps)), 0.0)
                    if iou >= thr:
                        cand.append((-iou, i, j))
        used_g, used_p = set(), set()
        for _, i, j in sorted(cand):
            if i not in used_g and j not in used_p:
                used_g.add(i)
                used_p.add(j)
        tp_all += len(used_g)
        fp_all += len(p) - len(used_g)
        fn_all += len(g) - len(used_g)
    return tp_all, fp_all, fn_all


def random_case(rng, videos, per_video, classes, grid=40, extra_videos=1):
    gt, pred = {}, {}
    for v in range(videos):
        rows, t = [], 0
        for _ in range(int(rng.integers(0, per_video + 1))):
            t += int(rng.integers(0, 6)) * grid
            length = int(rng.integers(0, 12)) * grid
            rows.append([int(rng.integers(0, classes)), t, t + length])
            t += length
        gt[f"v{v}"] = rows
        if rng.random() < 0.85:
            prows = []
            for c, s, e in rows:
                if rng.random() < 0.8:
                    c2 = c if rng.random() < 0.8 else int(rng.integers(0, classes))
                    s2 = max(0, s + int(rng.integers(-4, 5)) * grid)
                    prows.append([c2, s2, max(s2, e + int(rng.integers(-4, 5)) * grid)])
            for _ in range(int(rng.integers(0, 4))):  # spurious, possibly overlapping / tied
                s2 = int(rng.integers(0, max(t, 1) // grid + 1)) * grid
                prows.append([int(rng.integers(0, classes)), s2, s2 + int(rng.integers(0, 10)) * grid])
            rng.shuffle(prows)
            pred[f"v{v}"] = prows
    for v in range(extra_videos):
        pred[f"extra{v}"] = [[0, 0, 400]]
    return gt, pred


@pytest.mark.parametrize("seed", range(40))
def test_matches_the_loop_port_on_random_cases(seed):
    rng = np.random.default_rng(seed)
    gt, pred = random_case(rng, videos=int(rng.integers(1, 5)), per_video=12, classes=int(rng.integers(1, 4)))
    r = score(gt, pred)
    ref = reference_counts(gt, pred)
    assert counts(r) == ref
    assert r["f1"] == f1_of(*ref)
    s = score_strict(gt, pred)
    assert counts(s) == reference_strict_counts(gt, pred)
    assert s["tp"] + s["fn"] == r["tp"] + r["fn"] == T * sum(map(len, gt.values()))
    assert s["fp"] >= 0


def test_custom_thresholds_match_the_loop_port():
    rng = np.random.default_rng(11)
    gt, pred = random_case(rng, videos=3, per_video=10, classes=2)
    for thr in ([0.5], [0.1, 0.9], [0.0], [0.0, 0.35]):
        assert counts(score(gt, pred, thresholds=thr)) == reference_counts(gt, pred, thr)
        assert counts(score_strict(gt, pred, thresholds=thr)) == reference_strict_counts(gt, pred, thr)


def test_widening_every_sign_matches_the_loop_port():
    # an MSSL-like ground truth (non-overlapping signs of 80..1640 ms on the 40 ms grid) scored against
    # itself widened by 160 ms on both sides: the organisers' scorer gives well below 1 (REFERENCE.md: ~0.63
    # on the real train set, where this module gives 0.6319279962103269)
    rng = np.random.default_rng(5)
    gt = {}
    for v in range(12):
        rows, t = [], 0
        for _ in range(20):
            t += int(rng.integers(1, 40)) * 40
            length = int(rng.integers(2, 42)) * 40
            rows.append([int(rng.integers(0, 10)), t, t + length])
            t += length
        gt[f"p01_n{v:03d}"] = rows
    assert score(gt, gt)["f1"] == 1.0
    widened = {v: [[c, s - 160, e + 160] for c, s, e in rows] for v, rows in gt.items()}
    r = score(gt, widened)
    assert counts(r) == reference_counts(gt, widened)
    assert 0.5 < r["f1"] < 0.8


# -- inputs ---------------------------------------------------------------------------------------------------


def test_numpy_and_float_inputs_are_accepted():
    gt = {"v": np.array([[1, 0, 400], [2, 400, 800]])}
    pred = {"v": [(np.int64(1), 0.0, 400.0), [2, np.int32(400), 800]]}
    assert counts(score(gt, pred)) == (2 * T, 0, 0)


def test_scored_predictions_give_the_same_result():
    """A 4th element (a decoder's score) is ignored, as the organisers' scorer ignores confidence."""
    for seed in range(10):
        rng = np.random.default_rng(seed)
        gt, pred = random_case(rng, videos=4, per_video=12, classes=3)
        scored = {v: [[*row, float(rng.random())] for row in rows] for v, rows in pred.items()}
        some = {v: [[*row, 0.5] if i % 2 else row for i, row in enumerate(rows)] for v, rows in pred.items()}
        for f in (score, score_strict):
            assert f(gt, scored) == f(gt, pred) == f(gt, some)
    gt = {"v": [[1, 0, 400], [2, 400, 800]]}
    as_arrays = {"v": np.array([[1, 0, 400, 0.9], [2, 400, 800, 0.1]])}
    as_numpy_rows = {"v": [np.array([1, 0, 400, 0.9]), (np.int64(2), 400.0, 800, np.float32(0.1))]}
    assert counts(score(gt, as_arrays)) == counts(score(gt, as_numpy_rows)) == (2 * T, 0, 0)
    with pytest.raises(DataError, match=r"ground truth: video 'v', item 0: expected 3 numbers"):
        score({"v": [[1, 0, 400, 0.9]]}, {})  # the ground truth has no scores
    with pytest.raises(DataError, match=r"predictions: video 'v', item 0: expected 3 numbers .* got 5"):
        score(gt, {"v": [[1, 0, 400, 0.9, 1]]})


def test_malformed_inputs_name_the_video():
    with pytest.raises(DataError, match=r"predictions: video 'v', item 0: end_ms 0 is before start_ms 400"):
        score({"v": [[1, 0, 400]]}, {"v": [[1, 400, 0]]})
    with pytest.raises(DataError, match=r"ground truth: video 'v', item 1, start_ms"):
        score({"v": [[1, 0, 400], [1, 0.5, 400]]}, {})
    with pytest.raises(DataError, match=r"ground truth: expected a dict"):
        score([[1, 0, 400]], {})


def test_real_sized_input_scores_fast():
    # about 100 hours of video: 1,500 videos x 67 signs = 100,500 signs, ~80,000 predictions
    rng = np.random.default_rng(0)
    gt, pred = {}, {}
    for v in range(1500):
        starts = np.cumsum(rng.integers(0, 50, 67) * 40 + rng.integers(2, 41, 67) * 40)
        lengths = rng.integers(2, 41, 67) * 40
        cls = rng.integers(0, 60, 67)
        gt[f"v{v}"] = [[int(c), int(s), int(s + n)] for c, s, n in zip(cls, starts, lengths)]
        keep = rng.random(67) < 0.8
        jitter = rng.integers(-5, 6, (67, 2)) * 40
        pred[f"v{v}"] = [
            [int(c), int(s + a), int(max(s + a, s + n + b))]
            for c, s, n, (a, b), k in zip(cls, starts, lengths, jitter, keep)
            if k
        ]
    elapsed = float("inf")
    for _ in range(3):  # best of 3, CPU time of this process: the test machine is shared
        t0 = time.process_time()
        r = score(gt, pred)
        elapsed = min(elapsed, time.process_time() - t0)
    assert r["tp"] > 0
    assert elapsed < 1.0, f"scoring 100k signs took {elapsed:.2f} s"
