"""Throughput of each expert: clips per second for a training step and for extraction.

``python -m benchmark.perf.experts [--size tiny|cpu|reference] [--device cpu|cuda] [names...]`` prints a table.
Sizes: ``tiny`` = the test sizes (8 x 32 x 32, small widths, batch 2); ``cpu`` = the ``cpu`` profile
(8 x 56 x 56 crops of 64, small widths, P3D-63, batch 16); ``reference`` = the paper's (8 x 224 x 224, full
widths, P3D-199, batch 16; for a GPU).  Synthetic inputs: the numbers measure compute, not data loading.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

SIZES = {
    "tiny": {"frame": 36, "input_size": 32, "batch": 2, "video": {"width": "small"}, "p3d_depth": 63},
    "cpu": {"frame": 64, "input_size": 56, "batch": 16, "video": {"width": "small"}, "p3d_depth": 63},
    "reference": {"frame": 256, "input_size": 224, "batch": 16, "video": {"width": "full"}, "p3d_depth": 199},
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
) -> list[dict]:
    """Rows ``{"expert", "phase" (train | extract), "size", "device", "batch", "clips_per_s"}``.

    ``names``: built-in experts (default: all, in registration order), trained with the trainer's defaults
    under each expert's own, at the size's crop and batch.
    """
    import torch

    from benchmark.entries import trainer_defaults
    from benchmark.joints import SKELETON_JOINTS
    from benchmark.perf.timing import time_steps
    from benchmark.torch_setup import choose_device, make_optimizer
    from experts.plugin import EXPERTS
    from experts.training import autocast, prepare_model, to_device_input, train_step, training_for

    device = choose_device(device)
    sz = SIZES[size]
    experts = {cls.name: cls() for cls in EXPERTS}
    rng = np.random.default_rng(seed)
    rows = []
    for name in names or experts:
        expert = experts[name]
        expert_training = training_for(
            expert, trainer_defaults()["expert_training"], {"input_size": sz["input_size"], "batch_size": sz["batch"]}
        )
        b = sz["batch"]
        if expert.input_kind == "skeleton":
            windows = rng.standard_normal((b, 8, SKELETON_JOINTS, 3)).astype(np.float32)
            channels = 3
        else:
            channels = 2 if expert.modality.startswith("flow") else 3
            windows = rng.integers(0, 256, (b, 8, sz["frame"], sz["frame"], channels), dtype=np.uint8)
        torch.manual_seed(seed)
        model = expert.build(num_outputs, _settings(name, sz), SyntheticInput(channels), pretrained=False)
        model = prepare_model(model, expert, device, expert_training)
        labels = torch.from_numpy(rng.integers(0, num_outputs, b)).to(device)
        opt = make_optimizer(model.parameters(), expert_training, "expert_training")
        loss_fn = torch.nn.CrossEntropyLoss()

        def train_one(
            model=model,
            expert=expert,
            windows=windows,
            labels=labels,
            opt=opt,
            training=expert_training,
            loss_fn=loss_fn,
        ):
            train_step(model, expert, windows, labels, opt, loss_fn, training, device, rng)

        def extract_step(model=model, expert=expert, windows=windows, training=expert_training):
            with torch.inference_mode():
                x = to_device_input(expert.clip_input(windows, False, training, None), expert, device, training)
                with autocast(device, training):
                    model(x)[0].float().cpu()

        for phase, step, mode in (("train", train_one, model.train), ("extract", extract_step, model.eval)):
            mode()
            secs = time_steps(step, steps, device, warmup)
            rows.append(
                {
                    "expert": name,
                    "phase": phase,
                    "size": size,
                    "device": device,
                    "batch": b,
                    "clips_per_s": round(steps * b / secs, 2),
                }
            )
    return rows


def format_rows(rows: list[dict]) -> str:
    lines = [f"{'expert':22} {'phase':8} {'size':9} {'device':6} {'batch':>5} {'clips/s':>10}"]
    for r in rows:
        lines.append(
            f"{r['expert']:22} {r['phase']:8} {r['size']:9} {r['device']:6} {r['batch']:>5} {r['clips_per_s']:>10.2f}"
        )
    return "\n".join(lines)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("names", nargs="*")
    p.add_argument("--size", default="tiny", choices=sorted(SIZES))
    p.add_argument("--device", default="cpu")
    p.add_argument("--steps", type=int, default=3)
    a = p.parse_args(argv)
    print(format_rows(measure_experts(a.names or None, a.size, a.device, a.steps)))


if __name__ == "__main__":
    main()
