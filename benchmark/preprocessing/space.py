"""What preprocessing will write, estimated before it starts, for the free-space check.

Each modality says how many bytes one frame of its array takes (:meth:`Modality.frame_bytes`); a video's frame
count comes from its container (OpenCV reads the header, not the frames), or, for a video given only as a
``.pose`` file, from the file's size (a MediaPipe Holistic frame takes about 8.7 kB there).  A modality that
cannot say is not counted: the estimate is a floor, and a disk that fills anyway still gets a clear error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from benchmark.interfaces import Modality, VideoRecord

POSE_FILE_FRAME_BYTES = 543 * 4 * 4  # pose-format: 543 Holistic points x (x, y, z, confidence) float32
MARGIN = 1.1  # manifests, meta files, rounding


def frame_bytes(plan: Mapping[str, Modality], settings: Mapping[str, Mapping[str, Any]]) -> dict[str, int]:
    """``{modality: bytes per frame}`` for every modality of ``plan`` (0 for those that cannot say)."""
    per: dict[str, int] = {}
    for name, modality in plan.items():  # each after what it requires
        inputs = {r: per.get(r, 0) for r in modality.requires}
        per[name] = int(modality.frame_bytes(settings[name], inputs) or 0)
    return per


def video_frames(video: VideoRecord) -> int:
    """The frame count a video's container states, or one estimated from its ``.pose`` file; 0 if unknown."""
    if video.video_path is not None:
        import cv2

        cap = cv2.VideoCapture(str(video.video_path))
        try:
            return max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0))
        finally:
            cap.release()
    if video.pose_path is not None:
        try:
            return video.pose_path.stat().st_size // POSE_FILE_FRAME_BYTES
        except OSError:
            return 0
    return 0


def estimate_bytes(videos: Iterable[VideoRecord], plan: Mapping[str, Modality], settings, have=None) -> int:
    """What preprocessing ``videos`` into ``plan`` will write, about; ``have``: ``{video id: {modality: ...}}``
    of the arrays already there (not written again)."""
    per = frame_bytes(plan, settings)
    total = 0
    for video in videos:
        done = (have or {}).get(video.video_id, {})
        missing = sum(b for m, b in per.items() if m not in done)
        if missing:
            total += video_frames(video) * missing
    return int(total * MARGIN)
