"""What every trained stage shares: the device choice and the optimiser + step schedule of a registry
``training`` mapping.  One place, so experts, spotters and ``bench perf`` read the same keys the same way."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from benchmark.errors import BenchError

OPTIMIZERS = ("adamw", "adam", "sgd")


def choose_device(requested: str | None = "auto") -> str:
    """``auto`` (or nothing) -> ``cuda`` when torch sees a GPU, else ``cpu``; an explicit CUDA request on a
    machine without one is an error (silently training on the CPU instead would mislead a benchmark)."""
    import torch

    device = str(requested or "auto").lower()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise BenchError(
            f"device {device!r} requested but torch sees no CUDA device on this machine; use --device cpu (or auto)"
        )
    return device


def make_optimizer(params, training: Mapping[str, Any], where: str = "training"):
    """The optimiser named by ``training.optimizer`` (adamw, adam, sgd) with ``lr`` and ``weight_decay``;
    ``where`` names the config section in errors (e.g. ``spotter.training``)."""
    import torch

    name = str(training.get("optimizer", "adamw")).lower()
    if "lr" not in training:
        raise BenchError(f"{where}.lr is missing: give a learning rate, e.g. --set {where}.lr=1e-4")
    lr, wd = float(training["lr"]), float(training.get("weight_decay") or 0.0)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=wd, momentum=float(training.get("momentum", 0.9)))
    raise BenchError(f"{where}.optimizer must be one of {', '.join(OPTIMIZERS)}, got {name!r}")


def make_scheduler(optimizer, training: Mapping[str, Any]):
    """Step schedule of the reference: the learning rate is multiplied by ``gamma`` at each epoch in
    ``milestones`` (stepped once per epoch)."""
    import torch

    milestones = [int(m) for m in training.get("milestones") or []]
    return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones, gamma=float(training.get("gamma", 0.1)))
