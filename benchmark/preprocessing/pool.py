"""Many videos in parallel: a process pool, one progress bar, and the bad-video policy.

The pool is started with ``forkserver`` (or ``spawn``), since MediaPipe and ``fork`` do not mix; OpenCV gets
``cores // workers`` threads per process, so the processes do not oversubscribe the cores.  One worker runs
in the calling process.  Videos whose outputs are all complete are answered from their ``.npy`` headers,
before any worker (and MediaPipe) starts.

Bad input (an unreadable or truncated video, too few frames, a record without the video a modality needs)
is a :class:`DataError` naming the file under ``on_bad_video="fail"``; under ``"skip"`` it is a warning and
the video is left out of the result.  A worker never raises: it returns a status, so one bad video cannot
take the pool down with it.
"""

from __future__ import annotations

import logging
import traceback
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchmark.errors import BenchError, DataError, DiskFullError, as_disk_full
from benchmark.interfaces import Modality, VideoRecord
from benchmark.preprocessing.plan import PREPROCESS_DEFAULTS, prepared_settings, worker_count
from benchmark.preprocessing.video import ProcessedVideo, VideoOutputs, cached_outputs, process_video
from benchmark.runtime.progress import bar

log = logging.getLogger(__name__)

__all__ = ["VideoOutputs", "preprocess_videos"]


def preprocess_videos(
    videos: list[VideoRecord],
    plan: Mapping[str, Modality],
    preprocess: Mapping[str, Any],
    out_dir: Path,
    *,
    workers: int = 0,
    on_bad_video: str = "fail",
    progress: bool = True,
    min_frames: int = 8,
    timings: dict | None = None,
    skipped: dict | None = None,
) -> dict[str, VideoOutputs]:
    """Compute every modality of ``plan`` for every video: ``{video_id: VideoOutputs}``, in ``videos`` order.

    :param plan: the modalities in dependency order (:func:`benchmark.preprocessing.plan.modality_plan`)
    :param preprocess: the whole ``preprocess`` section (the modalities' sections and ``frame_buffer_mb``)
    :param out_dir: the cache folder; outputs already there are reused, not recomputed
    :param workers: processes (0: every core this process may use)
    :param on_bad_video: ``fail`` raises :class:`DataError`; ``skip`` warns and leaves the video out
    :param timings: filled, when given, with ``{"seconds": {modality: s}, "frames": n, "computed": n_videos}``
    :param skipped: filled, when given, with ``{video_id: reason}`` for the videos left out under ``skip``
    """
    if on_bad_video not in ("fail", "skip"):
        raise BenchError(f"on_bad_video must be 'fail' or 'skip', got {on_bad_video!r}")
    preprocess = {**PREPROCESS_DEFAULTS, **dict(preprocess or {})}
    settings = prepared_settings(plan, preprocess)
    buffer_mb = float(preprocess["frame_buffer_mb"])
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _check_unique(videos)
    cached, pending = _split_cached(videos, plan, out_dir)
    n_workers = min(worker_count(workers), max(1, len(pending)))
    threads = max(1, worker_count(0) // n_workers)
    # one bar for the command (a video finishes all its modalities at once)
    videos_bar = bar(total=len(videos), desc=f"preprocess {'+'.join(plan)}", leave=True, enabled=progress)
    videos_bar.update(len(videos) - len(pending))
    collected = _Collected(cached, on_bad_video, skipped, videos_bar)
    args = (plan, settings, out_dir, min_frames, buffer_mb, float(preprocess["fps"]))
    try:
        if pending and n_workers == 1:
            _run_here(pending, args, threads, collected)
        elif pending:
            _run_pool(pending, args, n_workers, threads, collected)
    finally:
        videos_bar.close()
    if timings is not None:
        timings.update(collected.totals)
    return {v.video_id: collected.result[v.video_id] for v in videos if v.video_id in collected.result}


def _check_unique(videos: list[VideoRecord]) -> None:
    """Two records of one id would write one folder."""
    seen: set[str] = set()
    for v in videos:
        if v.video_id in seen:
            raise DataError(f"video id {v.video_id!r} appears twice in the list to preprocess")
        seen.add(v.video_id)


def _split_cached(
    videos: list[VideoRecord], plan: Mapping[str, Modality], out_dir: Path
) -> tuple[dict[str, VideoOutputs], list[VideoRecord]]:
    """The videos whose outputs are all complete (from their headers, no worker needed) and the others."""
    cached: dict[str, VideoOutputs] = {}
    pending = []
    for v in videos:
        outputs = cached_outputs(v, plan, out_dir)
        if outputs is None:
            pending.append(v)
        else:
            cached[v.video_id] = outputs
    return cached, pending


class _Collected:
    """The workers' answers as they come: the outputs, the timing totals, and the bad-video policy applied."""

    def __init__(self, result: dict[str, VideoOutputs], on_bad_video: str, skipped: dict | None, videos_bar):
        self.result = result
        self.totals: dict = {"seconds": {}, "frames": 0, "computed": 0}
        self.on_bad_video, self.skipped, self.bar = on_bad_video, skipped, videos_bar

    def add(self, video: VideoRecord, status: str, payload) -> None:
        """One video's ``(status, payload)`` from :func:`_job`; raises for a bad video under ``fail``."""
        if status == "ok":
            self.result[video.video_id] = payload.outputs
            for n, s in payload.seconds.items():
                self.totals["seconds"][n] = self.totals["seconds"].get(n, 0.0) + s
            if payload.computed:
                self.totals["computed"] += 1
                self.totals["frames"] += int(payload.outputs.frames or 0)
        elif status == "bad" and self.on_bad_video == "skip":
            msg = f"skipping video {video.video_id}: {payload}"
            if self.skipped is not None:
                self.skipped[video.video_id] = str(payload)
            log.warning(msg)
            warnings.warn(msg, stacklevel=4)  # at preprocess_videos' caller (here < _run_* < preprocess_videos)
        elif status == "full":
            raise DiskFullError(payload)
        elif status == "bad":
            raise DataError(payload)
        else:
            raise BenchError(payload)
        self.bar.update(1)


def _run_here(pending: list[VideoRecord], args: tuple, threads: int, collected: _Collected) -> None:
    """One worker: in this process, with OpenCV's threads set as a pool worker's would be."""
    import cv2

    old = cv2.getNumThreads()
    cv2.setNumThreads(threads)
    try:
        for v in pending:
            collected.add(v, *_job(v, *args))
    finally:
        cv2.setNumThreads(old)


def _run_pool(pending: list[VideoRecord], args: tuple, n_workers: int, threads: int, collected: _Collected) -> None:
    """Several workers: a process pool, answers collected as they finish; the pending jobs are cancelled on
    the first error."""
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    with ProcessPoolExecutor(
        n_workers, mp_context=_pool_context(), initializer=_init_worker, initargs=(threads,)
    ) as pool:
        futures = {pool.submit(_job, v, *args): v for v in pending}
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
                collected.add(futures[fut], *status)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def _job(video: VideoRecord, plan, settings, out_dir, min_frames, buffer_mb, fps) -> tuple[str, ProcessedVideo | str]:
    """Process-pool entry: ``("ok", ProcessedVideo)`` / ``("bad", message)`` / ``("error", message)``."""
    try:
        return "ok", process_video(video, plan, settings, out_dir, min_frames=min_frames, buffer_mb=buffer_mb, fps=fps)
    except DataError as exc:
        return "bad", str(exc)
    except DiskFullError as exc:
        return "full", str(exc)
    except BenchError as exc:
        return "error", str(exc)
    except Exception as exc:  # a full disk, or a bug: report it with its traceback in the parent
        full = as_disk_full(exc, out_dir)
        if full is not None:
            return "full", str(full)
        return "error", f"preprocessing video {video.video_id} failed:\n{traceback.format_exc()}"


def _init_worker(threads: int) -> None:
    from benchmark.runtime.quiet import quiet_environment

    quiet_environment()  # MediaPipe's and TF Lite's log levels, before they load (bench --verbose: shown)
    import cv2

    cv2.setNumThreads(threads)


def _pool_context():
    import multiprocessing as mp

    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    # imported once by the fork server, so each worker starts without re-importing them (no threads yet)
    ctx.set_forkserver_preload(["numpy", "cv2", __name__])
    return ctx
