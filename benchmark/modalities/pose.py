"""The ``pose`` modality: MediaPipe Holistic body + both hands, 3D, float32 ``[T, 75, 4]`` (NaN = missing).

Three sources, in this order:

1. the video's ``.pose`` file (pose-format, MediaPipe Holistic layout) when the record has ``pose_path`` (and
   ``use_pose_files`` is on): nothing is estimated, so pose-only datasets work without video;
2. ``backend: legacy`` (default): ``mediapipe.solutions.holistic`` 0.10.14, whose models ship with the wheel
   for ``model_complexity: 1``.  Complexities 0 and 2 need ``pose_landmark_lite/heavy.tflite``, which the
   wheel downloads on first use.  Policy (documented in the registry): the file is used when present;
   otherwise, with ``allow_download: false`` (default, no network access is attempted) the estimator falls
   back to ``complexity_fallback`` (default 1) with one warning, or raises a :class:`BenchError` saying
   where to put the file when ``complexity_fallback`` is null.  The complexity actually used is returned by
   :meth:`PoseModality.prepare`, which is part of the cache key;
3. ``backend: tasks``: the Tasks API ``HolisticLandmarker`` with the user's ``model_path`` (``.task`` file).

Layout (:mod:`benchmark.joints`): joints 0..32 body (MediaPipe pose), 33..53 left hand, 54..74 right hand;
channels x, y in [0, 1] of the frame, z (MediaPipe's relative depth), visibility (hands: 1).  A frame without a
person is all NaN.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.config.rules import optional
from benchmark.errors import BenchError, DataError
from benchmark.interfaces import FrameProcessor, Modality, VideoRecord
from benchmark.joints import (
    HAND,
    HAND_NAMES,
    POSE_BODY,
    POSE_BODY_NAMES,
    POSE_JOINTS,
    POSE_LEFT_HAND,
    POSE_RIGHT_HAND,
)

log = logging.getLogger(__name__)

_LEGACY_MODEL_FILES = {0: "pose_landmark_lite.tflite", 2: "pose_landmark_heavy.tflite"}
_ASSET_URL = "https://storage.googleapis.com/mediapipe-assets/"
_HOLISTIC_TASK_URL = (
    "https://storage.googleapis.com/mediapipe-models/holistic_landmarker/holistic_landmarker/float16/latest/"
    "holistic_landmarker.task"
)


_WARNED: set[str] = set()


def empty_pose(n_frames: int) -> np.ndarray:
    return np.full((n_frames, POSE_JOINTS, 4), np.nan, dtype=np.float32)


def legacy_model_path(complexity: int) -> Path:
    """Where the mediapipe wheel keeps the legacy pose model file of ``complexity`` (only 1's ships with it), so
    that a missing one is caught before MediaPipe loads, here and in ``bench doctor``."""
    from benchmark.runtime.quiet import quiet_environment

    quiet_environment()  # before MediaPipe loads
    import mediapipe

    return Path(mediapipe.__file__).parent / "modules" / "pose_landmark" / _LEGACY_MODEL_FILES[complexity]


def effective_settings(settings: Mapping[str, Any]) -> dict:
    """The settings (over :attr:`PoseModality.defaults`) as they will run: ``model_complexity`` replaced by
    the one that actually runs, ``model_path`` made absolute (see the module doc).  Idempotent."""
    s = PoseModality.checked(settings, BenchError)  # backend, complexities: the modality's rules
    backend = s["backend"]
    if backend == "tasks":
        path = s["model_path"]
        if not path or not Path(path).expanduser().is_file():
            raise BenchError(
                f"pose backend 'tasks' needs a MediaPipe holistic model file: set preprocess.pose.model_path "
                f"to a .task file (currently {path!r}{', which does not exist' if path else ''}); download "
                f"holistic_landmarker.task from {_HOLISTIC_TASK_URL}, or use backend: legacy"
            )
        s["model_path"] = str(Path(path).expanduser().resolve())
        return s
    complexity = int(s["model_complexity"])
    if complexity != 1:
        model = legacy_model_path(complexity)
        if not model.is_file():
            if s["allow_download"]:
                try:
                    from mediapipe.python.solutions import download_utils

                    download_utils.download_oss_model(
                        f"mediapipe/modules/pose_landmark/{_LEGACY_MODEL_FILES[complexity]}"
                    )
                except Exception as exc:  # any network/IO failure means the same to the user
                    raise BenchError(
                        f"pose model_complexity {complexity} needs {model.name}, and downloading it failed "
                        f"({exc}); put {_ASSET_URL}{model.name} at {model}, or use model_complexity: 1 "
                        f"(bundled, works offline)"
                    ) from None
            else:
                fallback = s["complexity_fallback"]
                where = (
                    f"model_complexity {complexity} needs {model} (download {_ASSET_URL}{model.name} and put it "
                    f"there, or set preprocess.pose.allow_download: true)"
                )
                if fallback is None:
                    raise BenchError(f"pose: {where}, or use model_complexity: 1 (bundled, works offline)")
                msg = f"pose: {where}; falling back to model_complexity {fallback}"
                if msg not in _WARNED:  # once per process, however often settings are prepared
                    _WARNED.add(msg)
                    log.warning(msg)
                s["requested_model_complexity"] = complexity
                complexity = int(fallback)
    s["model_complexity"] = complexity
    return s


def _landmarks(lms, n: int, visibility: bool) -> np.ndarray | None:
    if not lms:
        return None
    out = np.empty((n, 4), dtype=np.float32)
    for i, p in enumerate(lms[:n]):
        out[i] = (p.x, p.y, p.z, getattr(p, "visibility", 1.0) if visibility else 1.0)
    return out


def _assemble(body, left, right) -> np.ndarray:
    out = np.full((POSE_JOINTS, 4), np.nan, dtype=np.float32)
    if body is not None:
        out[:POSE_BODY] = body
    if left is not None:
        out[POSE_LEFT_HAND] = left
    if right is not None:
        out[POSE_RIGHT_HAND] = right
    return out


class LegacyHolistic(FrameProcessor):
    """``mediapipe.solutions.holistic`` in video (tracking) mode; one instance per video."""

    def __init__(self, settings: Mapping[str, Any]):
        from benchmark.runtime.quiet import quiet_environment, quiet_start

        quiet_environment()  # before MediaPipe loads
        import mediapipe as mp

        with quiet_start(self):  # its native start-up log lines, until the first frame (benchmark.runtime.quiet)
            self._h = mp.solutions.holistic.Holistic(
                static_image_mode=bool(settings["static_image_mode"]),
                model_complexity=int(settings["model_complexity"]),
                smooth_landmarks=True,
                enable_segmentation=False,
                refine_face_landmarks=False,
                min_detection_confidence=float(settings["min_detection_confidence"]),
                min_tracking_confidence=float(settings["min_tracking_confidence"]),
            )

    def process(self, rgb: np.ndarray) -> np.ndarray:
        with warnings.catch_warnings():
            # mediapipe 0.10.14 calls a protobuf API newer protobufs flag as deprecated, on every video
            warnings.filterwarnings(
                "ignore", message=r"SymbolDatabase\.GetPrototype\(\) is deprecated", category=UserWarning
            )
            r = self._h.process(np.ascontiguousarray(rgb))
        pose = r.pose_landmarks.landmark if r.pose_landmarks else None
        left = r.left_hand_landmarks.landmark if r.left_hand_landmarks else None
        right = r.right_hand_landmarks.landmark if r.right_hand_landmarks else None
        return _assemble(
            _landmarks(pose, POSE_BODY, True), _landmarks(left, HAND, False), _landmarks(right, HAND, False)
        )

    def close(self) -> None:
        self._h.close()


class TasksHolistic(FrameProcessor):
    """Tasks API ``HolisticLandmarker`` (user-supplied ``.task`` model) in VIDEO running mode."""

    def __init__(self, settings: Mapping[str, Any], fps: float):
        from benchmark.runtime.quiet import quiet_environment, quiet_start

        quiet_environment()  # before MediaPipe loads
        import mediapipe as mp
        from mediapipe.tasks.python import BaseOptions, vision

        conf = float(settings["min_detection_confidence"])
        track = float(settings["min_tracking_confidence"])
        opts = vision.HolisticLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(settings["model_path"])),
            running_mode=vision.RunningMode.VIDEO,
            min_pose_detection_confidence=conf,
            min_pose_landmarks_confidence=track,
            min_hand_landmarks_confidence=track,
        )
        try:
            with quiet_start(self):  # its native start-up log lines, until the first frame (benchmark.runtime.quiet)
                self._h = vision.HolisticLandmarker.create_from_options(opts)
        except Exception as exc:  # a broken file can fail anywhere in the parser
            raise BenchError(
                f"pose: cannot load the MediaPipe holistic model {settings['model_path']}: {exc}; it must be a "
                f"holistic_landmarker .task file ({_HOLISTIC_TASK_URL})"
            ) from None
        self._mp = mp
        self._dt = 1000.0 / (fps or 25.0)
        self._i = 0

    def process(self, rgb: np.ndarray) -> np.ndarray:
        img = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        r = self._h.detect_for_video(img, int(round(self._i * self._dt)))
        self._i += 1
        return _assemble(
            _landmarks(r.pose_landmarks, POSE_BODY, True),
            _landmarks(r.left_hand_landmarks, HAND, False),
            _landmarks(r.right_hand_landmarks, HAND, False),
        )

    def close(self) -> None:
        self._h.close()


def make_estimator(settings: Mapping[str, Any], fps: float = 25.0) -> FrameProcessor:
    """A per-video estimator, ``process(rgb_frame) -> [75, 4]``; ``settings`` as :func:`effective_settings` returns."""
    if settings["backend"] == "tasks":
        return TasksHolistic(settings, fps)
    return LegacyHolistic(settings)


def read_pose_file(path: Path) -> tuple[np.ndarray, dict]:
    """Read a pose-format ``.pose`` file (MediaPipe Holistic components) into ``[T, 75, 4]`` + header info.

    Pixel coordinates are divided by the header's width/height; z is kept; the body's confidence becomes
    visibility; masked or zero-confidence points are NaN.  Person 0 is used.
    """
    from pose_format import Pose

    path = Path(path)
    try:
        pose = Pose.read(path.read_bytes())
    except FileNotFoundError:
        raise DataError(f"pose file {path}: not found") from None
    except Exception as exc:
        raise DataError(f"pose file {path}: cannot be read by pose-format ({type(exc).__name__}: {exc})") from None
    header = pose.header
    w, h = float(header.dimensions.width or 0), float(header.dimensions.height or 0)
    if w <= 0 or h <= 0:
        raise DataError(f"pose file {path}: header has no frame width/height ({w}x{h}); cannot normalise")
    data = np.ma.getdata(pose.body.data).astype(np.float32)  # [T, P, N, D]
    mask = np.ma.getmaskarray(pose.body.data)
    conf = np.asarray(pose.body.confidence, dtype=np.float32)  # [T, P, N]
    t = data.shape[0]
    out = empty_pose(t)
    if t == 0 or data.shape[1] == 0:
        return out, {"width": int(w), "height": int(h), "fps": float(pose.body.fps), "frames": t}
    offsets, points, start = {}, {}, 0
    for comp in header.components:
        offsets[comp.name] = (start, len(comp.points))
        points[comp.name] = list(comp.points)
        start += len(comp.points)
    if "POSE_LANDMARKS" not in offsets:
        raise DataError(
            f"pose file {path}: no POSE_LANDMARKS component (has {', '.join(offsets)}); expected the MediaPipe "
            f"Holistic layout"
        )
    for name, dst, n in (
        ("POSE_LANDMARKS", slice(0, POSE_BODY), POSE_BODY),
        ("LEFT_HAND_LANDMARKS", POSE_LEFT_HAND, HAND),
        ("RIGHT_HAND_LANDMARKS", POSE_RIGHT_HAND, HAND),
    ):
        if name not in offsets:
            continue
        o, k = offsets[name]
        source, target = _point_map(path, name, points[name], n)
        d = data[:, 0, o : o + k, :][:, source]
        c = conf[:, 0, o : o + k][:, source]
        missing = mask[:, 0, o : o + k, :].any(axis=-1)[:, source] | (c <= 0)
        block = np.full((t, n, 4), np.nan, dtype=np.float32)
        found = np.full((t, len(source), 4), np.nan, dtype=np.float32)
        found[..., 0] = d[..., 0] / w
        found[..., 1] = d[..., 1] / h
        found[..., 2] = d[..., 2] if d.shape[-1] > 2 else 0.0
        found[..., 3] = c if name == "POSE_LANDMARKS" else 1.0
        found[missing] = np.nan
        block[:, target] = found
        out[:, dst] = block
    return out, {"width": int(w), "height": int(h), "fps": float(pose.body.fps), "frames": t}


def _point_map(path: Path, component: str, names: list[str], n: int) -> tuple[list[int], list[int]]:
    """Which points of a ``.pose`` component go where in MediaPipe's order: by name (other tools reduce the
    holistic layout, e.g. pose-format's ``reduce_holistic`` keeps 8 body points; the rest stay missing), else by
    position when the component has MediaPipe's point count."""
    known = {name: i for i, name in enumerate(POSE_BODY_NAMES if component == "POSE_LANDMARKS" else HAND_NAMES)}
    pairs = [(i, known[name]) for i, name in enumerate(names) if name in known]
    if pairs:
        return [i for i, _ in pairs], [j for _, j in pairs]
    if len(names) == n:
        return list(range(n)), list(range(n))
    raise DataError(
        f"pose file {path}: component {component} has {len(names)} points named neither as MediaPipe's nor "
        f"{n} in MediaPipe's order; expected the MediaPipe Holistic layout"
    )


class PoseModality(Modality):
    """MediaPipe Holistic body + hands (3D), or the dataset's ``.pose`` file when present."""

    name = "pose"
    requires = ()
    needs_frames = True
    channels = 4
    version = "1"
    description = "MediaPipe Holistic body + both hands, 3D, [T, 75, 4] (NaN = missing); reads .pose files"
    defaults = {
        "backend": "legacy",  # legacy: mediapipe.solutions.holistic (bundled models); tasks: Tasks API + model_path
        "model_complexity": 1,  # 0, 1 or 2; only 1 ships with the mediapipe wheel
        "complexity_fallback": 1,  # used when the complexity's model file is missing; null: an error instead
        "allow_download": False,  # let MediaPipe fetch a missing model file (needs a network)
        "use_pose_files": True,  # a record's .pose file replaces pose estimation
        "min_detection_confidence": 0.5,
        "min_tracking_confidence": 0.5,
        "model_path": None,  # the .task file of backend: tasks
        "static_image_mode": False,  # legacy backend: detect in every frame instead of tracking
    }
    rules = {
        "backend": ("legacy", "tasks"),
        "model_complexity": (0, 1, 2),
        "complexity_fallback": optional((0, 1, 2)),
        "min_detection_confidence": "0..1",
        "min_tracking_confidence": "0..1",
    }

    def frame_bytes(self, settings: Mapping[str, Any], inputs: Mapping[str, int]) -> int:
        return POSE_JOINTS * 4 * 4  # float32 [T, 75, 4]

    def prepare(self, settings: Mapping[str, Any]) -> dict:
        """Resolve the settings once in the parent process (model checks, one complexity warning)."""
        return effective_settings(settings)

    def read_file(self, video: VideoRecord, settings: Mapping[str, Any]):
        """The record's ``.pose`` file (unless ``use_pose_files`` is off); ``meta`` also names the file."""
        if not video.pose_path or not settings["use_pose_files"]:
            return None
        array, meta = read_pose_file(Path(video.pose_path))
        return array, {**meta, "file": str(video.pose_path)}

    def resample(self, array, source_fps: float, fps: float):
        """Joints interpolated between neighbouring frames; a joint missing in either stays missing, and the
        visibility is the smaller of the two."""
        from benchmark.preprocessing.resample import interpolate

        return interpolate(array, source_fps, fps, confidence=3)

    def open_stream(self, video: VideoRecord, settings: Mapping[str, Any], fps: float) -> FrameProcessor:
        """The estimator for the single decoding pass (``settings`` prepared)."""
        return make_estimator(settings, fps)

    def compute(self, video: VideoRecord, frames, inputs: Mapping[str, Any], settings: Mapping[str, Any]):
        """Estimate on frames already decoded (preprocessing streams instead, see :meth:`open_stream`)."""
        if frames is None:
            raise DataError(f"video {video.video_id}: pose needs a video or a .pose file, and it has neither")
        est = make_estimator(settings, video.fps)
        try:
            return np.stack([est.process(f) for f in frames]) if len(frames) else empty_pose(0)
        finally:
            est.close()


def frame_size(video: VideoRecord) -> tuple[int, int] | None:
    """The frame the pose's x and y are fractions of: the ``.pose`` header's (what this modality reads first),
    else the video's; what a reader of the ``pose`` arrays needs to keep the aspect ratio."""
    if video.pose_path is not None:
        _, meta = read_pose_file(Path(video.pose_path))
        return meta["width"], meta["height"]
    if video.video_path is None:
        return None
    from benchmark.preprocessing.frames import probe

    info = probe(Path(video.video_path))
    return info.width, info.height
