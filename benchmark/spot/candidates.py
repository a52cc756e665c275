"""What else a spotted segment might have been: the classes ranked next by the spotter, with their scores.

The decoders score a segment each in their own way (README "Scores"); the alternatives need one measure that
every spotter gives, so they are ranked by the mean probability of each class over the clips the segment
covers (level 0 of the spotter's outputs, background excluded, the segment's own class left out).  A
segment's score is the decoder's; its alternatives' scores are these means.
"""

from __future__ import annotations

import numpy as np

from benchmark.engine.clips import ClipSpec, ms_to_frame


def covered_clips(clips: ClipSpec, start_ms: int, end_ms: int, n_clips: int) -> tuple[int, int]:
    """The first and last clip whose frames hold ``start_ms`` and ``end_ms`` (clip ``t`` stands for frames
    ``t * stride + offset ..``, :meth:`ClipSpec.clips_to_frames`), clamped to the video."""
    first_frame, last_frame = ms_to_frame([start_ms, end_ms], clips.fps)
    first = int(np.floor((first_frame - clips.offset) / clips.stride))
    last = int(np.floor((last_frame - clips.offset) / clips.stride))
    first = min(max(first, 0), n_clips - 1)
    return first, min(max(last, first), n_clips - 1)


def alternatives(probs, segments: list[list], clips: ClipSpec, k: int) -> list[list[tuple[int, float]]]:
    """Per segment ``[class_id, start_ms, end_ms, ...]``, up to ``k - 1`` ``(class_id, score)`` pairs, best
    first (ties: the lower class)."""
    probs = np.asarray(probs, dtype=np.float64)
    if k <= 1 or probs.ndim != 2 or probs.shape[0] == 0:
        return [[] for _ in segments]
    out = []
    for segment in segments:
        first, last = covered_clips(clips, int(segment[1]), int(segment[2]), probs.shape[0])
        mean = probs[first : last + 1, 1:].mean(axis=0)  # column 0 is background
        order = [c for c in np.lexsort((np.arange(mean.size), -mean)) if c != int(segment[0])]
        out.append([(int(c), float(mean[c])) for c in order[: k - 1]])
    return out
