"""`bench doctor` reports every section and fails exactly when the default run cannot work; scripts/gpu-check.sh
runs end to end in its CPU mode (the same script a GPU machine runs, at tiny sizes)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchmark.commands.main import cli

REPO = Path(__file__).resolve().parents[1]
SECTIONS = ("torch", "gpu", "cpus", "mediapipe", "opencv", "ray", "tracking", "cache", "pretrained", "default_run")


def _doctor(*args, env=None):
    result = CliRunner().invoke(cli, [*args, "doctor", "--json"], env=env, catch_exceptions=False)
    return result, json.loads(result.stdout)


def test_doctor_json_reports_every_section_and_exits_0_here():
    """On this machine the default run works; a failing check would be named here (the documented reason)."""
    import torch

    from benchmark.runtime.cpus import available_cores

    result, report = _doctor()
    failing = [c for c in report["checks"] if c["status"] == "fail"]
    assert result.exit_code == (0 if report["ok"] else 1)
    assert not failing, failing
    assert [c["name"] for c in report["checks"]] == list(SECTIONS)
    assert all(report[name] is not None for name in SECTIONS)
    assert report["torch"]["version"] == torch.__version__
    assert report["cpus"] == {"available": available_cores(), "cpu_count": os.cpu_count()}
    assert report["opencv"]["tvl1"] is True
    assert 1 in report["mediapipe"]["offline_complexities"]  # bundled with the wheel
    assert report["cache"]["writable"] and report["cache"]["path"] == os.environ["SIGNSPOT_CACHE_DIR"]
    files = {r["expert"]: r["expected_file"] for r in report["pretrained"]["experts"]}
    assert files == {
        "rgb": "I3D_8x8_R50.pyth",
        "hands": "I3D_8x8_R50.pyth",
        "flow": "p3d_flow_199.checkpoint.pth.tar",
        "skeleton": None,
    }
    assert all(r["pretrained"] is None for r in report["pretrained"]["experts"])  # the reference: from scratch
    run = report["default_run"]
    gpu = torch.cuda.is_available()
    assert (run["device"], run["profile"]) == (("cuda", None) if gpu else ("cpu", "cpu"))
    assert "bench perf" in run["estimate_text"]  # a fresh cache holds no figures yet


def test_doctor_estimates_the_default_run_from_the_figures_bench_perf_kept(tmp_path):
    """The cpu profile's synthetic data (12 training videos of 30 s, 24 validation and 260 test videos of 10 s)
    with its sizes (6 epochs of at most 768 clips, 2 rounds, 200 spotter epochs) at fixed rates: 100 clips/s
    training, 200 extraction, 1000 for the spotter, 112,500 for decoding."""
    from benchmark.perf.estimate import MSSL_QUERY_FRACTION
    from benchmark.perf.measure import save_figures

    rows = [
        {"part": "experts", "expert": e, "phase": phase, "size": "cpu", "clips_per_s": cps}
        for e in ("i3d", "p3d", "stgcn")
        for phase, cps in (("train", 100.0), ("extract", 200.0))
    ]
    rows += [
        {"part": "spotter", "spotter": "conv-bilstm", "clips_per_s": 1000.0},
        {"part": "decode", "clips_per_s": 112500.0},
    ]
    save_figures(tmp_path / "cache", "cpu", rows)
    _, report = _doctor("--cache-dir", str(tmp_path / "cache"))
    run = report["default_run"]
    assert run["estimate"]["missing"] == []
    query = round(MSSL_QUERY_FRACTION * 2250)  # the data is not generated yet: MSSL's share
    clips = 12 * 750 // 4, 24 * 250 // 4, 260 * 250 // 4  # train, validation, test: a clip every 4 frames
    experts = 4 * (6 * (query + 768) / 100 + sum(clips) / 200)
    spotter = 200 * (clips[0] / 1000 + clips[1] / 3000 + clips[1] / 112500)
    assert run["estimated_s"] == pytest.approx(experts + spotter)
    assert run["estimate"]["preprocess_s"] is None  # bench perf preprocess was not run


def test_doctor_fails_when_the_cache_cannot_be_written(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result, report = _doctor("--cache-dir", str(blocker / "cache"))
    assert result.exit_code == 1 and not report["ok"]
    cache = next(c for c in report["checks"] if c["name"] == "cache")
    assert cache["status"] == "fail" and "cannot be written" in cache["summary"]


def test_doctor_fails_when_the_tracking_server_does_not_answer():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result, report = _doctor(env={"MLFLOW_TRACKING_URI": f"http://127.0.0.1:{port}"})
    assert result.exit_code == 1
    tracking = next(c for c in report["checks"] if c["name"] == "tracking")
    assert tracking["status"] == "fail" and report["tracking"]["answers"] is False
    assert "--no-track" in tracking["summary"]


def test_doctor_prints_one_line_per_check():
    result = CliRunner().invoke(cli, ["doctor"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2 + len(SECTIONS)
    assert [line.split()[1] for line in lines[1:-1]] == list(SECTIONS)
    assert lines[-1] == "the default run can work here"


@pytest.mark.slow
def test_gpu_check_script_runs_in_its_cpu_mode(tmp_path):
    """Every check runs (the CUDA tests skipped with their reason), one line each, and the JSON has the figures."""
    out = tmp_path / "gpu-check.json"
    env = {**os.environ, "GPU_CHECK_DEVICE": "cpu", "GPU_CHECK_BUDGET_S": "300", "TMPDIR": str(tmp_path)}
    proc = subprocess.run(
        ["bash", str(REPO / "scripts" / "gpu-check.sh"), str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=420,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = [line.split() for line in proc.stdout.splitlines() if line.split()[:1] in (["PASS"], ["FAIL"], ["SKIP"])]
    assert [(w[0], w[1]) for w in lines] == [
        ("PASS", "doctor"),
        ("PASS", "cuda-tests"),
        ("PASS", "perf"),
        ("PASS", "reference"),
        ("SKIP", "preprocess"),
    ]
    assert "cuda-tests skipped: needs a CUDA GPU" in proc.stdout
    report = json.loads(out.read_text())
    assert report["ok"] and report["device"] == "cpu" and report["total_s"] <= 300
    assert report["doctor"]["ok"]
    tests = report["cuda_tests"]
    assert tests["tests"] > 0 and tests["skipped"] == tests["tests"] and tests["failures"] == tests["errors"] == 0
    assert {r["part"] for r in report["perf"]["rows"]} == {"experts", "decode"}
    assert report["perf"]["estimate"]["workload"]["all_clips"] == 90000
    assert report["reference_run"]["f1"] is not None
    assert [s["stage"] for s in report["reference_stages"]][:2] == ["preprocess", "train-expert:skeleton"]


def test_gpu_check_script_fails_when_a_check_fails(tmp_path):
    """A broken interpreter fails every check, the exit code says so, and the JSON still says which."""
    out = tmp_path / "gpu-check.json"
    fake = tmp_path / "python"
    fake.write_text(f'#!/bin/sh\nif [ "$1" = "-" ]; then exec {sys.executable} "$@"; fi\nexit 3\n')
    fake.chmod(0o755)
    env = {**os.environ, "GPU_CHECK_DEVICE": "cpu", "PYTHON": str(fake), "TMPDIR": str(tmp_path)}
    proc = subprocess.run(
        ["bash", str(REPO / "scripts" / "gpu-check.sh"), str(out)], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 1
    assert "FAIL doctor" in proc.stdout and "FAIL reference" in proc.stdout
    report = json.loads(out.read_text())
    assert not report["ok"] and {c["name"]: c["status"] for c in report["checks"]}["perf"] == "FAIL"
