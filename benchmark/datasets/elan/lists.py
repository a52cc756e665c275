"""The files a corpus's settings name: the ``labels`` list (line i = class i) and the ``splits`` CSV, and the
seeded split by file used without one (see :mod:`benchmark.datasets.elan`)."""

from __future__ import annotations

import csv
import hashlib
from collections import Counter
from pathlib import Path

from benchmark.datasets.records import SPLITS, Findings

HELD_OUT_SHARE = 0.15  # of the videos, for each of validation and test (seeded split)


def setting_file(root: Path, value: str, what: str, findings: Findings) -> Path | None:
    """The file a ``labels`` / ``splits`` setting names: relative paths in the dataset folder, then the working
    directory; None (a problem) when it is in neither."""
    path = Path(value).expanduser()
    candidates = [path] if path.is_absolute() else [root / path, Path.cwd() / path]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    findings.problems.append(
        f"dataset setting {what}: file {value!r} not found (looked for {', '.join(map(str, candidates))})"
    )
    return None


def read_labels(path: Path, findings: Findings) -> list[str]:
    """Query glosses, line i = class i (surrounding spaces and trailing blank lines ignored)."""
    try:
        names = [line.strip() for line in path.read_text(encoding="utf-8-sig").splitlines()]
    except (OSError, UnicodeDecodeError) as e:
        findings.problems.append(f"{path}: cannot read the labels file ({type(e).__name__}: {e})")
        return []
    while names and not names[-1]:
        names.pop()
    if not names:
        findings.problems.append(f"{path}: empty labels file (one query gloss a line)")
    elif any(not n for n in names):
        findings.problems.append(f"{path}: blank line(s) in the labels file (line i must name class i)")
    for name, n in sorted(Counter(names).items()):
        if n > 1 and name:
            findings.problems.append(f"{path}: gloss {name!r} listed {n} times (each class once)")
    return names


def read_splits(path: Path, videos: set[str], findings: Findings) -> dict[str, str]:
    """``{video: split}`` from a CSV with columns ``video,split``."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
            columns = [str(c).strip() for c in reader.fieldnames or []]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        findings.problems.append(f"{path}: cannot read the splits file ({type(e).__name__}: {e})")
        return {}
    if "video" not in columns or "split" not in columns:
        findings.problems.append(f"{path}: needs the columns video,split (header line), found {columns}")
        return {}
    out: dict[str, str] = {}
    for n, row in enumerate(rows, 2):
        row = {str(k).strip(): (v or "").strip() for k, v in row.items() if k is not None}
        video, split = row["video"], row["split"]
        if not video and not split:
            continue
        if split not in SPLITS:
            findings.problems.append(f"{path}: line {n}: split {split!r} is not one of {', '.join(SPLITS)}")
        elif video not in videos:
            findings.problems.append(
                f"{path}: line {n}: video {video!r} is not in the dataset (a video id is a media file's stem)"
            )
        elif video in out and out[video] != split:
            findings.problems.append(f"{path}: line {n}: video {video!r} listed in {out[video]} and {split}")
        else:
            out[video] = split
    return out


def seeded_splits(videos: list[str], seed: int) -> dict[str, str]:
    """The default split by file: videos ordered by ``sha256("<seed>:<video>")``, the first ``round(15 %)`` test,
    the next ``round(15 %)`` validation, the rest train (at least one each from 3 videos on).  A per-video hash
    keeps a video's split when other videos are added, unless it sits at a boundary."""
    order = sorted(videos, key=lambda v: (hashlib.sha256(f"{seed}:{v}".encode()).hexdigest(), v))
    n = len(order)
    held = int(n * HELD_OUT_SHARE + 0.5)
    n_test = max(held, 1) if n >= 2 else 0
    n_val = max(held, 1) if n >= 3 else 0
    names = ["test"] * n_test + ["validation"] * n_val + ["train"] * (n - n_test - n_val)
    return dict(zip(order, names))
