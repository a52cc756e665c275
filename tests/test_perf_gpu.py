"""The CUDA path, exercised: bf16 autocast, channels-last, synchronised timing, CUDA peak memory, the peak table
and extraction on the GPU agreeing with the CPU.  Marked ``cuda`` (``pytest -m cuda``; scripts/gpu-check.sh runs
them) and skipped, with the reason, on a machine without a GPU: nothing here can run on a CPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU: torch sees none on this machine"),
]

REFERENCE_EXPERTS = ("i3d", "p3d", "stgcn")


def _training(expert, **overrides):
    from benchmark.config.entries import trainer_defaults
    from benchmark.engine.expert_training import training_for

    return training_for(expert, trainer_defaults()["expert_training"], overrides)


def _expert(name):
    from experts.plugin import EXPERTS

    return {cls.name: cls for cls in EXPERTS}[name]()


def test_choose_device_takes_the_gpu_and_refuses_one_that_is_not_there():
    from benchmark.errors import BenchError
    from benchmark.runtime.torch_setup import choose_device

    assert choose_device("auto") == "cuda"
    assert choose_device("cuda:0") == "cuda:0"
    with pytest.raises(BenchError, match="GPU"):
        choose_device(f"cuda:{torch.cuda.device_count()}")


@pytest.mark.parametrize("name", REFERENCE_EXPERTS)
def test_autocast_runs_the_model_in_bf16_and_channels_last(name):
    """What the trainer does on CUDA: a video model in channels-last-3D, every conv in bf16 under autocast."""
    from benchmark.engine.expert_training import prepare_model, to_device_input
    from benchmark.perf.experts import SIZES, SyntheticInput, _settings
    from benchmark.runtime import accelerator

    expert, sz = _expert(name), SIZES["tiny"]
    training = _training(expert, input_size=sz["input_size"])
    channels = 2 if expert.modality.startswith("flow") else 3
    rt = accelerator.runtime("cuda")
    model = prepare_model(expert.build(61, _settings(name, sz), SyntheticInput(channels), pretrained=False), expert, rt)
    rng = np.random.default_rng(0)
    if expert.input_kind == "skeleton":
        from benchmark.joints import SKELETON_JOINTS

        windows = rng.standard_normal((2, 8, SKELETON_JOINTS, 3)).astype(np.float32)
    else:
        windows = rng.integers(0, 256, (2, 8, sz["frame"], sz["frame"], channels), dtype=np.uint8)
    x = to_device_input(expert.clip_input(windows, False, training, None), expert, rt)
    if expert.input_kind == "video":
        assert x.is_contiguous(memory_format=torch.channels_last_3d)
        conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv3d))
        assert conv.weight.is_contiguous(memory_format=torch.channels_last_3d)
    seen = []
    hook = lambda module, inputs, output: seen.append(output.dtype)
    handles = [
        m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Conv3d))
    ]
    with accelerator.autocast(rt):
        _, logits = model(x)
    for h in handles:
        h.remove()
    assert seen and set(seen) == {torch.bfloat16}
    assert torch.isfinite(logits.float()).all()


def test_measure_experts_on_cuda_reports_bf16_rows_with_cuda_memory():
    from benchmark.perf.experts import measure_experts

    rows = measure_experts(list(REFERENCE_EXPERTS), size="tiny", device="cuda", steps=2, warmup=1)
    assert len(rows) == 2 * len(REFERENCE_EXPERTS)
    for r in rows:
        assert r["dtype"] == "bf16" and r["device"] == "cuda"
        assert r["memory_kind"] == "cuda max_memory_allocated" and r["peak_memory_mb"] > 0
        assert r["clips_per_s"] > 0 and r["gflop_per_clip"] > 0


def test_this_gpu_is_in_the_peak_table():
    """A GPU the table does not know gets no fraction of peak: add it to benchmark.perf.flops.PEAKS (or pass
    --peak-tflops to bench perf)."""
    from benchmark.perf.flops import device_peak

    info = device_peak("cuda")
    assert info["peak_tflops"], info["peak_source"]


def test_i3d_at_the_paper_size_runs_below_the_device_peak():
    """At 224 px and full width the achieved TFLOP/s must be a real fraction of the peak: above 1 means the FLOP
    count or the timing is wrong (an unsynchronised clock); the issue's targets are 40 % / 25 %."""
    from benchmark.perf.experts import measure_experts
    from benchmark.perf.flops import device_peak

    if not device_peak("cuda")["peak_tflops"]:
        pytest.skip(f"no peak for {torch.cuda.get_device_name()} (see test_this_gpu_is_in_the_peak_table)")
    rows = measure_experts(["i3d"], size="reference", device="cuda", steps=3, warmup=2)
    for r in rows:
        assert 0 < r["peak_fraction"] < 1, r
        assert r["input_shape"][2:] == [8, 224, 224]


def test_time_steps_waits_for_queued_kernels():
    """``torch.cuda._sleep`` returns at once and keeps the GPU busy: only a synchronised clock sees it."""
    from benchmark.perf.timing import time_steps

    seconds = time_steps(lambda: torch.cuda._sleep(int(2e8)), 2, "cuda", warmup=0)  # 4e8 cycles: 0.1 s at 4 GHz
    assert seconds > 0.05


def test_cuda_peak_memory_resets_between_rows():
    from benchmark.perf.memory import peak, reset_peak

    big = torch.empty(256 * 2**20, dtype=torch.uint8, device="cuda")
    assert peak("cuda")["peak_memory_mb"] >= 256
    del big
    torch.cuda.empty_cache()
    reset_peak("cuda")
    small = torch.empty(16 * 2**20, dtype=torch.uint8, device="cuda")
    assert 16 <= peak("cuda")["peak_memory_mb"] < 256
    del small


def test_extraction_on_cuda_in_bf16_agrees_with_the_cpu():
    """The same trained state gives the same features on both devices, up to bf16 rounding."""
    from benchmark.engine.clips import ClipSpec
    from benchmark.engine.extraction import FeatureExtractor
    from benchmark.perf.experts import SyntheticInput

    expert = _expert("i3d")
    settings = {"width": "small"}
    training = _training(expert, input_size=32)
    torch.manual_seed(0)
    state = expert.build(61, settings, SyntheticInput(3), pretrained=False).state_dict()
    array = np.random.default_rng(0).integers(0, 256, (24, 36, 36, 3), dtype=np.uint8)
    clips = ClipSpec(8, 4, 4)
    out = {
        device: FeatureExtractor(expert, settings, state, device, 4, modality=SyntheticInput(3), training=training)(
            array, clips
        )
        for device in ("cpu", "cuda")
    }
    a, b = out["cpu"], out["cuda"]
    assert a.shape == b.shape and np.isfinite(b).all()
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-12)
    assert cos.min() > 0.98, cos
