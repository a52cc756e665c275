"""A full disk, for real: the cache on a small tmpfs that fills up while the synthetic dataset is written, during
preprocessing, and when the expert's checkpoint is saved.  Each time: one clear error naming the folder and what
to do, no traceback, nothing half-written kept; the same command on the same cache, once there is room, gives the
predictions of a run that never saw a full disk, byte for byte."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

try:
    from tests.test_e2e import E2E_REGISTRY
except ImportError:  # pragma: no cover
    from test_e2e import E2E_REGISTRY

BENCH = str(Path(sys.executable).with_name("bench"))


def bench(registry: Path, cache: Path) -> tuple[subprocess.CompletedProcess, float]:
    args = ["--registry", str(registry), "--cache-dir", str(cache), "run", "e2e-skeleton", "--device", "cpu"]
    env = {**os.environ, "SIGNSPOT_MLFLOW": "0"}
    start = time.perf_counter()
    out = subprocess.run([BENCH, *args, "--no-progress", "--no-track"], capture_output=True, text=True, env=env)
    return out, time.perf_counter() - start


def mount_tmpfs(path: Path, size: int) -> None:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)


def remount(path: Path, size: int) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(path)], check=True)


def size_of(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """A run on a roomy cache: what the resumed runs must reproduce, and how much each stage writes."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    root = tmp_path_factory.mktemp("full")
    registry = root / "registry.yaml"
    registry.write_text(E2E_REGISTRY)
    out, _ = bench(registry, root / "good")
    assert out.returncode == 0, out.stderr
    run = next((root / "good" / "runs").iterdir())
    sizes = {stage: size_of(root / "good" / stage) for stage in ("datasets", "preprocess", "train-expert")}
    return registry, (run / "predictions.pkl").read_bytes(), sizes


@pytest.mark.parametrize("fills_during", ["datasets", "preprocess", "train-expert"])
def test_full_disk_is_named_and_the_same_command_resumes_identically(reference, tmp_path, fills_during):
    registry, predictions, sizes = reference
    before = {"datasets": 0, "preprocess": sizes["datasets"], "train-expert": sizes["datasets"] + sizes["preprocess"]}
    room = before[fills_during] + sizes[fills_during] // 2  # the disk fills halfway through that stage
    cache = tmp_path / "small"
    mount_tmpfs(cache, room)
    try:
        failed, seconds = bench(registry, cache)
        assert failed.returncode == 1, failed.stderr
        assert f"no space left on the disk of {cache / fills_during}" in failed.stderr, failed.stderr
        assert "--cache-dir or $SIGNSPOT_CACHE_DIR" in failed.stderr and "resumes where it stopped" in failed.stderr
        assert "Traceback" not in failed.stderr
        if fills_during == "preprocess":  # refused before it starts, from its estimate of what it will write
            assert "needed for preprocessing 5 video(s)" in failed.stderr, failed.stderr
        assert seconds < 120, seconds  # it fails when the disk fills, not after
        leftovers = [p for p in cache.rglob("*") if p.name.endswith(".tmp") or ".tmp-" in p.name]
        assert leftovers == []  # no temporary file kept
        remount(cache, sum(sizes.values()) * 3 + (64 << 20))
        resumed, _ = bench(registry, cache)
        assert resumed.returncode == 0, resumed.stderr
        run = next(p for p in (cache / "runs").iterdir() if (p / "predictions.pkl").is_file())
        assert (run / "predictions.pkl").read_bytes() == predictions
    finally:
        subprocess.run(["umount", str(cache)], check=False)
