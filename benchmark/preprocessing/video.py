"""One video's outputs: ``<out_dir>/<video_id>/<modality>.npy`` plus ``meta.json``, computed only where missing.

Resumable: outputs are written atomically (:mod:`benchmark.storage.files`) and an existing ``.npy`` is reused only when
its size matches its header and it has the video's frame count, so a killed run resumes where it stopped and a
half-written file is never read back.  Nothing of a bad video is written before it has been fully decoded and
checked: bad input is a :class:`DataError` naming the file.

Arrays a modality reads from a file the dataset ships (:meth:`Modality.read_file`, e.g. ``.pose`` files) come
from another tool than the decoder, and may disagree with the video by a frame or two; they are fitted to the
video's length (:func:`fit_length`).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from benchmark.errors import BenchError, DataError
from benchmark.interfaces import FPS, Modality, VideoRecord
from benchmark.storage import files

if TYPE_CHECKING:
    from benchmark.preprocessing.frames import FrameBuffer

log = logging.getLogger(__name__)

META = "meta.json"
LENGTH_TOLERANCE = 2  # frames an array read from a file may differ from its video (padded or cut to match)


@dataclass(frozen=True)
class VideoOutputs:
    """Where a video's modality arrays are, and its frame count (every array's first dimension)."""

    paths: dict[str, Path]
    frames: int


@dataclass(frozen=True)
class ProcessedVideo:
    """:func:`process_video`'s result: the outputs, seconds spent per modality, and which were computed."""

    outputs: VideoOutputs
    seconds: dict[str, float]
    computed: tuple[str, ...]


def npy_complete(path: Path, frames: int | None = None) -> bool:
    """Whether ``path`` is a whole ``.npy`` (size matches its header) with ``frames`` rows when given."""
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(f)
            else:  # rare (3.0); let numpy do the whole check
                arr = np.load(path, mmap_mode="r", allow_pickle=False)
                return frames is None or (arr.ndim > 0 and arr.shape[0] == frames)
            offset = f.tell()
        expected = offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if os.path.getsize(path) != expected:
            return False
        return frames is None or (len(shape) > 0 and shape[0] == frames)
    except (OSError, ValueError):
        return False


def read_meta(folder: Path) -> dict | None:
    """A video folder's ``meta.json``, or None when it is missing, unreadable or has no frame count."""
    try:
        meta = json.loads((folder / META).read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and isinstance(meta.get("frames"), int) else None


def cached_outputs(video: VideoRecord, names: Iterable[str], out_dir: Path) -> VideoOutputs | None:
    """The outputs of a video whose arrays ``names`` are all complete, else None (reads headers only)."""
    folder = Path(out_dir) / video.video_id
    meta = read_meta(folder)
    if meta is None:
        return None
    paths = {n: folder / f"{n}.npy" for n in names}
    return VideoOutputs(paths, meta["frames"]) if all(npy_complete(p, meta["frames"]) for p in paths.values()) else None


def fit_length(array: np.ndarray, frames: int, name: str, file: str, video: VideoRecord) -> np.ndarray:
    """``array`` read from ``file`` cut or padded to the video's ``frames`` (NaN for floats, else the last
    frame repeated); a difference of more than :data:`LENGTH_TOLERANCE` frames is a :class:`DataError`."""
    n = len(array)
    if n == frames:
        return array
    if abs(n - frames) > LENGTH_TOLERANCE:
        raise DataError(f"{name} file {file} has {n} frames but its video {video.video_path} has {frames}")
    log.warning("%s file %s: %d frames for %d video frames; padded/cut to match", name, file, n, frames)
    if n > frames:
        return array[:frames]
    shape = (frames - n,) + array.shape[1:]
    if np.issubdtype(array.dtype, np.floating):
        pad = np.full(shape, np.nan, dtype=array.dtype)
    elif n:
        pad = np.repeat(array[-1:], frames - n, axis=0)
    else:
        pad = np.zeros(shape, dtype=array.dtype)
    return np.concatenate([array, pad])


def _file_fps(file_meta: dict, file: str, video: VideoRecord) -> float:
    """The frame rate of an array read from a file: its header's; a file without one (0) is taken at its video's
    rate, with a warning."""
    fps = float(file_meta.get("fps") or 0.0)
    if fps > 0:
        return fps
    log.warning("%s has no frame rate in its header: read at %g fps", file, video.fps)
    return float(video.fps)


def video_folder(out_dir: Path, video: VideoRecord) -> Path:
    vid = video.video_id
    if not vid or "/" in vid or "\\" in vid or vid in (".", ".."):
        raise DataError(f"video id {vid!r} cannot name an output folder")
    return Path(out_dir) / vid


def process_video(
    video: VideoRecord,
    plan: Mapping[str, Modality],
    settings: Mapping[str, dict],
    out_dir: Path,
    *,
    min_frames: int,
    buffer_mb: float,
    fps: float = FPS,
) -> ProcessedVideo:
    """Compute the missing outputs of one video, on the ``fps`` grid (:mod:`benchmark.preprocessing.resample`).

    :param plan: the modalities in dependency order (:func:`benchmark.preprocessing.plan.modality_plan`)
    :param settings: each modality's prepared settings (:func:`benchmark.preprocessing.plan.prepared_settings`)
    :param buffer_mb: RAM for decoded frames before they spill to a temporary file
    :raises DataError: bad input, before anything is written
    """
    folder = video_folder(out_dir, video)
    work = _Work(meta=_open_folder(folder))
    paths = {n: folder / f"{n}.npy" for n in plan}
    todo = [n for n in plan if not (work.meta and npy_complete(paths[n], work.meta["frames"]))]
    if not todo:
        return ProcessedVideo(VideoOutputs(paths, work.meta["frames"]), {}, ())
    _read_files(work, video, plan, settings, todo, fps)
    _decode_or_probe(work, video, folder, plan, settings, todo, min_frames=min_frames, buffer_mb=buffer_mb, fps=fps)
    try:
        _fit_file_lengths(work, video, min_frames)
        files.write_json(folder / META, work.meta)
        _compute_and_save(work, video, plan, settings, todo, paths)
    finally:
        if work.buffer is not None:
            work.buffer.close()
    return ProcessedVideo(VideoOutputs(paths, work.meta["frames"]), work.seconds, tuple(todo))


@dataclass
class _Work:
    """One video's outputs in the making, passed through :func:`process_video`'s steps."""

    meta: dict | None  # the folder's meta.json, until a file, the decoder or the header gives the video's own
    results: dict[str, np.ndarray] = field(default_factory=dict)  # by modality, not yet saved
    seconds: dict[str, float] = field(default_factory=dict)  # by modality, plus "decode"
    from_file: dict[str, str] = field(default_factory=dict)  # modality -> the file its array was read from
    buffer: FrameBuffer | None = None  # the decoded frames the remaining modalities read; closed by the caller


def _open_folder(folder: Path) -> dict | None:
    """Create the video's folder, delete the temporaries a killed run left in it, and read its meta.json."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in folder.iterdir():
        if files.is_temporary(path):  # left by a killed run
            path.unlink(missing_ok=True)
    return read_meta(folder)


def _read_files(
    work: _Work, video: VideoRecord, plan: Mapping[str, Modality], settings: Mapping[str, dict], todo, fps: float
) -> None:
    """The arrays of ``todo`` that come from a file the dataset ships, resampled to ``fps``; a record without a
    video takes its meta from the first such file (there is nothing else to take it from)."""
    for name in todo:
        t0 = time.perf_counter()
        read = plan[name].read_file(video, settings[name])
        if read is None:
            continue
        array, file_meta = read
        work.from_file[name] = str(file_meta.get("file") or f"of video {video.video_id}")
        source_fps = _file_fps(file_meta, work.from_file[name], video)
        work.results[name] = plan[name].resample(array, source_fps, fps)
        work.seconds[name] = time.perf_counter() - t0
        if work.meta is None and not video.video_path:
            work.meta = {
                "width": file_meta["width"],
                "height": file_meta["height"],
                "fps": fps,
                "source_fps": source_fps,
                "frames": int(len(work.results[name])),
                "source_frames": int(file_meta["frames"]),
                "source": work.from_file[name],
            }


def _decode_or_probe(
    work: _Work,
    video: VideoRecord,
    folder: Path,
    plan: Mapping[str, Modality],
    settings: Mapping[str, dict],
    todo,
    *,
    min_frames: int,
    buffer_mb: float,
    fps: float,
) -> None:
    """Decode the video once when a modality still needs its frames, else read only its header when no meta is
    known yet: either way the video is checked before anything is written."""
    from benchmark.preprocessing.frames import decode_once, probe
    from benchmark.preprocessing.resample import frames_for

    frame_names = [n for n in todo if plan[n].needs_frames and n not in work.results]
    if frame_names:
        if not video.video_path:
            raise DataError(
                f"video {video.video_id}: modalities {', '.join(frame_names)} need the video, but the dataset has "
                f"only {video.pose_path or 'no file'} for it"
            )
        decoded = decode_once(
            video, folder, plan, settings, frame_names, min_frames=min_frames, buffer_mb=buffer_mb, fps=fps
        )
        work.meta, work.buffer = decoded.meta, decoded.frames
        work.results.update(decoded.arrays)
        work.seconds.update(decoded.seconds)
    elif work.meta is None and video.video_path:
        info = probe(Path(video.video_path))
        work.meta = {
            "width": info.width,
            "height": info.height,
            "fps": fps,
            "source_fps": info.fps,
            "frames": frames_for(info.frames, info.fps, fps),
            "source_frames": info.frames,
            "source": str(video.video_path),
        }
    if work.meta is None:
        raise DataError(f"video {video.video_id}: has neither a video nor a file its modalities can read")


def _fit_file_lengths(work: _Work, video: VideoRecord, min_frames: int) -> None:
    """Fit the arrays read from files to their video's length (a record without a video: the file's length is
    the video's), then refuse a video shorter than one clip."""
    meta = work.meta
    for name, file in work.from_file.items():
        if video.video_path:
            work.results[name] = fit_length(
                work.results[name], meta["frames"] or len(work.results[name]), name, file, video
            )
        meta["frames"] = int(len(work.results[name]))
    if not meta["frames"] or meta["frames"] < min_frames:
        raise DataError(
            f"video {video.video_path or meta.get('source') or video.video_id}: {meta['frames'] or 0} "
            f"frames, shorter than one clip ({min_frames} frames)"
        )


def _compute_and_save(
    work: _Work, video: VideoRecord, plan: Mapping[str, Modality], settings: Mapping[str, dict], todo, paths
) -> None:
    """Compute the remaining modalities in dependency order (their inputs: this run's arrays or the saved ones)
    and save each array once its length is checked."""
    meta = work.meta
    for name in todo:
        modality = plan[name]
        if name not in work.results:
            inputs = {"meta": meta}
            for dep in modality.requires:
                inputs[dep] = work.results[dep] if dep in work.results else np.load(paths[dep], mmap_mode="r")
            t0 = time.perf_counter()
            frames = work.buffer.array() if (modality.needs_frames and work.buffer is not None) else None
            work.results[name] = modality.compute(video, frames, inputs, settings[name])
            work.seconds[name] = work.seconds.get(name, 0.0) + time.perf_counter() - t0
        array = np.asarray(work.results[name])
        if len(array) != meta["frames"]:
            raise BenchError(
                f"modality {name} returned {len(array)} frames for video {video.video_id}, expected {meta['frames']}"
            )
        files.save_npy(paths[name], array)
