"""Frame-wise decoder: runs of equal arg-max classes (offsets ignored), scored by the mean probability of the
run's class over its clips."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from benchmark.interfaces import Decoder
from spotters.decoders.filters import apply_filters, run_segments, to_ms


class ArgmaxDecoder(Decoder):
    name = "argmax"
    description = "Runs of the per-clip arg-max class (ignores the regressed offsets)"

    def decode(self, probs, offsets, clips, settings: Mapping, n_frames: int | None = None, levels=None):
        probs = np.asarray(probs)
        labels = probs.argmax(axis=1) if probs.shape[0] else np.zeros(0, np.int64)
        lab, first, last, score = apply_filters(*run_segments(labels, probs), settings)
        return to_ms(lab, first, last, clips, n_frames, score)
