"""`bench perf` runs its measurements and prints one row per figure; measured numbers are not asserted (a noisy
machine), counted and computed ones (FLOPs, peaks, estimates, exponents) are."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from benchmark.commands.main import cli


def test_perf_decode_and_spotter_quick_prints_a_table():
    result = CliRunner().invoke(cli, ["perf", "decode", "spotter", "--quick"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0].split()[:3] == ["measure", "value", "unit"]
    rows = {line.rsplit(None, 2)[0].strip(): float(line.rsplit(None, 2)[1]) for line in lines[1:]}
    assert any(k.startswith("vote decode 10 h") for k in rows)
    assert any(k.startswith("spotter conv-bilstm training") for k in rows)
    assert all(v > 0 for v in rows.values())


def test_perf_log_sends_figures_to_mlflow(tmp_path):
    result = CliRunner().invoke(cli, ["perf", "decode", "--quick", "--log"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    run_id = result.stdout.strip().splitlines()[-1].split()[4]
    from mlflow.tracking import MlflowClient

    metrics = MlflowClient().get_run(run_id).data.metrics
    assert any(k.startswith("vote_decode_10_h") for k in metrics)


def test_preprocess_figures_print_side_by_side_with_the_speed_up():
    from benchmark.perf.measure import side_by_side

    rows = [
        {"what": "x", "item": m, "variant": v, "value": fps, "unit": "frames/s"}
        for m, v, fps in [
            ("pose", "1 worker", 20.0),
            ("flow-tvl1", "1 worker", 500.0),
            ("pose", "2 workers", 30.0),
            ("flow-tvl1", "2 workers", 900.0),
        ]
    ]
    rows.append({"what": "vote decode", "value": 0.4, "unit": "s"})  # not a side-by-side row
    lines = side_by_side(rows).splitlines()
    assert lines[0].split() == ["frames/s", "1", "worker", "2", "workers", "speed-up"]
    assert lines[1].split() == ["pose", "20.00", "30.00", "1.50x"]
    assert lines[2].split() == ["flow-tvl1", "500.00", "900.00", "1.80x"]
    assert side_by_side(rows[-1:]) == ""


def test_perf_preprocess_quick_measures_every_modality_with_1_and_all_workers():
    """Real MediaPipe, OpenCV TV-L1 and the process pool on three tiny synthetic videos."""
    result = CliRunner().invoke(cli, ["perf", "preprocess", "--quick"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    table = result.stdout[result.stdout.index("frames/s ") :].splitlines()
    assert table[0].split()[:3] == ["frames/s", "1", "worker"]
    rows = {line.split()[0]: [float(x) for x in line.split()[1:] if not x.endswith("x")] for line in table[1:]}
    assert set(rows) == {"pose", "rgb-crop", "rgb-hands", "flow-tvl1", "skeleton", "total"}
    assert all(values and min(values) > 0 for values in rows.values())  # one column per worker count


# -- FLOPs and the peak table ----------------------------------------------------------------------------------


def test_flops_of_a_linear_and_a_conv_are_counted_exactly():
    """2 FLOPs per multiply-add: Linear 8->4 on 3 rows is 3*8*4 MACs; a 3x3 conv 2->5 on 6x6 has 4x4 outputs."""
    import torch

    from benchmark.perf.flops import count_flops, model_flops

    linear, conv = torch.nn.Linear(8, 4), torch.nn.Conv2d(2, 5, 3)
    assert count_flops(lambda: linear(torch.zeros(3, 8))) == 2 * 3 * 8 * 4
    assert count_flops(lambda: conv(torch.zeros(1, 2, 6, 6))) == 2 * (5 * 4 * 4) * (2 * 3 * 3)
    # training: the forward and the weight gradient; the input needs no gradient (first layer)
    assert model_flops(lambda: torch.nn.Linear(8, 4), (3, 8), train=False) == 192
    assert model_flops(lambda: torch.nn.Linear(8, 4), (3, 8), train=True) == 2 * 192


def test_grouped_conv_backward_counts_one_forward_per_gradient():
    """torch's own formula counts a depthwise conv's weight gradient as a dense conv's (8x here)."""
    import torch

    from benchmark.perf.flops import count_flops

    conv = torch.nn.Conv2d(8, 8, 3, groups=8, bias=False)
    x = torch.zeros(1, 8, 6, 6, requires_grad=True)
    forward = count_flops(lambda: conv(x))
    assert forward == 2 * (8 * 4 * 4) * 9
    assert count_flops(lambda: conv(x).sum().backward()) == 3 * forward


def test_peak_table_matches_device_names_most_specific_first():
    from benchmark.perf.flops import device_peak, peak_for

    names = {
        "NVIDIA H100 80GB HBM3": ("H100 SXM", 989.5),
        "NVIDIA H100 PCIe": ("H100 PCIe", 756.5),
        "NVIDIA H100 NVL": ("H100 NVL", 835.5),
        "NVIDIA H200": ("H200 SXM", 989.5),
        "NVIDIA H200 NVL": ("H200 NVL", 835.5),
        "NVIDIA A100-SXM4-40GB": ("A100 (40 and 80 GB)", 312.0),
        "NVIDIA A100 80GB PCIe": ("A100 (40 and 80 GB)", 312.0),
        "NVIDIA L4": ("L4", 121.0),
        "NVIDIA L40S": ("L40S", 362.05),
        "NVIDIA GeForce RTX 4090": ("GeForce RTX 4090", 165.2),
        "NVIDIA GeForce RTX 3090": ("GeForce RTX 3090", 71.0),
    }
    for device_name, (name, tflops) in names.items():
        peak = peak_for(device_name)
        assert peak is not None and (peak.name, peak.tflops) == (name, tflops), device_name
        assert peak.source
    assert peak_for("NVIDIA GeForce RTX 3090 Ti") is None  # another chip configuration: not the 3090's figure
    assert peak_for("Tesla V100-SXM2-16GB") is None  # no bf16 tensor cores
    cpu = device_peak("cpu")
    assert cpu["peak_tflops"] is None and "cpu" in cpu["peak_source"].lower()
    assert device_peak("cpu", 50.0)["peak_tflops"] == 50.0


# -- the time estimate ----------------------------------------------------------------------------------------


def _workload(**changes):
    from benchmark.perf.estimate import Workload

    base = dict(
        train_clips=1000,
        query_clips=250,
        all_clips=2000,
        val_clips=500,
        experts=(("rgb", "i3d"), ("flow", "p3d")),
        epochs=2,
        rounds=2,
        max_clips_per_epoch=None,
        spotter_epochs=3,
    )
    return Workload(**{**base, **changes})


FIGURES = {
    "train": {"i3d": 10.0, "p3d": 5.0},
    "extract": {"i3d": 100.0, "p3d": 50.0},
    "spotter": 100.0,
    "decode_clips_per_s": 1000.0,
}


def test_estimate_adds_rounds_extraction_and_spotter_at_the_measured_rates():
    from benchmark.perf.estimate import estimate

    r = estimate(_workload(), FIGURES)
    i3d, p3d = r["experts"]
    assert (i3d["round1_clips"], i3d["round2_clips"]) == (500, 2000)
    assert i3d["train_s"] == 2 * (250 + 1000) / 10 and i3d["extract_s"] == 2000 / 100
    assert p3d["train_s"] == 2 * 1250 / 5 and p3d["extract_s"] == 2000 / 50
    # per spotter epoch: training clips, a validation forward pass (a third of a step), a decode of validation
    assert r["spotter_s"] == pytest.approx(3 * (1000 / 100 + 500 / 300 + 500 / 1000))
    assert r["total_s"] == pytest.approx(250 + 20 + 500 + 40 + 36.5)
    assert r["missing"] == []


def test_estimate_caps_epochs_skips_round_1_and_names_what_is_missing():
    from benchmark.perf.estimate import estimate

    capped = estimate(_workload(max_clips_per_epoch=200), FIGURES)["experts"][0]
    assert capped["train_s"] == 2 * (200 + 200) / 10
    one_round = estimate(_workload(rounds=1), FIGURES)["experts"][0]
    assert one_round["round1_clips"] == 0 and one_round["train_s"] == 2 * 1000 / 10
    partial = estimate(_workload(), {"train": {"i3d": 10.0}, "extract": {}, "spotter": None})
    assert partial["missing"] == ["i3d extract", "p3d train", "p3d extract", "spotter training"]
    assert partial["total_s"] == 250


def test_mssl_workload_is_the_papers_full_run():
    """112 + 80 videos, 4 h at 25 fps, a window every 4 frames; 80 epochs x 2 rounds; 4 experts."""
    from benchmark.perf.estimate import MSSL_QUERY_FRACTION, mssl_workload
    from benchmark.plugins import get_plugin_manager

    config = get_plugin_manager().components("benchmark").resolve("reference-mssl").config
    w = mssl_workload(config)
    assert (w.all_clips, w.train_clips, w.val_clips) == (90000, 52500, 37500)
    assert w.query_clips == round(MSSL_QUERY_FRACTION * 52500)
    assert (w.epochs, w.rounds, w.max_clips_per_epoch, w.spotter_epochs) == (80, 2, None, 80)
    assert [name for _, name in w.experts] == ["i3d", "i3d", "p3d", "stgcn"]


def test_query_sign_fraction_counts_clips_labelled_by_their_majority():
    """Windows of 8 frames every 4, 4 frames of left padding; 40 ms frames.  Video a: one sign over frames
    0..10, all 3 clips are the sign's.  Video b: a sign over frames 20..25; the clip over 16..23 is a 4:4 tie
    (background wins), the one over 20..25 (its valid frames) is the sign's: 1 of 7 clips."""
    from benchmark.engine.clips import ClipSpec
    from benchmark.perf.estimate import query_sign_fraction

    gt = {"a": [[0, 0, 400]], "b": [[1, 800, 1000]], "c": []}
    counted = query_sign_fraction(gt, ClipSpec(8, 4, 4))
    assert counted == {"query_clips": 4, "train_clips": 10, "fraction": 0.4, "signs": 2}
    assert query_sign_fraction(gt, ClipSpec(8, 4, 4), train_frames=100)["fraction"] == 4 / 25


def test_mssl_query_fraction_is_the_one_counted_from_the_ground_truth():
    from pathlib import Path

    from benchmark.engine.clips import ClipSpec
    from benchmark.perf import estimate as est
    from benchmark.storage.safe_pickle import load_annotations

    path = Path("/work/shared/data/mssl/MSSL_TRAIN_SET_GT.pkl")
    if not path.is_file():
        pytest.skip(f"{path} is not on this machine")
    frames = est.MSSL_HOURS * 3600 * est.FPS * 112 / 192
    counted = est.query_sign_fraction(load_annotations(path), ClipSpec(8, 4, 4), frames)
    assert counted["signs"] > 2000
    assert counted["fraction"] == pytest.approx(est.MSSL_QUERY_FRACTION, abs=0.001)


def test_figures_from_rows_takes_one_size_and_the_reference_spotter():
    from benchmark.perf.estimate import figures_from_rows

    rows = [
        {"part": "experts", "expert": "i3d", "phase": "train", "size": "reference", "clips_per_s": 40.0},
        {"part": "experts", "expert": "i3d", "phase": "train", "size": "cpu", "clips_per_s": 400.0},
        {"part": "experts", "expert": "i3d", "phase": "extract", "size": "reference", "clips_per_s": 120.0},
        {"part": "spotter", "spotter": "tcn", "clips_per_s": 9.0},
        {"part": "spotter", "spotter": "conv-bilstm", "clips_per_s": 900.0},
        {"part": "decode", "what": "decode + score", "clips": 10, "clips_per_s": 5e5},
    ]
    f = figures_from_rows(rows, "reference")
    assert f["train"] == {"i3d": 40.0} and f["extract"] == {"i3d": 120.0}
    assert f["spotter"] == 900.0 and f["decode_clips_per_s"] == 5e5


# -- bench perf --json, the kept figures, scale ------------------------------------------------------------------


def test_perf_json_prints_every_row_keeps_the_figures_and_estimates(tmp_path):
    import json

    from benchmark.perf.measure import load_figures

    result = CliRunner().invoke(cli, ["perf", "decode", "--quick", "--json", "--estimate"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["device"]["kind"] == "cpu" and out["device"]["peak_tflops"] is None
    assert [r["part"] for r in out["rows"]] == ["decode"] * 3
    assert out["rows"][-1]["clips_per_s"] > 0
    saved = load_figures(tmp_path / "cache", "cpu")
    assert saved["rows"] == out["rows"] and "decode" in saved["parts"]
    est = out["estimate"]
    assert "spotter training" in est["missing"] and est["workload"]["all_clips"] == 90000


def test_saved_figures_replace_only_the_parts_measured_again(tmp_path):
    from benchmark.perf.measure import load_figures, save_figures

    save_figures(tmp_path, "cpu", [{"part": "decode", "value": 1}, {"part": "spotter", "value": 2}])
    save_figures(tmp_path, "cpu", [{"part": "decode", "value": 3}])
    save_figures(tmp_path, "cuda:0", [{"part": "experts", "value": 4}])
    assert load_figures(tmp_path, "cpu")["rows"] == [{"part": "spotter", "value": 2}, {"part": "decode", "value": 3}]
    assert load_figures(tmp_path, "cuda")["rows"] == [{"part": "experts", "value": 4}]


def test_scale_exponent_and_projection_follow_a_power_law():
    from benchmark.perf.scale import exponent, project

    assert exponent([1, 2, 4], [3, 12, 48]) == pytest.approx(2.0)
    assert exponent([6, 24, 96], [5, 5, 5]) == pytest.approx(0.0)
    assert exponent([6], [1]) is None
    assert project([6, 24, 96], [10, 40, 160], 1.0, 960) == pytest.approx(1600)


def test_scale_stage_windows_run_from_line_to_line():
    from benchmark.perf.scale import stage_windows

    events = [
        (1.0, "bench run x --profile tiny on cpu, seed 0"),
        (3.0, "preprocess: 3 videos, modalities pose, skeleton"),
        (4.0, "  finished preprocess in 0.9 s"),
        (4.5, "train expert skeleton (stgcn on skeleton)"),
        (9.0, "  finished train-expert:skeleton in 4.4 s"),
    ]
    samples = [(0.5, 100 * 2**20), (2.0, 300 * 2**20), (6.0, 200 * 2**20)]
    rows = stage_windows(events, 10.0, samples)
    assert [(r["stage"], r["seconds"], r["stage_s"]) for r in rows] == [
        ("startup", 1.0, None),
        ("dataset", 2.0, None),
        ("preprocess", 1.0, 0.9),
        ("train-expert:skeleton", 5.0, 4.4),
        ("score", 1.0, None),
    ]
    # a window without a sample takes the last one before its end
    assert [r["peak_rss_mb"] for r in rows] == [100.0, 300.0, 300.0, 200.0, 200.0]


@pytest.mark.slow
def test_perf_scale_quick_runs_the_pipeline_on_3_6_and_12_videos():
    """Three real `bench run`s in child processes (the cheapest entry); the stage windows cover each run."""
    import json

    result = CliRunner().invoke(
        cli, ["perf", "scale", "--quick", "--entry", "skeleton-only", "--json"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["rows"]
    runs = [r for r in rows if r["kind"] == "run"]
    assert [r["videos"] for r in runs] == [3, 6, 12] and all(r["rc"] == 0 for r in runs)
    for run in runs:
        stages = [r for r in rows if r["kind"] == "stage" and r["videos"] == run["videos"]]
        names = [s["stage"] for s in stages]
        assert names[:3] == ["startup", "dataset", "preprocess"] and names[-2:] == ["decode", "score"]
        assert "train-expert:skeleton" in names and "train-spotter" in names
        assert sum(s["seconds"] for s in stages) == pytest.approx(run["wall_s"], abs=0.01)
        assert all(s["peak_rss_mb"] and s["peak_rss_mb"] > 50 for s in stages)
        assert run["peak_rss_mb"] > 50 and run["summary"]["f1"] is not None
    fits = {r["stage"]: r for r in rows if r["kind"] == "fit"}
    assert {"train-expert:skeleton", "total"} <= set(fits)
    assert all(f["time_k"] is not None and f["memory_k"] is not None for f in fits.values())
