"""``rgb-crop`` (square crop around the signer, resized) and ``rgb-hands`` (the crop masked to two hand boxes).

Crop rule (REFERENCE.md): centre x = mean over frames of the mean x of nose, shoulders and hips (pose 0, 11,
12, 23, 24); side = ``crop_fraction`` x frame height (720 of 720 on MSSL); full height when the fraction is
1, otherwise centred on the same points' mean y; clamped to the frame; resized to ``size``.  A frame narrower
than the side (a portrait video: 540 x 720 gives a 720 square) is padded with black, the square still placed
around the signer: the whole frame width inside it, the signer as near its centre as that allows (not the
frame's centre).  The geometry is kept in normalised coordinates so the crop can be
cut from frames already downscaled while decoding (crop side -> ``size`` pixels) and the hand boxes of
``rgb-hands`` land on the same pixels.  A video where the pose never finds the body is cropped at the
frame centre (with a warning).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmark.errors import DataError
from benchmark.interfaces import Modality, VideoRecord
from benchmark.joints import POSE_CENTRE, POSE_LEFT_HAND, POSE_RIGHT_HAND

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CropGeometry:
    """The crop square in normalised frame coordinates: left/top edge and side as fractions of W and H."""

    x0: float
    y0: float
    side_w: float  # side / W
    side_h: float  # side / H

    def to_crop(self, x, y, size: int):
        """Normalised frame coordinates -> pixel coordinates on the ``size`` x ``size`` crop."""
        return (np.asarray(x) - self.x0) / self.side_w * size, (np.asarray(y) - self.y0) / self.side_h * size


def crop_geometry(
    pose: np.ndarray, width: int, height: int, crop_fraction: float, video: str = "", warn: bool = True
) -> CropGeometry:
    """Where to crop a ``width`` x ``height`` video, from its pose ``[T, 75, 4]`` (``crop_fraction`` in (0, 1]:
    the modality's rule)."""
    pts = np.asarray(pose, dtype=np.float64)[:, POSE_CENTRE, :2]
    with np.errstate(invalid="ignore"), _nowarn():
        per_frame = np.nanmean(pts, axis=1)  # [T, 2]; NaN for frames without a body
    valid = np.isfinite(per_frame).all(axis=1)
    if valid.any():
        cx, cy = per_frame[valid].mean(axis=0)
    else:
        if warn:
            log.warning("rgb-crop: no body found in any frame of %s; cropping at the frame centre", video or "a video")
        cx, cy = 0.5, 0.5
    side = crop_fraction * height  # pixels
    x0 = _place(cx * width - side / 2, side, width)
    y0 = 0.0 if crop_fraction >= 1 else _place(cy * height - side / 2, side, height)
    return CropGeometry(x0 / width, y0 / height, side / width, side / height)


def _place(start: float, side: float, extent: float) -> float:
    """The square's edge on one axis: ``start`` (centred on the signer) moved as little as needed to stay inside
    the frame; a side longer than the frame (a portrait video's width) keeps the whole frame inside the square,
    the signer as near its centre as that allows, and the rest is padded."""
    low, high = sorted((0.0, extent - side))
    return min(max(start, low), high)


class _nowarn:
    def __enter__(self):
        import warnings

        self._c = warnings.catch_warnings()
        self._c.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        self._c.__exit__(*exc)


def buffer_size(width: int, height: int, crop_fraction: float, size: int) -> tuple[int, int]:
    """(w, h) to downscale full frames to so the crop side becomes ``size`` pixels (never upscales)."""
    scale = min(1.0, size / (crop_fraction * height))
    return max(1, int(round(width * scale))), max(1, int(round(height * scale)))


def crop_frames(frames: np.ndarray, geom: CropGeometry, size: int) -> np.ndarray:
    """Cut the crop square out of ``frames`` ``[T, h, w, 3]`` (any resolution) and resize to ``size``."""
    import cv2

    t, h, w = frames.shape[:3]
    side = max(1, int(round(geom.side_h * h)))
    x0 = int(round(geom.x0 * w))
    y0 = int(round(geom.y0 * h))
    out = np.empty((t, size, size, 3), dtype=np.uint8)
    interp = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    # source window clipped to the frame; the rest (frames narrower than the side) stays black
    sx0, sx1, sy0, sy1 = max(x0, 0), min(x0 + side, w), max(y0, 0), min(y0 + side, h)
    for i in range(t):
        if sx0 == x0 and sx1 == x0 + side and sy0 == y0 and sy1 == y0 + side:
            sq = frames[i, sy0:sy1, sx0:sx1]
        else:
            sq = np.zeros((side, side, 3), dtype=np.uint8)
            sq[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = frames[i, sy0:sy1, sx0:sx1]
        out[i] = sq if side == size else cv2.resize(sq, (size, size), interpolation=interp)
    return out


def _meta(video: VideoRecord, inputs: Mapping[str, Any], frames) -> tuple[int, int]:
    meta = inputs.get("meta") or {}
    if meta.get("width") and meta.get("height"):
        return int(meta["width"]), int(meta["height"])
    if frames is not None:
        return int(frames.shape[2]), int(frames.shape[1])
    raise DataError(f"video {video.video_id}: frame size unknown (inputs['meta'] needs width and height)")


class RgbCropModality(Modality):
    """Square crop around the signer (nose/shoulders/hips centre), resized to ``size``."""

    name = "rgb-crop"
    requires = ("pose",)
    needs_frames = True
    channels = 3
    version = "1"
    description = "square crop (crop_fraction x height) around the signer, resized to size, uint8 [T, S, S, 3]"
    defaults = {
        "crop_fraction": 1.0,  # crop side = fraction x frame height (720 of 720 on MSSL)
        "size": 256,  # side of the saved crop, pixels
    }
    rules = {"crop_fraction": "0<..1", "size": ">=1"}

    def frame_bytes(self, settings: Mapping[str, Any], inputs: Mapping[str, int]) -> int:
        return int(settings["size"]) ** 2 * 3

    def frame_size(self, width: int, height: int, settings: Mapping[str, Any]) -> tuple[int, int]:
        """Frames may be downscaled until the crop side is ``size`` pixels before :meth:`compute`."""
        return buffer_size(width, height, float(settings["crop_fraction"]), int(settings["size"]))

    def compute(self, video: VideoRecord, frames, inputs: Mapping[str, Any], settings: Mapping[str, Any]):
        if frames is None:
            raise DataError(f"video {video.video_id}: rgb-crop needs video frames, and this record has no video")
        pose = inputs["pose"]
        if len(pose) != len(frames):
            raise DataError(f"video {video.video_id}: pose has {len(pose)} frames but the video {len(frames)}")
        width, height = _meta(video, inputs, frames)
        geom = crop_geometry(pose, width, height, float(settings["crop_fraction"]), video.video_id)
        return crop_frames(np.asarray(frames), geom, int(settings["size"]))


def hand_mask(crop: np.ndarray, pose: np.ndarray, geom: CropGeometry, box: int) -> np.ndarray:
    """Zero ``crop`` ``[T, S, S, 3]`` except a ``box`` x ``box`` square centred on each hand's mean keypoint."""
    size = crop.shape[1]
    out = np.zeros_like(crop)
    for hand in (POSE_LEFT_HAND, POSE_RIGHT_HAND):
        pts = np.asarray(pose[:, hand, :2], dtype=np.float64)
        with _nowarn():
            mean = np.nanmean(pts, axis=1)  # [T, 2]
        u, v = geom.to_crop(mean[:, 0], mean[:, 1], size)
        for i in np.flatnonzero(np.isfinite(u) & np.isfinite(v)):
            x_lo = int(np.floor(u[i] - box / 2 + 0.5))
            y_lo = int(np.floor(v[i] - box / 2 + 0.5))
            xa, xb = max(x_lo, 0), min(x_lo + box, size)
            ya, yb = max(y_lo, 0), min(y_lo + box, size)
            if xa < xb and ya < yb:
                out[i, ya:yb, xa:xb] = crop[i, ya:yb, xa:xb]
    return out


class RgbHandsModality(Modality):
    """The rgb crop with everything zeroed except a ``box`` x ``box`` square around each hand."""

    name = "rgb-hands"
    requires = ("rgb-crop", "pose")
    needs_frames = False
    settings_from = ("rgb-crop",)  # the crop's geometry (crop_fraction) comes from that section
    channels = 3
    version = "1"
    description = "rgb-crop zeroed except a box x box square around each hand, uint8 [T, S, S, 3]"
    defaults = {"box": 64}  # side of each hand box on the size x size crop, pixels
    rules = {"box": ">=1"}

    def frame_bytes(self, settings: Mapping[str, Any], inputs: Mapping[str, int]) -> int:
        return int(inputs.get("rgb-crop") or 0)  # the crop's size, masked

    def compute(self, video: VideoRecord, frames, inputs: Mapping[str, Any], settings: Mapping[str, Any]):
        crop, pose = inputs["rgb-crop"], inputs["pose"]
        if len(crop) != len(pose):
            raise DataError(f"video {video.video_id}: rgb-crop has {len(crop)} frames but pose {len(pose)}")
        width, height = _meta(video, inputs, None)
        geom = crop_geometry(pose, width, height, float(settings["crop_fraction"]), video.video_id, warn=False)
        return hand_mask(np.asarray(crop), pose, geom, int(settings["box"]))
