"""Decoders (vote vs a loop statement of the algorithm, argmax, segments-nms; soft-nms has its own file), their
scores, post-filters, the clip -> ms mapping, challenge outputs and the decode throughput check."""

import pickle

import numpy as np
import pytest

from benchmark.config.registry import ComponentRegistry
from benchmark.engine.clips import ClipSpec, segments_from_clip_labels
from benchmark.interfaces import SHARED_DECODER_SETTINGS
from benchmark.reports.tables import per_class_table
from benchmark.reports.timelines import timeline_plot
from benchmark.storage.safe_pickle import dump_annotations, load_annotations
from spotters.decoders.argmax import ArgmaxDecoder
from spotters.decoders.filters import apply_filters, continuous_to_frames, run_segments, to_ms
from spotters.decoders.plugin import DECODER_CLASSES, register_decoders
from spotters.decoders.segments import SegmentsNMSDecoder, nms_1d
from spotters.decoders.soft_nms import SoftNMSDecoder
from spotters.decoders.vote import VoteDecoder, vote_labels


def merged(decoder, **settings) -> dict:
    """``settings`` over the decoder's declared defaults, as the core hands them to ``decode``."""
    return decoder.with_defaults(settings)


def vote_loop(probs, offsets):
    """REFERENCE.md "Decoding (vote)", stated directly with loops."""
    n, c = probs.shape
    vote = np.zeros((n, c), dtype=int)
    for t in range(n):
        k = int(np.argmax(probs[t]))
        if k == 0:
            continue
        s, e = round(max(float(offsets[t, 0]), 0.0)), round(max(float(offsets[t, 1]), 0.0))
        for u in range(max(t - s, 0), min(t + e, n - 1) + 1):
            vote[u, k] += 1
    return np.array([int(np.argmax(vote[u])) if vote[u].max() > 0 else 0 for u in range(n)], dtype=np.int64)


def random_video(rng, n_max=50):
    n = int(rng.integers(0, n_max))
    c = int(rng.integers(2, 8))
    probs = rng.random((n, c))
    probs[:, 0] *= rng.random() * 3  # from mostly foreground to mostly background
    offsets = rng.random((n, 2)) * int(rng.integers(0, 10))
    offsets[rng.random((n, 2)) < 0.05] = 1.5  # exact halves: rounding ties
    return probs / probs.sum(1, keepdims=True) if n else probs, offsets


def segments_only(rows):
    """Scored rows ``[class, start_ms, end_ms, score]`` -> the challenge's ``[class, start_ms, end_ms]``."""
    return [row[:3] for row in rows]


def test_plugin_registers_four_decoders():
    reg = ComponentRegistry("decoder")
    register_decoders(reg)
    assert reg.names() == ["vote", "argmax", "segments-nms", "soft-nms"]
    assert [type(reg.get(n)) for n in reg.names()] == list(DECODER_CLASSES)


def test_declared_settings():
    assert VoteDecoder.declared() == ArgmaxDecoder.declared() == SHARED_DECODER_SETTINGS
    assert SegmentsNMSDecoder.declared() == {**SHARED_DECODER_SETTINGS, "nms_iou": 0.5, "max_segments": None}
    assert SoftNMSDecoder.declared() == {
        **SHARED_DECODER_SETTINGS,
        "sigma": 0.5,
        "pre_threshold": 0.01,
        "pre_top_k": 2000,
        "max_per_class": 10,
        "overlap": "drop",
    }


@pytest.mark.parametrize("cls", DECODER_CLASSES)
def test_every_declared_setting_is_required(cls):
    """``decode`` reads merged settings: a key missing is an error, never a silent second default."""
    rng = np.random.default_rng(3)
    probs, offsets = rng.random((30, 4)), rng.random((30, 2)) * 3
    probs[:, 0] = 0.0  # all foreground, so every filter runs
    decoder = cls()
    assert decoder.decode(probs, offsets, ClipSpec(), merged(decoder, merge_gap=1, score_threshold=0.1))
    for key in cls.declared():
        settings = merged(decoder, merge_gap=1, score_threshold=0.1)
        del settings[key]
        with pytest.raises(KeyError, match=key):
            decoder.decode(probs, offsets, ClipSpec(), settings)


@pytest.mark.parametrize("cls", DECODER_CLASSES)
def test_scored_rows_and_levels_keyword(cls):
    """Every decoder returns ``[class, start_ms, end_ms, score]`` (ints, then a float in [0, 1]) and takes
    ``levels``; the per-clip decoders ignore it."""
    rng = np.random.default_rng(4)
    probs, offsets = random_video(rng, n_max=1)
    while len(probs) < 20:
        probs, offsets = random_video(rng)
    decoder, clips = cls(), ClipSpec(8, 4, 4)
    settings = merged(decoder)
    out = decoder.decode(probs, offsets, clips, settings, n_frames=len(probs) * 4, levels=None)
    assert out and all(len(row) == 4 for row in out)
    assert all(type(row[i]) is int for row in out for i in range(3)) and all(type(row[3]) is float for row in out)
    assert all(0.0 <= row[3] <= 1.0 and row[2] >= row[1] for row in out)
    assert [row[1] for row in out] == sorted(row[1] for row in out)
    coarse = (probs[::2], offsets[::2], 2)
    with_levels = decoder.decode(probs, offsets, clips, settings, len(probs) * 4, levels=[(probs, offsets, 1), coarse])
    assert (with_levels == out) == (cls is not SoftNMSDecoder)


def test_run_segments_reads_runs_from_run_bounds():
    """Foreground runs only, scored by the mean probability of their own class."""
    labels = np.array([0, 2, 2, 0, 0, 1, 2, 2, 2])
    probs = np.full((9, 3), 0.1)
    probs[np.arange(9), labels] = np.linspace(0.5, 0.9, 9)
    lab, first, last, score = run_segments(labels, probs)
    assert lab.tolist() == [2, 1, 2] and first.tolist() == [1, 5, 6] and last.tolist() == [2, 5, 8]
    np.testing.assert_allclose(score, [probs[1:3, 2].mean(), probs[5, 1], probs[6:9, 2].mean()])
    assert run_segments(labels)[3].tolist() == [1.0, 1.0, 1.0]
    assert [a.size for a in run_segments(np.zeros(0, np.int64))] == [0, 0, 0, 0]


def test_vote_matches_loop_statement_on_random_inputs():
    rng = np.random.default_rng(0)
    clips = ClipSpec(8, 8)
    for _ in range(400):
        probs, offsets = random_video(rng)
        expected = vote_loop(probs, offsets)
        np.testing.assert_array_equal(vote_labels(probs, offsets), expected)
        n_frames = len(probs) * 8 - int(rng.integers(0, 8)) if len(probs) else 0
        out = VoteDecoder().decode(probs, offsets, clips, merged(VoteDecoder()), n_frames=n_frames)
        assert segments_only(out) == segments_from_clip_labels(expected, clips, n_frames)
        # score: the mean probability of the segment's class over its clips
        runs = [(k, a, b) for k, a, b in zip(*run_segments(expected)[:3])]
        assert [row[3] for row in out] == pytest.approx([probs[a : b + 1, k].mean() for k, a, b in runs])


def test_vote_ties_nan_and_a_hand_example():
    # clips 0..5; clip 1 votes class 1 over 0..3, clip 4 votes class 2 over 2..5: clips 2, 3 tie -> class 1
    probs = np.full((6, 3), 0.1)
    probs[[0, 2, 3, 5], 0] = 0.8
    probs[1, 1] = probs[4, 2] = 0.8
    offsets = np.zeros((6, 2))
    offsets[1] = [1.4, 2.4]
    offsets[4] = [2.0, np.nan]  # NaN end counts as 0
    assert vote_labels(probs, offsets).tolist() == [1, 1, 1, 1, 2, 0]
    clips = ClipSpec(8, 4, 4)
    # centred windows: clip i stands for frames 4i-2 .. 4i+1 (benchmark.engine.clips)
    assert VoteDecoder().decode(probs, offsets, clips, merged(VoteDecoder()), n_frames=22) == [
        [0, 0, 13 * 40, pytest.approx((0.1 + 0.8 + 0.1 + 0.1) / 4)],  # clips 0..3, probability of class 1
        [1, 14 * 40, 17 * 40, pytest.approx(0.8)],
    ]


def test_decode_many_equals_per_video_decode():
    rng = np.random.default_rng(1)
    clips = ClipSpec(8, 4, 4)
    videos = []
    for _ in range(60):
        p, o = random_video(rng)
        videos.append((p, o, max(len(p) * 4 - int(rng.integers(0, 4)), 0)))
    for given in ({}, {"merge_gap": 2, "min_clips": 2, "score_threshold": 0.3}):
        settings = merged(VoteDecoder(), **given)
        many = VoteDecoder().decode_many(videos, clips, settings)
        assert many == [VoteDecoder().decode(p, o, clips, settings, n_frames=n) for p, o, n in videos]


def test_argmax_decoder_and_filters():
    labels = np.array([0, 2, 2, 0, 2, 0, 0, 0, 1, 3, 3, 3])
    probs = np.eye(4)[labels] * 0.6 + 0.1
    clips = ClipSpec(8, 8)
    dec = ArgmaxDecoder()
    out = dec.decode(probs, None, clips, merged(dec))
    assert segments_only(out) == segments_from_clip_labels(labels, clips)
    assert [row[3] for row in out] == pytest.approx([0.7] * 4)  # mean probability of the run's class
    joined = segments_only(dec.decode(probs, None, clips, merged(dec, merge_gap=1)))
    assert joined == [[1, 8 * 40, 39 * 40], [0, 64 * 40, 71 * 40], [2, 72 * 40, 95 * 40]]
    assert segments_only(dec.decode(probs, None, clips, merged(dec, min_clips=2))) == [
        [1, 8 * 40, 23 * 40],
        [2, 72 * 40, 95 * 40],
    ]
    # score = mean prob of the class over the run: 0.7 everywhere here
    assert dec.decode(probs, None, clips, merged(dec, score_threshold=0.7)) != []
    assert dec.decode(probs, None, clips, merged(dec, score_threshold=0.71)) == []
    assert dec.decode(np.zeros((0, 4)), np.zeros((0, 2)), clips, merged(dec)) == []


def test_filters_merge_scores_length_weighted():
    settings = {**SHARED_DECODER_SETTINGS, "merge_gap": 2}
    lab, first, last, score = apply_filters([1, 1, 2], [0, 4, 5], [1, 4, 6], [0.9, 0.3, 0.5], settings)
    assert lab.tolist() == [1, 2] and first.tolist() == [0, 5] and last.tolist() == [4, 6]
    assert score[0] == pytest.approx((0.9 * 2 + 0.3) / 3)


def test_vectorised_ms_mapping_equals_clipspec():
    rng = np.random.default_rng(2)
    for clips in (ClipSpec(8, 8), ClipSpec(8, 4, 4), ClipSpec(16, 4, 12)):
        a = rng.integers(0, 50, 200)
        b = a + rng.integers(0, 5, 200)
        for n_frames in (None, 60 * clips.stride, 50 * clips.stride + 1):
            got = to_ms(np.ones_like(a), a, b, clips, n_frames)
            assert got == [[0, *clips.clip_to_ms(x, y, n_frames)] for x, y in zip(a, b)]


def test_continuous_to_frames_extends_the_clip_mapping():
    """Integer positions give exactly :meth:`ClipSpec.clips_to_frames`; fractions round (half to even)."""
    rng = np.random.default_rng(5)
    for clips in (ClipSpec(8, 8), ClipSpec(8, 4, 4), ClipSpec(16, 4, 12)):
        a = rng.integers(0, 50, 200)
        b = a + rng.integers(0, 5, 200)
        for n_frames in (None, 60 * clips.stride, 50 * clips.stride + 1):
            got = continuous_to_frames(clips, a.astype(float), b.astype(float), n_frames)
            want = clips.clips_to_frames(a, b, n_frames)
            assert all(np.array_equal(g, w) for g, w in zip(got, want))
    clips = ClipSpec(8, 4, 4)  # clip i stands for frames 4i - 2 .. 4i + 1
    start, end = continuous_to_frames(clips, np.array([2.375, 2.625, 0.1, 3.0]), np.array([3.25, 3, 0.2, 3]), 14)
    # starts 7.5 and 8.5 both round to 8 (half to even), -1.6 to 0; ends 14 (clamped to 13), 13, 1.8 -> 2, 13
    assert start.tolist() == [8, 8, 0, 10] and end.tolist() == [13, 13, 2, 13]


def test_segments_nms():
    assert nms_1d(np.array([0, 1, 10]), np.array([4, 4, 12]), np.array([0.5, 0.9, 0.7]), 0.5).tolist() == [1, 2]
    probs = np.full((10, 3), 0.05)
    probs[:, 0] = 0.9
    probs[[2, 3, 4], 1] = [0.6, 0.95, 0.7]
    probs[[2, 3, 4], 0] = 0.1
    probs[8, 2], probs[8, 0] = 0.5, 0.2
    offsets = np.zeros((10, 2))
    offsets[2], offsets[3], offsets[4] = [1, 2], [2, 1], [3, 0]  # all propose clips 1..4 (or 1..4)
    offsets[8] = [0.6, 5]  # -> 7..9 (clamped)
    clips = ClipSpec(8, 8)
    dec = SegmentsNMSDecoder()
    out = dec.decode(probs, offsets, clips, merged(dec, nms_iou=0.5), n_frames=78)
    assert out == [[0, 8 * 40, 39 * 40, 0.95], [1, 56 * 40, 77 * 40, 0.5]]  # each proposal's probability
    assert segments_only(dec.decode(probs, offsets, clips, merged(dec, score_threshold=0.55))) == [[0, 8 * 40, 39 * 40]]
    assert segments_only(dec.decode(probs, offsets, clips, merged(dec, max_segments=1))) == [[0, 8 * 40, 39 * 40]]
    # clip 3's proposal (0.95) suppresses 2's and 4's at 0.5; at IoU 1.0 nothing is suppressed (3 identical ones)
    assert len(dec.decode(probs, offsets, clips, merged(dec, nms_iou=1.0))) == 4


def test_outputs(tmp_path):
    gt = {"a": [[0, 0, 400], [1, 1000, 1400]], "b": [[1, 200, 600]]}
    preds = {"a": [[np.int64(0), 0, 400], [2, 1000, 1400]], "b": [[1, 200, 600]]}
    path = dump_annotations(preds, tmp_path / "predictions.pkl")
    loaded = load_annotations(path)
    assert loaded == {"a": [[0, 0, 400], [2, 1000, 1400]], "b": [[1, 200, 600]]}
    with open(path, "rb") as f:
        assert type(pickle.load(f)["a"][0][0]) is int
    rows = per_class_table(gt, preds, ["hola", "casa", "perro"])
    assert [r["name"] for r in rows] == ["hola", "casa", "perro"]
    assert (rows[0]["tp"], rows[0]["fp"], rows[0]["fn"], rows[0]["f1"]) == (13, 0, 0, 1.0)
    assert (rows[1]["ground_truth"], rows[1]["tp"], rows[1]["fn"], rows[1]["recall"]) == (2, 13, 13, 0.5)
    assert (rows[2]["predicted"], rows[2]["fp"], rows[2]["f1"]) == (1, 13, 0.0)
    png = timeline_plot(
        "a", gt["a"], preds["a"], ["hola", "casa", "perro"], tmp_path / "plots" / "a.png", duration_ms=3000
    )
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000
    assert sorted(p.name for p in png.parent.iterdir()) == ["a.png"]  # written atomically: no temporary left


def test_decode_perf_runs_small():
    from benchmark.perf.spotters import measure_decode

    d = measure_decode(hours=1, repeat=1, details=True)
    assert d["clips"] == 11250 and d["videos"] == 30 and d["predictions"] > 0 and 0 < d["f1"] <= 1
    assert d["seconds"] < 5
