"""``bench perf scale``: how each stage's wall time and peak memory grow with the amount of data.

The pipeline runs as ``bench run`` runs it -- one child process per size, with a fresh cache, so every stage is
computed and each run's memory is its own -- on synthetic datasets of growing size at the ``tiny`` profile's
model sizes.  Two of the profile's settings would hide the growth and are changed: ``max_clips_per_epoch`` is
lifted (an epoch covers every clip) and the epochs are cut to keep the largest size affordable (``--quick``: 4 s
videos, one round).

Measured from outside the run (the run's summary has no per-stage seconds): the child's stderr lines
(``finished <stage> in ...``) are timestamped as they arrive, so a stage's window runs from the previous line to
its own; ``startup`` is the time to the ``bench run`` line (imports, resolving), ``dataset`` from there to the
first stage (generating and opening the data), ``score`` from the last ``finished`` line to the exit.  The
resident set of the child and all its descendants (the preprocessing pool) is sampled every
``SAMPLE_S`` seconds and each sample counted in its stage's window; ``os.wait4`` gives the largest single
process's peak.  The exponent ``k`` of ``y ~ videos^k`` is the least-squares slope in log-log: about 1 is
linear, below 1 means fixed costs still dominate at these sizes.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmark.perf.memory import maxrss_bytes, tree_rss_bytes

SIZES = (6, 24, 96)
QUICK_SIZES = (3, 6, 12)
SAMPLE_S = 0.05
FPS = 25
_FINISHED = re.compile(r"^\s+(finished|reused) (\S+)(?: in ([0-9.]+) s)?")


def dataset_settings(videos: int, quick: bool) -> dict:
    """The synthetic dataset of one size (the same videos' length, classes and signers at every size)."""
    seconds, classes, signers = (4, 2, 1) if quick else (16, 3, 2)
    return {"videos": videos, "seconds": seconds, "classes": classes, "signers": signers}


def run_sets(videos: int, quick: bool) -> list[str]:
    """The ``--set`` overrides of one size: the dataset's size, every clip each epoch, few epochs."""
    return [
        *(f"dataset.settings.{k}={v}" for k, v in dataset_settings(videos, quick).items()),
        "expert_training.max_clips_per_epoch=null",
        "expert_training.epochs=1",
        f"expert_training.rounds={1 if quick else 2}",
        "expert_training.milestones=[]",
        f"spotter.training.epochs={1 if quick else 5}",
        "spotter.training.milestones=[]",
    ]


def run_one(
    entry: str, videos: int, quick: bool, device: str, workdir: Path, timeout_s: float = 3600.0, profile: str = "tiny"
) -> dict:
    """One ``bench run`` in a child process with a fresh cache under ``workdir``: ``{"videos", "frames", "rc",
    "wall_s", "peak_rss_mb" (largest process), "peak_tree_rss_mb" (the tree, sampled), "stages": [{"stage",
    "seconds", "stage_s" (the stage's own figure), "peak_rss_mb"}], "summary" (its --json), "stderr_tail"}``."""
    import json

    sets = run_sets(videos, quick)
    cmd = [sys.executable, "-m", "benchmark.commands.main", "--cache-dir", str(workdir / "cache"), "run", entry]
    cmd += ["--profile", profile, "--device", device, "--json", "--no-track", "--no-progress"]
    for s in sets:
        cmd += ["--set", s]
    workdir.mkdir(parents=True, exist_ok=True)
    events: list[tuple[float, str]] = []
    out: list[str] = []
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def read_stderr():
        for line in proc.stderr:
            events.append((time.perf_counter() - t0, line.rstrip("\n")))

    readers = [
        threading.Thread(target=read_stderr, daemon=True),
        threading.Thread(target=lambda: out.append(proc.stdout.read()), daemon=True),
    ]
    for r in readers:
        r.start()
    samples: list[tuple[float, int]] = []
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        samples.append((time.perf_counter() - t0, tree_rss_bytes(proc.pid)))
        if time.perf_counter() - t0 > timeout_s:
            proc.kill()
        time.sleep(SAMPLE_S)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, with its rusage: Popen must not wait again
    for r in readers:
        r.join(timeout=10)
    summary = None
    with contextlib.suppress(ValueError):
        summary = json.loads("".join(out)) if out and out[0].strip() else None
    return {
        "videos": videos,
        "frames": int(videos * dataset_settings(videos, quick)["seconds"] * FPS),
        "rc": proc.returncode,
        "wall_s": round(wall, 3),
        "peak_rss_mb": round(maxrss_bytes(usage) / 2**20, 1),
        "peak_tree_rss_mb": round(max((b for _, b in samples), default=0) / 2**20, 1),
        "stages": stage_windows(events, wall, samples),
        "summary": summary,
        "stderr_tail": [line for _, line in events[-15:]],
        "command": cmd,
    }


def stage_windows(events: Sequence[tuple[float, str]], wall: float, samples: Sequence[tuple[float, int]]) -> list[dict]:
    """Per stage ``{"stage", "seconds", "stage_s", "peak_rss_mb"}`` from timestamped stderr lines (see the module
    doc); a window without a sample takes the last sample before its end."""
    marks: list[tuple[str, float, float | None]] = []  # (stage, end time, its own seconds)
    for t, line in events:
        m = _FINISHED.match(line)
        if line.startswith("bench run ") and not marks:
            marks.append(("startup", t, None))
        elif line.startswith("preprocess: ") and len(marks) == 1:
            marks.append(("dataset", t, None))
        elif m:
            marks.append((m.group(2), t, float(m.group(3)) if m.group(3) else None))
    if marks:
        marks.append(("score", wall, None))
    rows, start = [], 0.0
    for stage, end, own in marks:
        inside = [b for t, b in samples if start <= t <= end] or [b for t, b in samples if t <= end][-1:]
        rows.append(
            {
                "stage": stage,
                "seconds": round(end - start, 3),
                "stage_s": own,
                "peak_rss_mb": round(max(inside) / 2**20, 1) if inside else None,
            }
        )
        start = end
    return rows


def exponent(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Least-squares slope of ``log y`` on ``log x`` (``y ~ x^k``); None with fewer than two positive points."""
    pts = [(math.log(x), math.log(y)) for x, y in zip(xs, ys) if x and y and x > 0 and y > 0]
    if len(pts) < 2:
        return None
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx if sxx else None


def project(xs: Sequence[float], ys: Sequence[float], k: float | None, x: float) -> float | None:
    """``y`` at ``x`` along the power law ``y ~ x^k`` from the largest measured point: a straight line fitted on
    small sizes and extended a hundred-fold would multiply their noise a hundred-fold."""
    pts = [(a, b) for a, b in zip(xs, ys) if a and b]
    if k is None or not pts:
        return None
    x0, y0 = max(pts)
    return y0 * (x / x0) ** k


def measure_scale(
    entry: str = "reference-mssl",
    sizes: Sequence[int] | None = None,
    quick: bool = False,
    device: str = "cpu",
    echo: Callable[[str], None] = print,
    project_frames: float | None = None,
) -> dict:
    """Every size's run and, per stage, the exponents of time and memory: ``{"entry", "runs": [run_one...],
    "fits": [{"stage", "time_k", "memory_k", "projected_peak_rss_mb"}]}``; the projection is the peak at
    ``project_frames`` (default MSSL's 4 h at 25 fps) along the fitted power law (:func:`project`)."""
    from benchmark.perf.estimate import FPS as MSSL_FPS
    from benchmark.perf.estimate import MSSL_HOURS

    sizes = tuple(sizes or (QUICK_SIZES if quick else SIZES))
    project_frames = project_frames or MSSL_HOURS * 3600 * MSSL_FPS
    runs = []
    with tempfile.TemporaryDirectory(prefix="signspot-scale-") as tmp:
        for n in sizes:
            echo(f"  bench run {entry} on {n} synthetic videos (fresh cache) ...")
            run = run_one(entry, n, quick, device, Path(tmp) / f"videos-{n}")
            if run["rc"] != 0:
                from benchmark.errors import BenchError

                tail = "\n    ".join(run["stderr_tail"])
                raise BenchError(f"bench perf scale: the run on {n} videos failed (exit {run['rc']}):\n    {tail}")
            runs.append(run)
    stages = list(dict.fromkeys(s["stage"] for r in runs for s in r["stages"]))
    fits = []
    for stage in [*stages, "total"]:
        xs, secs, mems, frames = [], [], [], []
        for r in runs:
            if stage == "total":
                row = {"seconds": r["wall_s"], "peak_rss_mb": r["peak_tree_rss_mb"]}
            else:
                row = next((s for s in r["stages"] if s["stage"] == stage), None)
            if row:
                xs.append(r["videos"])
                secs.append(row["seconds"])
                mems.append(row["peak_rss_mb"])
                frames.append(r["frames"])
        memory_k = exponent(xs, mems)
        fits.append(
            {
                "stage": stage,
                "time_k": _round(exponent(xs, secs)),
                "memory_k": _round(memory_k),
                "projected_peak_rss_mb": _round(project(frames, mems, memory_k, project_frames), 1),
            }
        )
    return {
        "entry": entry,
        "device": device,
        "sizes": list(sizes),
        "project_frames": project_frames,
        "runs": runs,
        "fits": fits,
    }


def _round(x: float | None, digits: int = 3) -> float | None:
    return None if x is None else round(x, digits)


def format_scale(result: dict) -> str:
    """Seconds and peak MB per stage and size, with the fitted exponents and the projected peak."""
    runs = result["runs"]
    head = f"{'stage':<26}" + "".join(f"{str(r['videos']) + ' v s':>10}" for r in runs) + f"{'k':>7}"
    head += "".join(f"{str(r['videos']) + ' v MB':>11}" for r in runs) + f"{'k':>7}{'MSSL MB':>10}"
    lines = [head]
    fits = {f["stage"]: f for f in result["fits"]}
    num = lambda x, w, d: f"{x:>{w}.{d}f}" if x is not None else f"{'-':>{w}}"
    for stage, fit in fits.items():
        rows = []
        for r in runs:
            if stage == "total":
                rows.append({"seconds": r["wall_s"], "peak_rss_mb": r["peak_tree_rss_mb"]})
            else:
                rows.append(next((s for s in r["stages"] if s["stage"] == stage), {}))
        line = f"{stage:<26}" + "".join(num(x.get("seconds"), 10, 1) for x in rows) + num(fit["time_k"], 7, 2)
        line += "".join(num(x.get("peak_rss_mb"), 11, 0) for x in rows) + num(fit["memory_k"], 7, 2)
        line += num(fit["projected_peak_rss_mb"], 10, 0)
        lines.append(line)
    lines.append(
        "k: exponent of videos^k (least squares in log-log); MB: resident set of the run's process tree, sampled; "
        f"MSSL MB: the peak at {result['project_frames']:.0f} frames along that power law (these tiny model sizes)"
    )
    return "\n".join(lines)
