"""The tiny profile learns (a non-zero F1) and meets the expectation the registry states for it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmark.plugins import get_plugin_manager


def test_every_builtin_entry_states_its_expectations():
    registry = get_plugin_manager().components("benchmark")
    for name in registry.names():
        for profile in ("cpu", "tiny"):
            expected = registry.resolve(name, profile).expected.get(profile)
            assert expected and {"f1_mean", "f1_std", "seeds"} <= set(expected), (name, profile)
            assert 0.0 <= expected["f1_mean"] <= 1.0 and expected["f1_std"] >= 0.0


@pytest.mark.slow
def test_tiny_reference_learns_and_meets_its_expectation(tmp_path):
    bench = str(Path(sys.executable).with_name("bench"))
    out = subprocess.run(
        [
            bench,
            "--cache-dir",
            str(tmp_path / "cache"),
            "run",
            "reference-mssl",
            "--profile",
            "tiny",
            "--device",
            "cpu",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=1200,
        env={**os.environ, "SIGNSPOT_MLFLOW": "0"},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    expected = get_plugin_manager().components("benchmark").resolve("reference-mssl", "tiny").expected["tiny"]
    line = next(line for line in out.stdout.splitlines() if line.startswith("expected F1"))
    got = float(line.rsplit("got ", 1)[1].split(":")[0])
    assert got > 0.0  # the tiny profile predicts signs
    low, high = expected["f1_ci"]  # the interval over seeds x test videos that `bench sweep` measured
    assert low <= got <= high, (got, expected)
    assert line.startswith(f"expected F1 {expected['f1_mean']:.3f} +- {expected['f1_std']:.3f}, 95 % CI [{low:.3f}")
    assert line.endswith(f"got {got:.3f}: inside that interval")
