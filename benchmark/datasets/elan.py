"""The ``elan`` dataset: a folder of media with ELAN annotation files (``.eaf``) beside them, as corpora are kept.

Layout: any folder tree holding media (``<video>.mp4``, any video OpenCV opens, and/or ``<video>.pose``) and
``<video>.eaf`` files with the same stem, at any depth (hidden files and folders are ignored).  A video id is
the media file's stem, so stems are unique across the tree: two media files (or two ``.eaf`` files) of one stem
in different folders are an error naming both; a ``.mp4`` and a ``.pose`` of one stem in one folder are one
video.  ELAN files are read with pympi-ling.

Settings (declared once, in :attr:`ElanCorpus.defaults`):

* ``tier``: the tier holding the glosses, a name or an ``fnmatch`` pattern (case-sensitive, e.g. ``Gloss*``).
  Every matching tier of a file is read.  A file with no matching tier is an error listing its tiers.
  Default null: each file must have exactly one tier.
* ``labels``: a text file, one query gloss a line, line i = class i.  Default null: the ``top_k`` most
  frequent glosses over every video of the dataset (all splits), ties broken by gloss name.  Annotation values
  not in the list are background (not query signs); empty values are ignored.  A listed gloss that never
  occurs is a warning.
* ``splits``: a CSV file with columns ``video,split`` (``train``, ``validation`` or ``test``; other columns
  ignored).  A video the CSV does not list is left out (a warning); a listed video that is not in the folder
  is an error.  Default null: a seeded split by file (``seed``, default 0): videos ordered by
  ``sha256("<seed>:<video>")``, the first ``round(15 %)`` are test, the next ``round(15 %)`` validation, the rest
  train, at least one each from 3 videos on.  Ordering by a per-video hash keeps a video's split when other
  videos are added, unless it sits at a boundary.
  Relative ``labels`` / ``splits`` paths are looked up in the dataset folder, then the working directory.
* ``overlap``: two query signs of one video overlapping in time (after rounding; touching is fine, as in
  :mod:`benchmark.datasets.records`): ``error`` (default: the project's ground truth never overlaps, so the
  annotator decides; the error names the file and both annotations), ``drop`` (keep the earlier, drop the
  later, starting later or ending later for equal starts, when it overlaps a sign already kept; a warning
  per file), ``keep`` (both).
* ``on_missing_annotation``: a media file without ``.eaf``: ``fail`` (default: an error naming it), ``skip``
  (a warning, the video is left out), ``empty`` (a video without signs, reported by
  :meth:`~benchmark.interfaces.Dataset.missing_ground_truth`, so ``--on-bad-annotation`` decides).

Times: ELAN's time slots are milliseconds.  Both ends are rounded down to the 40 ms grid,
``[c, 40 * (start // 40), 40 * (end // 40)]``: the project labels frames ``s // 40 .. e // 40`` (see
:mod:`benchmark.clips`), so rounding never changes a frame label, the ms values of the ChaLearn ground truth
(itself made in ELAN) are read the same way, and segments written back to ELAN as they are read back
unchanged.  Every split is labelled.  Media are not opened here (opening stays cheap); signs past the end of
their media are the core's check (``--on-bad-annotation``), and ``bench data check --dataset elan`` reports them.
"""

from __future__ import annotations

import csv
import fnmatch
import hashlib
import json
import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.datasets.chalearn import POSE_EXT, SPLITS, VIDEO_EXTS, ScanResult
from benchmark.datasets.hashes import ContentHashes, hashes_for
from benchmark.datasets.records import Findings
from benchmark.errors import DataError
from benchmark.interfaces import MS_PER_FRAME, Dataset, VideoRecord

EAF_EXT = ".eaf"
HELD_OUT_SHARE = 0.15  # of the videos, for each of validation and test (seeded split)
OVERLAP = ("error", "drop", "keep")
ON_MISSING = ("fail", "skip", "empty")


@dataclass(frozen=True)
class MediaFiles:
    """One video's files: its media (at least one of ``video`` and ``pose``) and its ELAN file, if any."""

    video_id: str
    video: Path | None = None
    pose: Path | None = None
    eaf: Path | None = None


@dataclass(frozen=True)
class Gloss:
    """One non-empty annotation of a matched tier, in ELAN's own milliseconds."""

    tier: str
    start_ms: int
    end_ms: int
    value: str

    def __str__(self) -> str:
        return f"{self.value!r} {self.start_ms}-{self.end_ms} ms (tier {self.tier!r})"


@dataclass
class ElanScan(ScanResult):
    """A :class:`~benchmark.datasets.chalearn.ScanResult` plus each video's ``.eaf`` and its sha256."""

    eaf_files: dict[str, Path] = field(default_factory=dict)  # video -> .eaf
    eaf_sha256: dict[str, str] = field(default_factory=dict)  # video -> sha256 of the .eaf bytes
    settings: dict[str, Any] = field(default_factory=dict)


def on_grid(start_ms: int, end_ms: int) -> tuple[int, int]:
    """ELAN milliseconds -> the 40 ms grid, both ends rounded down (the frames labelled do not change)."""
    return start_ms // MS_PER_FRAME * MS_PER_FRAME, end_ms // MS_PER_FRAME * MS_PER_FRAME


# -- files --------------------------------------------------------------------------------------------------------


def _walk(root: Path):
    """Every non-hidden file under ``root``, sorted, following folder links once (no loops)."""
    seen = set()
    for folder, dirs, files in os.walk(root, followlinks=True):
        st = os.stat(folder)
        if (st.st_dev, st.st_ino) in seen:
            dirs[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(folder) / name


def find_media(root: Path, findings: Findings) -> dict[str, MediaFiles]:
    """``{video_id: MediaFiles}`` for the media under ``root``, each with its ``.eaf`` when there is one.

    Duplicate stems are problems naming both files; an ``.eaf`` without media is a warning.
    """
    media: dict[str, dict[str, Path]] = {}
    eafs: dict[str, Path] = {}
    for path in _walk(root):
        ext = path.suffix.lower()
        kind = "pose" if ext == POSE_EXT else "video" if ext in VIDEO_EXTS else "eaf" if ext == EAF_EXT else None
        if kind is None:
            continue
        stem = path.stem
        if kind == "eaf":
            if stem in eafs:
                findings.problems.append(
                    f"{path}: video {stem!r}: a second annotation file (first: {eafs[stem]}); video ids are file "
                    "stems, so they must be unique across the folder"
                )
            else:
                eafs[stem] = path
            continue
        entry = media.setdefault(stem, {})
        other = entry.get(kind) or next(iter(entry.values()), None)
        if other is not None and (kind in entry or other.parent != path.parent):
            where = "in the same folder" if other.parent == path.parent else "in another folder"
            findings.problems.append(
                f"{path}: video {stem!r}: a second media file {where} ({other}); video ids are file stems, so a "
                "stem names one video (a .mp4 and a .pose beside each other are one video)"
            )
            continue
        if path.stat().st_size == 0:
            findings.problems.append(f"{path}: video {stem!r}: empty file")
        entry[kind] = path
    for stem in sorted(set(eafs) - set(media)):
        findings.warnings.append(f"{eafs[stem]}: no media file {stem}.mp4 or {stem}.pose; ignored")
    return {
        stem: MediaFiles(stem, files.get("video"), files.get("pose"), eafs.get(stem))
        for stem, files in sorted(media.items())
    }


def _tier_list(names: list[str]) -> str:
    return ", ".join(repr(n) for n in names) if names else "(none)"


def read_glosses(path: Path, tier: str | None, findings: Findings) -> list[Gloss] | None:
    """The non-empty annotations of the tiers of ``path`` that ``tier`` matches (None: the file's only tier).

    :return: None when the file cannot be used (the reason is in ``findings``)
    """
    import warnings

    from pympi.Elan import Eaf

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pympi warns about ELAN format versions it does not know
            eaf = Eaf(str(path))
    except Exception as e:  # any parser failure (bad XML, a missing attribute) means a malformed file
        findings.problems.append(
            f"{path}: cannot be read as an ELAN file ({type(e).__name__}: {e}); check that ELAN opens it"
        )
        return None
    names = list(eaf.tiers)
    if not names:
        findings.problems.append(f"{path}: no tiers (an empty ELAN file?)")
        return None
    if tier is None:
        if len(names) != 1:
            findings.problems.append(
                f"{path}: {len(names)} tiers ({_tier_list(names)}); set the dataset setting tier to the gloss tier's"
                " name or a glob pattern (e.g. tier: 'Gloss*')"
            )
            return None
        matched = names
    else:
        matched = [n for n in names if fnmatch.fnmatchcase(n, tier)]
        if not matched:
            findings.problems.append(f"{path}: no tier matches tier {tier!r}; tiers found: {_tier_list(names)}")
            return None
    for media in eaf.media_descriptors:
        if int(media.get("TIME_ORIGIN") or 0):
            findings.warnings.append(
                f"{path}: media {media.get('MEDIA_URL')} has a time origin of {media['TIME_ORIGIN']} ms in ELAN;"
                " annotation times are read as media times from 0 (the offset is not applied)"
            )
    out: list[Gloss] = []
    for name in matched:
        try:
            rows = eaf.get_annotation_data_for_tier(name)  # (start, end, value[, parent value])
        except Exception as e:  # a reference annotation pointing nowhere, a missing time slot
            findings.problems.append(f"{path}: tier {name!r} cannot be read ({type(e).__name__}: {e})")
            return None
        for row in rows:
            start, end, value = row[0], row[1], str(row[2] or "").strip()
            if not value:
                continue
            if start is None or end is None:
                findings.problems.append(
                    f"{path}: tier {name!r}: annotation {value!r} is not time-aligned (no time value); align it in ELAN"
                )
                continue
            if end < start:
                findings.problems.append(f"{path}: tier {name!r}: annotation {value!r} ends ({end}) before it starts")
                continue
            out.append(Gloss(name, int(start), int(end), value))
    return out


def _setting_file(root: Path, value: str, what: str, findings: Findings) -> Path | None:
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
    """The default split by file (see the module docstring)."""
    order = sorted(videos, key=lambda v: (hashlib.sha256(f"{seed}:{v}".encode()).hexdigest(), v))
    n = len(order)
    held = int(n * HELD_OUT_SHARE + 0.5)
    n_test = max(held, 1) if n >= 2 else 0
    n_val = max(held, 1) if n >= 3 else 0
    names = ["test"] * n_test + ["validation"] * n_val + ["train"] * (n - n_test - n_val)
    return dict(zip(order, names))


def top_glosses(glosses: Mapping[str, list[Gloss]], top_k: int) -> list[str]:
    """The ``top_k`` most frequent annotation values, ties broken by name."""
    counts = Counter(g.value for gs in glosses.values() for g in gs)
    return [name for name, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top_k]]


def resolve_overlaps(
    anns: list[tuple[int, int, int, Gloss]], policy: str, where: str, findings: Findings
) -> tuple[tuple[int, int, int], ...]:
    """One video's ``(class, start, end, gloss)`` on the grid -> sorted annotations, overlaps per ``policy``."""
    anns = sorted(anns, key=lambda a: (a[1], a[2], a[0], a[3].tier))
    kept: list[tuple[int, int, int, Gloss]] = []
    prev = None  # the kept sign reaching furthest
    dropped = 0
    for a in anns:
        if prev is not None and a[1] < prev[2] and policy != "keep":
            if policy == "error":
                findings.problems.append(
                    f"{where}: annotations {prev[3]} and {a[3]} overlap (as {list(prev[:3])} and {list(a[:3])});"
                    " fix them, or set the dataset setting overlap to drop (keep the earlier) or keep (both)"
                )
            dropped += 1
            if policy == "drop":
                continue  # (error: compared on as if kept, so every overlapping pair is named)
        kept.append(a)
        if prev is None or a[2] > prev[2]:
            prev = a
    if dropped and policy == "drop":
        findings.warnings.append(f"{where}: {dropped} overlapping annotation(s) dropped (overlap: drop)")
    return tuple((c, s, e) for c, s, e, _ in kept)


# -- settings -------------------------------------------------------------------------------------------------


def setting_problems(settings: Mapping[str, Any], declared: Mapping[str, Any]) -> list[str]:
    """What is wrong with the settings, checked here too because :meth:`ElanCorpus.open` may be called directly."""
    problems = [
        f"dataset elan: unknown setting {k!r}; known: {', '.join(declared)}" for k in settings if k not in declared
    ]
    for key in ("tier", "labels", "splits"):
        value = settings.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            problems.append(f"dataset elan: setting {key} must be a non-empty string or null, got {value!r}")
    for key, least in (("top_k", 1), ("seed", 0)):
        value = settings.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            problems.append(f"dataset elan: setting {key} must be an integer >= {least}, got {value!r}")
    for key, allowed in (("overlap", OVERLAP), ("on_missing_annotation", ON_MISSING)):
        if settings.get(key) not in allowed:
            problems.append(
                f"dataset elan: setting {key} must be one of {', '.join(allowed)}, got {settings.get(key)!r}"
            )
    return problems


# -- the scan -------------------------------------------------------------------------------------------------


def scan(root: Path, settings: Mapping[str, Any] | None = None) -> ElanScan:
    """Read the folder, its ELAN files and the settings' files, validating everything; never raises for bad
    content (problems and warnings are in ``findings``)."""
    root = Path(root)
    s = ElanCorpus.with_defaults(settings)
    findings = Findings()
    result = ElanScan(root, [], findings=findings, settings=s)
    findings.problems += setting_problems(s, ElanCorpus.defaults)
    if findings.problems:
        return result
    if not root.is_dir():
        findings.problems.append(f"{root}: dataset folder not found")
        return result
    media = find_media(root, findings)
    if not media:
        findings.problems.append(
            f"{root}: no media found; expected <video>.mp4 and/or <video>.pose files with <video>.eaf beside them"
        )
        return result
    glosses: dict[str, list[Gloss]] = {}
    missing: dict[str, str] = {}
    policy = s["on_missing_annotation"]
    for video, files in media.items():
        shown = files.video or files.pose
        if files.eaf is None:
            expected = str(shown.with_suffix(EAF_EXT))
            if policy == "fail":
                findings.problems.append(
                    f"{shown}: video {video!r}: no annotation file {video}{EAF_EXT} (looked everywhere under {root});"
                    " add one, or set the dataset setting on_missing_annotation to skip (leave the video out) or"
                    " empty (a video without signs)"
                )
            elif policy == "skip":
                findings.warnings.append(f"{shown}: video {video!r}: no {video}{EAF_EXT}; left out")
            else:
                missing[video] = expected
                glosses[video] = []
            continue
        try:
            result.eaf_sha256[video] = hashlib.sha256(files.eaf.read_bytes()).hexdigest()
        except OSError as e:
            findings.problems.append(f"{files.eaf}: cannot read ({type(e).__name__}: {e})")
            continue
        read = read_glosses(files.eaf, s["tier"], findings)
        if read is not None:
            glosses[video] = read
            result.eaf_files[video] = files.eaf

    if s["splits"] is None:
        split_of = seeded_splits(sorted(glosses), s["seed"])
    else:
        path = _setting_file(root, s["splits"], "splits", findings)
        split_of = {} if path is None else read_splits(path, set(media), findings)
        for video in sorted(set(glosses) - set(split_of)):
            if path is not None:
                findings.warnings.append(f"{path}: video {video!r} has no split; left out")
        split_of = {v: sp for v, sp in split_of.items() if v in glosses}
    used = {v: glosses[v] for v in sorted(split_of)}

    if s["labels"] is None:
        names = top_glosses(used, s["top_k"])
        if not names and used:
            findings.problems.append(f"{root}: no annotations with a value in the matched tiers of any .eaf file")
        elif len(names) < s["top_k"] and used:
            findings.warnings.append(
                f"{root}: only {len(names)} distinct glosses (top_k {s['top_k']}): {len(names)} classes"
            )
    else:
        path = _setting_file(root, s["labels"], "labels", findings)
        names = [] if path is None else read_labels(path, findings)
        seen = {g.value for gs in used.values() for g in gs}
        for name in names:
            if name and name not in seen:
                findings.warnings.append(f"{path}: gloss {name!r} never occurs in the matched tiers")
    result.class_names = names

    index = {name: i for i, name in enumerate(names)}
    for video, gs in used.items():
        files = media[video]
        where = f"{files.eaf or files.video or files.pose}: video {video!r}"
        anns = [(index[g.value], *on_grid(g.start_ms, g.end_ms), g) for g in gs if g.value in index]
        record = VideoRecord(
            video, split_of[video], files.video, files.pose, resolve_overlaps(anns, s["overlap"], where, findings)
        )
        result.records.setdefault(split_of[video], []).append(record)
        if video in missing:
            result.missing_gt.setdefault(split_of[video], {})[video] = missing[video]
    for split in result.records:
        result.gt_sources[split] = "the .eaf files" + ("" if s["tier"] is None else f" (tier {s['tier']!r})")
    result.records = {sp: result.records[sp] for sp in SPLITS if sp in result.records}
    if not result.records and not findings.problems:
        findings.problems.append(f"{root}: no video is in any split")
    return result


# -- fingerprint ----------------------------------------------------------------------------------------------


def fingerprint_of(result: ElanScan, hashes: ContentHashes, progress: bool = False) -> str:
    """sha256 over every used file (relative name, size, sha256 of the content: media and ``.eaf``), the settings
    that shape the labels, the class names, each video's split and its annotations."""
    from tqdm import tqdm

    h = hashlib.sha256()
    s = result.settings
    h.update(
        json.dumps([result.class_names, {k: s.get(k) for k in ("tier", "overlap", "on_missing_annotation")}]).encode()
    )
    records = [r for split in SPLITS for r in result.records.get(split, [])]
    for r in tqdm(records, desc="hash dataset", unit="video", leave=False, disable=not progress or len(records) < 20):
        for p in (r.video_path, r.pose_path):
            if p is not None:
                h.update(f"{p.relative_to(result.root).as_posix()}|{p.stat().st_size}|{hashes.of(p)}\n".encode())
        eaf = result.eaf_files.get(r.video_id)
        if eaf is not None:
            h.update(f"{eaf.relative_to(result.root).as_posix()}|{result.eaf_sha256[r.video_id]}\n".encode())
        h.update(json.dumps([r.split, r.video_id, [list(a) for a in r.annotations or ()]]).encode())
    hashes.save()
    return h.hexdigest()[:16]


# -- the dataset ----------------------------------------------------------------------------------------------


class ElanCorpus(Dataset):
    """A folder of media with ELAN ``.eaf`` files (see the module docstring); raises DataError on bad content."""

    name = "elan"
    description = "folder of media (.mp4 and/or .pose) with ELAN .eaf files beside them (gloss tier, label list)"
    defaults = {
        "tier": None,  # gloss tier: a name or fnmatch pattern; null: each file's only tier
        "labels": None,  # text file, line i = class i; null: the top_k most frequent glosses
        "top_k": 60,
        "splits": None,  # CSV video,split; null: seeded split by file, 70/15/15
        "seed": 0,
        "overlap": "error",  # error | drop (the later) | keep
        "on_missing_annotation": "fail",  # a media file without .eaf: fail | skip | empty
    }
    rules = {"top_k": ">=1", "seed": ">=0", "overlap": OVERLAP, "on_missing_annotation": ON_MISSING}

    def __init__(self, root: Path, settings: Mapping[str, Any] | None = None, cache_dir: Path | None = None):
        self.root = Path(root)
        result = scan(self.root, settings)
        result.findings.raise_problems(self.root, f"bench data check {self.root} --dataset elan")
        self._scan = result
        self.class_names = result.class_names
        self.warnings = result.findings.warnings
        self._hashes = hashes_for("elan", self.root, cache_dir)
        self._fingerprint: str | None = None
        self._progress = False

    @classmethod
    def open(cls, root: Path | None, settings: Mapping[str, Any], cache_dir: Path, *, progress: bool = True):
        if root is None:
            raise DataError("dataset elan needs a folder: pass --data PATH (media files with .eaf files beside them)")
        ds = cls(Path(root).expanduser(), settings, cache_dir)
        ds._progress = progress
        return ds

    def splits(self) -> list[str]:
        return list(self._scan.records)

    def videos(self, split: str) -> list[VideoRecord]:
        if split not in SPLITS:
            raise DataError(f"dataset {self.root}: unknown split {split!r}; splits are {', '.join(SPLITS)}")
        return list(self._scan.records.get(split, []))

    def missing_ground_truth(self, split: str) -> dict[str, str]:
        return dict(self._scan.missing_gt.get(split, {}))

    def annotation_file(self, video_id: str) -> Path | None:
        """The ``.eaf`` a video's annotations came from (None for ``on_missing_annotation: empty``)."""
        return self._scan.eaf_files.get(video_id)

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = fingerprint_of(self._scan, self._hashes, self._progress)
        return self._fingerprint

    def __repr__(self) -> str:
        counts = ", ".join(f"{s}={len(v)}" for s, v in self._scan.records.items())
        return f"{type(self).__name__}({str(self.root)!r}, classes={self.num_classes}, {counts})"
