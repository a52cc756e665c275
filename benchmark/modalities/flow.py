"""``flow-tvl1``: OpenCV contrib Dual TV-L1 optical flow between consecutive grayscale crops.

Flow is clipped to ``+-bound`` pixels and mapped linearly to 0..255 (0 flow -> 128 after rounding 127.5),
two channels (dx, dy).  T frames give T-1 flows; the last is repeated so every modality has T frames.
Parameters are settings (:attr:`FlowTvl1Modality.defaults` are OpenCV's: 5 scales, 5 warps, 30 inner / 10
outer iterations, epsilon 0.01); fewer scales and warps are much faster.  OpenCV 4.x and 5.x share
``cv2.optflow.DualTVL1OpticalFlow_create``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from benchmark.errors import BenchError
from benchmark.interfaces import Modality, VideoRecord


def make_tvl1(s: Mapping[str, Any]):
    """OpenCV's Dual TV-L1 estimator with the (prepared) settings ``s``."""
    import cv2

    if not hasattr(cv2, "optflow"):
        raise BenchError(
            "flow-tvl1 needs OpenCV contrib (cv2.optflow); install opencv-contrib-python only "
            "(uninstall opencv-python / opencv-python-headless: mixing them breaks cv2)"
        )
    return cv2.optflow.DualTVL1OpticalFlow_create(
        tau=float(s["tau"]),
        lambda_=float(s["lambda"]),
        theta=float(s["theta"]),
        nscales=int(s["scales"]),
        warps=int(s["warps"]),
        epsilon=float(s["epsilon"]),
        innnerIterations=int(s["inner_iterations"]),
        outerIterations=int(s["outer_iterations"]),
        scaleStep=float(s["scale_step"]),
        gamma=float(s["gamma"]),
        medianFiltering=int(s["median_filtering"]),
    )


def quantize(flow: np.ndarray, bound: float) -> np.ndarray:
    """Float flow (pixels) -> uint8: clip to +-bound, map [-bound, bound] -> [0, 255]."""
    f = np.clip(flow, -bound, bound)
    return np.round((f + bound) * (255.0 / (2 * bound))).astype(np.uint8)


def dequantize(q: np.ndarray, bound: float) -> np.ndarray:
    """Inverse of :func:`quantize` (up to rounding): uint8 -> pixels."""
    return q.astype(np.float32) * (2 * bound / 255.0) - bound


def tvl1_flow(rgb: np.ndarray, settings: Mapping[str, Any]) -> np.ndarray:
    """uint8 ``[T, S, S, 3]`` RGB -> uint8 ``[T, S, S, 2]`` quantised TV-L1 flow (last flow repeated)."""
    import cv2

    bound = float(settings["bound"])
    t = len(rgb)
    out = np.empty(rgb.shape[:3] + (2,), dtype=np.uint8)
    if t == 0:
        return out
    if t == 1:
        out[:] = quantize(np.zeros(rgb.shape[1:3] + (2,), np.float32), bound)
        return out
    tvl1 = make_tvl1(settings)
    prev = cv2.cvtColor(np.ascontiguousarray(rgb[0]), cv2.COLOR_RGB2GRAY)
    for i in range(1, t):
        cur = cv2.cvtColor(np.ascontiguousarray(rgb[i]), cv2.COLOR_RGB2GRAY)
        out[i - 1] = quantize(tvl1.calc(prev, cur, None), bound)
        prev = cur
    out[t - 1] = out[t - 2]
    return out


class FlowTvl1Modality(Modality):
    """Dual TV-L1 optical flow on grayscale rgb crops, clipped to +-bound, uint8 [T, S, S, 2]."""

    name = "flow-tvl1"
    requires = ("rgb-crop",)
    needs_frames = False
    channels = 2
    version = "1"
    description = "TV-L1 optical flow of the grayscale rgb-crop, clipped +-bound -> uint8 [T, S, S, 2]"
    defaults = {
        "bound": 20.0,  # flow clipped to +-bound pixels before quantisation
        "tau": 0.25,
        "lambda": 0.15,
        "theta": 0.3,
        "scales": 5,
        "warps": 5,
        "epsilon": 0.01,
        "inner_iterations": 30,
        "outer_iterations": 10,
        "scale_step": 0.8,
        "gamma": 0.0,
        "median_filtering": 5,
    }
    rules = {
        "bound": ">0",
        "tau": ">0",
        "lambda": ">0",
        "theta": ">0",
        "scales": ">=1",
        "warps": ">=1",
        "epsilon": ">0",
        "inner_iterations": ">=1",
        "outer_iterations": ">=1",
        "scale_step": "0<..<1",
        "gamma": ">=0",
        "median_filtering": ">=1",
    }

    def frame_bytes(self, settings: Mapping[str, Any], inputs: Mapping[str, int]) -> int:
        return int(inputs.get("rgb-crop") or 0) * 2 // 3  # two uint8 channels at the crop's size

    def prepare(self, settings: Mapping[str, Any]) -> dict:
        """Settings as they will run: a null one takes its default."""
        return {k: self.defaults[k] if v is None and k in self.defaults else v for k, v in settings.items()}

    def compute(self, video: VideoRecord, frames, inputs: Mapping[str, Any], settings: Mapping[str, Any]):
        return tvl1_flow(np.asarray(inputs["rgb-crop"]), settings)
