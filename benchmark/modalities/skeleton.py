"""``skeleton``: the 57-joint x, y, z skeleton of the ST-GCN expert, float32 ``[T, 57, 3]``.

Joints (REFERENCE.md, :mod:`benchmark.joints`): MediaPipe body 0, 1, 2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 14, 23,
24, then 21 left-hand and 21 right-hand keypoints; a missing hand repeats its wrist (body 15 left, 16 right).
Coordinates are first made isotropic (x and z times the frame width, y times the height, when the frame size
is known), then joints missing in some frames are linearly interpolated over time (edges hold the nearest
value; a joint never seen is 0).  Normalisation, per frame: subtract the nose x (the mid-shoulder x when the
nose is never seen, as in reduced ``.pose`` files) and the mid-shoulder y (z is not centred), divide by twice
the shoulder width (x-y distance); a zero width falls back to the video's median width, or 1 when no frame
has shoulders.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from benchmark.interfaces import Modality, VideoRecord
from benchmark.joints import (
    POSE_LEFT_HAND,
    POSE_LEFT_WRIST,
    POSE_RIGHT_HAND,
    POSE_RIGHT_WRIST,
    SKELETON_BODY,
    SKELETON_LEFT_SHOULDER,
    SKELETON_NOSE,
    SKELETON_RIGHT_SHOULDER,
)

EPS = 1e-6


def select_joints(pose: np.ndarray) -> np.ndarray:
    """``[T, 75, >=3]`` pose -> ``[T, 57, 3]`` (NaN kept), missing hands replaced by their wrist."""
    pose = np.asarray(pose, dtype=np.float64)[..., :3]
    body = pose[:, SKELETON_BODY]
    hands = []
    for sl, wrist in ((POSE_LEFT_HAND, POSE_LEFT_WRIST), (POSE_RIGHT_HAND, POSE_RIGHT_WRIST)):
        hand = pose[:, sl].copy()
        missing = ~np.isfinite(hand).all(axis=(1, 2))
        hand[missing] = pose[missing, wrist][:, None, :]
        hands.append(hand)
    return np.concatenate([body] + hands, axis=1)


def interpolate_missing(x: np.ndarray) -> np.ndarray:
    """Linear interpolation over time of every non-finite value, per joint and coordinate (never seen -> 0)."""
    t = x.shape[0]
    flat = x.reshape(t, -1).copy()
    frames = np.arange(t)
    for j in range(flat.shape[1]):
        ok = np.isfinite(flat[:, j])
        if ok.all():
            continue
        flat[:, j] = np.interp(frames, frames[ok], flat[ok, j]) if ok.any() else 0.0
    return flat.reshape(x.shape)


def normalize(skel: np.ndarray, nose: bool = True) -> np.ndarray:
    """Centre on nose x / mid-shoulder y and divide by twice the shoulder width, per frame; ``nose=False`` (a
    pose without the face, e.g. pose-format's reduced holistic layout) centres x on the mid-shoulders."""
    out = skel.copy()
    width = np.linalg.norm(skel[:, SKELETON_LEFT_SHOULDER, :2] - skel[:, SKELETON_RIGHT_SHOULDER, :2], axis=-1)
    good = np.isfinite(width) & (width > EPS)
    fallback = float(np.median(width[good])) if good.any() else 0.5
    width = np.where(good, width, fallback)
    shoulders_x = (skel[:, SKELETON_LEFT_SHOULDER, 0] + skel[:, SKELETON_RIGHT_SHOULDER, 0]) / 2
    out[..., 0] -= (skel[:, SKELETON_NOSE, 0] if nose else shoulders_x)[:, None]
    out[..., 1] -= ((skel[:, SKELETON_LEFT_SHOULDER, 1] + skel[:, SKELETON_RIGHT_SHOULDER, 1]) / 2)[:, None]
    return out / (2 * width)[:, None, None]


def pose_to_skeleton(
    pose: np.ndarray, width: int | None, height: int | None, *, interpolate: bool, normalise: bool
) -> np.ndarray:
    """``[T, 75, 4]`` pose -> float32 ``[T, 57, 3]`` skeleton (see the module doc); no frame size: no scaling."""
    skel = select_joints(pose)
    nose = bool(np.isfinite(skel[:, SKELETON_NOSE, 0]).any())  # never seen: the pose file has no face points
    if width and height:
        skel[..., 0] *= width
        skel[..., 1] *= height
        skel[..., 2] *= width  # MediaPipe z has the scale of x
    if interpolate:
        skel = interpolate_missing(skel)
    skel = np.nan_to_num(skel, nan=0.0, posinf=0.0, neginf=0.0)
    if normalise:
        skel = normalize(skel, nose)
    return skel.astype(np.float32)


class SkeletonModality(Modality):
    """57 joints (15 body + 2 hands), interpolated and normalised, from the pose modality."""

    name = "skeleton"
    requires = ("pose",)
    needs_frames = False
    channels = 3
    version = "1"
    description = "57-joint x,y,z skeleton (15 body + 2x21 hand), interpolated, normalised, float32 [T, 57, 3]"
    defaults = {
        "interpolate_missing": True,  # joints missing in some frames: linear interpolation over time
        "normalize": True,  # centre on the nose / mid-shoulders, divide by twice the shoulder width
    }

    def frame_bytes(self, settings: Mapping[str, Any], inputs: Mapping[str, int]) -> int:
        return 57 * 3 * 4  # float32 [T, 57, 3]

    def compute(self, video: VideoRecord, frames, inputs: Mapping[str, Any], settings: Mapping[str, Any]):
        meta = inputs.get("meta") or {}
        return pose_to_skeleton(
            inputs["pose"],
            meta.get("width"),
            meta.get("height"),
            interpolate=bool(settings["interpolate_missing"]),
            normalise=bool(settings["normalize"]),
        )
