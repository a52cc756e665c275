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
from collections.abc import Iterable
from dataclasses import dataclass

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
    ``names``: built-in experts (default: all, in registration order), trained with the trainer's defaults
    under each expert's own, at the size's crop and batches, through the trainer's own ``train_step`` and the
    extractor's autocast and memory format.
    """
    import torch

    from benchmark.config.entries import trainer_defaults
    from benchmark.engine.expert_training import prepare_model, to_device_input, train_step, training_for
    from benchmark.joints import SKELETON_JOINTS
    from benchmark.perf.flops import device_peak, model_flops
    from benchmark.perf.memory import peak, reset_peak
    from benchmark.perf.timing import time_steps
    from benchmark.runtime import accelerator
    from benchmark.runtime.torch_setup import choose_device, make_optimizer
    from experts.plugin import EXPERTS

    device = choose_device(device)
    rt = accelerator.runtime(device, runtime)
    sz = SIZES[size]
    experts = {cls.name: cls() for cls in EXPERTS}
    rng = np.random.default_rng(seed)
    peak_info = device_peak(device, peak_tflops) if flops else {}
    rows = []
    for name in names or experts:
        expert = experts[name]
        expert_training = training_for(
            expert, trainer_defaults()["expert_training"], {"input_size": sz["input_size"], "batch_size": sz["batch"]}
        )
        if expert.input_kind == "skeleton":
            channels = 3
            make = lambda b: rng.standard_normal((b, 8, SKELETON_JOINTS, 3)).astype(np.float32)
        else:
            channels = 2 if expert.modality.startswith("flow") else 3
            make = lambda b, c=channels: rng.integers(0, 256, (b, 8, sz["frame"], sz["frame"], c), dtype=np.uint8)
        settings = _settings(name, sz)
        build = lambda expert=expert, settings=settings, channels=channels: expert.build(
            num_outputs, settings, SyntheticInput(channels), pretrained=False
        )
        torch.manual_seed(seed)
        model = prepare_model(build(), expert, rt)
        windows = {"train": make(sz["batch"]), "extract": make(sz["extract_batch"])}
        labels = torch.from_numpy(rng.integers(0, num_outputs, sz["batch"])).to(device)
        opt = make_optimizer(model.parameters(), expert_training, "expert_training")
        loss_fn = torch.nn.CrossEntropyLoss()

        def train_one(
            model=model,
            expert=expert,
            windows=windows["train"],
            labels=labels,
            opt=opt,
            training=expert_training,
            loss_fn=loss_fn,
        ):
            train_step(model, expert, windows, labels, opt, loss_fn, training, rt, rng)

        def extract_step(model=model, expert=expert, windows=windows["extract"], training=expert_training):
            with torch.inference_mode():
                x = to_device_input(expert.clip_input(windows, False, training, None), expert, rt)
                with accelerator.autocast(rt):
                    model(x)[0].float().cpu()

        dtype = "fp32" if rt.autocast == "none" else rt.autocast
        for phase, step, mode in (("train", train_one, model.train), ("extract", extract_step, model.eval)):
            b = sz["batch"] if phase == "train" else sz["extract_batch"]
            shape = tuple(expert.clip_input(windows[phase][:2], phase == "train", expert_training, rng).shape)
            mode()
            reset_peak(device)
            secs = time_steps(step, steps, device, warmup)
            row = {
                "expert": name,
                "phase": phase,
                "size": size,
                "device": device,
                "batch": b,
                "clips_per_s": round(steps * b / secs, 2),
                "dtype": dtype,
                "input_shape": [b, *shape[1:]],
                **peak(device),
            }
            if flops:
                per_clip = model_flops(build, shape, train=phase == "train") / shape[0]
                tflops = per_clip * steps * b / secs / 1e12
                top = peak_info.get("peak_tflops")
                row.update(
                    gflop_per_clip=round(per_clip / 1e9, 4),
                    tflops=round(tflops, 4),
                    peak_tflops=top,
                    peak_fraction=round(tflops / top, 4) if top else None,
                )
            rows.append(row)
        del model, opt
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
    return rows


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
