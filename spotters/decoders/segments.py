"""Regressed-segment decoder: every foreground clip ``t`` (arg-max class ``k != 0``) proposes the clips
``round(t - s) .. round(t + e)`` (clamped to the video) with score ``probs[t, k]``; greedy 1-D
non-maximum suppression per class (``nms_iou``, IoU on inclusive clip ranges) keeps the best proposals; the
shared post-filters (``score_threshold``, ``min_clips``, ``merge_gap``) follow.  ``max_segments`` (None = all)
keeps only the highest-scoring segments of the video.  Each segment keeps its proposal's score.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from benchmark.interfaces import Decoder, optional
from spotters.decoders.filters import apply_filters, to_ms


def nms_1d(first: np.ndarray, last: np.ndarray, score: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices kept by greedy NMS (highest score first, ties by index) on inclusive integer ranges."""
    order = np.lexsort((np.arange(score.size), -score))
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        inter = np.minimum(last[i], last[rest]) - np.maximum(first[i], first[rest]) + 1
        inter = np.maximum(inter, 0)
        union = (last[i] - first[i] + 1) + (last[rest] - first[rest] + 1) - inter
        order = rest[inter / union <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def propose(probs, offsets):
    """Per foreground clip: ``(label, first, last, score)`` arrays."""
    probs = np.asarray(probs)
    n = probs.shape[0]
    k = probs.argmax(axis=1) if n else np.zeros(0, np.int64)
    t = np.flatnonzero(k)
    off = np.nan_to_num(np.asarray(offsets, dtype=np.float64)[t], nan=0.0, posinf=n, neginf=0.0).clip(0, n)
    first = np.clip(np.rint(t - off[:, 0]), 0, n - 1).astype(np.int64)
    last = np.clip(np.rint(t + off[:, 1]), 0, n - 1).astype(np.int64)
    return k[t].astype(np.int64), first, last, probs[t, k[t]].astype(np.float64)


class SegmentsNMSDecoder(Decoder):
    name = "segments-nms"
    description = "Regressed segments of every foreground clip, scored by its class probability, 1-D NMS per class"
    defaults = {"nms_iou": 0.5, "max_segments": None}
    rules = {"nms_iou": "0..1", "max_segments": optional("int>=0")}  # max_segments null or 0: all

    def decode(self, probs, offsets, clips, settings: Mapping, n_frames: int | None = None, levels=None):
        lab, first, last, score = propose(probs, offsets)
        sel = score >= float(settings["score_threshold"])
        lab, first, last, score = lab[sel], first[sel], last[sel], score[sel]
        iou = float(settings["nms_iou"])
        keep = [
            idx[nms_1d(first[idx], last[idx], score[idx], iou)]
            for idx in (np.flatnonzero(lab == c) for c in np.unique(lab))
        ]
        keep = np.sort(np.concatenate(keep)) if keep else np.zeros(0, np.int64)
        lab, first, last, score = apply_filters(lab[keep], first[keep], last[keep], score[keep], settings)
        if settings["max_segments"]:
            top = np.sort(np.argsort(-score, kind="stable")[: int(settings["max_segments"])])
            lab, first, last, score = lab[top], first[top], last[top], score[top]
        order = np.lexsort((lab, last, first))
        return to_ms(lab[order], first[order], last[order], clips, n_frames, score[order])
