"""A pip-installed plugin whose modality requires another plugin modality (which requires a built-in one), with
an expert reading it: resolved through the registry and run end to end in a tiny benchmark."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

PLUGIN = '''
"""Two chained modalities and an expert on the second: joint-speed <- joints-centred <- skeleton (built-in)."""
import numpy as np

from benchmark import hookimpl
from benchmark.interfaces import Expert, Modality


class CentredJoints(Modality):
    name = "joints-centred"
    description = "skeleton joints minus their per-frame mean, scaled"
    requires = ("skeleton",)
    needs_frames = False
    defaults = {"scale": 1.0}

    def compute(self, video, frames, inputs, settings):
        s = np.asarray(inputs["skeleton"], dtype=np.float32)
        return (s - s.mean(axis=1, keepdims=True)) * float(settings["scale"])


class JointSpeed(Modality):
    name = "joint-speed"
    description = "frame-to-frame motion of the centred joints"
    requires = ("joints-centred",)
    needs_frames = False

    def compute(self, video, frames, inputs, settings):
        c = np.asarray(inputs["joints-centred"], dtype=np.float32)
        return np.diff(c, axis=0, prepend=c[:1])


class SpeedMLP(Expert):
    name = "speed-mlp"
    description = "a linear layer over mean joint speeds"
    modality = "joint-speed"
    input_kind = "skeleton"
    defaults = {"width": 16}

    def feature_dim(self, settings):
        return int(settings["width"])

    def create_model(self, in_channels, num_outputs, settings, *, pretrained=False):
        from signspot_test_chain.model import SpeedNet

        return SpeedNet(in_channels, int(settings["width"]), num_outputs)


@hookimpl
def register_modalities(registry):
    registry.add(JointSpeed.name, JointSpeed())  # registered before the modality it requires
    registry.add(CentredJoints.name, CentredJoints())


@hookimpl
def register_experts(registry):
    registry.add(SpeedMLP.name, "signspot_test_chain.plugin:SpeedMLP")  # a lazy spec
'''

MODEL = """
import torch
from torch import nn


class SpeedNet(nn.Module):
    def __init__(self, in_channels, width, num_outputs):
        super().__init__()
        self.embed = nn.Linear(in_channels * 57, width)
        self.classifier = nn.Linear(width, num_outputs)

    def forward(self, x):  # [B, C, L, V]
        b, c, t, v = x.shape
        features = torch.relu(self.embed(x.abs().mean(dim=2).reshape(b, c * v)))
        return features, self.classifier(features)
"""

REGISTRY = """
chain:
  extends: reference-mssl
  description: tiny benchmark on a plugin modality chain
  version: 1
  profiles: null
  dataset: {settings: {videos: 5, classes: 3, signers: 2, seconds: 8, size: 96, workers: 1}}
  preprocess: {workers: 1, joints-centred: {scale: 2.0}}
  experts: {rgb: null, hands: null, flow: null, skeleton: null, speed: {name: speed-mlp}}
  expert_training: {epochs: 1, max_clips_per_epoch: 16, batch_size: 8, milestones: [1], lr: 1.0e-3}
  spotter:
    settings: {reduce_dims: [32], hidden: 16, lstm_hidden: 8, head_dim: 8}
    training: {epochs: 2, batch_size: 2, milestones: [1], lr: 1.0e-3}
"""


def write_package(root: Path) -> Path:
    pkg = root / "signspot-test-chain"
    (pkg / "signspot_test_chain").mkdir(parents=True)
    (pkg / "signspot_test_chain" / "__init__.py").write_text("")
    (pkg / "signspot_test_chain" / "plugin.py").write_text(PLUGIN)
    (pkg / "signspot_test_chain" / "model.py").write_text(MODEL)
    (pkg / "pyproject.toml").write_text(
        textwrap.dedent("""
        [build-system]
        requires = ["setuptools>=68"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "signspot-test-chain"
        version = "0.2.0"
        [project.entry-points."signspot.plugins"]
        test-chain = "signspot_test_chain.plugin"
        [tool.setuptools]
        packages = ["signspot_test_chain"]
    """)
    )
    return pkg


def test_plugin_modality_requiring_a_plugin_modality_runs_a_tiny_benchmark(tmp_path):
    pip = [sys.executable, "-m", "pip"]
    inst = subprocess.run(
        pip + ["install", "--no-deps", "--no-build-isolation", "-q", str(write_package(tmp_path))],
        capture_output=True,
        text=True,
    )
    assert inst.returncode == 0, inst.stderr
    try:
        (tmp_path / "registry.yaml").write_text(REGISTRY)
        env = {**os.environ, "SIGNSPOT_MLFLOW": "0"}
        bench = [
            str(Path(sys.executable).with_name("bench")),
            "--registry",
            str(tmp_path / "registry.yaml"),
            "--cache-dir",
            str(tmp_path / "cache"),
        ]
        plugins = json.loads(
            subprocess.run(bench + ["plugins", "--json"], env=env, capture_output=True, text=True, timeout=120).stdout
        )
        row = {p["name"]: p for p in plugins}["test-chain"]
        assert (row["distribution"], row["version"], row["status"]) == ("signspot-test-chain", "0.2.0", "ok")
        out = subprocess.run(
            bench + ["run", "chain", "--device", "cpu", "--json"], env=env, capture_output=True, text=True, timeout=900
        )
        assert out.returncode == 0, out.stderr[-3000:]
        summary = json.loads(out.stdout[out.stdout.index("{") :])
        assert 0.0 <= summary["f1"] <= 1.0
        arrays = sorted((tmp_path / "cache" / "preprocess").glob("*/*/joint-speed.npy"))
        assert len(arrays) == 5  # every video, through the whole chain
        video = arrays[0].parent
        skeleton, centred, speed = (np.load(video / f"{m}.npy") for m in ("skeleton", "joints-centred", "joint-speed"))
        np.testing.assert_allclose(
            centred, 2.0 * (skeleton - skeleton.mean(axis=1, keepdims=True)), rtol=1e-5, atol=1e-6
        )
        np.testing.assert_allclose(speed[1:], np.diff(centred, axis=0), rtol=1e-5, atol=1e-6)
    finally:
        subprocess.run(pip + ["uninstall", "-y", "-q", "signspot-test-chain"], capture_output=True)
