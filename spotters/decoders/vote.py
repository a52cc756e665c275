"""The authors' vote decoder (REFERENCE.md "Decoding (vote)"), vectorised over clips and videos.

Every foreground clip ``t`` (arg-max class ``k_t != 0``) votes for ``k_t`` on clips
``t - round(s_t) .. t + round(e_t)`` (clamped to its video); each clip takes the class with the most
votes (the lowest class on ties; 0 without votes); runs of equal labels become segments, scored by the mean
probability of their class over their clips.
Rounding is ``np.rint`` (half to even, like Python's ``round``); NaN or negative offsets count as 0.

No Python loop over clips: each vote range is a +1/-1 event pair; events sorted by (class, clip) and
cumulatively summed give, per class, pieces of constant vote count; the pieces are expanded to the clips
they cover and ``np.maximum.at`` keeps, per clip, the highest (count, -class) priority.  Many videos can
be decoded in one pass (:meth:`VoteDecoder.decode_many`): clip indices are global and every range is
clamped to its own video.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from benchmark.interfaces import Decoder
from spotters.decoders.filters import apply_filters, batched_segments, run_segments, to_ms


def vote_from_argmax(
    k: np.ndarray,
    offsets: np.ndarray,
    video: np.ndarray | None = None,
    begins: np.ndarray | None = None,
    num_outputs: int | None = None,
) -> np.ndarray:
    """Voted labels for arg-max labels ``k [N]`` and offsets ``[N, 2]``.  Several videos: ``video [N]`` is
    each clip's video index and ``begins`` the first global clip of each video (default: one video)."""
    k = np.asarray(k, dtype=np.int64)
    n = k.size
    labels = np.zeros(n, np.int64)
    t = np.flatnonzero(k)
    if t.size == 0:
        return labels
    off = np.rint(np.fmin(np.fmax(np.asarray(offsets)[t], 0.0), float(n))).astype(np.int64)
    lo, hi = t - off[:, 0], t + off[:, 1]
    if video is None:
        np.maximum(lo, 0, out=lo)
        np.minimum(hi, n - 1, out=hi)
    else:
        vt = video[t]
        ends = np.append(np.asarray(begins)[1:], n)
        np.maximum(lo, np.asarray(begins)[vt], out=lo)
        np.minimum(hi, ends[vt] - 1, out=hi)
    kt = k[t]
    c = int(num_outputs or (kt.max() + 1))
    # per class, +1 at the range's first clip and -1 after its last, sorted by (class, clip); the low bit
    # says which (sorting plain integers is much faster than an argsort, and equal keys are summed anyway)
    base = kt * (n + 1)
    events = np.sort(np.concatenate([(base + lo) << 1, ((base + hi + 1) << 1) | 1]))
    key = events >> 1
    delta = 1 - ((events & 1) << 1)
    new = np.empty(key.size, dtype=bool)
    new[0] = True
    np.not_equal(key[1:], key[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    ukey = key[starts]
    count = np.cumsum(np.add.reduceat(delta, starts))  # votes from this event to the next (per class)
    live = np.flatnonzero(count[:-1] > 0)  # a positive count always has a later event of its class
    cls, first = ukey[live] // (n + 1), ukey[live] % (n + 1)
    length = ukey[live + 1] - ukey[live]
    prio = count[live] * (c + 1) + (c - cls)  # more votes first, then the lower class
    rep = np.repeat(np.arange(live.size), length)
    clip = first[rep] + np.arange(rep.size) - np.repeat(np.cumsum(length) - length, length)
    best = np.zeros(n, np.int64)
    np.maximum.at(best, clip, prio[rep])
    has = best > 0
    labels[has] = c - best[has] % (c + 1)
    return labels


def vote_labels(probs: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Per-clip labels after voting for one video (0 = no votes)."""
    probs = np.asarray(probs)
    if probs.shape[0] == 0:
        return np.zeros(0, np.int64)
    return vote_from_argmax(probs.argmax(axis=1), offsets, num_outputs=probs.shape[1])


class VoteDecoder(Decoder):
    name = "vote"
    description = "Authors' decoder: foreground clips vote over their regressed extent; runs of the winners"

    def decode(self, probs, offsets, clips, settings: Mapping, n_frames: int | None = None, levels=None):
        labels = vote_labels(probs, offsets)
        lab, first, last, score = apply_filters(*run_segments(labels, probs), settings)
        return to_ms(lab, first, last, clips, n_frames, score)

    def decode_many(self, videos: Sequence, clips, settings: Mapping) -> list[list[list]]:
        """Decode ``[(probs, offsets, n_frames), ...]`` in one vectorised pass; same result as
        :meth:`decode` per video."""
        if not videos:
            return []
        sizes = np.array([np.asarray(p).shape[0] for p, _, _ in videos], dtype=np.int64)
        ends = np.cumsum(sizes)
        begins = ends - sizes
        vid = np.repeat(np.arange(sizes.size), sizes)
        k = np.concatenate(
            [np.asarray(p).argmax(axis=1) if np.asarray(p).shape[0] else np.zeros(0, np.int64) for p, _, _ in videos]
        )
        off = np.concatenate([np.asarray(o).reshape(-1, 2) for _, o, _ in videos])
        c = max(np.asarray(p).shape[1] for p, _, _ in videos)
        labels = vote_from_argmax(k, off, vid, begins, num_outputs=c)
        scores = np.concatenate(
            [np.asarray(p)[np.arange(n), labels[b : b + n]] for (p, _, _), b, n in zip(videos, begins, sizes)]
        )
        n_frames = [nf for _, _, nf in videos]
        return batched_segments(labels, vid, begins, n_frames, clips, settings, scores)
