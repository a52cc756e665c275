"""Spotter inference: per-clip class probabilities (softmax) and offsets, several videos per forward pass."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def load_model(spotter, settings: Mapping, state_dict, feature_dim: int, num_outputs: int, device: str = "cpu"):
    """Build the spotter, load weights (strict) and switch to eval mode."""
    from benchmark.torch_setup import choose_device

    model = spotter.build(int(feature_dim), int(num_outputs), settings)
    model.load_state_dict(state_dict, strict=True)
    return model.to(choose_device(device)).eval()


def predict_batch_with_model(model, features_list: Sequence, device: str = "cpu", batch_size: int = 16) -> list:
    """``[(probs float32 [N, C], offsets float32 [N, 2]), ...]`` for each video's features ``[N, D]``.

    ``batch_size`` videos share a forward pass (padded: the spotter contract keeps padding from touching valid
    clips, so the outputs equal one pass per video up to floating-point rounding).  The model's train/eval mode
    is restored afterwards (validation runs between training epochs).
    """
    import torch

    from benchmark.torch_setup import choose_device

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
                logits, offsets = model(torch.from_numpy(x).to(device), torch.tensor(lengths, device=device))
                probs = torch.softmax(logits.float(), dim=-1).cpu().numpy().astype(np.float32)  # [B, T, C]
                offsets = offsets.float().cpu().numpy().astype(np.float32)  # [B, T, 2]
            for j, i in enumerate(rows):
                out[i] = (probs[j, : lengths[j]], offsets[j, : lengths[j]])
    finally:
        model.train(was_training)
    return out


def _empty_outputs(model):
    """Outputs of a video without clips (a model cannot run on zero steps): the built-in spotters end in
    ``heads.cls.last``, a Conv1d with ``num_outputs`` channels."""
    c = model.heads.cls.last.out_channels if hasattr(model, "heads") else 1
    return np.zeros((0, c), np.float32), np.zeros((0, 2), np.float32)
