"""Feature extraction: a trained expert turns one video's modality array into ``[n_clips, dim]`` float32.

Eval mode, ``torch.inference_mode``, test-time transform (centre crop, no flip), batched; bf16 autocast and
channels-last on CUDA, as in training.  A :class:`FeatureExtractor` is built once per expert (the model is
built and loaded once) and called per video.  Caching (keyed by the checkpoint) is the pipeline's job.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from benchmark.engine.expert_training import prepare_model, to_device_input
from benchmark.errors import BenchError
from benchmark.interfaces import Expert, Modality
from benchmark.runtime import accelerator
from benchmark.runtime.accelerator import Runtime
from benchmark.runtime.torch_setup import choose_device


def num_outputs_of(state_dict: Mapping[str, Any]) -> int:
    """Class count of a trained state (every expert model names its last layer ``classifier``)."""
    w = state_dict.get("classifier.weight")
    if w is None:
        raise BenchError(
            "trained expert state has no classifier.weight; was it saved by benchmark.engine.expert_training?"
        )
    return int(w.shape[0])


class FeatureExtractor:
    """``extractor(array, clips) -> float32 [n_clips, feature_dim]`` for one video's modality array.

    ``training`` is the expert's complete training settings (:func:`benchmark.engine.expert_training.training_for`): the
    test-time crop size and the CUDA paths come from there, as in training.
    """

    def __init__(
        self,
        expert: Expert,
        settings: Mapping[str, Any],
        state_dict: Mapping[str, Any],
        device: str,
        batch_size: int,
        *,
        modality: Modality,
        training: Mapping[str, Any],
        runtime: Mapping[str, Any] | Runtime | None = None,
    ):
        import torch

        from benchmark.engine.checkpoints import load_into

        self.expert = expert
        self.device = choose_device(device)
        self.rt = accelerator.runtime(self.device, runtime)
        self.batch_size = int(batch_size)
        self.training = training
        model = expert.build(num_outputs_of(state_dict), settings, modality, pretrained=False)
        load_into(model, state_dict, strict=True, source=f"trained {expert.name} state")
        self.model = prepare_model(model, expert, self.rt).eval()
        self.dim = int(expert.feature_dim(settings))
        self._torch = torch

    def __call__(self, array, clips) -> np.ndarray:
        torch = self._torch
        windows = clips.window_indices(len(array))
        out = np.zeros((len(windows), self.dim), dtype=np.float32)
        starts = range(0, len(windows), self.batch_size)
        read = lambda start: np.asarray(array[windows[start : start + self.batch_size]])  # one fancy-indexed read
        with torch.inference_mode(), _reader(self.rt.loader_workers) as pool:
            # the next batch is read (from the memory-mapped array) while the device computes this one
            pending = pool.submit(read, starts[0]) if pool is not None and len(starts) else None
            for i, start in enumerate(starts):
                if pool is None:
                    batch = read(start)
                else:
                    batch = pending.result()
                    pending = pool.submit(read, starts[i + 1]) if i + 1 < len(starts) else None
                x = self.expert.clip_input(batch, False, self.training, None)
                x = to_device_input(x, self.expert, self.rt)
                with accelerator.autocast(self.rt):
                    feats, _ = self.model(x)
                if feats.shape[1] != self.dim:
                    raise BenchError(
                        f"expert {self.expert.name} returned {feats.shape[1]}-d features but declares {self.dim}"
                    )
                out[start : start + len(batch)] = feats.float().cpu().numpy()
        return out


def _reader(workers: int):
    """A thread reading ahead when the runtime has loader workers, else nothing (reads inline)."""
    import contextlib
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(1, thread_name_prefix="read-ahead") if workers > 0 else contextlib.nullcontext()
