"""Per-video preprocessing: every requested modality (plus what it requires), videos in parallel, resumable.

Layout: ``out_dir/<video_id>/<modality>.npy`` plus ``meta.json`` (frame size, fps, frame count).  The caller
picks ``out_dir`` from its cache key (include the modality versions and settings, see
:func:`modality_settings`).

Design decisions:

* **Decode once, stream.**  A video is decoded a single time for all modalities that need frames.  Pose is
  estimated frame by frame while decoding (a modality with ``open_stream``); the crop is only known after the
  pose pass, so only a copy of each frame downscaled until the crop side is ``size`` pixels is kept (about
  455x256 for a 1280x720 video and size 256: the crop is then cut without loss).  That buffer lives in RAM up
  to ``preprocess.frame_buffer_mb`` (default 512) and spills to a temporary file in the video's output
  folder beyond, so minutes of 720p video never sit in RAM at full resolution.
* **Atomic and resumable.**  Every output is written to a temporary file in the same folder and moved into
  place with ``os.replace``; an existing output whose size matches its ``.npy`` header is reused, so a killed
  run resumes where it stopped, and a half-written file is never read back (stale temporaries are deleted).
* **Parallel.**  Videos are spread over a process pool (``workers`` 0 = all cores) started with the
  ``forkserver`` (or ``spawn``) method, since MediaPipe and ``fork`` do not mix.  OpenCV gets
  ``cores // workers`` threads per process.  One worker runs in-process.
* **Bad input** (unreadable or truncated video, zero frames, fewer than ``min_frames`` frames, a record
  without the video a modality needs): :class:`DataError` naming the file with ``on_bad_video="fail"``;
  with ``"skip"`` a warning (``warnings.warn`` and the log) and the video is left out of the result.
  Nothing of a bad video is written before it has been fully decoded and checked.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
import time
import traceback
import warnings
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from benchmark.errors import BenchError, DataError
from benchmark.interfaces import Modality, VideoRecord

log = logging.getLogger(__name__)

META = "meta.json"
POSE_LENGTH_TOLERANCE = 2  # frames a .pose file may differ from its video (padded with NaN / cut)


# -- resolution ---------------------------------------------------------------------------------------------


def _builtin(name: str) -> Modality | None:
    from benchmark.modalities.plugin import builtin_modalities

    return builtin_modalities().get(name)


def resolve_modalities(requested: Mapping[str, Modality]) -> dict[str, Modality]:
    """The requested modalities plus their dependencies (built-ins fill gaps), in dependency order."""
    pool = dict(requested)
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            raise BenchError(f"modalities require each other in a cycle: {' -> '.join(chain + (name,))}")
        if name not in pool:
            mod = _builtin(name)
            if mod is None:
                raise BenchError(f"modality {chain[-1]!r} requires {name!r}, which is not registered")
            pool[name] = mod
        state[name] = 1
        for dep in pool[name].requires:
            visit(dep, chain + (name,))
        state[name] = 2
        order.append(name)

    for name in requested:
        visit(name, ())
    return {n: pool[n] for n in order}


def modality_settings(name: str, mod: Modality, preprocess: Mapping[str, Any]) -> dict:
    """The settings ``mod.compute`` receives: sections named in ``mod.settings_from``, then its own on top."""
    merged: dict = {}
    for other in getattr(mod, "settings_from", ()) or ():
        merged.update(dict(preprocess.get(other) or {}))
    merged.update(dict(preprocess.get(name) or {}))
    return merged


def cache_signature(modalities: Mapping[str, Modality], preprocess: Mapping[str, Any]) -> dict:
    """What determines the outputs, for the caller's cache key: every resolved modality (dependencies included)
    with its version and prepared settings (e.g. the pose complexity actually used)."""
    out = {}
    for n, m in resolve_modalities(modalities).items():
        s = modality_settings(n, m, preprocess)
        out[n] = {"version": str(m.version), "settings": m.prepare(s) if hasattr(m, "prepare") else s}
    return out


def resolve_workers(workers: int) -> int:
    if workers and workers > 0:
        return int(workers)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


# -- atomic files -------------------------------------------------------------------------------------------


def _tmp_path(final: Path) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    return Path(name)


def save_atomic(path: Path, array: np.ndarray) -> None:
    """``np.save`` to a temporary file in the same folder, fsync, then ``os.replace`` onto ``path``."""
    tmp = _tmp_path(path)
    try:
        with open(tmp, "wb") as f:
            np.save(f, np.ascontiguousarray(array), allow_pickle=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: Mapping) -> None:
    tmp = _tmp_path(path)
    try:
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


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


def cached_outputs(video: VideoRecord, mods: Iterable[str], out_dir: Path) -> dict[str, Path] | None:
    """The output paths of a video whose outputs are all complete, else None."""
    vdir = Path(out_dir) / video.video_id
    meta = _read_meta(vdir)
    if not meta:
        return None
    paths = {n: vdir / f"{n}.npy" for n in mods}
    return paths if all(npy_complete(p, meta.get("frames")) for p in paths.values()) else None


def _clean_stale(vdir: Path) -> None:
    for p in vdir.glob(".*.tmp"):
        p.unlink(missing_ok=True)


def _read_meta(vdir: Path) -> dict | None:
    try:
        return json.loads((vdir / META).read_text())
    except (OSError, ValueError):
        return None


# -- frame buffer -------------------------------------------------------------------------------------------


class FrameBuffer:
    """Downscaled frames kept for the modalities computed after decoding: RAM up to a budget, then a file."""

    def __init__(self, vdir: Path, size: tuple[int, int] | None, expected_frames: int, budget_mb: float):
        self.size = size  # (w, h) or None = full resolution
        self.vdir = vdir
        self._frames: list[np.ndarray] = []
        self._file = None
        self._path: Path | None = None
        self._shape: tuple[int, ...] | None = None
        self._budget = budget_mb * 2**20
        self._expected = expected_frames
        self._array = None
        self.count = 0

    def add(self, rgb: np.ndarray) -> None:
        import cv2

        if self.size is not None and (rgb.shape[1], rgb.shape[0]) != self.size:
            rgb = cv2.resize(rgb, self.size, interpolation=cv2.INTER_AREA)
        if self._shape is None:
            self._shape = rgb.shape
            if not self._expected or self._expected * rgb.nbytes > self._budget:
                self._path = _tmp_path(self.vdir / "frames")
                self._file = open(self._path, "wb")
        if self._file is not None:
            self._file.write(np.ascontiguousarray(rgb).tobytes())
        else:
            self._frames.append(rgb)
        self.count += 1

    def array(self) -> np.ndarray | None:
        if self.count == 0:
            return None
        if self._array is None:
            if self._file is None:
                self._array, self._frames = np.stack(self._frames), []
            else:
                self._file.close()
                self._array = np.memmap(self._path, dtype=np.uint8, mode="r", shape=(self.count,) + tuple(self._shape))
        return self._array

    def close(self) -> None:
        self._frames, self._array = [], None
        if self._file is not None:
            self._file.close()
        if self._path is not None:
            self._path.unlink(missing_ok=True)


# -- one video ----------------------------------------------------------------------------------------------


def process_video(video: VideoRecord, mods: Mapping[str, Modality], settings: Mapping[str, dict], out_dir: Path,
                  min_frames: int = 8, buffer_mb: float = 512) -> dict:
    """Compute the missing outputs of one video.  Returns ``{"paths", "seconds", "frames", "computed"}``.

    ``mods`` is in dependency order (:func:`resolve_modalities`); ``settings`` maps each name to its
    (prepared) settings.  Raises :class:`DataError` for bad input, before anything is written.
    """
    vid = video.video_id
    if not vid or "/" in vid or "\\" in vid or vid in (".", ".."):
        raise DataError(f"video id {vid!r} cannot name an output folder")
    vdir = Path(out_dir) / vid
    vdir.mkdir(parents=True, exist_ok=True)
    _clean_stale(vdir)
    meta = _read_meta(vdir)
    paths = {n: vdir / f"{n}.npy" for n in mods}
    n_known = meta.get("frames") if meta else None
    todo = [n for n in mods if not (meta and npy_complete(paths[n], n_known))]
    seconds: dict[str, float] = {}
    if not todo:
        return {"paths": {n: str(p) for n, p in paths.items()}, "seconds": seconds, "frames": n_known, "computed": []}

    results: dict[str, np.ndarray] = {}
    pose_mod = mods.get("pose")
    pose_from_file = "pose" in todo and pose_mod is not None and hasattr(pose_mod, "uses_file") \
        and pose_mod.uses_file(video, settings["pose"])
    if pose_from_file:
        from benchmark.modalities.pose import read_pose_file

        t0 = time.perf_counter()
        results["pose"], pose_meta = read_pose_file(Path(video.pose_path))
        seconds["pose"] = time.perf_counter() - t0
        if meta is None and not video.video_path:
            meta = {**pose_meta, "source": "pose"}
    frame_mods = [n for n in todo if mods[n].needs_frames and n not in results]
    if frame_mods:
        if not video.video_path:
            raise DataError(
                f"video {vid}: modalities {', '.join(frame_mods)} need the video, but the dataset has only "
                f"{video.pose_path or 'no file'} for it"
            )
        meta, decoded, dsec = _decode(video, vdir, mods, settings, frame_mods, min_frames, buffer_mb)
        seconds.update(dsec)
        results.update(decoded)
    elif meta is None and video.video_path:
        from benchmark.modalities.video import probe

        info = probe(Path(video.video_path))
        meta = {"width": info.width, "height": info.height, "fps": info.fps, "frames": info.frames}
    if meta is None:
        raise DataError(f"video {vid}: has neither a video nor a .pose file")

    buf = results.pop("__frames__", None)
    try:
        if "pose" in results:
            results["pose"] = _fit_pose(video, results["pose"], meta)
            meta["frames"] = int(len(results["pose"]))
        if not meta.get("frames") or meta["frames"] < min_frames:
            src = video.video_path or video.pose_path
            raise DataError(
                f"video {src}: {meta.get('frames') or 0} frames, shorter than one clip ({min_frames} frames)"
            )
        write_json_atomic(vdir / META, meta)
        for name in todo:
            mod = mods[name]
            if name not in results:
                inputs = {"meta": meta}
                for dep in mod.requires:
                    inputs[dep] = results[dep] if dep in results else np.load(paths[dep], mmap_mode="r")
                t0 = time.perf_counter()
                frames = buf.array() if (mod.needs_frames and buf is not None) else None
                results[name] = mod.compute(video, frames, inputs, settings[name])
                seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - t0
            arr = np.asarray(results[name])
            if len(arr) != meta["frames"]:
                raise BenchError(f"modality {name} returned {len(arr)} frames for video {vid}, expected {meta['frames']}")
            save_atomic(paths[name], arr)
    finally:
        if isinstance(buf, FrameBuffer):
            buf.close()
    return {"paths": {n: str(p) for n, p in paths.items()}, "seconds": seconds, "frames": meta["frames"],
            "computed": todo}


def _decode(video, vdir, mods, settings, frame_mods, min_frames, buffer_mb):
    """Decode once: stream frames to streaming modalities (pose), buffer downscaled frames for the others."""
    from benchmark.modalities.video import FrameStream

    stream = FrameStream(Path(video.video_path))
    info = stream.info
    streaming = {n: mods[n] for n in frame_mods if hasattr(mods[n], "open_stream")}
    buffered = [n for n in frame_mods if n not in streaming]
    size = None
    if buffered:
        sizes = [mods[n].frame_size(info.width, info.height, settings[n]) if hasattr(mods[n], "frame_size") else None
                 for n in buffered]
        size = None if any(s is None for s in sizes) else max(sizes, key=lambda s: s[0] * s[1])
    fps = info.fps if info.fps and info.fps > 0 else video.fps
    streams = {n: m.open_stream(video, settings[n], fps) for n, m in streaming.items()}
    outs: dict[str, list] = {n: [] for n in streams}
    seconds = {n: 0.0 for n in streams}
    buf = FrameBuffer(vdir, size, info.frames, buffer_mb) if buffered else None
    t_dec = time.perf_counter()
    try:
        for rgb in stream:
            for n, s in streams.items():
                t0 = time.perf_counter()
                outs[n].append(s.process(rgb))
                seconds[n] += time.perf_counter() - t0
            if buf is not None:
                buf.add(rgb)
        stream.check(min_frames)
    except BaseException:
        if buf is not None:
            buf.close()
        raise
    finally:
        for s in streams.values():
            s.close()
    seconds["decode"] = time.perf_counter() - t_dec - sum(seconds.values())
    results: dict[str, Any] = {n: np.stack(v) for n, v in outs.items()}
    if buf is not None:
        results["__frames__"] = buf
    meta = {"width": info.width, "height": info.height, "fps": fps, "frames": stream.count,
            "source": str(video.video_path)}
    return meta, results, seconds


def _fit_pose(video: VideoRecord, pose: np.ndarray, meta: dict) -> np.ndarray:
    """A ``.pose`` file may differ from its video by a frame or two: pad with NaN / cut; more is an error."""
    t = int(meta.get("frames") or len(pose))
    if not video.video_path or len(pose) == t:
        return pose
    if abs(len(pose) - t) > POSE_LENGTH_TOLERANCE:
        raise DataError(f"pose file {video.pose_path} has {len(pose)} frames but its video {video.video_path} has {t}")
    log.warning("pose file %s: %d frames for %d video frames; padded/cut to match", video.pose_path, len(pose), t)
    if len(pose) > t:
        return pose[:t]
    pad = np.full((t - len(pose),) + pose.shape[1:], np.nan, dtype=pose.dtype)
    return np.concatenate([pose, pad])


# -- many videos --------------------------------------------------------------------------------------------


def _init_worker(threads: int) -> None:
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import cv2

    cv2.setNumThreads(threads)


def _job(video, mods, settings, out_dir, min_frames, buffer_mb):
    """Process-pool entry: returns ("ok", result) / ("bad", message) / ("error", message) - never raises."""
    try:
        return "ok", process_video(video, mods, settings, out_dir, min_frames, buffer_mb)
    except DataError as exc:
        return "bad", str(exc)
    except BenchError as exc:
        return "error", str(exc)
    except Exception:  # noqa: BLE001 - a bug: report it with its traceback in the parent
        return "error", f"preprocessing video {video.video_id} failed:\n{traceback.format_exc()}"


def _pool_context():
    import multiprocessing as mp

    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    # imported once by the fork server, so each worker starts without re-importing them (no threads yet)
    ctx.set_forkserver_preload(["numpy", "cv2", "benchmark.modalities.runner"])
    return ctx


def preprocess_videos(videos: list[VideoRecord], modalities: Mapping[str, Modality], settings: Mapping[str, Any],
                      out_dir: Path, workers: int = 0, on_bad_video: str = "fail", progress: bool = True,
                      min_frames: int = 8, timings: dict | None = None,
                      skipped: dict | None = None) -> dict[str, dict[str, Path]]:
    """Compute ``modalities`` (and what they require) for every video; ``{video_id: {modality: .npy path}}``.

    ``settings`` is the whole ``preprocess`` config section.  Videos whose outputs exist are not recomputed.
    ``on_bad_video``: ``fail`` raises :class:`DataError`; ``skip`` warns and leaves the video out of the result.
    ``timings``, when given, is filled with ``{"seconds": {modality: s}, "frames": n, "computed": n_videos}``;
    ``skipped``, when given, with ``{video_id: reason}`` for the videos left out under ``skip``.
    """
    if on_bad_video not in ("fail", "skip"):
        raise BenchError(f"on_bad_video must be 'fail' or 'skip', got {on_bad_video!r}")
    settings = dict(settings or {})
    mods = resolve_modalities(modalities)
    msettings = {}
    for n, m in mods.items():
        s = modality_settings(n, m, settings)
        msettings[n] = m.prepare(s) if hasattr(m, "prepare") else s
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    buffer_mb = float(settings.get("frame_buffer_mb", 512))
    seen: set[str] = set()
    for v in videos:
        if v.video_id in seen:
            raise DataError(f"video id {v.video_id!r} appears twice in the list to preprocess")
        seen.add(v.video_id)

    result: dict[str, dict[str, Path]] = {}
    pending = []
    for v in videos:  # finished videos need neither a worker nor MediaPipe: only their .npy headers are read
        cached = cached_outputs(v, mods, out_dir)
        if cached is None:
            pending.append(v)
        else:
            result[v.video_id] = cached
    n_workers = min(resolve_workers(workers), max(1, len(pending)))
    threads = max(1, resolve_workers(0) // n_workers)
    bars = _bars(mods, len(videos), progress)
    for b in bars.values():
        b.update(len(videos) - len(pending))
    totals = {"seconds": {}, "frames": 0, "computed": 0}

    def done(video: VideoRecord, status: str, payload) -> None:
        if status == "ok":
            result[video.video_id] = {n: Path(p) for n, p in payload["paths"].items()}
            for n, s in payload["seconds"].items():
                totals["seconds"][n] = totals["seconds"].get(n, 0.0) + s
            if payload["computed"]:
                totals["computed"] += 1
                totals["frames"] += int(payload["frames"] or 0)
        elif status == "bad" and on_bad_video == "skip":
            msg = f"skipping video {video.video_id}: {payload}"
            if skipped is not None:
                skipped[video.video_id] = str(payload)
            log.warning(msg)
            warnings.warn(msg, stacklevel=3)
        elif status == "bad":
            raise DataError(payload)
        else:
            raise BenchError(payload)
        for b in bars.values():
            b.update(1)

    try:
        if not pending:
            pass
        elif n_workers == 1:
            import cv2

            old = cv2.getNumThreads()
            cv2.setNumThreads(threads)
            try:
                for v in pending:
                    done(v, *_job(v, mods, msettings, out_dir, min_frames, buffer_mb))
            finally:
                cv2.setNumThreads(old)
        else:
            from concurrent.futures import ProcessPoolExecutor, as_completed
            from concurrent.futures.process import BrokenProcessPool

            with ProcessPoolExecutor(n_workers, mp_context=_pool_context(), initializer=_init_worker,
                                     initargs=(threads,)) as pool:
                futures = {pool.submit(_job, v, mods, msettings, out_dir, min_frames, buffer_mb): v for v in pending}
                try:
                    for fut in as_completed(futures):
                        try:
                            status = fut.result()
                        except BrokenProcessPool:
                            raise BenchError(
                                f"a preprocessing worker died while processing {futures[fut].video_id} (out of "
                                f"memory? or a script calling preprocess_videos without "
                                f"`if __name__ == '__main__':`); retry with fewer workers"
                            ) from None
                        done(futures[fut], *status)
                except BaseException:
                    pool.shutdown(wait=True, cancel_futures=True)
                    raise
    finally:
        for b in bars.values():
            b.close()
    if timings is not None:
        timings.update(totals)
    return {v.video_id: result[v.video_id] for v in videos if v.video_id in result}


def _bars(mods: Iterable[str], total: int, progress: bool) -> dict:
    """One bar for the preprocess stage (a video finishes all its modalities at once), unit = video."""
    from tqdm.auto import tqdm

    names = "+".join(mods)
    return {"all": tqdm(total=total, desc=f"preprocess {names}", unit="video", leave=True, disable=not progress)}
