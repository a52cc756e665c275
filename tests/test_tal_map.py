"""tal-map: a hand-worked example, a loop port of the ActivityNet toolkit's ``compute_average_precision_detection``
on random cases, tie orders, unscored segments, inputs, and the plugin."""

from __future__ import annotations

import time

import numpy as np
import pytest

from benchmark.errors import DataError
from benchmark.metrics.tal_map import NO_SCORES, THRESHOLDS, average_precision, tal_map
from benchmark.plugins import get_plugin_manager

KEYS = ["map@0.3", "map@0.4", "map@0.5", "map@0.6", "map@0.7"]


# -- the toolkit, as loops ------------------------------------------------------------------------------------


def loop_tiou(s1, e1, s2, e2) -> float:
    """The toolkit's ``segment_iou`` on one pair (0 for 0/0, see the module docstring)."""
    inter = max(min(e1, e2) - max(s1, s2), 0)
    union = (e1 - s1) + (e2 - s2) - inter
    return inter / union if union > 0 else 0.0


def loop_ap(tp: list[int], npos: int) -> float:
    """``interpolated_prec_rec`` of the toolkit."""
    if not tp:
        return 0.0
    tp_sum = fp_sum = 0
    prec, rec = [], []
    for hit in tp:
        tp_sum += hit
        fp_sum += 1 - hit
        prec.append(tp_sum / (tp_sum + fp_sum))
        rec.append(tp_sum / npos)
    mprec, mrec = [0.0, *prec, 0.0], [0.0, *rec, 1.0]
    for i in range(len(mprec) - 2, -1, -1):
        mprec[i] = max(mprec[i], mprec[i + 1])
    return sum((mrec[i] - mrec[i - 1]) * mprec[i] for i in range(1, len(mrec)) if mrec[i] != mrec[i - 1])


def loop_map(gt, pred, thresholds=THRESHOLDS) -> dict[str, float]:
    """Per class with ground truth: predictions by score (stable), each tries the ground truths of its video
    by decreasing tIoU (stable), skips taken ones, stops at the first below the threshold."""
    classes = sorted({row[0] for rows in gt.values() for row in rows})
    ap = np.zeros((len(classes), len(thresholds)))
    for ci, cls in enumerate(classes):
        g = [(v, s, e) for v in gt for c, s, e in gt[v] if c == cls]
        p = sorted(((v, s, e, sc) for v in gt for c, s, e, sc in pred.get(v, []) if c == cls), key=lambda x: -x[3])
        for ti, thr in enumerate(thresholds):
            taken = [False] * len(g)
            tp = []
            for v, s, e, _ in p:
                mine = [j for j, (gv, _, _) in enumerate(g) if gv == v]
                tious = [loop_tiou(s, e, g[j][1], g[j][2]) for j in mine]
                hit = 0
                for q in sorted(range(len(mine)), key=lambda q: -tious[q]):
                    if tious[q] < thr:
                        break
                    if taken[mine[q]]:
                        continue
                    taken[mine[q]] = True
                    hit = 1
                    break
                tp.append(hit)
            ap[ci, ti] = loop_ap(tp, len(g))
    per_t = ap.mean(axis=0) if classes else np.zeros(len(thresholds))
    return {"map": float(per_t.mean()), **{f"map@{t:g}": float(v) for t, v in zip(thresholds, per_t)}}


def random_case(rng, videos=4, classes=3, grid=40):
    gt, pred = {}, {}
    for v in range(videos):
        rows, t = [], 0
        for _ in range(int(rng.integers(0, 10))):
            t += int(rng.integers(0, 8)) * grid
            n = int(rng.integers(1, 15)) * grid
            rows.append([int(rng.integers(0, classes)), t, t + n])
            t += n
        gt[f"v{v}"] = rows
        prows = []
        for c, s, e in rows:
            for _ in range(int(rng.integers(0, 3))):  # duplicates and misses
                s2 = max(0, s + int(rng.integers(-5, 6)) * grid)
                e2 = max(s2, e + int(rng.integers(-5, 6)) * grid)
                c2 = c if rng.random() < 0.85 else int(rng.integers(0, classes + 1))
                prows.append([c2, s2, e2, float(np.round(rng.random(), 1 if rng.random() < 0.3 else 6))])
        for _ in range(int(rng.integers(0, 4))):  # spurious
            s2 = int(rng.integers(0, max(t, 1) // grid + 1)) * grid
            prows.append([int(rng.integers(0, classes)), s2, s2 + int(rng.integers(0, 12)) * grid, float(rng.random())])
        rng.shuffle(prows)
        if rng.random() < 0.9:
            pred[f"v{v}"] = prows
    pred["not-in-gt"] = [[0, 0, 400, 1.0]]
    return gt, pred


@pytest.mark.parametrize("seed", range(30))
def test_matches_the_loop_port_on_random_cases(seed):
    rng = np.random.default_rng(seed)
    gt, pred = random_case(rng, videos=int(rng.integers(1, 6)), classes=int(rng.integers(1, 5)))
    got = tal_map(gt, pred)
    want = loop_map(gt, pred)
    assert {k: got[k] for k in want} == pytest.approx(want, abs=1e-12)
    assert got["num_ignored_predictions"] == 1


# -- by hand --------------------------------------------------------------------------------------------------

GT = {
    "v1": [[0, 0, 1000], [0, 2000, 3000], [1, 0, 1000]],
    "v2": [[0, 0, 1000], [2, 5000, 6000]],  # class 2: ground truth, no prediction -> AP 0
}
PRED = {
    "v1": [
        [0, 0, 1000, 0.9],  # TP (tIoU 1)
        [0, 100, 1000, 0.8],  # its best ground truth (tIoU 0.9) is taken, the next has tIoU 0 -> FP
        [0, 2000, 2600, 0.6],  # tIoU 0.6: TP at 0.3 .. 0.6
        [1, 0, 500, 0.5],  # tIoU 0.5: TP at 0.3 .. 0.5
        [3, 0, 1000, 0.99],  # class 3 has no ground truth: ignored
    ],
    "v2": [[0, 0, 400, 0.7]],  # tIoU 0.4: TP at 0.3, 0.4
    "v9": [[0, 0, 1000, 0.95]],  # not in the ground truth: ignored
}


def test_hand_worked_example():
    # class 0 (3 signs), by score: 0.9 T, 0.8 F, 0.7 T@<=0.4, 0.6 T@<=0.6
    #   t 0.3, 0.4: TP 1 0 1 1: precision 1 .5 .67 .75, recall 1/3 1/3 2/3 1; envelope 1 1 .75 .75
    #               AP = 1/3 * 1 + 1/3 * .75 + 1/3 * .75 = 5/6
    #   t 0.5, 0.6: TP 1 0 0 1: precision 1 .5 .33 .5, recall 1/3 1/3 1/3 2/3 -> AP = 1/3 + 1/3 * .5 = 1/2
    #   t 0.7:      TP 1 0 0 0 -> AP = 1/3
    # class 1: AP 1 at 0.3 .. 0.5, else 0; class 2: AP 0
    r = tal_map(GT, PRED)
    expected = [(5 / 6 + 1) / 3, (5 / 6 + 1) / 3, (1 / 2 + 1) / 3, (1 / 2) / 3, (1 / 3) / 3]
    assert [r[k] for k in KEYS] == pytest.approx(expected)
    assert r["map"] == pytest.approx(0.4)  # (11 + 11 + 9 + 3 + 2) / 18 / 5
    assert r["per_class_ap"][0]["map@0.5"] == pytest.approx(0.5) and r["per_class_ap"][2]["map"] == 0.0
    assert sorted(r["per_class_ap"]) == [0, 1, 2]
    assert (r["num_classes"], r["num_ground_truth"], r["num_predictions"], r["num_ignored_predictions"]) == (3, 5, 6, 1)
    assert r["thresholds"] == [0.3, 0.4, 0.5, 0.6, 0.7]
    assert {k: r[k] for k in ["map", *KEYS]} == pytest.approx(loop_map(GT, PRED))


def test_a_prediction_takes_its_highest_tiou_free_ground_truth():
    gt = {"v": [[0, 0, 1000], [0, 1000, 2000]]}
    # P1 overlaps both (tIoU 0.25 and 2/3) and takes the second; P2 (tIoU 1 with the second) finds it taken,
    # and the first (tIoU 0) is below every threshold: FP.  At 0.3 .. 0.6: TP, FP -> AP = 1/2 (recall 1/2);
    # at 0.7 P1 is a FP and P2 takes the second: FP, TP -> precision 1/2 at recall 1/2 -> AP 1/4
    r = tal_map(gt, {"v": [[0, 500, 2000, 0.9], [0, 1000, 2000, 0.8]]})
    assert [r[k] for k in KEYS] == pytest.approx([0.5, 0.5, 0.5, 0.5, 0.25])
    # scored the other way round, P2 takes the second and P1 has only the first (0.25 < 0.3): the same AP
    r = tal_map(gt, {"v": [[0, 500, 2000, 0.8], [0, 1000, 2000, 0.9]]})
    assert r["map@0.7"] == 0.5


def test_ties_keep_the_input_order():
    gt = {"v": [[0, 0, 1000]]}
    hit, miss = [0, 0, 1000, 0.5], [0, 3000, 4000, 0.5]
    assert tal_map(gt, {"v": [hit, miss]})["map"] == 1.0  # TP first: precision 1 at recall 1
    assert tal_map(gt, {"v": [miss, hit]})["map"] == 0.5  # FP first: precision 1/2 at recall 1
    # equal tIoU (1/3 with both signs): the sign listed first is taken, so the exact match of that sign that
    # follows is a FP: TP, FP -> AP 1/2 at 0.3 (taking the second sign would give TP, TP -> 1)
    gt2 = {"v": [[0, 0, 1000], [0, 1000, 2000]]}
    assert tal_map(gt2, {"v": [[0, 500, 1500, 0.9], [0, 0, 1000, 0.8]]})["map@0.3"] == 0.5
    assert tal_map(gt2, {"v": [[0, 500, 1500, 0.9], [0, 1000, 2000, 0.8]]})["map@0.3"] == 1.0


def test_perfect_and_empty_predictions():
    gt = {"a": [[0, 0, 400], [1, 1000, 1400]], "b": [[0, 200, 600]]}
    perfect = {v: [[*row, 1.0] for row in rows] for v, rows in gt.items()}
    assert {k: tal_map(gt, perfect)[k] for k in ["map", *KEYS]} == dict.fromkeys(["map", *KEYS], 1.0)
    assert tal_map(gt, {})["map"] == 0.0
    assert tal_map({}, {"a": [[0, 0, 400, 1.0]]})["map"] == 0.0  # no class has ground truth
    # zero-length segments at the same time do not match (the toolkit's 0/0)
    assert tal_map({"v": [[0, 400, 400]]}, {"v": [[0, 400, 400, 1.0]]})["map"] == 0.0


def test_average_precision_is_the_interpolated_area():
    assert average_precision(np.array([True, False, True]), 2) == pytest.approx(1 * 0.5 + 2 / 3 * 0.5)
    assert average_precision(np.array([False, True]), 1) == 0.5
    assert average_precision(np.zeros(0, bool), 3) == 0.0


# -- inputs ---------------------------------------------------------------------------------------------------


def test_unscored_segments_give_a_note_not_numbers():
    r = tal_map(GT, {"v1": [[0, 0, 1000]]})
    assert r == {"note": NO_SCORES} and NO_SCORES == "decoder gave no scores: tal-map needs scored segments"
    assert tal_map(GT, {"v1": [[0, 0, 1000, 0.5], [0, 2000, 3000]]}) == {"note": NO_SCORES}  # any one
    assert tal_map(GT, {"zzz": [(0, 0, 1000)]}) == {"note": NO_SCORES}  # even in a video not scored


def test_numpy_inputs_and_bad_scores():
    gt = {"v": np.array([[0, 0, 1000]])}
    assert tal_map(gt, {"v": np.array([[0, 0, 1000, 0.7]])})["map"] == 1.0
    assert tal_map(gt, {"v": [(np.int64(0), 0.0, 1000.0, np.float32(0.7))]})["map"] == 1.0
    for bad in (float("nan"), "high", None):
        with pytest.raises(DataError, match=r"predictions: video 'v', item 0: the score must be a finite number"):
            tal_map(gt, {"v": [[0, 0, 1000, bad]]})
    with pytest.raises(DataError, match=r"predictions: video 'v', item 0: end_ms 0 is before start_ms 1000"):
        tal_map(gt, {"v": [[0, 1000, 0, 0.5]]})
    with pytest.raises(DataError, match="must be dicts"):
        tal_map([], {})


def test_plugin_computes_tal_map_on_decoder_output():
    from benchmark.engine.clips import ClipSpec
    from spotters.decoders.vote import VoteDecoder

    metric = get_plugin_manager().components("metric").get("tal-map")
    assert metric.name == "tal-map"
    probs = np.full((6, 3), 0.1)
    probs[[0, 4, 5], 0] = 0.8
    probs[1:4, 1] = [0.8, 0.7, 0.6]
    decoder = VoteDecoder()
    segments = decoder.decode(probs, np.zeros((6, 2)), ClipSpec(8, 8), decoder.with_defaults({}), n_frames=48)
    assert segments == [[0, 320, 1240, pytest.approx(0.7)]]  # clips 1..3: frames 8..31, mean probability 0.7
    assert metric.compute({"v": [[0, 320, 1240]]}, {"v": segments})["map"] == 1.0


def test_real_sized_input_scores_fast():
    # 80 videos x 600 scored segments (soft-nms's default of 10 per class and 60 classes) against 20 signs each
    rng = np.random.default_rng(0)
    gt, pred = {}, {}
    for v in range(80):
        starts = np.cumsum(rng.integers(10, 60, 20)) * 40
        cls = rng.integers(0, 60, 20)
        gt[f"v{v}"] = [[int(c), int(s), int(s + 480)] for c, s in zip(cls, starts)]
        s2 = rng.integers(0, int(starts[-1]) // 40, 600) * 40
        c2 = np.where(rng.random(600) < 0.05, np.resize(cls, 600), rng.integers(0, 60, 600))
        pred[f"v{v}"] = [[int(c), int(s), int(s + 480), float(p)] for c, s, p in zip(c2, s2, rng.random(600))]
    elapsed = float("inf")
    for _ in range(3):  # best of 3, CPU time of this process: the test machine is shared
        t0 = time.process_time()
        r = tal_map(gt, pred)
        elapsed = min(elapsed, time.process_time() - t0)
    assert 0 < r["map"] < 1
    assert elapsed < 1.0, f"tal-map of 48,000 segments took {elapsed:.2f} s"
