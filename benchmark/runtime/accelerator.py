"""Everything that differs on an accelerator, in one small module: the run's ``runtime`` settings as they apply
to a device.

What it decides: the autocast dtype and where it applies (the model's forward; losses in float32), the
channels-last-3D memory format of video models, DataLoader workers reading the memory-mapped preprocessed arrays
while the device computes, pinned host memory and non-blocking copies, the prefetch depth, gradient scaling
(float16 only: bfloat16 needs none), the cuDNN autotuner, and deterministic algorithms when the run asks for
them.  Every choice is made here from the settings and the device, so the same code runs on a CPU: ``--set
runtime.autocast=bf16`` exercises bf16 autocast (and its dtype bugs) without a GPU.

``runtime`` settings (entry section; ``auto`` = what suits the device):

* ``autocast``: ``auto`` (bf16 on CUDA, off on CPU) | ``bf16`` | ``fp16`` (CUDA only, with a gradient scaler) |
  ``none``;
* ``channels_last``: ``null`` = auto (video models on CUDA) | ``true`` | ``false``;
* ``loader_workers``: DataLoader worker processes reading training clips and a thread reading extraction
  batches ahead (0 = in the training process; ``null`` = 4 on CUDA, 0 on a CPU);
* ``pin_memory``: ``null`` = auto (on CUDA) | ``true`` | ``false``; ``prefetch``: batches each worker reads ahead;
* ``deterministic``: deterministic algorithms (``torch.use_deterministic_algorithms(warn_only=True)``, cuDNN's
  deterministic kernels, no autotuner); ``false`` lets cuDNN benchmark its kernels (faster, not bit-exact).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from benchmark.errors import BenchError

RUNTIME_DEFAULTS = {
    "autocast": "auto",
    "channels_last": None,  # null = auto
    "loader_workers": None,  # null = auto: 4 on CUDA (at most the cores), 0 on a CPU (the cores compute)
    "pin_memory": None,  # null = auto
    "prefetch": 2,
    "deterministic": True,
}
RUNTIME_RULES = {
    "autocast": ("auto", "bf16", "fp16", "none"),
    "loader_workers": ">=0",
    "prefetch": ">=1",
}
CUDA_LOADER_WORKERS = 4


@dataclass(frozen=True)
class Runtime:
    """The runtime settings resolved for one device."""

    device: str
    autocast: str  # bf16 | fp16 | none
    channels_last: bool
    loader_workers: int
    pin_memory: bool
    prefetch: int
    deterministic: bool

    @property
    def cuda(self) -> bool:
        return self.device.startswith("cuda")

    @property
    def dtype(self):
        import torch

        return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.autocast)


def runtime(device: str, settings: Mapping[str, Any] | Runtime | None = None) -> Runtime:
    """``settings`` (the entry's ``runtime`` section, merged over :data:`RUNTIME_DEFAULTS`) for ``device``."""
    if isinstance(settings, Runtime):
        return settings
    s = {**RUNTIME_DEFAULTS, **dict(settings or {})}
    cuda = str(device).startswith("cuda")
    autocast = s["autocast"]
    if autocast == "auto":
        autocast = "bf16" if cuda else "none"
    if autocast == "fp16" and not cuda:
        raise BenchError("runtime.autocast: fp16 needs a CUDA device (on a CPU use bf16 or none)")
    channels_last = cuda if s["channels_last"] is None else bool(s["channels_last"])
    pin = cuda if s["pin_memory"] is None else bool(s["pin_memory"])
    workers = s["loader_workers"]
    if workers is None:
        from benchmark.runtime.cpus import available_cores

        workers = min(CUDA_LOADER_WORKERS, available_cores()) if cuda else 0
    return Runtime(
        str(device),
        autocast,
        channels_last,
        int(workers),
        pin,
        int(s["prefetch"]),
        bool(s["deterministic"]),
    )


def configure(rt: Runtime, seed: int | None) -> None:
    """Process-wide backend settings for a run: deterministic algorithms when asked (and a seed is given)."""
    import torch

    if rt.cuda:
        import os

        if rt.deterministic:  # cuBLAS needs a fixed workspace for deterministic matmuls
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.benchmark = not rt.deterministic
        torch.backends.cudnn.deterministic = rt.deterministic
        torch.backends.cuda.matmul.allow_tf32 = not rt.deterministic
        torch.backends.cudnn.allow_tf32 = not rt.deterministic
    if rt.deterministic and seed is not None:
        torch.use_deterministic_algorithms(True, warn_only=True)


def autocast(rt: Runtime):
    """The forward pass's autocast context (a no-op when off)."""
    import torch

    if rt.autocast == "none":
        return contextlib.nullcontext()
    return torch.autocast("cuda" if rt.cuda else "cpu", dtype=rt.dtype)


def prepare(model, rt: Runtime, video: bool):
    """``model`` on the device, channels-last-3D for video models when that applies."""
    import torch

    model = model.to(rt.device)
    if rt.channels_last and video:  # the 3-D convolutions only: a model mixing in 2-D ones (P3D) keeps those
        for module in model.modules():
            if isinstance(module, torch.nn.Conv3d):
                module.to(memory_format=torch.channels_last_3d)
    return model


def to_device(x, rt: Runtime):
    """A batch on the device (non-blocking from pinned memory), in the model's memory format."""
    import torch

    x = x.to(rt.device, non_blocking=rt.pin_memory and rt.cuda)
    if rt.channels_last and x.ndim == 5:
        x = x.contiguous(memory_format=torch.channels_last_3d)
    return x


def grad_scaler(rt: Runtime):
    """A gradient scaler for float16 autocast (its small range underflows gradients), else None."""
    import torch

    return torch.amp.GradScaler("cuda") if rt.autocast == "fp16" else None


def backward_step(loss, opt, scaler) -> None:
    """``loss.backward()`` and the optimiser step, through the scaler when there is one."""
    opt.zero_grad(set_to_none=True)
    if scaler is None:
        loss.backward()
        opt.step()
        return
    scaler.scale(loss).backward()
    scaler.step(opt)
    scaler.update()


def loader(dataset, batches, rt: Runtime, collate):
    """A DataLoader yielding ``collate(items)`` for each batch of indices, in the order of ``batches`` (so the
    order, and any random draws made on the batches afterwards, do not depend on the number of workers)."""
    from torch.utils.data import DataLoader

    workers = rt.loader_workers if len(batches) > 1 else 0
    options = {"prefetch_factor": rt.prefetch, "persistent_workers": False} if workers else {}
    return DataLoader(
        dataset, batch_sampler=batches, num_workers=workers, collate_fn=collate, pin_memory=rt.pin_memory, **options
    )
