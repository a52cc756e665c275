"""Spotter inference: per-clip class probabilities (softmax) and offsets for one video at a time."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np


def load_model(spotter, settings: Mapping, state_dict, feature_dim: int, num_outputs: int, device: str = "cpu"):
    """Build the spotter, load weights (strict) and switch to eval mode."""
    from benchmark.torch_setup import resolve_device

    model = spotter.build(int(feature_dim), int(num_outputs), dict(settings or {}))
    model.load_state_dict(state_dict, strict=True)
    return model.to(resolve_device(device)).eval()


def predict_with_model(model, features, device: str = "cpu"):
    """``(probs float32 [N, C], offsets float32 [N, 2])`` for one video's features ``[N, D]``."""
    import torch

    from benchmark.torch_setup import resolve_device

    f = np.asarray(features, dtype=np.float32)
    n = f.shape[0]
    if n == 0:  # every built-in spotter ends in heads.cls.last (a Conv1d with num_outputs channels)
        c = model.heads.cls.last.out_channels if hasattr(model, "heads") else 1
        return np.zeros((0, c), np.float32), np.zeros((0, 2), np.float32)
    device = resolve_device(device)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        x = torch.from_numpy(f)[None].to(device)
        logits, offsets = model(x, torch.tensor([n], device=device))
        probs = torch.softmax(logits[0].float(), dim=-1)
    model.train(was_training)
    return probs.cpu().numpy().astype(np.float32), offsets[0].float().cpu().numpy().astype(np.float32)


def predict_batch_with_model(model, features_list: Sequence, device: str = "cpu", batch_size: int = 16) -> list:
    """:func:`predict_with_model` for many videos, ``batch_size`` videos per forward pass (padded; the spotter
    contract keeps padding from touching valid clips).  Much faster than one pass per video for the small
    spotters of validation, equal up to floating-point rounding."""
    import torch

    from benchmark.torch_setup import resolve_device

    device = resolve_device(device)
    arrays = [np.asarray(f, dtype=np.float32) for f in features_list]
    out: list = [None] * len(arrays)
    was_training = model.training
    model.eval()
    try:
        todo = [i for i, a in enumerate(arrays) if a.shape[0] > 0]
        for i in (i for i, a in enumerate(arrays) if a.shape[0] == 0):
            out[i] = predict_with_model(model, arrays[i], device)
        step = max(1, int(batch_size))
        for start in range(0, len(todo), step):
            rows = todo[start:start + step]
            lengths = [arrays[i].shape[0] for i in rows]
            x = np.zeros((len(rows), max(lengths), arrays[rows[0]].shape[1]), np.float32)
            for j, i in enumerate(rows):
                x[j, :lengths[j]] = arrays[i]
            with torch.no_grad():
                logits, offsets = model(torch.from_numpy(x).to(device), torch.tensor(lengths, device=device))
                probs = torch.softmax(logits.float(), dim=-1).cpu().numpy().astype(np.float32)
                offsets = offsets.float().cpu().numpy().astype(np.float32)
            for j, i in enumerate(rows):
                out[i] = (probs[j, :lengths[j]], offsets[j, :lengths[j]])
    finally:
        model.train(was_training)
    return out


def predict(spotter, settings: Mapping, state_dict, features, num_outputs: int, device: str = "cpu"):
    """Build, load and run the spotter on one video: ``(probs [N, num_outputs], offsets [N, 2])``."""
    f = np.asarray(features, dtype=np.float32)
    model = load_model(spotter, settings, state_dict, f.shape[1], num_outputs, device)
    return predict_with_model(model, f, device)


def predict_videos(spotter, settings: Mapping, state_dict, features_list: Sequence, num_outputs: int,
                   device: str = "cpu") -> list:
    """:func:`predict` for many videos, building the model once."""
    if not len(features_list):
        return []
    dim = np.asarray(features_list[0]).shape[1]
    model = load_model(spotter, settings, state_dict, dim, num_outputs, device)
    return predict_batch_with_model(model, features_list, device)
