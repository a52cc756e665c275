"""Preprocessing throughput: frames per second per modality, for several worker counts in one run.

Each worker count starts from an empty output folder and computes the modalities one at a time in dependency
order, so a modality's time excludes what it requires (already cached by the previous step) but includes
decoding when it needs frames (``pose`` and ``rgb-crop`` each decode the videos once) and the process pool's
start-up.  ``total`` is the sum: the cost of preprocessing from scratch (the pipeline's single pass saves the
second decode).

One worker is measured on one core (the process pinned to it, so OpenCV's and MediaPipe's own threads cannot
borrow the others): the speed-up is then what more cores buy, not what more processes buy on the same cores.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from benchmark.config.registry import ComponentRegistry
from benchmark.interfaces import Modality, VideoRecord
from benchmark.preprocessing.plan import modality_plan, worker_count
from benchmark.preprocessing.pool import preprocess_videos


def measure_preprocess(
    videos: Sequence[VideoRecord],
    modalities: Mapping[str, Modality],
    settings: Mapping[str, Any],
    workers_list: Sequence[int] = (1, 0),
    out_dir: Path | None = None,
    progress: bool = False,
) -> list[dict]:
    """Rows ``{"modality", "workers", "frames", "seconds", "fps"}`` (workers counted: 0 -> all cores).

    ``modalities``: those to measure and every modality they require, by name.
    """
    registry = ComponentRegistry("modality")
    for name, modality in modalities.items():
        registry.add(name, modality)
    plan = modality_plan(modalities, registry)
    rows: list[dict] = []
    root = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix="signspot-perf-"))
    try:
        for w in workers_list:
            n_workers = min(worker_count(w), max(1, len(videos)))
            folder = root / f"workers-{w}"
            shutil.rmtree(folder, ignore_errors=True)
            with one_core() if n_workers == 1 else contextlib.nullcontext():
                rows += _measure(plan, registry, videos, settings, folder, w, n_workers, progress)
    finally:
        if out_dir is None:
            shutil.rmtree(root, ignore_errors=True)
    return rows


def _measure(plan, registry, videos, settings, folder, w: int, n_workers: int, progress: bool) -> list[dict]:
    rows, total_s, frames = [], 0.0, 0
    for name in plan:  # what ``name`` requires is cached by the previous steps: only ``name`` runs
        timings: dict = {}
        t0 = time.perf_counter()
        preprocess_videos(
            list(videos),
            modality_plan([name], registry),
            settings,
            folder,
            workers=w,
            progress=progress,
            timings=timings,
        )
        seconds = time.perf_counter() - t0
        frames = frames or int(timings.get("frames") or 0)
        total_s += seconds
        rows.append(_row(name, n_workers, int(timings.get("frames") or frames), seconds))
    rows.append(_row("total", n_workers, frames, total_s))
    return rows


@contextlib.contextmanager
def one_core():
    """This process (and what it starts) on one core while the block runs, where the OS lets it choose."""
    if not hasattr(os, "sched_setaffinity"):
        yield
        return
    saved = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(saved)})
    try:
        yield
    finally:
        os.sched_setaffinity(0, saved)


def _row(name: str, workers: int, frames: int, seconds: float) -> dict:
    return {
        "modality": name,
        "workers": workers,
        "frames": frames,
        "seconds": round(seconds, 3),
        "fps": round(frames / seconds, 2) if seconds > 0 else float("nan"),
    }


def format_table(rows: Sequence[dict]) -> str:
    """Side-by-side text table: one line per modality, fps for each worker count and the speed-up."""
    workers = list(dict.fromkeys(r["workers"] for r in rows))
    names = list(dict.fromkeys(r["modality"] for r in rows))
    by = {(r["modality"], r["workers"]): r for r in rows}
    head = f"{'modality':<12}{'frames':>8}" + "".join(f"{f'fps@{w}':>12}" for w in workers)
    if len(workers) > 1:
        head += f"{'speed-up':>10}"
    lines = [head]
    for n in names:
        first = by.get((n, workers[0]))
        line = f"{n:<12}{(first or {}).get('frames', 0):>8}"
        line += "".join(f"{by[(n, w)]['fps']:>12.1f}" if (n, w) in by else f"{'-':>12}" for w in workers)
        if len(workers) > 1 and (n, workers[-1]) in by and first and first["fps"]:
            line += f"{by[(n, workers[-1])]['fps'] / first['fps']:>9.2f}x"
        lines.append(line)
    return "\n".join(lines)
