"""The ``chalearn-oslwl`` dataset: the ECCV 2022 Sign Spotting Challenge's OSLWL track (one-shot learning,
weak labels), where each query sign is given by ONE isolated example and is looked for in short target clips.

Layout (these names are the contract; ``benchmark.datasets.synthetic.oslwl`` writes the same one)::

    ROOT/OSLWL.json                                     how a synthetic folder was made (optional)
    ROOT/TRAIN/MSSL_TRAIN_SET_VIDEOS/<id>.mp4 + .pose   continuous training videos (MSSL-style)
    ROOT/TRAIN/MSSL_TRAIN_SET_GT.pkl                    {id: [[class, start_ms, end_ms], ...]} in the train classes
    ROOT/TRAIN/TRAIN_SET_LABELS.txt                     line i = gloss of train class i
    ROOT/VALIDATION/OSLWL_QUERY_VAL_SET/<GLOSS>.mp4 + .pose   one isolated example per query (file stem = gloss)
    ROOT/VALIDATION/OSLWL_VAL_SET_VIDEOS/<id>.mp4 + .pose     target clips (~4 s, one query sign among others)
    ROOT/VALIDATION/OSLWL_VAL_SET_GT.pkl                {id: [[class, start_ms, end_ms]]}, class = a labels line
    ROOT/VALIDATION/OSLWL_QUERY_VAL_LABELS.txt          line i = gloss of query class i (the query files' stems)
    ROOT/OSLWL_QUERY_TEST_SET/<GLOSS>.mp4 + .pose       the same for the test split, at the root
    ROOT/OSLWL_TEST_SET_VIDEOS/<id>.mp4 + .pose
    ROOT/OSLWL_TEST_SET_GT.pkl                          optional: the test split is unlabelled without it
    ROOT/OSLWL_QUERY_TEST_LABELS.txt

A split is present when its video folder holds videos (any OpenCV format and/or ``.pose``).  Each split
indexes its own classes: train, the lines of ``TRAIN_SET_LABELS.txt`` (:attr:`class_names`, what experts
learn); validation and test, the lines of their query labels (:meth:`ChalearnOSLWL.query_names`, disjoint from
the train classes in the challenge).  Problems (a DataError naming the file and the fix): a missing labels file
or query folder, a query file whose stem is no labels line, a labels line without a query file, a class id out
of range, a target without ground truth, ground truth without its video, files of a split with no video folder.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.datasets.chalearn import fingerprint_of
from benchmark.datasets.hashes import ContentHashes, hashes_for
from benchmark.datasets.records import (
    POSE_EXT,
    SPLITS,
    VIDEO_EXTS,
    Ann,
    Findings,
    ScanResult,
    validate_video_annotations,
)
from benchmark.errors import DataError
from benchmark.interfaces import Dataset, VideoRecord

META_FILE = "OSLWL.json"
QUERY_SPLITS = ("validation", "test")


@dataclass(frozen=True)
class SplitLayout:
    """Where one split lives, relative to the root (``queries`` None: no query examples)."""

    videos: str
    gt: str
    labels: str
    queries: str | None = None


LAYOUT = {
    "train": SplitLayout("TRAIN/MSSL_TRAIN_SET_VIDEOS", "TRAIN/MSSL_TRAIN_SET_GT.pkl", "TRAIN/TRAIN_SET_LABELS.txt"),
    "validation": SplitLayout(
        "VALIDATION/OSLWL_VAL_SET_VIDEOS",
        "VALIDATION/OSLWL_VAL_SET_GT.pkl",
        "VALIDATION/OSLWL_QUERY_VAL_LABELS.txt",
        "VALIDATION/OSLWL_QUERY_VAL_SET",
    ),
    "test": SplitLayout(
        "OSLWL_TEST_SET_VIDEOS", "OSLWL_TEST_SET_GT.pkl", "OSLWL_QUERY_TEST_LABELS.txt", "OSLWL_QUERY_TEST_SET"
    ),
}


@dataclass
class OSLWLScan(ScanResult):
    """:class:`ScanResult` (``class_names``: the train classes) plus each split's class names (train: the train
    classes; validation, test: the query glosses) and query examples (in labels order)."""

    split_classes: dict[str, list[str]] = field(default_factory=dict)
    queries: dict[str, list[VideoRecord]] = field(default_factory=dict)


def read_labels(path: Path, findings: Findings) -> list[str] | None:
    """The lines of a labels file (trailing blank lines dropped), None when it is missing."""
    if not path.is_file():
        return None
    names = [line.strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines()]
    while names and not names[-1]:
        names.pop()
    if not names:
        findings.problems.append(f"{path}: empty labels file; write one gloss a line (line i = class i)")
    elif any(not n for n in names):
        findings.problems.append(f"{path}: blank line(s); line i must name class i, remove or fill them")
    dup = sorted({n for n in names if n and names.count(n) > 1})
    if dup:
        findings.problems.append(f"{path}: gloss(es) {', '.join(dup)} on more than one line; each class once")
    return names


def media_files(folder: Path, findings: Findings) -> dict[str, dict[str, Path]]:
    """``{stem: {"video": path, "pose": path}}`` of a folder's video and ``.pose`` files."""
    media: dict[str, dict[str, Path]] = {}
    for p in sorted(folder.iterdir()):
        ext = p.suffix.lower()
        kind = "pose" if ext == POSE_EXT else "video" if ext in VIDEO_EXTS else None
        if kind is None or not p.is_file() or p.name.startswith("."):
            continue
        entry = media.setdefault(p.stem, {})
        if kind in entry:
            findings.problems.append(f"{p}: a second {kind} file for {p.stem!r} ({entry[kind].name}); keep one")
            continue
        if p.stat().st_size == 0:
            findings.problems.append(f"{p}: empty file; write it again or remove it")
        entry[kind] = p
    return media


def load_gt(path: Path, num_classes: int, hint: str, findings: Findings) -> dict[str, tuple[Ann, ...]]:
    """A ground-truth pickle (restricted unpickler), every annotation checked against ``num_classes``;
    ``hint`` follows a class id out of range."""
    from benchmark.storage.safe_pickle import safe_load

    try:
        raw = safe_load(path)
    except DataError as e:
        findings.problems.append(str(e) if str(path) in str(e) else f"{path}: {e}")
        return {}
    if not isinstance(raw, dict):
        findings.problems.append(f"{path}: must be a dict {{video_id: [[class, start_ms, end_ms], ...]}}")
        return {}
    out = {}
    for video, anns in raw.items():
        where = f"{path}: video {video!r}"
        if type(anns).__module__ == "numpy" and getattr(anns, "ndim", 0) == 2:
            anns = anns.tolist()
        if not isinstance(video, str) or not isinstance(anns, (list, tuple)):
            findings.problems.append(f"{where}: expected a string id and a list of [class, start_ms, end_ms]")
            continue
        out[video] = validate_video_annotations(anns, where, num_classes, findings, class_hint=hint)
    return out


def _stray(root: Path, split: str, res: OSLWLScan) -> None:
    """Files of a split whose video folder is missing."""
    lay, problems = LAYOUT[split], res.findings.problems
    for rel in (lay.gt, lay.labels, lay.queries):
        if rel is not None and (root / rel).exists():
            problems.append(f"{root / rel}: split {split} has no video folder {root / lay.videos}; add its videos")
            return


def _match_gt(root: Path, split: str, gt: dict, media: dict, res: OSLWLScan) -> None:
    """Ground truth against the videos: entries without a video, videos without an entry."""
    lay, findings = LAYOUT[split], res.findings
    for video in sorted(set(gt) - set(media)):
        where = f"{root / lay.gt}: video {video!r}: no {video}.mp4 or .pose in {lay.videos}"
        findings.problems.append(f"{where}; add the video or remove its ground truth")
    for video in sorted(set(media) - set(gt)):
        if split == "train":
            findings.warnings.append(f"{root / lay.gt}: video {video!r} has no ground-truth entry (no train signs)")
            res.missing_gt.setdefault(split, {})[video] = str(root / lay.gt)
        else:
            findings.problems.append(
                f"{root / lay.gt}: target {video!r} has no ground-truth entry; every target clip holds a query"
                f" sign: add its [[class, start_ms, end_ms]] or remove {root / lay.videos / video}.*"
            )


def _scan_split(root: Path, split: str, res: OSLWLScan) -> None:
    lay, findings = LAYOUT[split], res.findings
    folder = root / lay.videos
    if not folder.is_dir():
        _stray(root, split, res)
        return
    names = read_labels(root / lay.labels, findings)
    if names is None:
        findings.problems.append(f"{root / lay.labels}: missing; write line i = the gloss of {split} class i")
    res.split_classes[split] = names or []
    if split == "train":
        res.class_names = names or []
    media = media_files(folder, findings)
    gt = None
    if names is not None and (root / lay.gt).is_file():
        query = " and its query file" if lay.queries else ""
        hint = f" (line i of {root / lay.labels} names class i: add the missing gloss{query}, or fix the id)"
        gt = load_gt(root / lay.gt, len(names), hint, findings)
        res.gt_sources[split] = lay.gt
        _match_gt(root, split, gt, media, res)
    elif split != "test":
        findings.warnings.append(f"{root / lay.gt}: missing; split {split} is unlabelled")
    records = [
        VideoRecord(v, split, f.get("video"), f.get("pose"), None if gt is None else tuple(gt.get(v, ())))
        for v, f in sorted(media.items())
    ]
    if records:
        res.records[split] = records
    else:
        findings.warnings.append(f"{folder}: no videos (.mp4 etc. or .pose) in split {split}")
    if lay.queries is not None:
        _scan_queries(root, split, names or [], res)


def _scan_queries(root: Path, split: str, names: list[str], res: OSLWLScan) -> None:
    """A split's query examples against its labels file, both ways."""
    lay, findings = LAYOUT[split], res.findings
    qdir, labels = root / lay.queries, root / lay.labels
    if not qdir.is_dir():
        findings.problems.append(
            f"{qdir}: missing query folder of split {split}; add one isolated example per line of {labels},"
            " named <GLOSS>.mp4 and/or <GLOSS>.pose"
        )
        return
    media = media_files(qdir, findings)
    for stem in sorted(set(media) - set(names)):
        path = media[stem].get("video") or media[stem].get("pose")
        findings.problems.append(
            f"{path}: query {stem!r} is no line of {labels}; rename the file to its gloss as the labels file"
            " spells it, or add the gloss there"
        )
    for i, gloss in enumerate(names):
        if gloss and gloss not in media:
            findings.problems.append(
                f"{labels}: line {i + 1} {gloss!r} has no query file ({qdir / gloss}.mp4 or .pose); add its"
                " example or remove the line (ground-truth class ids count the lines)"
            )
    res.queries[split] = [
        VideoRecord(g, split, media[g].get("video"), media[g].get("pose"), None) for g in names if g in media
    ]


def scan(root: Path) -> OSLWLScan:
    """Read the folder layout, the labels, the queries and the ground truth; never raises for bad content."""
    root = Path(root)
    res = OSLWLScan(root, [])
    if not root.is_dir():
        res.findings.problems.append(f"{root}: dataset folder not found")
        return res
    for split in SPLITS:
        _scan_split(root, split, res)
    if not res.records:
        res.findings.problems.append(
            f"{root}: no split found; expected {root / LAYOUT['train'].videos}/<id>.mp4 and/or"
            f" {root / LAYOUT['validation'].videos}/<id>.mp4 (the OSLWL layout, benchmark.datasets.oslwl)"
        )
    return res


def fingerprint_oslwl(res: OSLWLScan, hashes: ContentHashes | None = None, progress: bool = False) -> str:
    """sha256 over each split's class names and query files (relative name, size, content hash), then
    :func:`~benchmark.datasets.chalearn.fingerprint_of` (every video and ``.pose`` file, annotations, train classes)."""
    hashes = hashes or ContentHashes(None)
    h = hashlib.sha256(b"oslwl\n")
    for split in SPLITS:
        h.update(json.dumps([split, res.split_classes.get(split)]).encode())
        for q in res.queries.get(split, []):
            for p in (q.video_path, q.pose_path):
                if p is not None:
                    h.update(f"{p.relative_to(res.root).as_posix()}|{p.stat().st_size}|{hashes.of(p)}\n".encode())
    h.update(fingerprint_of(res, hashes, progress).encode())
    return h.hexdigest()[:16]


def report(res: OSLWLScan, open_media: bool = True) -> dict[str, Any]:
    """``bench data check``'s report (:func:`benchmark.datasets.check.report_of`) with each class space kept
    apart: ``classes`` and ``stats`` are the train split's, each query split is reported against its query
    glosses, ``queries`` adds per query split its class names, query files and seconds."""
    from collections import Counter

    from benchmark.datasets.check import media_length, report_of

    def part(split: str, findings: Findings) -> ScanResult:
        names = res.split_classes.get(split, [])
        records = {split: res.records[split]} if split in res.records else {}
        gt = {split: res.gt_sources[split]} if split in res.gt_sources else {}
        return ScanResult(res.root, names, records=records, gt_sources=gt, findings=findings)

    rep = report_of(part("train", res.findings), open_media)
    rep["classes"], rates = res.class_names, Counter(rep["frame_rates"])
    rep["queries"], rep["conventions"] = {}, [f"train classes: lines of {LAYOUT['train'].labels}"]
    for split in QUERY_SPLITS:
        if split not in res.records:
            continue
        sub = report_of(part(split, Findings()), open_media)
        rep["splits"][split], rep["total_seconds"] = sub["splits"][split], rep["total_seconds"] + sub["total_seconds"]
        rep["problems"] += sub["problems"]
        rates.update(sub["frame_rates"])
        queries = res.queries.get(split, [])
        lengths = [media_length(q, rep["problems"]) for q in queries] if open_media else []
        rep["queries"][split] = {
            "classes": res.split_classes.get(split, []),
            "queries": len(queries),
            "with_video": sum(q.video_path is not None for q in queries),
            "with_pose": sum(q.pose_path is not None for q in queries),
            "seconds": sum(n / (fps or 25.0) for n, fps in lengths) if open_media else None,
            "stats": sub["splits"][split]["stats"],
        }
        rep["conventions"].append(
            f"{split}: {len(queries)} query examples in {LAYOUT[split].queries}, target classes = lines of"
            f" {LAYOUT[split].labels}"
        )
    rep["frame_rates"] = dict(sorted(rates.items(), key=lambda kv: (-kv[1], kv[0])))
    return rep


class ChalearnOSLWL(Dataset):
    """A folder in the OSLWL layout (see the module docstring); raises DataError on bad content."""

    name = "chalearn-oslwl"
    description = "ChaLearn OSLWL (one-shot) folder: training videos, one isolated example per query, target clips"
    defaults = {}
    rules = {}

    def __init__(self, root: Path, cache_dir: Path | None = None, *, progress: bool = False):
        """``cache_dir``: where the files' content hashes are remembered (None: hashed at each start)."""
        self.root = Path(root)
        res = scan(self.root)
        res.findings.raise_problems(self.root, f"bench data check {self.root} --dataset {self.name}")
        self._scan = res
        self.class_names = res.class_names
        self.warnings = res.findings.warnings
        self._fingerprint: str | None = None
        self._hashes = hashes_for(self.name, self.root, cache_dir)
        self._progress = progress

    @classmethod
    def open(cls, root: Path | None, settings: Mapping[str, Any], cache_dir: Path, *, progress: bool = True):
        if root is None:
            raise DataError(
                f"dataset {cls.name} needs a folder: pass --data PATH (the folder holding TRAIN/, VALIDATION/ and"
                " OSLWL_TEST_SET_VIDEOS/), or use the embedded `synthetic-oslwl` dataset"
            )
        unknown = sorted(set(settings or {}) - set(cls.declared()))
        if unknown:
            raise DataError(f"dataset {cls.name}: unknown setting(s) {', '.join(unknown)} (it takes none)")
        return cls(Path(root).expanduser(), cache_dir, progress=progress)

    @classmethod
    def check(
        cls, root: Path | None, settings: Mapping[str, Any], cache_dir: Path | None, *, open_media: bool = True
    ) -> dict[str, Any]:
        """Every problem of the folder (:func:`scan`), reported by :func:`report`."""
        from benchmark.datasets.check import problem_report
        from benchmark.datasets.settings import declared_problems

        problems = declared_problems(cls, cls.with_defaults(settings))
        if root is None:
            problems.append(f"dataset {cls.name} needs a folder (the one holding TRAIN/, VALIDATION/...)")
        if problems:
            return problem_report(root, problems)
        return report(scan(Path(root).expanduser()), open_media)

    @property
    def scan_result(self) -> OSLWLScan:
        """What :func:`scan` read (for :func:`report`)."""
        return self._scan

    def _known(self, split: str) -> str:
        if split not in SPLITS:
            raise DataError(f"dataset {self.root}: unknown split {split!r}; splits are {', '.join(SPLITS)}")
        return split

    def splits(self) -> list[str]:
        return [s for s in SPLITS if s in self._scan.records]

    def videos(self, split: str) -> list[VideoRecord]:
        """train: the continuous training videos; validation, test: the target clips."""
        return list(self._scan.records.get(self._known(split), []))

    def query_names(self, split: str) -> list[str]:
        """The split's query glosses, line i = class i of its targets' ground truth ([] for train)."""
        return list(self._scan.split_classes.get(self._known(split), [])) if split in QUERY_SPLITS else []

    def queries(self, split: str) -> list[VideoRecord]:
        """One record per query in labels order (``video_id`` = the gloss, ``annotations`` None)."""
        return list(self._scan.queries.get(self._known(split), []))

    def classes_of(self, split: str) -> list[str]:
        """The class names the split's annotations index: train classes, or the split's query glosses."""
        return self.class_names if self._known(split) == "train" else self.query_names(split)

    def labelled(self, split: str) -> bool:
        return split in self._scan.gt_sources

    def missing_ground_truth(self, split: str) -> dict[str, str]:
        return dict(self._scan.missing_gt.get(split, {}))

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = fingerprint_oslwl(self._scan, self._hashes, self._progress)
        return self._fingerprint

    def __repr__(self) -> str:
        counts = [f"{s}={len(v)}" for s, v in self._scan.records.items()]
        counts += [f"{s}_queries={len(v)}" for s, v in self._scan.queries.items()]
        return f"{type(self).__name__}({str(self.root)!r}, classes={self.num_classes}, {', '.join(counts)})"
