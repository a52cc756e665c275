"""Streaming video decoding with the checks that turn bad files into clear :class:`DataError` messages.

Videos are decoded frame by frame (never held whole at full resolution): the runner feeds each frame to the
pose estimator and keeps only a downscaled copy for the crop.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from benchmark.errors import DataError

# A container's frame count may be off by one for some codecs; more missing frames than this = truncated.
TRUNCATION_TOLERANCE = 1


@dataclass
class VideoInfo:
    """What the container header says (``frames`` may be 0 when the container does not know)."""

    path: Path
    width: int
    height: int
    fps: float
    frames: int


def open_video(path: Path):
    """Open ``path`` with OpenCV; a missing or unreadable file is a :class:`DataError` naming it."""
    import cv2

    path = Path(path)
    if not path.is_file():
        raise DataError(f"video {path}: file not found")
    if path.stat().st_size == 0:
        raise DataError(f"video {path}: file is empty (0 bytes)")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise DataError(
            f"video {path}: OpenCV cannot open it (not a video, truncated container or unsupported codec); "
            f"re-encode it, e.g. `ffmpeg -i {path.name} -c:v libx264 fixed.mp4`"
        )
    return cap


def probe(path: Path) -> VideoInfo:
    """Read the header only (size, fps, frame count) without decoding."""
    import cv2

    cap = open_video(path)
    try:
        return VideoInfo(
            Path(path),
            int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            float(cap.get(cv2.CAP_PROP_FPS) or 0.0),
            max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0), 0),
        )
    finally:
        cap.release()


class FrameStream:
    """Iterate the RGB uint8 ``[H, W, 3]`` frames of a video once; :meth:`check` validates what was read.

    ``for frame in stream: ...`` then ``stream.check(min_frames)`` raises :class:`DataError` for a video with
    zero frames, one shorter than ``min_frames`` or one that stops before its header's frame count
    (truncated).
    """

    def __init__(self, path: Path):
        import cv2

        self.path = Path(path)
        self._cap = open_video(self.path)
        self.info = VideoInfo(
            self.path,
            int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0),
            max(int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0), 0),
        )
        self.count = 0

    def __iter__(self) -> Iterator:
        import cv2

        try:
            while True:
                ok, bgr = self._cap.read()
                if not ok or bgr is None:
                    break
                self.count += 1
                yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        finally:
            self._cap.release()

    def check(self, min_frames: int = 1) -> None:
        if self.count == 0:
            raise DataError(f"video {self.path}: no frame could be decoded (zero frames or corrupt stream)")
        if self.info.frames and self.count < self.info.frames - TRUNCATION_TOLERANCE:
            raise DataError(
                f"video {self.path}: truncated: its header says {self.info.frames} frames but only "
                f"{self.count} could be decoded"
            )
        if self.count < min_frames:
            raise DataError(
                f"video {self.path}: {self.count} frames, shorter than one clip ({min_frames} frames)"
            )


def read_frames(path: Path, min_frames: int = 1):
    """Decode a whole (small) video to uint8 ``[T, H, W, 3]`` RGB; for tests and short videos only."""
    import numpy as np

    stream = FrameStream(path)
    frames = list(stream)
    stream.check(min_frames)
    return np.stack(frames)
