"""The ``chalearn-mssl`` dataset: the ECCV 2022 ChaLearn MSSL challenge folder layout (REFERENCE.md).

Layout (any split may be missing; the synthetic generator writes the same one)::

    ROOT/MSSL_SET_LABELS.txt                          class names, line i = class i (optional)
    ROOT/TRAIN/MSSL_TRAIN_SET_VIDEOS_ELAN/<video>.mp4 (and/or <video>.pose)
    ROOT/TRAIN/MSSL_TRAIN_SET_GT.pkl                  {video: [[class, start_ms, end_ms], ...]}
    ROOT/TRAIN/MSSL_TRAIN_SET_GT_TXT/<video>.txt      lines "class,start_ms,end_ms" (used when no pickle)
    ROOT/VALIDATION/MSSL_VAL_SET_VIDEOS/<video>.mp4
    ROOT/VALIDATION/MSSL_VAL_SET_GT.pkl               (or VALIDATION/MSSL_VAL_SET_GT_TXT/)
    ROOT/MSSL_TEST_SET_VIDEOS/<video>.mp4
    ROOT/MSSL_TEST_SET_GT.pkl                         optional: the test split is unlabelled without it

Any video OpenCV can open is accepted (.mp4 .avi .mov .mkv .webm .mpg); a ``<video>.pose`` file (pose-format,
MediaPipe Holistic layout) beside the video, or instead of it, becomes ``VideoRecord.pose_path``.  Times are
milliseconds of each video's own time line (MSSL's videos are 25 fps; any rate is resampled to the entry's
``preprocess.fps`` when decoded).  Videos are not opened here (construction stays cheap); ``bench data check``
opens them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmark.config.rules import optional
from benchmark.datasets.hashes import ContentHashes, hashes_for
from benchmark.datasets.records import (
    POSE_EXT,
    SPLITS,
    VIDEO_EXTS,
    Ann,
    Findings,
    ScanResult,
    load_pickle_gt,
    parse_txt,
)
from benchmark.errors import DataError
from benchmark.interfaces import Dataset, VideoRecord

LABELS_FILE = "MSSL_SET_LABELS.txt"
DEFAULT_NUM_CLASSES = 60


@dataclass(frozen=True)
class SplitLayout:
    """Where one split lives: candidate video folders, ground-truth pickles and text-file folders (first found wins)."""

    videos: tuple[str, ...]
    pickles: tuple[str, ...]
    txt_dirs: tuple[str, ...] = ()


LAYOUT = {
    "train": SplitLayout(
        ("TRAIN/MSSL_TRAIN_SET_VIDEOS_ELAN", "TRAIN/MSSL_TRAIN_SET_VIDEOS"),
        ("TRAIN/MSSL_TRAIN_SET_GT.pkl",),
        ("TRAIN/MSSL_TRAIN_SET_GT_TXT",),
    ),
    "validation": SplitLayout(
        ("VALIDATION/MSSL_VAL_SET_VIDEOS",), ("VALIDATION/MSSL_VAL_SET_GT.pkl",), ("VALIDATION/MSSL_VAL_SET_GT_TXT",)
    ),
    "test": SplitLayout(
        ("MSSL_TEST_SET_VIDEOS", "TEST/MSSL_TEST_SET_VIDEOS"),
        ("MSSL_TEST_SET_GT.pkl", "TEST/MSSL_TEST_SET_GT.pkl"),
        ("MSSL_TEST_SET_GT_TXT",),
    ),
}


def _first_existing(root: Path, candidates: tuple[str, ...]) -> Path | None:
    for c in candidates:
        if (root / c).exists():
            return root / c
    return None


def read_class_names(root: Path, num_classes: int | None, findings: Findings) -> list[str]:
    """Class names from ``MSSL_SET_LABELS.txt`` (line i = class i), else ``class_0..class_{n-1}``."""
    path = root / LABELS_FILE
    if path.is_file():
        names = [line.strip() for line in path.read_text(errors="replace").splitlines()]
        while names and not names[-1]:
            names.pop()
        if not names:
            findings.problems.append(f"{path}: empty class list")
        elif any(not n for n in names):
            findings.problems.append(f"{path}: blank line(s) in the class list (line i must name class i)")
        if num_classes is not None and names and len(names) != num_classes:
            findings.problems.append(f"{path}: lists {len(names)} classes but the setting num_classes is {num_classes}")
        return names
    n = DEFAULT_NUM_CLASSES if num_classes is None else int(num_classes)
    if n < 1:
        findings.problems.append(f"setting num_classes must be >= 1, got {n}")
        n = 1
    return [f"class_{i}" for i in range(n)]


def _media_files(folder: Path, findings: Findings) -> dict[str, dict[str, Path]]:
    """``{video_id: {"video": path, "pose": path}}`` for one split folder."""
    media: dict[str, dict[str, Path]] = {}
    for p in sorted(folder.iterdir()):
        if not p.is_file() or p.name.startswith("."):
            continue
        ext = p.suffix.lower()
        kind = "pose" if ext == POSE_EXT else "video" if ext in VIDEO_EXTS else None
        if kind is None:
            continue
        entry = media.setdefault(p.stem, {})
        if kind in entry:
            findings.problems.append(f"{folder}: video {p.stem!r}: two {kind} files ({entry[kind].name}, {p.name})")
            continue
        if p.stat().st_size == 0:
            findings.problems.append(f"{p}: video {p.stem!r}: empty file")
        entry[kind] = p
    return media


def _split_gt(
    root: Path, split: str, num_classes: int, findings: Findings
) -> tuple[dict[str, tuple[Ann, ...]] | None, str | None]:
    lay = LAYOUT[split]
    pkl = _first_existing(root, lay.pickles)
    if pkl is not None:
        return load_pickle_gt(pkl, num_classes, findings), str(pkl.relative_to(root))
    txt_dir = _first_existing(root, lay.txt_dirs)
    if txt_dir is not None and txt_dir.is_dir():
        gt = {p.stem: parse_txt(p, num_classes, findings) for p in sorted(txt_dir.glob("*.txt"))}
        return gt, str(txt_dir.relative_to(root))
    return None, None


def scan(root: Path, num_classes: int | None = None) -> ScanResult:
    """Read the folder layout and the ground truth, validating everything; never raises for bad content."""
    root = Path(root)
    findings = Findings()
    if not root.is_dir():
        findings.problems.append(f"{root}: dataset folder not found")
        return ScanResult(root, [], findings=findings)
    names = read_class_names(root, num_classes, findings)
    result = ScanResult(root, names, findings=findings)
    for split in SPLITS:
        lay = LAYOUT[split]
        folder = _first_existing(root, lay.videos)
        gt, source = _split_gt(root, split, len(names), findings)
        if folder is None:
            if gt:
                findings.problems.append(
                    f"{root / lay.pickles[0] if source is None else root / source}: ground truth"
                    f" for split {split} but no video folder {root / lay.videos[0]}"
                )
            continue
        media = _media_files(folder, findings)
        if gt is not None:
            for video in sorted(set(gt) - set(media)):
                findings.problems.append(
                    f"{root / source}: video {video!r}: ground truth names a missing video"
                    f" (no {video}.mp4 or {video}.pose in {folder})"
                )
            for video in sorted(set(media) - set(gt)):
                findings.warnings.append(f"{root / source}: video {video!r} has no ground-truth entry (no query signs)")
                result.missing_gt.setdefault(split, {})[video] = str(root / source)
            result.gt_sources[split] = source
        records = []
        for video, files in sorted(media.items()):
            anns = None if gt is None else tuple(gt.get(video, ()))
            records.append(VideoRecord(video, split, files.get("video"), files.get("pose"), anns))
        if not records:
            findings.warnings.append(f"{folder}: no videos (.mp4 etc. or .pose) in split {split}")
            continue
        result.records[split] = records
    if not result.records:
        findings.problems.append(
            f"{root}: no split found; expected e.g. {root / LAYOUT['train'].videos[0]}/<video>.mp4"
            " (ChaLearn MSSL layout, see `bench data check --help`)"
        )
    return result


def fingerprint_of(scan_result: ScanResult, hashes: ContentHashes | None = None, progress: bool = False) -> str:
    """sha256 over every video and ``.pose`` file (relative name, size, sha256 of its content, remembered in
    ``hashes``), each video's split and annotations, and the class names: where the folder lies does not count,
    what is in its files does."""
    from benchmark.runtime.progress import bar

    hashes = hashes or ContentHashes(None)
    h = hashlib.sha256()
    root = scan_result.root
    records = [(split, r) for split in SPLITS for r in scan_result.records.get(split, [])]
    for split, r in bar(records, desc="hash dataset", unit="video", enabled=progress, min_items=20):
        for p in (r.video_path, r.pose_path):
            if p is not None:
                h.update(f"{split}|{p.relative_to(root).as_posix()}|{p.stat().st_size}|{hashes.of(p)}\n".encode())
        h.update(json.dumps(None if r.annotations is None else [list(a) for a in r.annotations]).encode())
    h.update(json.dumps(scan_result.class_names).encode())
    hashes.save()
    return h.hexdigest()[:16]


class ChalearnMSSL(Dataset):
    """A dataset folder in the ChaLearn MSSL layout (see the module docstring); raises DataError on bad content."""

    name = "chalearn-mssl"
    description = "ChaLearn MSSL challenge folder (videos and/or .pose files, GT pickles or txt)"
    defaults = {"num_classes": None}  # class count when the folder has no MSSL_SET_LABELS.txt (then 60)
    rules = {"num_classes": optional("int>=1")}

    def __init__(self, root: Path, num_classes: int | None = None, cache_dir: Path | None = None):
        """``cache_dir``: where the content hashes of the files are remembered (None: hashed at each start)."""
        self.root = Path(root)
        result = scan(self.root, num_classes)
        result.findings.raise_problems(self.root, f"bench data check {self.root}")
        self._scan = result
        self.class_names = result.class_names
        self.warnings = result.findings.warnings
        self._fingerprint: str | None = None
        self._hashes = hashes_for(self.name, self.root, cache_dir)
        self._progress = False

    @classmethod
    def open(cls, root: Path | None, settings: Mapping[str, Any], cache_dir: Path, *, progress: bool = True):
        if root is None:
            raise DataError(
                "dataset chalearn-mssl needs a folder: pass --data PATH (the folder holding TRAIN/,"
                " VALIDATION/ and MSSL_TEST_SET_VIDEOS/), or use the embedded `synthetic` dataset"
            )
        ds = cls(Path(root).expanduser(), _num_classes_setting(settings or {}), cache_dir)
        ds._progress = progress
        return ds

    @classmethod
    def check(
        cls, root: Path | None, settings: Mapping[str, Any], cache_dir: Path | None, *, open_media: bool = True
    ) -> dict[str, Any]:
        """The generic report of the folder as :func:`scan` reads it: every problem of the layout and of the
        ground truth (bad pickles, class ids, overlaps), where :meth:`open` stops at the first ones."""
        from benchmark.datasets.check import problem_report, report_of
        from benchmark.datasets.settings import declared_problems

        problems = declared_problems(cls, cls.with_defaults(settings))
        if root is None:
            problems.append(f"dataset {cls.name} needs a folder (the one holding TRAIN/, VALIDATION/...)")
        try:
            num_classes = None if problems else _num_classes_setting(settings or {})
        except DataError as e:
            problems.append(str(e))
        if problems:
            return problem_report(root, problems)
        return report_of(scan(Path(root).expanduser(), num_classes), open_media)

    def splits(self) -> list[str]:
        return [s for s in SPLITS if s in self._scan.records]

    def videos(self, split: str) -> list[VideoRecord]:
        if split not in SPLITS:
            raise DataError(f"dataset {self.root}: unknown split {split!r}; splits are {', '.join(SPLITS)}")
        return list(self._scan.records.get(split, []))

    def labelled(self, split: str) -> bool:
        """Whether ``split`` carries ground truth (the test split does only with MSSL_TEST_SET_GT.pkl)."""
        return split in self._scan.gt_sources

    def missing_ground_truth(self, split: str) -> dict[str, str]:
        return dict(self._scan.missing_gt.get(split, {}))

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = fingerprint_of(self._scan, self._hashes, self._progress)
        return self._fingerprint

    def __repr__(self) -> str:
        counts = ", ".join(f"{s}={len(v)}" for s, v in self._scan.records.items())
        return f"{type(self).__name__}({str(self.root)!r}, classes={self.num_classes}, {counts})"


def check_dataset(root: Path, num_classes: int | None = None, open_media: bool = True) -> dict[str, Any]:
    """``bench data check``'s report of a ChaLearn MSSL folder (:meth:`ChalearnMSSL.check`)."""
    return ChalearnMSSL.check(Path(root), {"num_classes": num_classes}, None, open_media=open_media)


def _num_classes_setting(settings: Mapping[str, Any]) -> int | None:
    """The ``num_classes`` setting, its rule kept (a Python caller's settings were never resolved)."""
    return ChalearnMSSL.checked({"num_classes": settings.get("num_classes")}, DataError)["num_classes"]
