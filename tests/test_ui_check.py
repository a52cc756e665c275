"""scripts/ui-check.sh: a real ``mlflow server``, two tiny tracked runs, headless-Chromium screenshots of the
experiment and the run pages.  Runs where Chromium is installed (CI installs it); what the pages show is
judged by a person looking at the PNGs; here, that each one was rendered (not blank, not an error stub)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "ui-check.sh"
SHOTS = (
    "experiment.png",
    "experiment-charts.png",
    "experiment-default.png",
    "run.png",
    "run-charts.png",
    "run-system.png",
    "run-artifacts.png",
    "run-per-class.png",
)
CHROMIUM = next(
    (c for c in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable") if shutil.which(c)), None
)


def distinct_colours(path: Path) -> int:
    from matplotlib.image import imread

    img = imread(path)
    return len(np.unique((img[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0))


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")
def test_ui_check_script_screenshots_the_experiment_and_the_run(tmp_path):
    out = tmp_path / "shots"
    env = {**os.environ, "PYTHON": sys.executable}
    env.pop("MLFLOW_TRACKING_URI", None)  # the script's runs go to its own server
    proc = subprocess.run(
        ["bash", str(SCRIPT), str(out)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=840
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    for name in SHOTS:
        path = out / name
        assert path.is_file() and path.stat().st_size > 20_000, name
        assert distinct_colours(path) > 50, f"{name} looks blank"
    first = json.loads((out / "run1.json").read_text())
    second = json.loads((out / "run2.json").read_text())
    assert first["run_name"] == "ui-check" and second["run_name"] == "ui-check decoder=argmax"
    assert "preprocess" in second["reused"]


def test_ui_check_script_fails_when_the_server_does_not_start(tmp_path):
    """``mlflow server`` exiting at once is a non-zero exit naming the server (no run is attempted)."""
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed")
    fake = tmp_path / "python"
    fake.write_text(
        "#!/bin/sh\n"
        'if [ "$2" = mlflow ] && [ "$3" = server ]; then echo "no server today" >&2; exit 1; fi\n'
        f'exec {sys.executable} "$@"\n'
    )
    fake.chmod(0o755)
    proc = subprocess.run(
        ["bash", str(SCRIPT), str(tmp_path / "shots")],
        cwd=tmp_path,
        env={**os.environ, "PYTHON": str(fake)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode != 0 and "mlflow server exited" in proc.stderr
    assert "no server today" in (tmp_path / "shots" / "server.log").read_text()
