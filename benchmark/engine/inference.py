"""Spotter inference: per-clip class probabilities (softmax) and offsets, several videos per forward pass; for a
pyramid spotter also every level's, cut to the video's valid points."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def load_model(spotter, settings: Mapping, state_dict, feature_dim: int, num_outputs: int, device: str = "cpu"):
    """Build the spotter, load weights (strict) and switch to eval mode."""
    from benchmark.runtime.torch_setup import choose_device

    model = spotter.build(int(feature_dim), int(num_outputs), settings)
    model.load_state_dict(state_dict, strict=True)
    return model.to(choose_device(device)).eval()


def predict_batch_with_model(model, features_list: Sequence, device: str = "cpu", batch_size: int = 16) -> list:
    """``[(probs float32 [N, C], offsets float32 [N, 2]), ...]`` for each video's features ``[N, D]``.

    A model returning pyramid outputs gives 3-tuples ``(probs, offsets, levels)`` with ``levels = [(probs_l
    [ceil(N / stride_l), C], offsets_l [ceil(N / stride_l), 2], stride_l), ...]`` (level 0 is ``probs, offsets``).

    ``batch_size`` videos share a forward pass (padded: the spotter contract keeps padding from touching valid
    clips, so the outputs equal one pass per video up to floating-point rounding).  The model's train/eval mode
    is restored afterwards (validation runs between training epochs).
    """
    import torch

    from benchmark.runtime.torch_setup import choose_device

    device = choose_device(device)
    arrays = [np.asarray(f, dtype=np.float32) for f in features_list]
    out: list = [None] * len(arrays)
    was_training = model.training
    model.eval()
    try:
        todo = [i for i, a in enumerate(arrays) if a.shape[0] > 0]
        for i in (i for i, a in enumerate(arrays) if a.shape[0] == 0):
            out[i] = _empty_outputs(model)
        step = max(1, int(batch_size))
        for start in range(0, len(todo), step):
            rows = todo[start : start + step]
            lengths = [arrays[i].shape[0] for i in rows]
            x = np.zeros((len(rows), max(lengths), arrays[rows[0]].shape[1]), np.float32)  # [B, T, D]
            for j, i in enumerate(rows):
                x[j, : lengths[j]] = arrays[i]
            with torch.no_grad():
                outputs = model(torch.from_numpy(x).to(device), torch.tensor(lengths, device=device))
                if len(outputs) == 3:  # [B, T_l, C], [B, T_l, 2] per level, level 0 first
                    levels = [(*_numpy(logits, offsets), stride) for logits, offsets, stride in outputs[2]]
                    per_video = [_cut(levels, j, n) for j, n in enumerate(lengths)]
                else:
                    probs, offsets = _numpy(outputs[0], outputs[1])  # [B, T, C], [B, T, 2]
                    per_video = [(probs[j, :n], offsets[j, :n]) for j, n in enumerate(lengths)]
            for i, video in zip(rows, per_video):
                out[i] = video
    finally:
        model.train(was_training)
    return out


def _numpy(logits, offsets):
    """Softmax probabilities and offsets as float32 numpy arrays."""
    import torch

    probs = torch.softmax(logits.float(), dim=-1).cpu().numpy().astype(np.float32)
    return probs, offsets.float().cpu().numpy().astype(np.float32)


def _cut(levels, j: int, n: int):
    """Video ``j``'s ``(probs, offsets, levels)`` from batched levels, each cut to its ``ceil(n / stride)`` points."""
    cut = [(probs[j, : -(-n // s)], offsets[j, : -(-n // s)], s) for probs, offsets, s in levels]
    return cut[0][0], cut[0][1], cut


def _empty_outputs(model):
    """Outputs of a video without clips (a model cannot run on zero steps): the built-in spotters end in
    ``heads.cls.last``, a Conv1d with ``num_outputs`` channels; pyramid models list their ``strides``."""
    c = model.heads.cls.last.out_channels if hasattr(model, "heads") else 1
    empty = np.zeros((0, c), np.float32), np.zeros((0, 2), np.float32)
    if hasattr(model, "strides"):
        return (*empty, [(*empty, int(s)) for s in model.strides])
    return empty
