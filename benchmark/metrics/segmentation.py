"""One-class segmentation figures: how well spotted signs cut the signing into signs, whatever their glosses.

The sign-segmentation literature (Renz et al. 2021, "Sign language segmentation with temporal convolutional
networks"; Moryossef et al. 2023, "Linguistically motivated sign language segmentation") scores segments on
frames, not milliseconds, and without classes.  Here, at ``fps`` (the pipeline's ``preprocess.fps``, 25 by
default), a segment ``[start_ms, end_ms]`` covers frames ``floor(start_ms fps / 1000) .. floor(end_ms fps /
1000)`` inclusive, the project's convention (:func:`benchmark.engine.clips.ms_to_frame`).  Then, pooled over
videos (counts summed before dividing, as the ChaLearn F1 pools):

* ``segment_iou``: frames in both the union of human segments and the union of spotted segments, over frames
  in either (overlapping segments count a frame once);
* ``boundary_precision_k`` / ``boundary_recall_k`` / ``boundary_f1_k`` for ``k`` in :data:`TOLERANCES`: a
  boundary is a segment's first frame (a start) or last frame (an end); a spotted start is a hit when it lies
  within ``k`` frames of a human start, an end of a human end, one to one (pairs taken by smallest distance,
  ties by human frame then spotted frame: each boundary used once);
  precision = hits / spotted boundaries, recall = hits / human boundaries, F1 = 2PR / (P + R);
* ``segments_human``, ``segments_spotted``: the segments counted.

Every figure is 0 when there is nothing to divide by, or no hit, as the organisers' F1 is 0 without a TP
(no sign on either side is no evidence of good segmentation).  Classes are ignored: callers with several
classes merge them into one by calling this on all segments.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence

TOLERANCES = (1, 2)  # frames: the +-1 and +-2 frame boundary F1 of the segmentation papers
DEFAULT_FPS = 25.0  # the pipeline's default preprocess.fps (benchmark.interfaces.FPS), MSSL's rate


def frame_spans(segments: Iterable[Sequence], fps: float = DEFAULT_FPS) -> list[tuple[int, int]]:
    """``[(first_frame, last_frame)]`` (inclusive) of ``[class, start_ms, end_ms, ...]`` segments."""
    from benchmark.engine.clips import ms_to_frame

    rows = list(segments)
    if not rows:
        return []
    starts = ms_to_frame([r[1] for r in rows], fps).tolist()
    ends = ms_to_frame([r[2] for r in rows], fps).tolist()
    return list(zip(starts, ends))


def covered_frames(spans: Iterable[tuple[int, int]]) -> set[int]:
    """The frames any span covers."""
    return {f for a, b in spans for f in range(a, b + 1)}


def boundary_hits(human: Sequence[int], spotted: Sequence[int], k: int) -> int:
    """One-to-one hits between spotted and human boundary frames within ``k`` frames, closest pairs first."""
    order = sorted(human)
    pairs = []
    for j, p in enumerate(spotted):
        for i in range(bisect_left(order, p - k), bisect_right(order, p + k)):
            pairs.append((abs(order[i] - p), order[i], p, i, j))
    pairs.sort()
    used_h, used_p, hits = set(), set(), 0
    for _, _, _, i, j in pairs:
        if i not in used_h and j not in used_p:
            used_h.add(i)
            used_p.add(j)
            hits += 1
    return hits


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b else 0.0


def prf(hits: int, n_spotted: int, n_human: int) -> tuple[float, float, float]:
    """``(precision, recall, f1)`` of ``hits``; all 0 without a hit."""
    if hits == 0:
        return 0.0, 0.0, 0.0
    p, r = _ratio(hits, n_spotted), _ratio(hits, n_human)
    return p, r, 2 * p * r / (p + r)


def segmentation(
    human: Mapping[str, Sequence[Sequence]],
    spotted: Mapping[str, Sequence[Sequence]],
    fps: float = DEFAULT_FPS,
    tolerances: Iterable[int] = TOLERANCES,
) -> dict:
    """The figures of the module docstring for ``{video: [[class, start_ms, end_ms, ...], ...]}`` on both
    sides (classes ignored), pooled over every video of either side."""
    tolerances = tuple(int(k) for k in tolerances)
    inter = union = n_h = n_s = n_hb = n_sb = 0
    hits = dict.fromkeys(tolerances, 0)
    for video in sorted(set(human) | set(spotted)):
        h, s = frame_spans(human.get(video, ()), fps), frame_spans(spotted.get(video, ()), fps)
        fh, fs = covered_frames(h), covered_frames(s)
        inter, union = inter + len(fh & fs), union + len(fh | fs)
        n_h, n_s, n_hb, n_sb = n_h + len(h), n_s + len(s), n_hb + 2 * len(h), n_sb + 2 * len(s)
        for k in tolerances:
            for edge in (0, 1):  # starts against starts, ends against ends
                hits[k] += boundary_hits([x[edge] for x in h], [x[edge] for x in s], k)
    out = {"segment_iou": _ratio(inter, union)}
    for k in tolerances:
        p, r, f1 = prf(hits[k], n_sb, n_hb)
        out.update({f"boundary_f1_{k}": f1, f"boundary_precision_{k}": p, f"boundary_recall_{k}": r})
    out.update(segments_human=n_h, segments_spotted=n_s, frames_intersection=inter, frames_union=union, fps=float(fps))
    return out
