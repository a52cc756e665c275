"""Quiet by default and the smaller correctness rules beside it: MediaPipe's native log lines, MLflow's pickle
warning, outputs' file mode, the busy-machine warning, the portrait crop and when ``expected F1`` is printed."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

# what MediaPipe 0.10.14 printed on stderr for a few frames of pose estimation before benchmark.runtime.quiet
MEDIAPIPE_LINES = (
    "Created TensorFlow Lite XNNPACK delegate",
    "All log messages before absl::InitializeLog() is called",
    "inference_feedback_manager.cc",
)

POSE_ON_A_FEW_FRAMES = """
import numpy as np
from benchmark.modalities.pose import PoseModality
modality = PoseModality()
settings = modality.prepare({})
for _ in range(2):  # two videos: each one's graph starts anew
    estimator = modality.open_stream(None, settings, 25.0)
    for i in range(3):
        estimator.process(np.full((96, 128, 3), 40 * i, np.uint8))
    estimator.close()
import sys
print("done", file=sys.stderr)
"""


def _pose_subprocess(verbose: bool) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("SIGNSPOT_VERBOSE", "GLOG_minloglevel")}
    if verbose:
        env["SIGNSPOT_VERBOSE"] = "1"
    out = subprocess.run(
        [sys.executable, "-c", POSE_ON_A_FEW_FRAMES], capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 0, out.stderr
    return out.stderr


def test_mediapipe_start_up_lines_are_silenced_and_verbose_shows_them():
    pytest.importorskip("mediapipe")
    quiet = _pose_subprocess(verbose=False)
    assert quiet.strip() == "done", quiet  # our own line still reaches stderr after the capture
    loud = _pose_subprocess(verbose=True)
    assert all(line in loud for line in MEDIAPIPE_LINES), loud  # the lines are real here: the test can fail


def test_native_noise_is_dropped_but_errors_are_kept():
    from benchmark.runtime.quiet import is_noise

    assert is_noise("W0000 00:00:1796663233.614878    4455 inference_feedback_manager.cc:114] Feedback manager\n")
    assert is_noise("I1207 17:06:09.123456  4455 gl_context.cc:357] GL version: 3.2\n")
    assert is_noise("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
    assert not is_noise("E0000 00:00:1796663233.614878    4455 calculator_graph.cc:887] model not found\n")
    assert not is_noise("Traceback (most recent call last):\n")


def test_native_stderr_capture_puts_back_what_is_not_noise(capfd):
    from benchmark.runtime.quiet import NativeStderr

    with NativeStderr():
        os.write(2, b"W0000 00:00:1.5    1 x.cc:1] chatter\n")
        os.write(2, b"a real error\n")
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "a real error\nafter\n"


def test_mlflow_pickle_warning_is_dropped_and_nothing_else(caplog):
    from benchmark.tracking.models import PICKLE_WARNING, _pickle_warning_filtered

    logger = logging.getLogger("mlflow.pytorch")
    with caplog.at_level(logging.WARNING), _pickle_warning_filtered():
        logger.warning(PICKLE_WARNING + " because these formats rely on Python's object serialization")
        logger.warning("another MLflow warning")
    logger.warning(PICKLE_WARNING + " outside")
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["another MLflow warning", PICKLE_WARNING + " outside"]


# -- files readable by others -----------------------------------------------------------------------------------


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_atomic_writes_get_the_mode_open_would_give(tmp_path, umask, mode):
    from benchmark.storage.files import save_npy, write_text, write_with

    old = os.umask(umask)
    try:
        paths = [
            write_text(tmp_path / "a.txt", "x"),
            save_npy(tmp_path / "a.npy", np.zeros(2)),
            write_with(tmp_path / "b.txt", lambda tmp: tmp.write_text("y")),
        ]
    finally:
        os.umask(old)
    for path in paths:
        assert path.stat().st_mode & 0o777 == mode, (path, oct(path.stat().st_mode))


# -- a busy machine -----------------------------------------------------------------------------------------------


def test_load_warning_when_others_keep_a_core_busy():
    from benchmark.stages.run import load_warning

    warning = load_warning(busy_cores=2.0, own_cores=0.05, cores=2)
    assert warning and "--threads 1" in warning and "about 1.9 of the 2 cores" in warning
    assert "--threads 6" in load_warning(busy_cores=2.5, own_cores=0.5, cores=8)
    assert load_warning(busy_cores=0.3, own_cores=0.1, cores=2) is None  # an idle machine
    assert load_warning(busy_cores=1.9, own_cores=1.8, cores=2) is None  # our own work is not "others"


def test_measuring_the_load_is_cheap():
    from benchmark.stages.run import measure_load

    t0 = time.perf_counter()
    busy, own, cores = measure_load()
    assert time.perf_counter() - t0 < 0.5
    assert busy >= 0 and own >= 0 and cores >= 1


# -- the crop of a portrait video ---------------------------------------------------------------------------------


def _pose_at(x: float, y: float, frames: int = 4) -> np.ndarray:
    from benchmark.joints import POSE_CENTRE

    pose = np.full((frames, 75, 4), np.nan, np.float32)
    pose[:, POSE_CENTRE, 0], pose[:, POSE_CENTRE, 1] = x, y
    return pose


def test_portrait_crop_is_around_the_signer_not_the_frame_centre():
    from benchmark.modalities.crop import crop_frames, crop_geometry

    width, height, scale = 540, 720, 0.1  # frames as decoding hands them over: downscaled to the crop size
    signer_x = 0.3  # 162 px of 540
    frames = np.full((2, int(height * scale), int(width * scale), 3), 100, np.uint8)  # grey frame, [T, 72, 54]
    column = int(signer_x * width * scale)
    frames[:, :, column - 1 : column + 2] = 255  # the signer: a white stripe
    geom = crop_geometry(_pose_at(signer_x, 0.4), width, height, 1.0)
    crop = crop_frames(frames, geom, 72)
    stripe = np.flatnonzero(crop[0, 36, :, 0] == 255)
    assert abs(stripe.mean() - 36) <= 3, stripe  # the signer near the crop's centre (centred frame: column 25)
    padded = np.flatnonzero(crop[0, 36, :, 0] == 0)
    assert padded.max() < 36 and crop[0, 36, -1, 0] == 100  # padding only where the frame ends, whole width kept


def test_portrait_crop_keeps_the_whole_frame_when_the_signer_is_at_its_edge():
    from benchmark.modalities.crop import crop_geometry

    geom = crop_geometry(_pose_at(0.98, 0.4), 540, 720, 1.0)
    assert geom.x0 == pytest.approx(0.0) and geom.side_w == pytest.approx(720 / 540)
    geom = crop_geometry(_pose_at(0.5, 0.4), 540, 720, 1.0)  # centred signer: symmetric padding
    assert geom.x0 == pytest.approx(-90 / 540)


def test_landscape_crop_is_unchanged():
    from benchmark.modalities.crop import crop_geometry

    assert crop_geometry(_pose_at(0.3, 0.4), 1280, 720, 1.0).x0 == pytest.approx(24 / 1280)
    assert crop_geometry(_pose_at(0.02, 0.4), 1280, 720, 1.0).x0 == pytest.approx(0.0)
    geom = crop_geometry(_pose_at(0.5, 0.1), 1280, 720, 0.5)
    assert geom.y0 == pytest.approx(0.0) and geom.x0 == pytest.approx((640 - 180) / 1280)


# -- when "expected F1" is printed ------------------------------------------------------------------------------


def _resolved(*sets: str, data: Path | None = None):
    from benchmark.config.overrides import Swaps
    from benchmark.plugins import get_plugin_manager
    from benchmark.stages.run import entry_dataset, expectation_applies, resolve_run

    registry = get_plugin_manager().components("benchmark")
    swaps = Swaps(data_path=str(data)) if data else Swaps()
    resolved, _, _ = resolve_run(
        registry, "reference-mssl", profile="tiny", sets=sets, device="cpu", swaps=swaps, echo=lambda m: None
    )
    return expectation_applies(resolved.config, entry_dataset(registry, "reference-mssl", "tiny"))


def test_expected_f1_only_for_the_dataset_it_was_measured_on(tmp_path):
    assert _resolved()  # the entry's own embedded dataset
    assert _resolved("spotter.training.epochs=5")  # other settings: still the same data
    assert not _resolved("dataset.settings.videos=20")  # more synthetic videos: another dataset
    assert not _resolved(data=tmp_path)  # a real corpus


def test_expectation_rule_without_an_entry_default():
    from benchmark.stages.run import expectation_applies

    ds = {"name": "synthetic", "path": None, "settings": {"videos": 12}}
    assert expectation_applies({"dataset": dict(ds)}, ds)
    assert not expectation_applies({"dataset": {**ds, "name": "elan"}}, ds)
    assert not expectation_applies({"dataset": dict(ds)}, None)
