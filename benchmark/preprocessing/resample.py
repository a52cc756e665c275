"""Bringing any input to the entry's frame rate (``preprocess.fps``) while it is read.

Every model, clip and label of a run lives on one frame grid: frame ``k`` is what the input shows at
``k x 1000 / fps`` ms of its own time line.  Recordings come at 25, 29.97, 30 or 50 fps, some with variable frame
timing, and ``.pose`` files of other tools at their video's rate.  Resampling when decoding keeps a clip's meaning
(8 frames = 320 ms at 25 fps) whatever the source, so a model trained on 25 fps MSSL applies to a 30 fps phone
video, and every ms written back is in the input's own time line.

* Video frames are picked by their presentation timestamps (OpenCV's ``CAP_PROP_POS_MSEC``, so variable frame
  rates are honoured): grid time ``t_k`` gets the decoded frame whose timestamp is nearest (the earlier one on a
  tie).  At the source's own rate this is every frame, unchanged.
* Arrays read from files (``.pose`` bodies) are resampled by :meth:`benchmark.interfaces.Modality.resample`:
  nearest frame by default, linear interpolation for poses (:func:`interpolate`), where a joint missing in
  either neighbour stays missing and the confidence is the smaller of the two (never more sure than the data).
* A source lasting ``D`` ms gives ``ceil(D / d)`` grid frames (``d = 1000 / fps``; within 1 % of a frame counts
  as whole, absorbing rounded timestamps): a 25 fps video keeps its frame count.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

import numpy as np

TOLERANCE = 0.01  # of a grid frame: a duration this close to a whole number of frames is that number


def grid_frames(duration_ms: float, fps: float) -> int:
    """Grid frames that cover ``duration_ms`` of source."""
    if duration_ms <= 0:
        return 0
    return max(int(math.ceil(duration_ms * fps / 1000.0 - TOLERANCE)), 1)


def frames_for(source_frames: int, source_fps: float, fps: float) -> int:
    """Grid frames of a source of ``source_frames`` regular frames at ``source_fps``."""
    return grid_frames(source_frames * 1000.0 / source_fps, fps) if source_fps > 0 else int(source_frames)


def same_rate(source_fps: float, fps: float) -> bool:
    return source_fps > 0 and abs(source_fps - fps) < 1e-3


def on_grid(timed: Iterable[tuple[float, object]], fps: float, source_fps: float) -> Iterator[object]:
    """``(timestamp_ms, frame)`` pairs in decoding order -> the frames of the ``fps`` grid, streamed.

    A timestamp that does not increase (containers without timing) is replaced by the previous one plus one
    source frame (``1000 / source_fps``)."""
    step_src = 1000.0 / source_fps if source_fps > 0 else 1000.0 / fps
    d = 1000.0 / fps
    k = 0
    prev, prev_t = None, None
    for t, frame in timed:
        if prev_t is not None and not t > prev_t:
            t = prev_t + step_src
        if prev is not None:
            middle = (prev_t + t) / 2.0
            while k * d <= middle + 1e-6:  # grid time nearer to the previous frame (ties: the earlier frame)
                yield prev
                k += 1
        prev, prev_t = frame, float(t)
    if prev is None:
        return
    n = grid_frames(prev_t + step_src, fps)
    while k < n:
        yield prev
        k += 1


def source_positions(n_source: int, source_fps: float, fps: float) -> np.ndarray:
    """For each grid frame, its position in source frames (fractional), for a regular source."""
    n = frames_for(n_source, source_fps, fps)
    return np.minimum(np.arange(n, dtype=np.float64) * source_fps / fps, max(n_source - 1, 0))


def nearest(array: np.ndarray, source_fps: float, fps: float) -> np.ndarray:
    """Resample a time-first array by picking the nearest source frame (the earlier on a tie)."""
    if same_rate(source_fps, fps) or len(array) == 0:
        return array
    position = source_positions(len(array), source_fps, fps)
    return np.asarray(array)[np.ceil(position - 0.5).astype(np.int64)]


def interpolate(array: np.ndarray, source_fps: float, fps: float, confidence: int | None = None) -> np.ndarray:
    """Resample a float time-first array by linear interpolation between the two neighbouring source frames.

    NaN in either neighbour gives NaN (a joint is never invented), except on a grid frame that falls on a
    source frame; ``confidence`` (an index of the last axis) takes the smaller of the two neighbours' values."""
    if same_rate(source_fps, fps) or len(array) == 0:
        return array
    array = np.asarray(array, dtype=np.float32)
    position = source_positions(len(array), source_fps, fps)
    lo = np.floor(position).astype(np.int64)
    hi = np.minimum(lo + 1, len(array) - 1)
    w = (position - lo).astype(np.float32).reshape((-1,) + (1,) * (array.ndim - 1))
    a, b = array[lo], array[hi]
    exact = (w < 1e-6).reshape(-1)
    out = (1.0 - w) * a + w * b  # NaN where either side is NaN
    if confidence is not None:
        out[..., confidence] = np.minimum(a[..., confidence], b[..., confidence])  # NaN stays NaN
    out[exact] = a[exact]
    return out.astype(array.dtype)
