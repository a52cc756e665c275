"""Frame labels, clip segmentation and the exact mapping between clips, frames and milliseconds.

Conventions (REFERENCE.md, "Clips and labels"):

* the frame grid is the entry's ``preprocess.fps`` (default 25): every input is resampled to it when decoded,
  so frame ``f`` covers ``[f d, f d + d)`` ms of the input's own time line, ``d = 1000 / fps`` (40 ms at 25 fps);
  an annotation ``[c, s, e]`` labels frames ``floor(s / d) .. floor(e / d)`` inclusive with ``c + 1``
  (``s // 40 .. e // 40`` at 25 fps); every other frame is background ``0``, except frames of an ignored span
  (:attr:`benchmark.interfaces.VideoRecord.ignored`) that no sign covers: ``IGNORE`` (-1), neither positive nor
  negative in training;
* frame ``f`` is written back as ``round(f d)`` ms, so at 25 fps times stay on the 40 ms grid and a sign
  labelled from ``[c, s, e]`` maps back to the frames it labelled, at any rate;
* clip ``i`` is the window of ``length`` frames starting at frame ``i * stride - pad_left`` (frames outside
  the video repeat the first/last frame); ``n_clips = ceil(T / stride)``.  The fact sheet uses
  ``stride = length = 8, pad_left = 0`` (consecutive clips); the authors' code ``stride 4, pad_left 4``;
* a clip's label is the majority label of the real frames in its window (ties go to the lower label, so
  background wins a tie with a sign);
* clip ``i`` stands for the ``stride`` frames at the centre of its window, starting at frame
  ``i * stride + offset`` with ``offset = (length - stride) // 2 - pad_left``; so a run of clips ``a..b``
  (inclusive) maps back to frames ``a * stride + offset .. (b + 1) * stride + offset - 1`` and to
  milliseconds ``x d`` (the inverse of the frame labelling above), clamped to the video.  For consecutive
  clips (fact sheet) ``offset = 0``: clip index x stride, as REFERENCE.md says.  For the authors' centred
  windows (stride 4, pad_left 4) ``offset = -2``: mapping those with a plain ``index x stride`` shifts every
  segment by 80 ms, which costs 0.16 F1 even with perfect clip labels on the real MSSL train annotations
  (0.769 vs 0.926), so the centre is used.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from benchmark.interfaces import FPS

IGNORE = -1  # frame / clip label of an ignored span: neither a sign nor background


def ms_to_frame(ms, fps: float = FPS):
    """Milliseconds -> the frame that shows them (``floor(ms / d)``; a tiny epsilon absorbs float error)."""
    return np.floor(np.asarray(ms, np.float64) * float(fps) / 1000.0 + 1e-9).astype(np.int64)


def frame_to_ms(frames, fps: float = FPS):
    """Frame indices -> the millisecond each starts at, rounded to whole ms (``40 f`` at 25 fps)."""
    return np.rint(np.asarray(frames, np.float64) * 1000.0 / float(fps)).astype(np.int64)


def entry_fps(config) -> float:
    """The frame rate a run works at: ``preprocess.fps`` of the resolved entry (default 25)."""
    return float((config.get("preprocess") or {}).get("fps") or FPS)


@dataclass(frozen=True)
class ClipSpec:
    length: int = 8
    stride: int = 8
    pad_left: int = 0
    fps: float = FPS  # the frame grid (``preprocess.fps``): frames <-> ms

    @classmethod
    def from_settings(cls, settings, fps: float = FPS) -> ClipSpec:
        settings = dict(settings or {})
        length = int(settings.get("length", 8))
        stride = int(settings.get("stride", length))
        pad_left = settings.get("pad_left")
        if pad_left is None:
            pad_left = 0 if stride >= length else (length - stride)
        spec = cls(length, stride, int(pad_left), float(fps))
        if spec.length < 1 or spec.stride < 1 or spec.pad_left < 0 or spec.fps <= 0:
            raise ValueError(
                f"invalid clip settings {settings!r} at {fps} fps: length and stride must be >= 1, pad_left >= 0"
            )
        return spec

    @classmethod
    def from_config(cls, config) -> ClipSpec:
        """The clips of a resolved entry, on its frame grid (``clips`` and ``preprocess.fps``)."""
        return cls.from_settings(config["clips"], entry_fps(config))

    def num_clips(self, n_frames: int) -> int:
        return -(-int(n_frames) // self.stride) if n_frames > 0 else 0

    def window_indices(self, n_frames: int) -> np.ndarray:
        """``[n_clips, length]`` frame indices (edge-clamped) of every clip's window."""
        n = self.num_clips(n_frames)
        starts = np.arange(n) * self.stride - self.pad_left
        idx = starts[:, None] + np.arange(self.length)[None, :]
        return np.clip(idx, 0, max(n_frames - 1, 0))

    def clip_labels(self, frame_labels: np.ndarray) -> np.ndarray:
        """Majority label of the real (unclamped) frames of each clip."""
        frame_labels = np.asarray(frame_labels, dtype=np.int64)
        t = len(frame_labels)
        n = self.num_clips(t)
        out = np.zeros(n, dtype=np.int64)
        if n == 0:
            return out
        k = max(int(frame_labels.max()) + 1, 1)
        starts = np.arange(n) * self.stride - self.pad_left
        idx = starts[:, None] + np.arange(self.length)[None, :]
        valid = (idx >= 0) & (idx < t)
        labels = frame_labels[np.clip(idx, 0, t - 1)]
        counts = np.zeros((n, k + 1), dtype=np.int64)  # last column: ignored frames (label -1)
        rows = np.repeat(np.arange(n), self.length)
        np.add.at(counts, (rows[valid.ravel()], labels.ravel()[valid.ravel()]), 1)
        out = counts[:, :k].argmax(axis=1)
        # a clip whose majority is an ignored span is ignored (ties go to the labels, as background wins ties)
        out[counts[:, k] > counts[:, :k].max(axis=1)] = IGNORE
        return out

    @property
    def offset(self) -> int:
        """First frame that clip 0 stands for (see the module docstring)."""
        return (self.length - self.stride) // 2 - self.pad_left

    def clips_to_frames(self, first, last, n_frames=None):
        """Vectorised clip runs -> inclusive frame ranges ``(start, end)``, clamped to ``[0, n_frames - 1]``.
        ``n_frames`` may be an array (one per run); negative values mean unknown (no upper clamp)."""
        first, last = np.asarray(first, np.int64), np.asarray(last, np.int64)
        start = np.maximum(first * self.stride + self.offset, 0)
        end = np.maximum((last + 1) * self.stride + self.offset - 1, start)
        if n_frames is not None:
            nf = np.broadcast_to(np.asarray(n_frames, np.int64), end.shape)
            end = np.where(nf > 0, np.minimum(end, nf - 1), end)
            start = np.minimum(start, end)
        return start, end

    def clip_to_frames(self, first_clip: int, last_clip: int, n_frames: int | None = None) -> tuple[int, int]:
        start, end = self.clips_to_frames(first_clip, last_clip, n_frames)
        return int(start), int(end)

    def clip_to_ms(self, first_clip: int, last_clip: int, n_frames: int | None = None) -> tuple[int, int]:
        start, end = self.clip_to_frames(first_clip, last_clip, n_frames)
        return int(frame_to_ms(start, self.fps)), int(frame_to_ms(end, self.fps))

    def to_ms(self, frames):
        """Frame indices -> ms on this grid."""
        return frame_to_ms(frames, self.fps)


def frame_labels(
    annotations: Iterable[Sequence[int]] | None,
    n_frames: int,
    fps: float = FPS,
    ignored: Iterable[Sequence[int]] = (),
) -> np.ndarray:
    """Per-frame labels (class + 1, background 0, :data:`IGNORE` for ignored spans no sign covers) from
    ``[class, start_ms, end_ms]`` annotations, on the ``fps`` grid."""
    labels = np.zeros(int(n_frames), dtype=np.int64)
    for start, end in ignored or ():
        a, b = (int(x) for x in ms_to_frame([start, end], fps))
        labels[max(a, 0) : min(b, n_frames - 1) + 1] = IGNORE
    for cls, start, end in annotations or ():
        a, b = (int(x) for x in ms_to_frame([start, end], fps))
        labels[max(a, 0) : min(b, n_frames - 1) + 1] = int(cls) + 1
    return labels


def run_bounds(labels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every run of equal values (background included) as arrays ``(value, first, last)``, inclusive indices.

    The one run-length helper: targets, decoders and segment conversion all read runs from here."""
    labels = np.asarray(labels).reshape(-1)
    if labels.size == 0:
        empty = np.zeros(0, np.int64)
        return labels[:0], empty, empty
    change = np.flatnonzero(labels[1:] != labels[:-1]) + 1
    first = np.concatenate([[0], change]).astype(np.int64)
    last = np.concatenate([change - 1, [labels.size - 1]]).astype(np.int64)
    return labels[first], first, last


def runs(labels: np.ndarray) -> list[tuple[int, int, int]]:
    """Runs of equal non-zero labels as ``(label, first_index, last_index)``."""
    value, first, last = run_bounds(labels)
    keep = value != 0
    return [(int(v), int(s), int(e)) for v, s, e in zip(value[keep], first[keep], last[keep])]


def segments_from_clip_labels(labels: np.ndarray, clips: ClipSpec, n_frames: int | None = None) -> list[list[int]]:
    """Runs of equal non-background clip labels -> ``[[class_id, start_ms, end_ms], ...]``."""
    out = []
    for label, a, b in runs(np.where(np.asarray(labels) < 0, 0, labels)):
        s, e = clips.clip_to_ms(a, b, n_frames)
        out.append([label - 1, s, e])
    return out


def outside_ignored(segments: Sequence[Sequence], spans: Iterable[Sequence[int]]) -> list:
    """``segments`` (``[class, start_ms, end_ms, ...]``) without those lying mostly (more than half their
    length) inside ignored spans: a prediction there is neither a true nor a false positive."""
    spans = [(int(a), int(b)) for a, b in spans or ()]
    if not spans:
        return list(segments)
    kept = []
    for seg in segments:
        start, end = float(seg[1]), float(seg[2])
        inside = sum(max(0.0, min(end, b) - max(start, a)) for a, b in spans)
        if not inside > 0.5 * max(end - start, 1e-9):
            kept.append(seg)
    return kept
