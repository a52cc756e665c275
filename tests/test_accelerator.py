"""The accelerator path on a CPU: what differs on CUDA goes through ``benchmark.runtime.accelerator``, and the same code
runs here with bf16 autocast and DataLoader workers, so dtype and loading bugs show without a GPU."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from benchmark.commands.main import cli
from benchmark.engine.clips import ClipSpec
from benchmark.engine.expert_training import ClipIndex, prepare_model, to_device_input, train_expert
from benchmark.engine.extraction import FeatureExtractor
from benchmark.errors import BenchError
from benchmark.runtime import accelerator

try:
    from tests.test_e2e import E2E_REGISTRY
    from tests.test_experts_train import BY_NAME, MODALITY, RGB, SETTINGS, make_videos, training
except ImportError:  # pragma: no cover
    from test_e2e import E2E_REGISTRY
    from test_experts_train import BY_NAME, MODALITY, RGB, SETTINGS, make_videos, training

CLIPS = ClipSpec(8, 4, 4)


def test_runtime_auto_follows_the_device():
    cpu, cuda = accelerator.runtime("cpu"), accelerator.runtime("cuda:1")
    assert (cpu.autocast, cpu.channels_last, cpu.pin_memory, cpu.loader_workers) == ("none", False, False, 0)
    assert (cuda.autocast, cuda.channels_last, cuda.pin_memory) == ("bf16", True, True)
    assert cuda.loader_workers >= 1
    forced = accelerator.runtime("cpu", {"autocast": "bf16", "channels_last": True, "loader_workers": 2})
    assert (forced.autocast, forced.channels_last, forced.loader_workers, forced.dtype) == (
        "bf16",
        True,
        2,
        torch.bfloat16,
    )
    with pytest.raises(BenchError, match="fp16 needs a CUDA device"):
        accelerator.runtime("cpu", {"autocast": "fp16"})
    assert accelerator.grad_scaler(cpu) is None


@pytest.mark.parametrize("name", ["i3d", "p3d", "stgcn"])
def test_bf16_autocast_and_channels_last_on_a_cpu(name):
    """As on CUDA: a video model in channels-last-3D, every convolution computing in bf16, finite outputs."""
    expert = BY_NAME[name]
    modality = MODALITY.get(name, RGB)
    rt = accelerator.runtime("cpu", {"autocast": "bf16", "channels_last": True})
    model = prepare_model(expert.build(5, SETTINGS[name], modality, pretrained=False), expert, rt).eval()
    windows = np.stack([make_videos(modality, 1, frames=8)[0][1]] * 2)
    x = to_device_input(expert.clip_input(windows, False, training(expert), None), expert, rt)
    if expert.input_kind == "video":
        assert x.is_contiguous(memory_format=torch.channels_last_3d)
    seen = []
    convs = [m for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Conv3d))]
    handles = [m.register_forward_hook(lambda m, i, o: seen.append(o.dtype)) for m in convs]
    with torch.inference_mode(), accelerator.autocast(rt):
        feats, logits = model(x)
    for h in handles:
        h.remove()
    assert seen and set(seen) == {torch.bfloat16}
    assert torch.isfinite(logits.float()).all() and torch.isfinite(feats.float()).all()


def test_clip_index_reads_batches_in_one_indexed_read_per_video(tmp_path):
    videos = make_videos(RGB, n_videos=3, frames=40)
    mapped = []
    for i, (labels, array) in enumerate(videos):
        np.save(tmp_path / f"{i}.npy", array)
        mapped.append((labels, np.load(tmp_path / f"{i}.npy", mmap_mode="r")))
    index = ClipIndex(mapped, CLIPS)
    rows = np.array([5, 0, len(index) - 1, 7, 12])
    naive = np.stack([videos[index.video[r]][1][index.windows[index.video[r]][index.clip[r]]] for r in rows])
    np.testing.assert_array_equal(index.batch(rows), naive)
    np.testing.assert_array_equal(index.__getitems__(list(rows)), naive)


def test_loader_workers_and_bf16_train_and_extract(tmp_path):
    """Training reads its clips through DataLoader workers with the same result as in-process; bf16 runs the same
    code, learns something different but finite."""
    expert, modality = BY_NAME["i3d"], RGB
    videos = make_videos(modality, n_videos=2, frames=40)
    train = training(expert, max_clips_per_epoch=8, batch_size=4)

    def fit(runtime):
        return train_expert(
            expert, SETTINGS["i3d"], train, videos, CLIPS, 5, modality=modality, seed=0, progress=False, runtime=runtime
        )

    inline, loaded = fit({"loader_workers": 0}), fit({"loader_workers": 2})
    assert inline.keys() == loaded.keys()
    assert all(torch.equal(inline[k], loaded[k]) for k in inline)
    half = fit({"autocast": "bf16"})
    assert not all(torch.equal(inline[k], half[k]) for k in inline if inline[k].is_floating_point())
    assert all(torch.isfinite(v).all() for v in half.values() if v.is_floating_point())
    extract = lambda state, runtime: FeatureExtractor(
        expert, SETTINGS["i3d"], state, "cpu", 3, modality=modality, training=train, runtime=runtime
    )(videos[0][1], CLIPS)
    ahead = extract(inline, {"loader_workers": 1})  # reads the next batch on a thread
    np.testing.assert_array_equal(ahead, extract(inline, {"loader_workers": 0}))
    in_bf16 = extract(half, {"autocast": "bf16"})
    assert in_bf16.dtype == np.float32 and np.isfinite(in_bf16).all()


def bench(tmp_path, *args):
    (tmp_path / "registry.yaml").write_text(E2E_REGISTRY)
    base = ["--registry", str(tmp_path / "registry.yaml"), "--cache-dir", str(tmp_path / "cache"), "run"]
    return CliRunner().invoke(cli, [*base, "e2e-skeleton", "--device", "cpu", "--no-track", "--json", *args])


def test_bench_run_with_bf16_autocast_on_a_cpu(tmp_path):
    fp32 = bench(tmp_path)
    assert fp32.exit_code == 0, fp32.output
    half = bench(tmp_path, "--set", "runtime.autocast=bf16", "--set", "runtime.loader_workers=2")
    assert half.exit_code == 0, half.output
    summary = json.loads(half.stdout[half.stdout.index("{") :])
    assert 0.0 <= summary["f1"] <= 1.0
    # another dtype is another expert: trained again; the preprocessing is shared
    assert "train-expert:skeleton" in summary["computed"] and "preprocess" in summary["reused"]


@pytest.mark.parametrize(
    "value, message",
    [
        ("runtime.autocast=fp8", "expected one of auto, bf16, fp16, none"),
        ("runtime.autocast=fp16", "fp16 needs a CUDA device"),
        ("runtime.loader_workers=-1", "expected >= 0"),
        ("runtime.autocats=bf16", "unknown"),
    ],
)
def test_bad_runtime_settings_fail_before_any_work(tmp_path, value, message):
    out = bench(tmp_path, "--set", value)
    assert out.exit_code == 1 and message in out.output, out.output
    assert not (tmp_path / "cache").exists()
