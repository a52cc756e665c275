"""The example third-party package under plugins/ installs with pip and shows up as a plugin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "plugins" / "signspot-example-expert"


def pip(*args):
    return subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, timeout=600)


def bench(*args, env=None):
    exe = Path(sys.executable).with_name("bench")
    return subprocess.run(
        [str(exe), *args], capture_output=True, text=True, timeout=600, env={**os.environ, **(env or {})}
    )


@pytest.fixture(scope="module")
def installed_example():
    result = pip("install", "--no-deps", "--no-build-isolation", "-q", str(PACKAGE))
    assert result.returncode == 0, result.stderr
    yield
    pip("uninstall", "-y", "-q", "signspot-example-expert")


def test_pip_installed_plugin_appears_in_bench_plugins(installed_example):
    out = bench("plugins", "--json")
    assert out.returncode == 0, out.stderr
    rows = {r["name"]: r for r in json.loads(out.stdout)}
    row = rows["example-expert"]
    assert (row["distribution"], row["version"], row["status"]) == ("signspot-example-expert", "0.1.0", "ok")
    assert row["hooks"] == ["register_experts"]
    listing = bench("list").stdout
    assert "tiny-c3d" in listing and "[signspot-example-expert]" in listing
    # SIGNSPOT_PLUGINS=none leaves it out, for reproducible runs
    rows = {r["name"] for r in json.loads(bench("plugins", "--json", env={"SIGNSPOT_PLUGINS": "none"}).stdout)}
    assert "example-expert" not in rows


def test_example_expert_builds_and_classifies(installed_example):
    import torch
    from signspot_example_expert.expert import TinyC3DExpert

    expert = TinyC3DExpert()
    model = expert.build(5, {"width": 8})
    feats, logits = model(torch.zeros(2, 3, 8, 32, 32))
    assert feats.shape == (2, expert.feature_dim({"width": 8})) == (2, 32)
    assert logits.shape == (2, 5)
