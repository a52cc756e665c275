"""Decoding a video once for every modality that needs its frames, with bad files turned into clear errors.

Videos are decoded frame by frame, never held whole at full resolution: each frame goes to the modalities
that process frames as they come (:meth:`Modality.open_stream`, e.g. pose estimation) and a copy downscaled
to the size the other modalities ask for (:meth:`Modality.frame_size`) goes to a :class:`FrameBuffer`.  The
crop, for instance, is only known after the pose pass, and it can be cut without loss from frames scaled so
that the crop side is its output size.  The buffer lives in RAM up to a budget and spills to a temporary file
in the video's output folder beyond, so minutes of 720p video never sit in RAM.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.errors import DataError
from benchmark.interfaces import Modality, VideoRecord

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


def _header(path: Path, cap) -> VideoInfo:
    import cv2

    return VideoInfo(
        Path(path),
        int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
        int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        float(cap.get(cv2.CAP_PROP_FPS) or 0.0),
        max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0), 0),
    )


def probe(path: Path) -> VideoInfo:
    """Read the header only (size, fps, frame count) without decoding."""
    cap = open_video(path)
    try:
        return _header(path, cap)
    finally:
        cap.release()


class FrameStream:
    """Iterate the RGB uint8 ``[H, W, 3]`` frames of a video once; :meth:`check` validates what was read.

    With ``fps`` the frames come on that grid, picked by their timestamps
    (:func:`benchmark.preprocessing.resample.on_grid`); without it, every decoded frame.
    ``for frame in stream: ...`` then ``stream.check(min_frames)`` raises :class:`DataError` for a video with
    zero frames, one shorter than ``min_frames`` or one that stops before its header's frame count
    (truncated).
    """

    def __init__(self, path: Path, fps: float | None = None):
        self.path = Path(path)
        self._cap = open_video(self.path)
        self.info = _header(self.path, self._cap)
        self.fps = fps
        self.count = 0  # frames decoded
        self.emitted = 0  # frames given out (on the grid)

    def _decoded(self) -> Iterator[tuple[float, np.ndarray]]:
        import cv2

        while True:
            ok, bgr = self._cap.read()
            if not ok or bgr is None:
                break
            self.count += 1
            yield float(self._cap.get(cv2.CAP_PROP_POS_MSEC) or 0.0), bgr

    def __iter__(self) -> Iterator:
        import cv2

        from benchmark.preprocessing.resample import on_grid

        try:
            timed = self._decoded()
            frames = (f for _, f in timed) if self.fps is None else on_grid(timed, self.fps, self.info.fps)
            for bgr in frames:
                self.emitted += 1
                yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        finally:
            self._cap.release()

    def close(self) -> None:
        self._cap.release()

    def check(self, min_frames: int = 1) -> None:
        if self.count == 0:
            raise DataError(f"video {self.path}: no frame could be decoded (zero frames or corrupt stream)")
        if self.info.frames and self.count < self.info.frames - TRUNCATION_TOLERANCE:
            raise DataError(
                f"video {self.path}: truncated: its header says {self.info.frames} frames but only "
                f"{self.count} could be decoded"
            )
        if self.emitted < min_frames:
            rate = f" at {self.fps:g} fps" if self.fps else ""
            raise DataError(
                f"video {self.path}: {self.emitted} frames, shorter than one clip ({min_frames} frames){rate}"
            )


def read_frames(path: Path, min_frames: int = 1, fps: float | None = None) -> np.ndarray:
    """Decode a whole (small) video to uint8 ``[T, H, W, 3]`` RGB (on the ``fps`` grid when given); for tests and
    short videos only."""
    stream = FrameStream(path, fps)
    frames = list(stream)
    stream.check(min_frames)
    return np.stack(frames)


class FrameBuffer:
    """Downscaled frames kept for the modalities computed after decoding: RAM up to a budget, then a file."""

    def __init__(self, folder: Path, size: tuple[int, int] | None, expected_frames: int, budget_mb: float):
        self.size = size  # (w, h) or None = full resolution
        self.folder = folder
        self._frames: list[np.ndarray] = []
        self._file = None
        self._path: Path | None = None
        self._shape: tuple[int, ...] | None = None
        self._budget = budget_mb * 2**20
        self._expected = expected_frames
        self._array = None
        self.count = 0

    def add(self, rgb: np.ndarray) -> None:
        import cv2

        if self.size is not None and (rgb.shape[1], rgb.shape[0]) != self.size:
            rgb = cv2.resize(rgb, self.size, interpolation=cv2.INTER_AREA)
        if self._shape is None:
            self._shape = rgb.shape
            if not self._expected or self._expected * rgb.nbytes > self._budget:
                self._spill()
        if self._file is not None:
            self._file.write(np.ascontiguousarray(rgb).tobytes())
        else:
            self._frames.append(rgb)
        self.count += 1

    def _spill(self) -> None:
        # named like benchmark.storage.files' temporaries, so a killed run's leftover is recognised and deleted
        fd, name = tempfile.mkstemp(prefix=".frames.", suffix=".tmp", dir=self.folder)
        self._path = Path(name)
        self._file = os.fdopen(fd, "wb")

    def array(self) -> np.ndarray | None:
        """Every frame added, ``[T, h, w, 3]`` (a read-only memory map once spilled); None when empty."""
        if self.count == 0:
            return None
        if self._array is None:
            if self._file is None:
                self._array, self._frames = np.stack(self._frames), []
            else:
                self._file.close()
                self._array = np.memmap(self._path, dtype=np.uint8, mode="r", shape=(self.count,) + tuple(self._shape))
        return self._array

    def close(self) -> None:
        self._frames, self._array = [], None
        if self._file is not None:
            self._file.close()
        if self._path is not None:
            self._path.unlink(missing_ok=True)


@dataclass
class Decoded:
    """What one decoding pass produced: the video's meta, the streamed arrays and the buffered frames."""

    meta: dict  # width, height, fps (the grid), source_fps, frames (on the grid), source_frames, source
    arrays: dict[str, np.ndarray]  # by modality, for those that processed frames while decoding
    frames: FrameBuffer | None  # for the others (None when every modality streamed); the caller closes it
    seconds: dict[str, float] = field(default_factory=dict)  # per streaming modality, plus "decode"


def decode_once(
    video: VideoRecord,
    folder: Path,
    plan: Mapping[str, Modality],
    settings: Mapping[str, dict],
    names: list[str],
    *,
    min_frames: int,
    buffer_mb: float,
    fps: float,
) -> Decoded:
    """Decode ``video`` once for the modalities ``names`` (all needing frames), on the ``fps`` grid: stream,
    buffer the rest.

    Raises :class:`DataError` for an unreadable, truncated or too short video.
    """
    stream = FrameStream(Path(video.video_path), fps)
    processors: dict[str, Any] = {}
    buffer = None
    try:
        _open_streams(processors, video, plan, settings, names, fps)
        buffered = [n for n in names if n not in processors]
        if buffered:
            buffer = _frame_buffer(folder, plan, settings, buffered, stream.info, fps, buffer_mb)
        rows: dict[str, list] = {n: [] for n in processors}
        seconds = dict.fromkeys(processors, 0.0)
        t_decode = time.perf_counter()
        for rgb in stream:
            for name, processor in processors.items():
                t0 = time.perf_counter()
                rows[name].append(processor.process(rgb))
                seconds[name] += time.perf_counter() - t0
            if buffer is not None:
                buffer.add(rgb)
        stream.check(min_frames)
    except BaseException:
        stream.close()
        if buffer is not None:
            buffer.close()
        raise
    finally:
        for processor in processors.values():
            processor.close()
    seconds["decode"] = time.perf_counter() - t_decode - sum(seconds.values())
    return Decoded(_grid_meta(video, stream, fps), {n: np.stack(r) for n, r in rows.items()}, buffer, seconds)


def _open_streams(processors: dict[str, Any], video: VideoRecord, plan, settings, names: list[str], fps: float) -> None:
    """Open the frame processors of the modalities that stream, into ``processors`` as they open (so that the
    caller closes those already open when a later one fails)."""
    for name in names:
        processor = plan[name].open_stream(video, settings[name], fps)
        if processor is not None:
            processors[name] = processor


def _frame_buffer(
    folder: Path, plan, settings, buffered: list[str], info: VideoInfo, fps: float, buffer_mb: float
) -> FrameBuffer:
    """A buffer of frames at the largest size the ``buffered`` modalities ask for (full size when one asks
    for it)."""
    from benchmark.preprocessing.resample import frames_for

    sizes = [plan[n].frame_size(info.width, info.height, settings[n]) for n in buffered]
    size = None if any(s is None for s in sizes) else max(sizes, key=lambda s: s[0] * s[1])
    return FrameBuffer(folder, size, frames_for(info.frames, info.fps, fps), buffer_mb)


def _grid_meta(video: VideoRecord, stream: FrameStream, fps: float) -> dict:
    """The meta.json of a decoded video: its header's size and rate, and the frames read and given out."""
    info = stream.info
    return {
        "width": info.width,
        "height": info.height,
        "fps": fps,  # the grid the arrays are on
        "source_fps": info.fps,
        "frames": stream.emitted,
        "source_frames": stream.count,
        "source": str(video.video_path),
    }
