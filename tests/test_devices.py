"""``bench run --devices``: independent experts trained at the same time, one process per device.  On CPU the
path runs with ``--devices cpu,cpu``: two real worker processes, the same results as one process."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from benchmark.commands.main import cli

REGISTRY = """
two-experts:
  extends: reference-mssl
  description: two skeleton experts, for the --devices test
  version: 1
  profiles: null
  dataset: {settings: {videos: 5, classes: 3, signers: 2, seconds: 8, size: 96, workers: 1}}
  preprocess: {workers: 1}
  experts:
    rgb: null
    hands: null
    flow: null
    skeleton: {name: stgcn, modality: skeleton}
    joints: {name: skeleton-transformer, modality: skeleton}
  expert_training:
    {epochs: 2, rounds: 2, max_clips_per_epoch: 48, batch_size: 8, milestones: [2], lr: 1.0e-3}
  spotter:
    settings: {reduce_dims: [64, 32], hidden: 32, lstm_hidden: 16, head_dim: 16}
    training: {epochs: 3, batch_size: 2, milestones: [2], lr: 1.0e-3}
"""


def run(tmp_path, cache: str, *extra: str):
    (tmp_path / "registry.yaml").write_text(REGISTRY)
    args = ["--registry", str(tmp_path / "registry.yaml"), "--cache-dir", str(tmp_path / cache), "run", "two-experts"]
    out = CliRunner().invoke(cli, [*args, "--device", "cpu", "--json", "--no-track", *extra], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    return json.loads(out.stdout[out.stdout.index("{") :]), out.stderr


def test_two_experts_train_at_once_in_two_processes_with_the_same_results(tmp_path):
    together, log = run(tmp_path, "parallel", "--devices", "cpu,cpu")
    workers = [line for line in log.splitlines() if line.strip().startswith("worker ")]
    assert len(workers) == 2, log
    pids = {line.split()[1] for line in workers}
    assert len(pids) == 2  # two processes
    assert "experts skeleton on cpu" in log and "experts joints on cpu" in log
    # the stages the workers computed count as computed by this run, not reused
    for eid in ("skeleton", "joints"):
        assert f"train-expert:{eid}" in together["computed"] and f"extract-features:{eid}" in together["computed"]
    alone, _ = run(tmp_path, "serial")
    assert together["f1"] == alone["f1"] and together["precision"] == alone["precision"]
    again, log = run(tmp_path, "parallel", "--devices", "cpu,cpu")  # cached: no workers started
    assert "worker " not in log and "train-expert:skeleton" in again["reused"]


@pytest.mark.parametrize(
    "devices, message",
    [
        ("cuda:0,cuda:1", "torch sees no CUDA device"),
        ("cpu,gpu", "--device 'gpu' is not a device"),
        ("auto,cpu", "--devices takes explicit devices"),
    ],
)
def test_bad_devices_fail_before_any_work(tmp_path, devices, message):
    (tmp_path / "registry.yaml").write_text(REGISTRY)
    args = ["--registry", str(tmp_path / "registry.yaml"), "--cache-dir", str(tmp_path / "c"), "run", "two-experts"]
    out = CliRunner().invoke(cli, [*args, "--devices", devices, "--no-track"])
    assert out.exit_code == 1 and message in out.output, out.output
    assert not (tmp_path / "c").exists()
