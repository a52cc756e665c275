"""The built-in query spotters (query by example, :class:`benchmark.queries.QuerySpotter`): ``dtw``,
``embedding`` and the floor every matcher must beat, ``random-windows``.

Each matcher scores spans of a target per query; :func:`outputs` turns them into a spotter's outputs, one
position per clip: the best query at each position (winner takes the column: the offsets are that query's
span), its score in ``probs[t, q + 1]``, background 0, offsets the distances in clips from ``t`` to the span's
first and last position (fractional, so ``soft-nms`` maps them back to the exact frames).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from benchmark.interfaces import optional
from benchmark.queries import QuerySpotter


def frame_positions(clips, frames) -> np.ndarray:
    """Continuous clip positions of frame indices, the inverse of ``continuous_to_frames`` for a span's first
    frame: frame ``f`` is position ``(f - offset) / stride``."""
    return (np.asarray(frames, np.float64) - clips.offset) / clips.stride


def outputs(n_positions: int, spans: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]):
    """``(probs [n, Q + 1], offsets [n, 2])`` from ``spans[q] = (position, score, first, last)`` arrays (a span
    ending at ``position``, continuous ``first``/``last`` positions); the best query wins each position."""
    probs = np.zeros((n_positions, len(spans) + 1), np.float32)
    offsets = np.zeros((n_positions, 2), np.float32)
    best = np.full(n_positions, -1.0)
    for q, (position, score, first, last) in enumerate(spans):
        position = np.asarray(position, np.int64)
        order = np.lexsort((-score, position))  # per position, its best span first
        position, score, first, last = position[order], score[order], first[order], last[order]
        _, top = np.unique(position, return_index=True)
        t, s = position[top], score[top]
        win = s > best[t]
        t, s = t[win], s[win]
        best[t] = s
        probs[t, 1:] = 0.0
        probs[t, q + 1] = s
        offsets[t, 0] = np.maximum(t - first[top][win], 0.0)
        offsets[t, 1] = np.maximum(last[top][win] - t, 0.0)
    return probs, offsets


class DTWSpotter(QuerySpotter):
    """Training-free: each query's moving part aligned with every target by subsequence DTW on normalised joints
    (:mod:`benchmark.matching.dtw`); every frame a span may end on scores ``exp(-cost / 0.05)``."""

    name = "dtw"
    description = "query by example, training-free: subsequence DTW of normalised skeletons (pose modality)"
    defaults = {"modality": "pose", "trim": 0.5, "span": 0.6, "band": None}
    rules = {"modality": ("pose",), "trim": "0..1", "span": "0..1", "band": optional("int>=0")}

    def match(self, targets: Mapping, queries, settings, clips, frames) -> dict:
        from benchmark.matching.dtw import active_part, normalised_joints, score_curve, subsequence_dtw

        qs = [active_part(normalised_joints(a, size), float(settings["trim"])) for a, size in queries]
        share = float(settings["span"])
        out = {}
        for tid, (array, size) in targets.items():
            target = normalised_joints(array, size)
            n = clips.num_clips(int(frames[tid]))
            ends = np.arange(len(target))
            at = np.clip(np.floor(frame_positions(clips, ends)).astype(np.int64), 0, max(n - 1, 0))
            spans = []
            for q in qs:
                cost, start = subsequence_dtw(q, target, settings["band"])
                ok = start >= 0
                cut = (1.0 - share) / 2 * (ends - start)
                first = frame_positions(clips, start + cut)
                last = frame_positions(clips, ends - cut - (clips.stride - 1))
                spans.append((at[ok], score_curve(cost)[ok], first[ok], last[ok]))
            out[tid] = outputs(n, spans)
        return out


class EmbeddingSpotter(QuerySpotter):
    """Windows of 2-4 clips of the experts' features against each query's mean embedding, cosine similarity,
    with the test-time query transfer after Fu et al. (``transfer_k``; :mod:`benchmark.matching.embedding`)."""

    name = "embedding"
    description = "query by example on the experts' clip features: cosine similarity of windows, query transfer"
    # centre: the split's mean clip feature subtracted first (what every clip shares says nothing of the sign)
    defaults = {"widths": [2, 3, 4], "trim": 0.0, "transfer_k": 0, "centre": True}
    rules = {"trim": "0..1", "transfer_k": "int>=0"}

    def match(self, targets: Mapping, queries, settings, clips, frames) -> dict:
        from benchmark.matching.embedding import Windows, cosine_scores, query_embedding, transferred

        widths = [int(w) for w in settings["widths"]]
        mean = np.mean(np.concatenate([np.asarray(f) for f in targets.values()]), axis=0) if settings["centre"] else 0
        windows = {tid: Windows(np.asarray(f) - mean, widths, clips, int(frames[tid])) for tid, f in targets.items()}
        k, trim = int(settings["transfer_k"]), float(settings["trim"])
        embeddings = [transferred(query_embedding(np.asarray(q) - mean, trim), windows, k) for q in queries]
        out = {}
        for tid, w in windows.items():
            first, last = w.first.astype(np.float64), w.last.astype(np.float64)
            out[tid] = outputs(len(np.asarray(targets[tid])), [(w.last, cosine_scores(w.emb, q), first, last)
                                                               for q in embeddings])  # fmt: skip
        return out


class RandomWindows(QuerySpotter):
    """The floor: per target, ``per_target`` spans of a random query, position and length (300-800 ms), score
    0.5, reproducible with ``seed`` (by default the spotter's seed, so ``bench sweep --seeds`` draws again)."""

    name = "random-windows"
    description = "baseline for query by example: random spans of random queries (the floor to beat)"
    # seed None: the spotter's seed (spotter.training.seed, else the run's); modality: read by no one, declared so
    # that it stands in for `dtw` (`--spotter random-windows`) on an entry without experts
    defaults = {"per_target": 1, "seed": None, "modality": "pose"}
    rules = {"per_target": "int>=1", "seed": optional("int>=0"), "modality": ("pose",)}

    def match(self, targets: Mapping, queries, settings, clips, frames) -> dict:
        from benchmark.engine.clips import ms_to_frame
        from benchmark.matching.baseline import random_windows

        drawn = random_windows({tid: int(frames[tid]) for tid in targets}, len(queries), clips.fps,
                               int(settings["seed"]), int(settings["per_target"]))  # fmt: skip
        out = {}
        for tid, rows in drawn.items():
            n = clips.num_clips(int(frames[tid]))
            spans = [_empty() for _ in queries]
            for q, start_ms, end_ms, score in rows:
                start, end = ms_to_frame([start_ms, end_ms], clips.fps)
                at = np.clip(np.floor(frame_positions(clips, [end])), 0, max(n - 1, 0)).astype(np.int64)
                first, last = frame_positions(clips, [start]), frame_positions(clips, [end - (clips.stride - 1)])
                spans[q] = tuple(np.concatenate([a, b]) for a, b in zip(spans[q], (at, [score], first, last)))
            out[tid] = outputs(n, spans)
        return out


def _empty():
    return (np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(0))


QUERY_SPOTTER_CLASSES = (DTWSpotter, EmbeddingSpotter, RandomWindows)
