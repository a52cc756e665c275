"""Clip augmentation and scaling (REFERENCE.md, "Augmentation").

Video (uint8 ``[B, L, S, S, C]``): training = random ``input_size`` crop + horizontal flip with probability
``hflip`` (one crop and one flip per clip, same for all its frames); test = centre crop; values scaled to
[-1, 1]; output float32 ``[B, C, L, s, s]``.  Flipping a 2-channel flow clip also negates its horizontal
component (stored as ``255 - v``, exactly ``-x`` after scaling).
Skeleton (float32 ``[B, L, 57, 3]`` in the :mod:`benchmark.joints` layout, already normalised by the skeleton
modality): NaN -> 0; training = horizontal flip (x -> -x, left/right joints swapped) with probability
``hflip``; never at test time; output float32 ``[B, 3, L, 57]``.
Random draws come from the numpy ``rng`` in a fixed order (crop y, crop x, flip per clip), so a seed fixes them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np

log = logging.getLogger(__name__)
_warned: set = set()


def _crop_size(size: int, input_size: int | None) -> int:
    if not input_size or input_size >= size:
        if input_size and input_size > size and (size, input_size) not in _warned:
            _warned.add((size, input_size))
            log.warning("input_size %d is larger than the %dx%d frames; using the whole frame", input_size, size, size)
        return size
    return int(input_size)


def video_windows(
    windows: np.ndarray, train: bool, input_size: int | None, hflip: float, rng: np.random.Generator | None
) -> np.ndarray:
    """Crop (random or centre) and flip uint8 ``[B, L, H, W, C]`` clips; returns uint8 ``[B, L, s, s, C]``."""
    windows = np.asarray(windows)
    if windows.ndim != 5:
        raise ValueError(f"video windows must be [B, L, H, W, C], got shape {windows.shape}")
    b, _, h, w, c = windows.shape
    s = _crop_size(min(h, w), input_size)
    out = np.empty((b, windows.shape[1], s, s, c), dtype=windows.dtype)
    for i in range(b):
        if train:
            y = int(rng.integers(0, h - s + 1))
            x = int(rng.integers(0, w - s + 1))
            flip = bool(rng.random() < hflip)
        else:
            y, x, flip = (h - s) // 2, (w - s) // 2, False
        clip = windows[i, :, y : y + s, x : x + s]
        if flip:
            clip = clip[:, :, ::-1]
            if c == 2:  # flow: a mirrored motion moves the other way
                clip = clip.copy()
                clip[..., 0] = 255 - clip[..., 0]
        out[i] = clip
    return out


def video_tensor(windows: np.ndarray):
    """uint8 ``[B, L, H, W, C]`` -> float32 ``[B, C, L, H, W]`` in [-1, 1]."""
    import torch

    t = torch.from_numpy(np.ascontiguousarray(windows)).permute(0, 4, 1, 2, 3).float()
    return t.div_(127.5).sub_(1.0)


def skeleton_windows(windows: np.ndarray, train: bool, hflip: float, rng: np.random.Generator | None) -> np.ndarray:
    """float ``[B, L, V, 3]`` -> float32 with NaN zeroed and, in training, random mirrored clips."""
    from benchmark.joints import SKELETON_JOINTS
    from experts.graph import flip_permutation

    out = np.nan_to_num(np.asarray(windows, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    if out.ndim != 4:
        raise ValueError(f"skeleton windows must be [B, L, V, C], got shape {out.shape}")
    if train:
        perm = flip_permutation() if out.shape[2] == SKELETON_JOINTS else None
        for i in range(out.shape[0]):
            if rng.random() < hflip:
                clip = out[i][:, perm] if perm is not None else out[i].copy()
                clip[..., 0] = -clip[..., 0]
                out[i] = clip
    return out


def skeleton_tensor(windows: np.ndarray):
    """float32 ``[B, L, V, C]`` -> ``[B, C, L, V]``."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(windows)).permute(0, 3, 1, 2).contiguous()


def is_skeleton(windows: np.ndarray) -> bool:
    return np.asarray(windows).ndim == 4


def clip_input(windows: np.ndarray, train: bool, training: Mapping[str, Any], rng: np.random.Generator | None):
    """Model input for a batch of windows of either kind (dispatch on the array's rank).

    ``training`` is the complete ``expert_training`` mapping: ``input_size`` always, ``hflip`` when ``train``.
    """
    if train and rng is None:
        raise ValueError("training-time clip_input needs a numpy Generator for its random draws")
    hflip = float(training["hflip"] or 0.0) if train else 0.0
    if is_skeleton(windows):
        return skeleton_tensor(skeleton_windows(windows, train, hflip, rng))
    return video_tensor(video_windows(windows, train, training["input_size"], hflip, rng))
