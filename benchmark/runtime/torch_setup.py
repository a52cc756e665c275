"""What every trained stage shares: the device choice and the optimiser + step schedule of a registry
``training`` mapping.  One place, so experts, spotters and ``bench perf`` read the same keys the same way."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from benchmark.errors import BenchError

OPTIMIZERS = ("adamw", "adam", "sgd")


def check_device(requested: str | None) -> str:
    """``requested`` lower-cased if it names a device this project runs on (auto, cpu, cuda, cuda:N), else a
    :class:`BenchError` saying which (no torch import: the check comes before any work)."""
    import re

    device = str(requested or "auto").strip().lower()
    if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", device):
        raise BenchError(f"--device {requested!r} is not a device: use auto (default), cpu, cuda or cuda:N")
    return device


def choose_device(requested: str | None = "auto") -> str:
    """``auto`` (or nothing) -> ``cuda`` when torch sees a GPU, else ``cpu``; an explicit CUDA request on a
    machine without one (or without that GPU) is an error: silently training on the CPU instead would mislead a
    benchmark."""
    device = check_device(requested)
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise BenchError(
                f"device {device!r} requested but torch sees no CUDA device on this machine; use --device cpu (or auto)"
            )
        index = int(device.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise BenchError(f"device {device!r} requested but this machine has {torch.cuda.device_count()} GPU(s)")
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
