"""Throughput of each expert: clips per second for a training step and for extraction.

``python -m benchmark.perf.experts [--size tiny|cpu|reference] [--device cpu|cuda] [names...]`` prints a table.
Sizes: ``tiny`` = the test sizes (8 x 32 x 32, small widths, batch 2); ``cpu`` = the ``cpu`` profile
(8 x 56 x 56 crops of 64, small widths, P3D-63, batch 16, extraction batch 32); ``reference`` = the paper's
(8 x 224 x 224, full widths, P3D-199, batch 16, extraction batch 32; for a GPU).  Synthetic inputs: the numbers
measure compute, not data loading.  Each row also has the model's FLOPs per clip (counted:
:mod:`benchmark.perf.flops`), the TFLOP/s they make at the measured rate, that figure's share of the device's
bf16 peak (CUDA only) and the peak memory (:mod:`benchmark.perf.memory`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

SIZES = {  # batch: training (expert_training.batch_size); extract_batch: extraction (extract_batch_size)
    "tiny": {
        "frame": 36,
        "input_size": 32,
        "batch": 2,
        "extract_batch": 2,
        "video": {"width": "small"},
        "p3d_depth": 63,
    },
    "cpu": {
        "frame": 64,
        "input_size": 56,
        "batch": 16,
        "extract_batch": 32,
        "video": {"width": "small"},
        "p3d_depth": 63,
    },
    "reference": {
        "frame": 256,
        "input_size": 224,
        "batch": 16,
        "extract_batch": 32,
        "video": {"width": "full"},
        "p3d_depth": 199,
    },
}


@dataclass(frozen=True)
class SyntheticInput:
    """Stands in for the modality an entry pairs with an expert: building a model reads only ``channels``."""

    channels: int


def _settings(name: str, size: dict) -> dict:
    if name in ("i3d", "x3d", "r2plus1d"):
        return dict(size["video"])
    if name == "p3d":
        return {**size["video"], "depth": size["p3d_depth"]}
    return {}


def measure_experts(
    names: Iterable[str] | None = None,
    size: str = "tiny",
    device: str = "cpu",
    steps: int = 3,
    warmup: int = 2,
    num_outputs: int = 61,
    seed: int = 0,
    flops: bool = True,
    peak_tflops: float | None = None,
    runtime: dict | None = None,
) -> list[dict]:
    """Rows ``{"expert", "phase" (train | extract), "size", "device", "batch", "clips_per_s", "dtype",
    "input_shape", "peak_memory_mb", "memory_kind"}`` and, with ``flops``, ``"gflop_per_clip"`` (forward for
    extraction, forward + backward for training, counted), ``"tflops"`` (achieved), ``"peak_tflops"`` and
    ``"peak_fraction"`` (None without a peak: a CPU, or a GPU not in the table and no ``peak_tflops``).

    ``runtime``: the entry's ``runtime`` section (:mod:`benchmark.runtime.accelerator`; None: what suits the device).
    ``names``: registered experts, any plugin's (default: the built-in ones, in registration order), trained
    with the trainer's defaults under each expert's own, at the size's crop and batches, through the trainer's
    own ``train_step`` and the extractor's autocast and memory format.
    """
    import torch

    from benchmark.perf.flops import device_peak
    from benchmark.plugins import get_plugin_manager
    from benchmark.runtime import accelerator
    from benchmark.runtime.torch_setup import choose_device

    device = choose_device(device)
    pm = get_plugin_manager()
    registry = pm.components("expert")
    bench = _Bench(
        device,
        accelerator.runtime(device, runtime),
        size,
        steps,
        warmup,
        num_outputs,
        seed,
        np.random.default_rng(seed),
        device_peak(device, peak_tflops) if flops else None,
    )
    rows = []
    for name in names or pm.builtin_names("expert"):
        rows += _measure_one(bench, name, registry.get(name))
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
    return rows


@dataclass
class _Bench:
    """What every expert's measurement shares (``peak``: the device's peak, None when FLOPs are not counted)."""

    device: str
    rt: Any
    size: str
    steps: int
    warmup: int
    num_outputs: int
    seed: int
    rng: np.random.Generator
    peak: dict | None

    @property
    def sz(self) -> dict:
        return SIZES[self.size]


def _synthetic_windows(bench: _Bench, expert) -> tuple[int, Callable[[int], np.ndarray]]:
    """The channels of the expert's input and a maker of ``b`` random windows of it (8 frames)."""
    from benchmark.joints import SKELETON_JOINTS

    rng, frame = bench.rng, bench.sz["frame"]
    if expert.input_kind == "skeleton":
        return 3, lambda b: rng.standard_normal((b, 8, SKELETON_JOINTS, 3)).astype(np.float32)
    channels = 2 if expert.modality.startswith("flow") else 3
    return channels, lambda b: rng.integers(0, 256, (b, 8, frame, frame, channels), dtype=np.uint8)


def _measure_one(bench: _Bench, name: str, expert) -> list[dict]:
    """The train and extract rows of one expert: its model built and prepared as the trainer does."""
    import torch

    from benchmark.config.entries import trainer_defaults
    from benchmark.engine.expert_training import prepare_model, to_device_input, train_step, training_for
    from benchmark.runtime import accelerator
    from benchmark.runtime.torch_setup import make_optimizer

    sz, rt, rng = bench.sz, bench.rt, bench.rng
    training = training_for(
        expert, trainer_defaults()["expert_training"], {"input_size": sz["input_size"], "batch_size": sz["batch"]}
    )
    channels, make = _synthetic_windows(bench, expert)
    settings = _settings(name, sz)
    build = lambda: expert.build(bench.num_outputs, settings, SyntheticInput(channels), pretrained=False)
    torch.manual_seed(bench.seed)
    model = prepare_model(build(), expert, rt)
    windows = {"train": make(sz["batch"]), "extract": make(sz["extract_batch"])}
    labels = torch.from_numpy(rng.integers(0, bench.num_outputs, sz["batch"])).to(bench.device)
    opt = make_optimizer(model.parameters(), training, "expert_training")
    loss_fn = torch.nn.CrossEntropyLoss()

    def train_one():
        train_step(model, expert, windows["train"], labels, opt, loss_fn, training, rt, rng)

    def extract_one():
        with torch.inference_mode():
            x = to_device_input(expert.clip_input(windows["extract"], False, training, None), expert, rt)
            with accelerator.autocast(rt):
                model(x)[0].float().cpu()

    rows = []
    for phase, step, mode in (("train", train_one, model.train), ("extract", extract_one, model.eval)):
        shape = tuple(expert.clip_input(windows[phase][:2], phase == "train", training, rng).shape)
        mode()
        rows.append(_timed_row(bench, name, phase, step, shape, build))
    return rows


def _timed_row(bench: _Bench, name: str, phase: str, step: Callable[[], None], shape: tuple, build) -> dict:
    """Time ``step`` (``bench.steps`` after ``bench.warmup``): clips/s, peak memory and, when counted, FLOPs."""
    from benchmark.perf.flops import model_flops
    from benchmark.perf.memory import peak, reset_peak
    from benchmark.perf.timing import time_steps

    device, steps = bench.device, bench.steps
    b = bench.sz["batch"] if phase == "train" else bench.sz["extract_batch"]
    reset_peak(device)
    secs = time_steps(step, steps, device, bench.warmup)
    row = {
        "expert": name,
        "phase": phase,
        "size": bench.size,
        "device": device,
        "batch": b,
        "clips_per_s": round(steps * b / secs, 2),
        "dtype": "fp32" if bench.rt.autocast == "none" else bench.rt.autocast,
        "input_shape": [b, *shape[1:]],
        **peak(device),
    }
    if bench.peak is not None:
        per_clip = model_flops(build, shape, train=phase == "train") / shape[0]
        tflops = per_clip * steps * b / secs / 1e12
        top = bench.peak.get("peak_tflops")
        row.update(
            gflop_per_clip=round(per_clip / 1e9, 4),
            tflops=round(tflops, 4),
            peak_tflops=top,
            peak_fraction=round(tflops / top, 4) if top else None,
        )
    return row


def format_rows(rows: list[dict]) -> str:
    """One line per row: clips/s, and where counted GFLOP per clip, achieved TFLOP/s, % of peak, peak memory."""
    head = f"{'expert':22} {'phase':8} {'size':9} {'device':6} {'dtype':5} {'batch':>5} {'clips/s':>10}"
    head += f" {'GFLOP/clip':>11} {'TFLOP/s':>9} {'% peak':>7} {'peak MB':>9}"
    lines = [head]
    for r in rows:
        line = (
            f"{r['expert']:22} {r['phase']:8} {r['size']:9} {r['device']:6} {r.get('dtype', ''):5} {r['batch']:>5}"
            f" {r['clips_per_s']:>10.2f}"
        )
        gf, tf, frac = r.get("gflop_per_clip"), r.get("tflops"), r.get("peak_fraction")
        line += f" {gf:>11.3f}" if gf is not None else f" {'-':>11}"
        line += f" {tf:>9.3f}" if tf is not None else f" {'-':>9}"
        line += f" {100 * frac:>6.1f}%" if frac is not None else f" {'-':>7}"
        mb = r.get("peak_memory_mb")
        line += f" {mb:>9.0f}" if mb is not None else f" {'-':>9}"
        lines.append(line)
    return "\n".join(lines)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("names", nargs="*")
    p.add_argument("--size", default="tiny", choices=sorted(SIZES))
    p.add_argument("--device", default="cpu")
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--peak-tflops", type=float, default=None)
    a = p.parse_args(argv)
    print(format_rows(measure_experts(a.names or None, a.size, a.device, a.steps, peak_tflops=a.peak_tflops)))


if __name__ == "__main__":
    main()
