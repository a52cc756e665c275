"""Ground-truth annotations: parse (pickle or per-video text files) and validate, collecting every problem.

One code path serves the loader (which raises :class:`~benchmark.errors.DataError` listing the problems) and
``bench data check`` (which prints them all).  Problems are strings naming the file, the video and what is wrong.
Rules (REFERENCE.md): ``{video_id: [[class_id, start_ms, end_ms], ...]}`` with plain ints, ``0 <= class_id <
num_classes``, ``0 <= start <= end``, no two annotations of a video overlap (touching, ``next.start ==
prev.end``, is allowed: the real train set has such gaps of 0 ms).  Times are any whole milliseconds of the
video's own time line (the frame grid is the pipeline's, :mod:`benchmark.engine.clips`).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SPLITS = ("train", "validation", "test")
VIDEO_EXTS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".mpg", ".mpeg", ".m4v")  # what OpenCV opens
POSE_EXT = ".pose"
# The rate of a video whose header gives none: MSSL's, the default frame grid (benchmark.interfaces.FPS).  Not
# imported from there: benchmark.interfaces reaches this module through Dataset.check's default.
ASSUMED_FPS = 25

Ann = tuple[int, int, int]


@dataclass
class Findings:
    """Problems (make the dataset unusable) and warnings (worth knowing) found while reading a dataset."""

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def extend(self, other: Findings) -> None:
        self.problems += other.problems
        self.warnings += other.warnings

    def raise_problems(self, root, check: str) -> None:
        """A :class:`DataError` listing the first problems and the ``bench data check`` command that lists all."""
        if not self.problems:
            return
        from benchmark.errors import DataError

        shown, more = self.problems[:20], len(self.problems) - 20
        raise DataError(
            f"dataset {root} has {len(self.problems)} problem(s):\n  "
            + "\n  ".join(shown)
            + (f"\n  ... and {more} more" if more > 0 else "")
            + f"\nRun `{check}` for the full report."
        )


@dataclass
class ScanResult:
    """Everything read from a dataset folder, plus every problem found."""

    root: Path
    class_names: list[str]
    records: dict[str, list] = field(default_factory=dict)  # split -> its VideoRecords, sorted by id
    gt_sources: dict[str, str] = field(default_factory=dict)  # split -> file or folder the labels came from
    missing_gt: dict[str, dict[str, str]] = field(default_factory=dict)  # split -> {video: ground-truth file}
    findings: Findings = field(default_factory=Findings)


def _to_int(x: Any) -> int | None:
    """A plain int from an int, numpy integer or integral float (as :mod:`benchmark.storage.safe_pickle` accepts);
    else None."""
    if isinstance(x, bool) or type(x).__name__ == "bool_":
        return None
    if isinstance(x, numbers.Integral):
        return int(x)
    if isinstance(x, numbers.Real) and math.isfinite(float(x)) and float(x).is_integer():
        return int(x)
    return None


def validate_ground_truth(
    gt: Any, source: Path | str, num_classes: int, findings: Findings
) -> dict[str, tuple[Ann, ...]]:
    """Check a loaded ground-truth object; return ``{video: sorted annotations}`` for the entries that are valid.

    Every problem is appended to ``findings`` as ``"<source>: video <id>: <problem>"``.
    """
    out: dict[str, tuple[Ann, ...]] = {}
    if not isinstance(gt, dict):
        findings.problems.append(
            f"{source}: ground truth must be a dict of lists {{video_id: [[class_id, start_ms, end_ms], ...]}}, "
            f"got {type(gt).__name__}"
        )
        return out
    for video, anns in gt.items():
        where = f"{source}: video {video!r}"
        if not isinstance(video, str):
            findings.problems.append(f"{where}: video ids must be strings, got {type(video).__name__}")
            continue
        if type(anns).__module__ == "numpy" and getattr(anns, "ndim", 0) == 2:
            anns = anns.tolist()  # some prediction writers store a [n, 3] array per video
        if not isinstance(anns, (list, tuple)):
            findings.problems.append(
                f"{where}: expected a list of [class_id, start_ms, end_ms], got {type(anns).__name__}"
                " (the ground truth must be a dict of lists)"
            )
            continue
        out[video] = validate_video_annotations(anns, where, num_classes, findings)
    return out


def validate_video_annotations(
    anns: Iterable[Any],
    where: str,
    num_classes: int,
    findings: Findings,
    class_hint: str = " (set num_classes or add MSSL_SET_LABELS.txt)",
) -> tuple[Ann, ...]:
    """Validate one video's annotations; returns the valid ones sorted by start.  ``class_hint`` follows a class
    id outside the class list (how the ChaLearn layout fixes it, by default)."""
    good: list[Ann] = []
    for i, a in enumerate(anns):
        if not isinstance(a, (list, tuple)) or len(a) != 3:
            findings.problems.append(f"{where}: annotation #{i} {a!r} is not [class_id, start_ms, end_ms]")
            continue
        ints = [_to_int(v) for v in a]
        if any(v is None for v in ints):
            bad = [f"{n}={v!r}" for n, v, i in zip(("class_id", "start_ms", "end_ms"), a, ints) if i is None]
            findings.problems.append(
                f"{where}: annotation #{i} {list(a)!r}: non-integer value(s) {', '.join(bad)}"
                " (class ids and times must be integer milliseconds)"
            )
            continue
        cls, start, end = ints
        if not 0 <= cls < num_classes:
            findings.problems.append(
                f"{where}: annotation #{i} {list(a)!r}: class id {cls} outside the class list"
                f" 0..{num_classes - 1}{class_hint}"
            )
            continue
        if start < 0:
            findings.problems.append(f"{where}: annotation #{i} {list(a)!r}: negative start time")
            continue
        if end < start:
            findings.problems.append(
                f"{where}: annotation #{i} {list(a)!r}: inverted annotation (end {end} < start {start})"
            )
            continue
        good.append((cls, start, end))
    good.sort(key=lambda a: (a[1], a[2]))
    for prev, nxt in zip(good, good[1:]):
        if nxt[1] < prev[2]:
            findings.problems.append(f"{where}: overlapping annotations {list(prev)} and {list(nxt)}")
    return tuple(good)


def parse_txt(path: Path, num_classes: int, findings: Findings) -> tuple[Ann, ...]:
    """One per-video text file: lines ``class,start_ms,end_ms`` (blank lines ignored)."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        findings.problems.append(f"{path}: cannot read ground-truth text file: {e}")
        return ()
    raw: list[Any] = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        parts = [p.strip() for p in line.replace(";", ",").split(",")]
        vals: list[Any] = []
        for p in parts:
            try:
                vals.append(int(p))
            except ValueError:
                vals.append(p)  # kept as text so the validator reports it as non-integer
        if len(vals) != 3:
            findings.problems.append(f"{path}: line {n} {line!r} is not 'class,start_ms,end_ms'")
            continue
        raw.append(vals)
    return validate_video_annotations(raw, f"{path}: video {path.stem!r}", num_classes, findings)


def load_pickle_gt(path: Path, num_classes: int, findings: Findings) -> dict[str, tuple[Ann, ...]]:
    """A ground-truth pickle, read with the restricted unpickler (never plain ``pickle.load``)."""
    from benchmark.errors import DataError
    from benchmark.storage.safe_pickle import safe_load

    try:
        gt = safe_load(path)  # raw object: the checks below report every problem, not just the first
    except DataError as e:
        findings.problems.append(f"{path}: {e}" if str(path) not in str(e) else str(e))
        return {}
    return validate_ground_truth(gt, path, num_classes, findings)


def video_end_ms(frames: int, fps: float | None = None) -> int:
    """Where a video of ``frames`` frames at ``fps`` (unknown or 0: 25) ends, in whole ms rounded up (annotation
    times are whole ms, so at 29.97 fps a sign may end at the 1 ms the last frame starts into)."""
    rate = float(fps) if fps and fps > 0 else float(ASSUMED_FPS)
    return math.ceil(int(frames) * 1000.0 / rate - 1e-6)


def past_end(end_ms: float, frames: int, fps: float | None = None) -> bool:
    """Whether a sign ending at ``end_ms`` ends after its video (``frames`` frames at ``fps``).  The one rule of
    ``bench data check`` and of a run's annotation check: a sign may end exactly at the video's end."""
    return end_ms > video_end_ms(frames, fps)


def annotation_stats(gt: Mapping[str, Iterable[Ann]], num_classes: int) -> dict[str, Any]:
    """Instances per class and the sign-length distribution (ms) of a ground truth."""
    import numpy as np

    per_class = [0] * num_classes
    lengths = []
    gaps = []
    for anns in gt.values():
        anns = sorted(anns, key=lambda a: a[1])
        for c, s, e in anns:
            if 0 <= c < num_classes:
                per_class[c] += 1
            lengths.append(e - s)
        gaps += [b[1] - a[2] for a, b in zip(anns, anns[1:])]
    lengths_a = np.asarray(lengths, dtype=float)
    gaps_a = np.asarray(gaps, dtype=float)

    def dist(x):
        if x.size == 0:
            return None
        return {"min": float(x.min()), "mean": float(x.mean()), "median": float(np.median(x)), "max": float(x.max())}

    return {
        "instances": int(lengths_a.size),
        "per_class": per_class,
        "length_ms": dist(lengths_a),
        "gap_ms": dist(gaps_a),
    }
