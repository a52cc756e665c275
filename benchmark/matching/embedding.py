"""Query-by-example sign spotting on a trained expert's clip features: cosine similarity of mean embeddings.

The pipeline cuts every video into clips (:class:`benchmark.engine.clips.ClipSpec`) and an expert trained on
other signs gives one feature vector per clip, ``[n_clips, D]``.  The query (ONE isolated example) and every
window of a few consecutive target clips are embedded alike, as the mean of their L2-normalised clip
features, re-normalised; a window's score is its cosine similarity to the query.  Windows, not single clips:
a sign spans 2..4 clips of 8 frames at 25 fps (0.3..1.3 s), and the mean over the sign's clips is what the
query's own embedding is.

Decisions:

* **Normalise per clip, then average** (:func:`embed`): every clip weighs the same whatever its feature norm
  (an expert's norm grows with its confidence, so a raw mean is the most confident clip's direction).
* **Score** ``max(cos, 0)``, clipped rather than ``(1 + cos) / 2``: a threshold then reads as a cosine, and
  features after a ReLU are non-negative (cos >= 0), where ``(1 + cos) / 2`` would squeeze every score into
  [0.5, 1]; an anti-correlated window is no more a match than an orthogonal one.
* **Rest trimming** (:func:`query_embedding`, ``trim``): an isolated example starts and ends at rest, and rest
  clips are alike in every video, so they pull the query towards every pause of the target.
* **Test-time transfer** (:func:`transfer`), after Fu et al. (ECCVW 2022, "multi-modal features with
  test-time transfer of the query"): the best-matching target windows of the split are taken as extra
  examples of the query, which moves a signer-specific example towards the sign as the targets show it.
* **Hits** (:func:`match_many`): local maxima of each width's score curve over the threshold, then the
  DTW matcher's :func:`benchmark.matching.dtw.nms` across widths on frame ranges, so of nested windows the
  best-fitting width wins.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from benchmark.engine.clips import ClipSpec, frame_to_ms
from benchmark.matching.dtw import nms, peaks

EPS = 1e-12  # a zero vector stays zero when normalised


def normalised(x: np.ndarray) -> np.ndarray:
    """float64 rows (the last axis) of unit L2 norm; all-zero rows stay zero instead of dividing by zero."""
    x = np.asarray(x, np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), EPS)


def embed(features: np.ndarray) -> np.ndarray:
    """``[n, D]`` clip features -> ``[D]``: the mean of the normalised clips, normalised (zero when ``n == 0``)."""
    features = np.asarray(features)
    if features.ndim != 2:
        raise ValueError(f"expected clip features [n_clips, D], got shape {features.shape}")
    if len(features) == 0:
        return np.zeros(features.shape[1])
    return normalised(normalised(features).mean(axis=0))


def active_clips(features: np.ndarray, trim: float) -> np.ndarray:
    """The clips of an isolated example from the first to the last that is not at rest.

    Rest is the normalised mean of the first and last clip (an example starts and ends at rest); a clip is at
    rest when its cosine similarity to it exceeds ``1 - trim``.  The span between the first and last moving
    clip is kept whole, as :func:`benchmark.matching.dtw.active_part` does, because a hold inside the sign
    can look like rest and still belongs to it.  ``trim <= 0``, examples of 2 clips or fewer (nothing but
    the ends) and examples that are all rest keep every clip: an empty query would match nothing.
    """
    features = np.asarray(features)
    if trim <= 0 or len(features) <= 2:
        return features
    clips = normalised(features)
    rest = normalised(clips[0] + clips[-1])
    moving = np.flatnonzero(clips @ rest <= 1.0 - float(trim))
    return features[moving[0] : moving[-1] + 1] if moving.size else features


def query_embedding(features: np.ndarray, trim: float = 0.0) -> np.ndarray:
    """The query example's embedding ``[D]`` from its clip features ``[n_q, D]``: :func:`embed` of its
    :func:`active_clips` (``trim`` 0 = all clips; 0.1 drops end clips within cosine 0.9 of the rest)."""
    return embed(active_clips(features, trim))


def _widths(widths: Sequence[int], n: int) -> list[int]:
    """The window widths for a target of ``n`` clips: widths over ``n`` cut to ``n``, duplicates dropped."""
    if not widths or min(int(w) for w in widths) < 1:
        raise ValueError(f"window widths must be >= 1 clip, got {tuple(widths)!r}")
    return list(dict.fromkeys(min(int(w), n) for w in widths)) if n > 0 else []


def window_embeddings(target: np.ndarray, widths: Sequence[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every window of ``w`` consecutive clips (each ``w`` in ``widths``, stride 1 clip) embedded as
    :func:`embed` does: ``(embeddings [n_windows, D], first [n_windows], last [n_windows])``, clip indices
    inclusive, width by width, each by start.  One cumulative sum of the normalised clips serves every width."""
    target = np.asarray(target)
    if target.ndim != 2:
        raise ValueError(f"expected target clip features [n_clips, D], got shape {target.shape}")
    n = len(target)
    cum = np.concatenate([np.zeros((1, target.shape[1])), np.cumsum(normalised(target), axis=0)])
    ws = _widths(widths, n)
    firsts = [np.arange(n - w + 1, dtype=np.int64) for w in ws]
    lasts = [f + w - 1 for f, w in zip(firsts, ws)]
    first = np.concatenate(firsts) if firsts else np.zeros(0, np.int64)
    last = np.concatenate(lasts) if lasts else np.zeros(0, np.int64)
    return normalised(cum[last + 1] - cum[first]), first, last


def cosine_scores(embeddings: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Scores in [0, 1] of normalised window embeddings against a query: ``max(cos, 0)`` (see the module)."""
    q = normalised(query)
    if embeddings.shape[-1] != q.shape[-1]:
        raise ValueError(f"window features of size {embeddings.shape[-1]} against a query of size {q.shape[-1]}")
    return np.clip(embeddings @ q, 0.0, 1.0)


def window_scores(
    target: np.ndarray, query: np.ndarray, widths: Sequence[int] = (2, 3, 4)
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(scores, first, last)`` of every window of ``target [n, D]`` (:func:`window_embeddings`) against the
    query embedding ``[D]`` (:func:`query_embedding`): the clipped cosine similarity, in [0, 1]."""
    emb, first, last = window_embeddings(target, widths)
    return cosine_scores(emb, query), first, last


def transfer(target_windows: np.ndarray, query: np.ndarray, k: int) -> np.ndarray:
    """Test-time transfer of the query, after Fu et al. (ECCVW 2022): the normalised mean of the query
    embedding and its ``k`` most similar rows of ``target_windows`` (window embeddings ``[N, D]`` from every
    target of the split), all normalised and weighted alike.  The best matches are most likely the sign as
    the targets' signers make it, so they serve as extra examples of the query.  ``k == 0``: unchanged.

    What the paper weighs or filters exactly is not reproduced; :func:`match_many` passes at most ``k``
    distinct occurrences per target (windows left by NMS), so the ``k`` are not one sign at several widths."""
    q = normalised(query)
    windows = normalised(np.asarray(target_windows).reshape(-1, q.shape[-1]))
    if k <= 0 or len(windows) == 0:
        return q
    sims = windows @ q
    top = np.argsort(-sims, kind="stable")[: int(k)]
    return normalised(np.vstack([q[None], windows[top]]).mean(axis=0))


def detections(
    scores: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    width: np.ndarray,
    threshold: float,
    nms_iou: float,
    max_hits: int | None = None,
) -> np.ndarray:
    """Indices of the windows kept, best first: per width, the local maxima (over consecutive starts) of at
    least ``threshold`` (:func:`benchmark.matching.dtw.peaks`), then :func:`benchmark.matching.dtw.nms` on the
    inclusive frame ranges ``start..end`` across widths, at most ``max_hits``."""
    cand = []
    for w in np.unique(width):
        idx = np.flatnonzero(width == w)  # one width's windows, by start (window_embeddings' order)
        cand.append(idx[peaks(scores[idx], threshold)])
    cand = np.concatenate(cand) if cand else np.zeros(0, np.int64)
    return cand[nms(start[cand], end[cand], scores[cand], nms_iou)][:max_hits]


class Windows:
    """One target's windows: embeddings, clip runs and the frame ranges they stand for."""

    def __init__(self, features: np.ndarray, widths: Sequence[int], clips: ClipSpec, n_frames: int | None):
        self.emb, self.first, self.last = window_embeddings(features, widths)
        self.width = self.last - self.first + 1
        self.start, self.end = clips.clips_to_frames(self.first, self.last, n_frames)

    def keep(self, scores, threshold, nms_iou, max_hits=None) -> np.ndarray:
        return detections(scores, self.start, self.end, self.width, threshold, nms_iou, max_hits)


def transferred(query: np.ndarray, windows: Mapping[str, Windows], k: int, nms_iou: float = 0.3) -> np.ndarray:
    """:func:`transfer` over every target's best ``k`` distinct windows (peaks at any score, after NMS)."""
    if k <= 0:
        return query
    pool = [w.emb[w.keep(cosine_scores(w.emb, query), -np.inf, nms_iou, k)] for w in windows.values()]
    pool = [p for p in pool if len(p)]
    return transfer(np.vstack(pool), query, k) if pool else query


def match_many(
    queries: Mapping[str, np.ndarray],
    targets: Mapping[str, np.ndarray],
    clips: ClipSpec,
    threshold: float,
    nms_iou: float = 0.3,
    widths: Sequence[int] = (2, 3, 4),
    transfer_k: int = 0,
    max_hits: int | None = None,
    *,
    frames: Mapping[str, int] | None = None,
    trim: float = 0.0,
) -> dict[str, list[list]]:
    """Every query in every target: ``{target_id: [[query_index, start_ms, end_ms, score], ...]}`` sorted by
    start (then query index, end), as :func:`benchmark.matching.dtw.match_many` returns them.

    ``queries``: clip features ``[n_q, D]`` of each isolated example (``query_index`` is its position);
    ``targets``: clip features ``[n, D]``, cut by ``clips``.  Each query (:func:`query_embedding` with
    ``trim``, then :func:`transfer` with ``transfer_k`` over all ``targets``) scores every window
    (:func:`window_scores`); :func:`detections` keeps at most ``max_hits`` per query and target.  Window clips
    become frames by :meth:`ClipSpec.clips_to_frames`, clamped to ``frames[target_id]`` when given, and ms by
    :func:`benchmark.engine.clips.frame_to_ms` (the end is the start of the last frame).
    """
    frames = frames or {}
    windows = {tid: Windows(t, widths, clips, frames.get(tid)) for tid, t in targets.items()}
    out: dict[str, list[list]] = {tid: [] for tid in targets}
    for qi, features in enumerate(queries.values()):
        q = transferred(query_embedding(features, trim), windows, transfer_k, nms_iou)
        for tid, w in windows.items():
            scores = cosine_scores(w.emb, q)
            kept = w.keep(scores, threshold, nms_iou, max_hits)
            starts, ends = frame_to_ms(w.start[kept], clips.fps), frame_to_ms(w.end[kept], clips.fps)
            out[tid] += [[qi, int(s), int(e), float(scores[i])] for s, e, i in zip(starts, ends, kept)]
    return {tid: sorted(rows, key=lambda r: (r[1], r[0], r[2])) for tid, rows in out.items()}
