"""``bench spot --start/--end``: spot part of a long recording, with times in the whole recording's time line.

The part is cut into a file of its own (kept in the cache, named by the input's content and the range) and
spotted as any input; its segments are then shifted by the time of the part's first frame.  A video part is
written losslessly (FFV1 in ``.avi``) when this OpenCV can, else as ``mp4v``; a ``.pose`` part keeps the
frames whose time falls in the range.  The part starts on the first frame at or after ``--start``: a sign cut
by ``--start`` or ``--end`` is seen in part, as the annotator would see it in ELAN's selection.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

from benchmark.errors import BenchError, DataError
from benchmark.interfaces import VideoRecord


@dataclass(frozen=True)
class Part:
    """An input cut to a range: the record spotted and the ms its first frame has in the original."""

    record: VideoRecord
    offset_ms: float


def parse_time(text: str | None, option: str) -> int | None:
    """``90``, ``90.5`` (seconds), ``1:30``, ``0:01:30.500`` -> milliseconds."""
    if text is None:
        return None
    try:
        parts = [float(p) for p in str(text).split(":")]
    except ValueError:
        parts = []
    if not parts or len(parts) > 3 or any(p < 0 for p in parts):
        raise BenchError(f"{option} {text!r}: expected seconds (90.5) or [HH:]MM:SS[.mmm] (1:30.5)")
    seconds = 0.0
    for p in parts:
        seconds = seconds * 60 + p
    return int(round(seconds * 1000))


def check_range(start_ms: int | None, end_ms: int | None) -> None:
    if start_ms is not None and end_ms is not None and end_ms <= start_ms:
        raise BenchError(f"--end ({end_ms} ms) must come after --start ({start_ms} ms)")


def cut(video: VideoRecord, start_ms: int | None, end_ms: int | None, folder: Path) -> Part:
    """The part of ``video`` in ``[start_ms, end_ms]`` (None: from the beginning / to the end)."""
    if start_ms is None and end_ms is None:
        return Part(video, 0.0)
    key = hashlib.sha256(f"{video.video_path}|{video.pose_path}|{start_ms}|{end_ms}".encode()).hexdigest()[:16]
    target = Path(folder) / f"{video.video_id}-{key}"
    target.mkdir(parents=True, exist_ok=True)
    offsets, record = [], video
    if video.video_path is not None:
        path, offset = _cut_video(Path(video.video_path), start_ms, end_ms, target)
        record, offsets = replace(record, video_path=path), [*offsets, offset]
    if video.pose_path is not None:
        path, offset = _cut_pose(Path(video.pose_path), start_ms, end_ms, target)
        record, offsets = replace(record, pose_path=path), [*offsets, offset]
    return Part(record, offsets[0])


def _inside(ms: float, start_ms, end_ms) -> bool:
    return (start_ms is None or ms >= start_ms - 0.5) and (end_ms is None or ms <= end_ms + 0.5)


def _cut_video(path: Path, start_ms, end_ms, target: Path) -> tuple[Path, float]:
    """Frames by their timestamps (as preprocessing picks them), re-encoded into ``target``."""
    import cv2

    from benchmark.preprocessing.frames import open_video, probe

    info = probe(path)
    cap = open_video(path)
    writer, out, first_ms = None, None, None
    try:
        while True:
            ok, bgr = cap.read()
            if not ok or bgr is None:
                break
            ms = float(cap.get(cv2.CAP_PROP_POS_MSEC) or 0.0)
            if end_ms is not None and ms > end_ms + 0.5:
                break
            if not _inside(ms, start_ms, end_ms):
                continue
            if writer is None:
                writer, out = _writer(target, info.fps or 25.0, bgr.shape[1], bgr.shape[0])
                first_ms = ms
            writer.write(bgr)
    finally:
        cap.release()
        if writer is not None:
            writer.release()
    if writer is None:
        raise DataError(f"{path}: no frame between --start and --end (the video is {info.frames} frames long)")
    return out, float(first_ms)


def _writer(target: Path, fps: float, width: int, height: int):
    import cv2

    for name, fourcc in (("part.avi", "FFV1"), ("part.mp4", "mp4v")):
        out = target / name
        writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*fourcc), float(fps), (width, height))
        if writer.isOpened():
            return writer, out
        writer.release()
    raise DataError(f"OpenCV cannot write a video into {target} (neither FFV1 nor mp4v)")


def _cut_pose(path: Path, start_ms, end_ms, target: Path) -> tuple[Path, float]:
    from pose_format import Pose

    pose = Pose.read(path.read_bytes())
    fps = float(pose.body.fps)
    frames = [i for i in range(len(pose.body.data)) if _inside(i * 1000.0 / fps, start_ms, end_ms)]
    if not frames:
        raise DataError(f"{path}: no frame between --start and --end ({len(pose.body.data)} frames at {fps} fps)")
    pose.body = pose.body.select_frames(frames)
    out = target / "part.pose"
    with open(out, "wb") as f:
        pose.write(f)
    return out, frames[0] * 1000.0 / fps


def shifted(segments: list[list], offset_ms: float) -> list[list]:
    """Segments of a part in the original's time line (whole ms)."""
    if not offset_ms:
        return segments
    return [[s[0], int(round(s[1] + offset_ms)), int(round(s[2] + offset_ms)), *s[3:]] for s in segments]
