"""What a model asks of the hardware and what the hardware can give: FLOPs counted per clip, and the dense bf16
tensor-core peak of common GPUs, so a clips/s figure becomes a fraction of the device's limit.

FLOPs are counted by ``torch.utils.flop_counter.FlopCounterMode`` (matrix multiplies and convolutions, forward
and backward), which counts a multiply-add as 2 FLOPs; fvcore and many model zoos count multiply-adds, half
this number.  Counting needs only shapes, so it runs on the ``meta`` device (no memory, no compute) and falls
back to a real CPU pass for models that cannot be built there.  A training step's FLOPs are counted, not
assumed (the usual convention is 3x forward; the first layer needs no input gradient, so it is a little less).
torch's own formula for a convolution's backward ignores ``groups`` in the weight gradient (it counts a
depthwise conv's as a dense one's: X3D's backward came out 16x its forward), so each backward product is
counted here as what it is, one forward's worth.

Peaks are the vendors' datasheet figures for dense bf16 on tensor cores with fp32 accumulation (what
autocast uses); datasheets print the 2:4-sparsity figure first, which is twice these.  Matched by the CUDA
device name, most specific pattern first; ``--peak-tflops`` overrides the table.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Peak:
    pattern: str  # regex matched (case-insensitive) against torch.cuda.get_device_name()
    name: str
    tflops: float  # dense bf16 tensor-core TFLOP/s
    source: str


_H100 = (
    "NVIDIA H100 datasheet, https://www.nvidia.com/en-us/data-center/h100/ (BF16 Tensor Core, half the sparsity figure)"
)
_H200 = (
    "NVIDIA H200 datasheet, https://www.nvidia.com/en-us/data-center/h200/ (BF16 Tensor Core, half the sparsity figure)"
)
_A100 = (
    "NVIDIA A100 datasheet, https://www.nvidia.com/content/dam/en-zz/Solutions/Data-Center/a100/pdf/"
    "nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf (BF16 Tensor Core, dense)"
)
PEAKS: tuple[Peak, ...] = (  # most specific first: "H100 NVL" before "H100"
    Peak(r"\bH200\b.*\bNVL\b", "H200 NVL", 835.5, _H200),
    Peak(r"\bH200\b", "H200 SXM", 989.5, _H200),
    Peak(r"\bH100\b.*\bNVL\b", "H100 NVL", 835.5, _H100),
    Peak(r"\bH100\b.*\bPCIe\b", "H100 PCIe", 756.5, _H100),
    Peak(r"\bH100\b", "H100 SXM", 989.5, _H100),
    Peak(r"\bA100\b", "A100 (40 and 80 GB)", 312.0, _A100),
    Peak(
        r"\bL40S\b",
        "L40S",
        362.05,
        "NVIDIA L40S datasheet, https://www.nvidia.com/en-us/data-center/l40s/ (BF16 Tensor Core, dense)",
    ),
    Peak(
        r"\bL4\b",
        "L4",
        121.0,
        "NVIDIA L4 datasheet, https://www.nvidia.com/en-us/data-center/l4/ "
        "(BF16 Tensor Core, half the sparsity figure)",
    ),
    Peak(
        r"\bA10G?\b",
        "A10",
        125.0,
        "NVIDIA A10 datasheet, https://www.nvidia.com/en-us/data-center/products/a10-gpu/ (BF16 Tensor Core, dense)",
    ),
    Peak(
        r"\b4090\b",
        "GeForce RTX 4090",
        165.2,
        "NVIDIA Ada GPU architecture whitepaper, appendix table (Peak BF16 Tensor TFLOPS with FP32 Accumulate)",
    ),
    Peak(
        r"\b3090\b(?!\s*Ti)",
        "GeForce RTX 3090",
        71.0,
        "NVIDIA Ampere GA102 GPU architecture whitepaper (Peak BF16 Tensor TFLOPS with FP32 Accumulate)",
    ),
)


def peak_for(device_name: str | None) -> Peak | None:
    """The table's entry for a CUDA device name (``torch.cuda.get_device_name()``), or None when unknown."""
    for peak in PEAKS:
        if device_name and re.search(peak.pattern, device_name, flags=re.IGNORECASE):
            return peak
    return None


def device_peak(device: str, override_tflops: float | None = None) -> dict:
    """``{"device_name", "peak_tflops", "peak_source"}`` for ``device``: the override when given, else the
    table's figure for a CUDA device, else no peak (a CPU has no entry: its fraction of peak is not reported)."""
    name = "cpu"
    if str(device).startswith("cuda"):
        import torch

        name = torch.cuda.get_device_name(torch.device(device))
    if override_tflops:
        return {"device_name": name, "peak_tflops": float(override_tflops), "peak_source": "--peak-tflops"}
    peak = peak_for(name) if name != "cpu" else None
    if peak is None:
        why = "no peak for a CPU" if name == "cpu" else f"{name!r} is not in the peak table: give --peak-tflops"
        return {"device_name": name, "peak_tflops": None, "peak_source": why}
    return {"device_name": name, "peak_tflops": peak.tflops, "peak_source": f"{peak.name}: {peak.source}"}


def _conv_backward_flops(grad_out_shape, x_shape, w_shape, _bias, _stride, _padding, _dilation, transposed,
                         _output_padding, _groups, output_mask, out_shape=None, **kwargs) -> int:  # fmt: skip
    """The input gradient and the weight gradient each cost one forward (``w_shape`` already holds the
    channels per group)."""
    from torch.utils.flop_counter import conv_flop_count

    forward = conv_flop_count(x_shape, w_shape, grad_out_shape, transposed=transposed)
    return forward * (bool(output_mask[0]) + bool(output_mask[1]))


def count_flops(fn: Callable[[], object]) -> int:
    """FLOPs (2 per multiply-add) of the matrix multiplies and convolutions ``fn()`` runs, backward included."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    mapping = {torch.ops.aten.convolution_backward: _conv_backward_flops}
    with FlopCounterMode(display=False, custom_mapping=mapping) as counter:
        fn()
    return int(counter.get_total_flops())


def model_flops(build: Callable[[], object], input_shape: tuple[int, ...], train: bool) -> int:
    """FLOPs of one forward (``train=False``, eval mode) or one forward + cross-entropy backward (``train=True``,
    train mode) of the model ``build()`` returns, on a batch of ``input_shape`` (batch first).

    Built and run on the ``meta`` device when the model allows it, else on the CPU.
    """
    import torch

    def run(device: str) -> int:
        with torch.device(device):
            model = build()
        model.train(train)
        x = torch.zeros(input_shape, device=device)

        def step():
            out = model(x)
            logits = out[-1] if isinstance(out, tuple) else out
            if train:
                target = torch.zeros(logits.shape[0], dtype=torch.long, device=device)
                torch.nn.functional.cross_entropy(logits.float(), target).backward()

        if train:
            return count_flops(step)
        with torch.no_grad():
            return count_flops(step)

    try:
        return run("meta")
    except (RuntimeError, NotImplementedError, TypeError, ValueError):  # a model that mixes in real tensors
        return run("cpu")
