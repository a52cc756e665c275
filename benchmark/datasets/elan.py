"""The ``elan`` dataset: a folder of media with ELAN annotation files (``.eaf``), as corpora are kept.

Layout: any folder tree holding media (``<video>.mp4``, any video OpenCV opens, and/or ``<video>.pose``) and
``.eaf`` files, at any depth (hidden files and folders are ignored).  A video id is the media file's stem, so
stems are unique across the tree: two media files of one stem in different folders are an error naming both; a
``.mp4`` and a ``.pose`` of one stem in one folder are one video.  ELAN files are read with pympi-ling.

Which ``.eaf`` annotates which media, as ELAN finds media (:func:`linked_media`): an ``.eaf`` of the media's
stem anywhere in the tree first; else the media the ``.eaf`` header links, per media descriptor in header
order, its ``RELATIVE_MEDIA_URL`` resolved against the ``.eaf``'s folder, then the file name of its
``MEDIA_URL`` beside the ``.eaf`` (the absolute ``MEDIA_URL`` itself is the annotator's machine's, so it is not
followed).  Only media inside the dataset folder count, and the video keeps the media's stem as its id:
``session1.eaf`` linking ``./session1_cam2.mp4`` annotates video ``session1_cam2``.  An ``.eaf`` linking
several media annotates the first found (a warning names the others); two ``.eaf`` files claiming one video by
the same rule are an error naming both (an ``.eaf`` of the media's own stem wins over one that only links it,
with a warning).  Only the header is parsed to follow links, and only for an ``.eaf`` whose stem names no
media.  :func:`eaf_for_media` is the reverse lookup in a media file's folder (for writing spotted signs back).

Settings (declared once, in :attr:`ElanCorpus.defaults`):

* ``tier``: the tier holding the glosses, a name or an ``fnmatch`` pattern (case-sensitive, e.g. ``Gloss*``).
  Every matching tier of a file is read.  A file with no matching tier is an error listing its tiers (and
  naming a tier that differs only by case).  Default null: each file must have exactly one tier.
* ``labels``: a text file, one query gloss a line, line i = class i.  Default null: the ``top_k`` most
  frequent glosses over every video of the dataset (all splits), ties broken by gloss name, counted after
  ``variants`` and ``exclude`` (below).  Annotation values that are not classes are background (not query
  signs); empty values are ignored.  A listed gloss that never occurs is a warning; a listed variant
  (``*X``) or excluded value is an error (line i must be class i, and such a value can never be one).
* ``variants`` and ``variant_marker`` (default ``*``): a value starting with the marker is a *variant* of the
  gloss after it (``*COMER`` is a variant of ``COMER``; the marker is removed once, with the spaces after it,
  and nothing else: ``*AFECTAR(s)`` is a variant of ``AFECTAR(s)``, not of ``AFECTAR``, since a decoration
  after a gloss is the annotator's and may mark a different sign, e.g. a plural; ``bench data check`` lists
  variants whose gloss is not a class, so such a convention shows).  A variant never is a class of its own:

  - ``merge`` (default): ``*X`` counts as class ``X`` (in ``top_k``'s counting too).  A variant is the same
    sign performed differently; as background it would teach the model that its own class is a negative;
  - ``ignore``: the span of ``*X`` with ``X`` a class is neither a sign nor background
    (:attr:`~benchmark.interfaces.VideoRecord.ignored`: left out of training targets and of scoring);
    a variant of a gloss that is not a class is background; variants are not counted by ``top_k``;
  - ``background``: variants are background and are not counted by ``top_k``.

  ``variant_marker: ''`` turns variants off (values are taken as written).
* ``exclude``: a regular expression (Python ``re.search``) tested on each value, and on the gloss a variant
  stands for; a value it matches never becomes a class (it is background, and ``top_k`` does not count it).
  Default :data:`NO_LETTER`, values without a letter (``:``, ``...``, ``12.``, ``?``), which corpora use as
  markers (pauses, boundaries); ``A`` or ``DT:A`` are kept.  ``exclude: ''`` excludes nothing.
  Fingerspelling (values starting with a prefix of :data:`FINGERSPELLING_PREFIXES`, ``DT:ANA``) is not
  excluded by default; ``bench data check`` reports it (``exclude: '^DT:'`` leaves it out).
* ``splits``: a CSV file with columns ``video,split`` (``train``, ``validation`` or ``test``; other columns
  ignored).  A video the CSV does not list is left out (a warning); a listed video that is not in the folder
  is an error.  Default null: a seeded split by file (``seed``, default 0): videos ordered by
  ``sha256("<seed>:<video>")``, the first ``round(15 %)`` are test, the next ``round(15 %)`` validation, the rest
  train, at least one each from 3 videos on.  Ordering by a per-video hash keeps a video's split when other
  videos are added, unless it sits at a boundary.
  Relative ``labels`` / ``splits`` paths are looked up in the dataset folder, then the working directory.
* ``overlap``: two query signs of one video overlapping in time (touching is fine, as in
  :mod:`benchmark.datasets.records`): ``error`` (default: the project's ground truth never overlaps, so the
  annotator decides; the error names the file and both annotations), ``drop`` (keep the earlier, drop the
  later, starting later or ending later for equal starts, when it overlaps a sign already kept; a warning
  per file), ``keep`` (both).
* ``on_missing_annotation``: a media file without ``.eaf``: ``fail`` (default: an error naming it), ``skip``
  (a warning, the video is left out), ``empty`` (a video without signs, reported by
  :meth:`~benchmark.interfaces.Dataset.missing_ground_truth`, so ``--on-bad-annotation`` decides).

Times: ELAN's time slots are milliseconds of the media's time line, read unchanged (the overlap check too).
The frame grid is the pipeline's business (:mod:`benchmark.engine.clips`: at ``preprocess.fps`` a sign ``[s, e]``
labels frames ``floor(s fps / 1000) .. floor(e fps / 1000)``).  Every split is labelled.  Media are not
opened here (opening stays cheap); signs past the end of their media are the core's check
(``--on-bad-annotation``), and ``bench data check --dataset elan`` reports them.  ``bench data check --no-open``
also reads a folder of ``.eaf`` files whose media are not there yet (:func:`scan` with ``require_media=False``).
"""

from __future__ import annotations

import csv
import fnmatch
import hashlib
import json
import os
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.datasets.chalearn import POSE_EXT, SPLITS, VIDEO_EXTS, ScanResult
from benchmark.datasets.hashes import ContentHashes, hashes_for
from benchmark.datasets.records import Findings
from benchmark.errors import DataError
from benchmark.interfaces import Dataset, VideoRecord

EAF_EXT = ".eaf"
HELD_OUT_SHARE = 0.15  # of the videos, for each of validation and test (seeded split)
OVERLAP = ("error", "drop", "keep")
ON_MISSING = ("fail", "skip", "empty")
VARIANTS = ("merge", "ignore", "background")
NO_LETTER = r"^[\W\d_]*$"  # every character a non-letter (a letter is a word character that is no digit nor _)
# Prefixes of fingerspelled values (``DT:`` "dactilología", LSE corpora); reported by ``bench data check``.
FINGERSPELLING_PREFIXES = ("DT:",)


@dataclass(frozen=True)
class MediaFiles:
    """One video's files: its media (``video`` and/or ``pose``; neither only for an ``.eaf`` whose media are
    not there yet, with ``require_media=False``) and its ELAN file, if any."""

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


@dataclass(frozen=True)
class Conventions:
    """How annotation values become classes: ``variants``, ``variant_marker`` and ``exclude``."""

    variants: str = "merge"
    marker: str = "*"
    exclude: re.Pattern | None = re.compile(NO_LETTER)

    @classmethod
    def of(cls, settings: Mapping[str, Any]) -> Conventions:
        """The conventions of (already validated) settings."""
        pattern = settings.get("exclude")
        return cls(settings["variants"], settings.get("variant_marker") or "", re.compile(pattern) if pattern else None)

    def split(self, value: str) -> tuple[str, bool]:
        """``(gloss, is_variant)``: the gloss a value stands for (the marker removed once) and whether it is a
        variant."""
        if self.marker and value.startswith(self.marker):
            return value[len(self.marker) :].strip(), True
        return value, False

    def excluded(self, value: str) -> bool:
        """Whether ``exclude`` matches the value or the gloss it stands for (never a class)."""
        gloss, _ = self.split(value)
        return self.exclude is not None and bool(self.exclude.search(value) or self.exclude.search(gloss))

    def candidate(self, value: str) -> str | None:
        """The class a value counts for when the classes are chosen (``top_k``), or None."""
        gloss, variant = self.split(value)
        if not gloss or self.excluded(value) or (variant and self.variants != "merge"):
            return None
        return gloss

    def label(self, value: str, index: Mapping[str, int]) -> tuple[int | None, bool]:
        """``(class, ignored)`` of a value given the classes: a class index, an ignored span, or neither."""
        gloss, variant = self.split(value)
        if self.excluded(value) or gloss not in index:
            return None, False
        if not variant:
            return index[gloss], False
        if self.variants == "merge":
            return index[gloss], False
        return None, self.variants == "ignore"


@dataclass
class ElanScan(ScanResult):
    """A :class:`~benchmark.datasets.chalearn.ScanResult` plus each video's ``.eaf``, its sha256 and glosses."""

    eaf_files: dict[str, Path] = field(default_factory=dict)  # video -> .eaf
    eaf_sha256: dict[str, str] = field(default_factory=dict)  # video -> sha256 of the .eaf bytes
    settings: dict[str, Any] = field(default_factory=dict)
    glosses: dict[str, list[Gloss]] = field(default_factory=dict)  # video -> its glosses (videos in a split)
    eaf_count: int = 0  # .eaf files found under the folder


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


def media_descriptors(eaf_path: Path) -> list[dict[str, str]]:
    """The ``MEDIA_DESCRIPTOR`` attributes of an ``.eaf`` header, parsing nothing past the header (cheap on
    long files); ``[]`` for a file that cannot be parsed (reading it in full reports why)."""
    import xml.etree.ElementTree as ET

    out = []
    try:
        for event, elem in ET.iterparse(str(eaf_path), events=("start", "end")):
            if event == "start" and elem.tag == "MEDIA_DESCRIPTOR":
                out.append(dict(elem.attrib))
            elif event == "end" and elem.tag == "HEADER":
                break
    except (ET.ParseError, OSError):
        pass
    return out


def url_path(url: str) -> str:
    """A media URL as a path text: percent-escapes decoded, ``file:`` scheme dropped, ``\\`` read as ``/``."""
    from urllib.parse import unquote

    text = unquote(url.strip()).replace("\\", "/")
    return re.sub(r"^file:(//)?", "", text)


def linked_media(eaf_path: Path) -> list[Path]:
    """The existing files an ``.eaf`` header links, in header order, found as ELAN finds them: each media
    descriptor's ``RELATIVE_MEDIA_URL`` against the ``.eaf``'s folder, else its ``MEDIA_URL``'s file name
    beside the ``.eaf``.  Any kind of file (audio too); duplicates once."""
    eaf_path = Path(eaf_path)
    out: list[Path] = []
    for desc in media_descriptors(eaf_path):
        candidates = []
        if desc.get("RELATIVE_MEDIA_URL"):
            candidates.append(eaf_path.parent / url_path(desc["RELATIVE_MEDIA_URL"]))
        name = url_path(desc.get("MEDIA_URL") or "").rstrip("/").rsplit("/", 1)[-1]
        if name:
            candidates.append(eaf_path.parent / name)
        found = next((c for c in candidates if c.is_file()), None)
        if found is not None and found not in out:
            out.append(found)
    return out


def eaf_for_media(media: Path) -> Path | None:
    """The ``.eaf`` in a media file's folder that annotates it: ``<stem>.eaf``, else the first (by name) whose
    header links it (:func:`linked_media`); None when none does.  Reads headers only."""
    media = Path(media)
    same = media.with_suffix(EAF_EXT)
    if same.is_file():
        return same
    target = media.resolve()
    for eaf in sorted(media.parent.glob(f"*{EAF_EXT}")):
        if not eaf.name.startswith(".") and any(p.resolve() == target for p in linked_media(eaf)):
            return eaf
    return None


def _linked_name(eaf_path: Path) -> str | None:
    """The stem of the first video or ``.pose`` file an ``.eaf`` header names, found or not (the id the video
    will have once its media are there)."""
    for desc in media_descriptors(eaf_path):
        for url in (desc.get("RELATIVE_MEDIA_URL"), desc.get("MEDIA_URL")):
            name = url_path(url or "").rstrip("/").rsplit("/", 1)[-1]
            if Path(name).suffix.lower() in (*VIDEO_EXTS, POSE_EXT):
                return Path(name).stem
    return None


def _media_kind(path: Path) -> str | None:
    ext = path.suffix.lower()
    return "pose" if ext == POSE_EXT else "video" if ext in VIDEO_EXTS else "eaf" if ext == EAF_EXT else None


def _collect(root: Path, findings: Findings) -> tuple[dict[str, dict[str, Path]], list[Path]]:
    """``({stem: {"video"|"pose": path}}, [.eaf files])`` under ``root``; duplicate media stems are problems."""
    media: dict[str, dict[str, Path]] = {}
    eafs: list[Path] = []
    for path in _walk(root):
        kind = _media_kind(path)
        if kind == "eaf":
            eafs.append(path)
        if kind not in ("video", "pose"):
            continue
        stem = path.stem
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
    return media, eafs


def _linked_video(eaf: Path, by_path: Mapping[Path, str], findings: Findings) -> str | None:
    """The video an ``.eaf`` links (the first of its linked media inside the dataset), or None."""
    videos = list(dict.fromkeys(by_path[p.resolve()] for p in linked_media(eaf) if p.resolve() in by_path))
    if len(videos) > 1:
        findings.warnings.append(
            f"{eaf}: links the media of {len(videos)} videos ({', '.join(map(repr, videos))}); its annotations"
            f" go to the first, {videos[0]!r}"
        )
    return videos[0] if videos else None


def _claim(claims: dict[str, Path], video: str, eaf: Path, how: str, findings: Findings) -> None:
    """``eaf`` annotates ``video`` unless another ``.eaf`` claimed it by the same rule (a problem)."""
    if video in claims:
        findings.problems.append(f"{eaf}: video {video!r}: a second annotation file (first: {claims[video]}); {how}")
    else:
        claims[video] = eaf


def find_media(root: Path, findings: Findings, require_media: bool = True) -> tuple[dict[str, MediaFiles], int]:
    """``({video_id: MediaFiles}, number of .eaf files)`` for the media under ``root``, each with its ``.eaf``
    when there is one (see the module docstring for how they are paired).

    Duplicate stems are problems naming both files; an ``.eaf`` without media is a warning, or, without
    ``require_media``, a video without media named after the media it links (else after the ``.eaf``).
    """
    media, eafs = _collect(root, findings)
    by_stem: dict[str, Path] = {}
    linked: dict[str, Path] = {}
    pending = []
    for eaf in eafs:
        if eaf.stem in media:
            _claim(
                by_stem, eaf.stem, eaf, "video ids are file stems, so they must be unique across the folder", findings
            )
        else:
            pending.append(eaf)
    by_path = {p.resolve(): stem for stem, files in media.items() for p in files.values()}
    orphans = []
    for eaf in pending:
        video = _linked_video(eaf, by_path, findings)
        if video is None:
            orphans.append(eaf)
        elif video in by_stem:
            findings.warnings.append(
                f"{eaf}: links the media of video {video!r}, which has its own {by_stem[video].name}; ignored"
            )
        else:
            _claim(linked, video, eaf, "both link its media, and a video has one .eaf", findings)
    claims = {**linked, **by_stem}
    out = {
        stem: MediaFiles(stem, files.get("video"), files.get("pose"), claims.get(stem)) for stem, files in media.items()
    }
    for eaf in orphans:
        named = _linked_name(eaf)
        if require_media:
            also = f" nor the media its header links ({named})" if named else ""
            findings.warnings.append(f"{eaf}: no media file {eaf.stem}.mp4 or {eaf.stem}.pose{also}; ignored")
            continue
        video = named if named and named not in out else eaf.stem
        if video in out:
            findings.problems.append(f"{eaf}: video {video!r}: a second annotation file (first: {out[video].eaf})")
            continue
        findings.warnings.append(f"{eaf}: no media yet; its annotations are counted (--no-open)")
        out[video] = MediaFiles(video, eaf=eaf)
    return dict(sorted(out.items())), len(eafs)


def _tier_list(names: list[str]) -> str:
    return ", ".join(repr(n) for n in names) if names else "(none)"


def _case_only(names: list[str], matched: list[str], tier: str) -> list[str]:
    """Tiers ``tier`` would match but for case (``Var`` for ``VAR``), not already matched."""
    return [n for n in names if n not in matched and fnmatch.fnmatchcase(n.casefold(), tier.casefold())]


def _matched_tiers(path: Path, names: list[str], tier: str | None, findings: Findings) -> list[str] | None:
    """The tiers of a file that ``tier`` matches (None: the file cannot be used, the reason in ``findings``)."""
    if tier is None:
        if len(names) != 1:
            findings.problems.append(
                f"{path}: {len(names)} tiers ({_tier_list(names)}); set the dataset setting tier to the gloss tier's"
                " name or a glob pattern (e.g. tier: 'Gloss*')"
            )
            return None
        return names
    matched = [n for n in names if fnmatch.fnmatchcase(n, tier)]
    case = _case_only(names, matched, tier)
    if not matched:
        hint = f" ({_tier_list(case)} differs only by case: tier names are case-sensitive)" if case else ""
        findings.problems.append(f"{path}: no tier matches tier {tier!r}{hint}; tiers found: {_tier_list(names)}")
        return None
    if case:
        findings.warnings.append(
            f"{path}: tier(s) {_tier_list(case)} differ from tier {tier!r} only by case; not read (names are"
            " case-sensitive)"
        )
    return matched


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
    matched = _matched_tiers(path, names, tier, findings)
    if matched is None:
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


def gloss_counts(glosses: Mapping[str, list[Gloss]], conv: Conventions = Conventions()) -> Counter:
    """How often each gloss occurs as a class would (``*X`` counts for ``X`` under ``variants: merge``;
    excluded values and, otherwise, variants do not count)."""
    return Counter(c for gs in glosses.values() for g in gs if (c := conv.candidate(g.value)) is not None)


def top_glosses(glosses: Mapping[str, list[Gloss]], top_k: int, conv: Conventions = Conventions()) -> list[str]:
    """The ``top_k`` most frequent glosses (counted by :func:`gloss_counts`), ties broken by name."""
    counts = gloss_counts(glosses, conv)
    return [name for name, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top_k]]


def resolve_overlaps(
    anns: list[tuple[int, int, int, Gloss]], policy: str, where: str, findings: Findings
) -> tuple[tuple[int, int, int], ...]:
    """One video's ``(class, start, end, gloss)`` (ELAN ms) -> sorted annotations, overlaps per ``policy``."""
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


def label_video(
    glosses: list[Gloss], index: Mapping[str, int], conv: Conventions, overlap: str, where: str, findings: Findings
) -> tuple[tuple[tuple[int, int, int], ...], tuple[tuple[int, int], ...]]:
    """One video's glosses -> ``(annotations, ignored spans)`` under the classes ``index`` and the conventions."""
    anns, ignored = [], set()
    for g in glosses:
        cls, ignore = conv.label(g.value, index)
        if cls is not None:
            anns.append((cls, g.start_ms, g.end_ms, g))
        elif ignore:
            ignored.add((g.start_ms, g.end_ms))
    return resolve_overlaps(anns, overlap, where, findings), tuple(sorted(ignored))


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
    for key, allowed in (("overlap", OVERLAP), ("on_missing_annotation", ON_MISSING), ("variants", VARIANTS)):
        if settings.get(key) not in allowed:
            problems.append(
                f"dataset elan: setting {key} must be one of {', '.join(allowed)}, got {settings.get(key)!r}"
            )
    for key in ("variant_marker", "exclude"):
        if not isinstance(settings.get(key), str):
            problems.append(f"dataset elan: setting {key} must be a string ('' for none), got {settings.get(key)!r}")
    try:
        re.compile(settings.get("exclude") or "")
    except (re.error, TypeError) as e:
        problems.append(f"dataset elan: setting exclude {settings.get('exclude')!r} is not a regular expression ({e})")
    return problems


# -- the scan -------------------------------------------------------------------------------------------------


def _read_eafs(
    root: Path, media: Mapping[str, MediaFiles], s: Mapping[str, Any], result: ElanScan
) -> tuple[dict[str, list[Gloss]], dict[str, str]]:
    """``({video: glosses}, {video: expected .eaf})``: each video's glosses, and the videos taken as having none
    (``on_missing_annotation: empty``)."""
    findings = result.findings
    glosses: dict[str, list[Gloss]] = {}
    missing: dict[str, str] = {}
    policy = s["on_missing_annotation"]
    for video, files in media.items():
        shown = files.video or files.pose
        if files.eaf is None:
            if policy == "fail":
                findings.problems.append(
                    f"{shown}: video {video!r}: no annotation file {video}{EAF_EXT} (looked everywhere under {root},"
                    " and at the media the .eaf files link); add one, or set the dataset setting"
                    " on_missing_annotation to skip (leave the video out) or empty (a video without signs)"
                )
            elif policy == "skip":
                findings.warnings.append(f"{shown}: video {video!r}: no {video}{EAF_EXT}; left out")
            else:
                missing[video] = str(shown.with_suffix(EAF_EXT))
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
    return glosses, missing


def _choose_splits(
    root: Path, media: Mapping[str, MediaFiles], glosses: Mapping[str, list[Gloss]], s: Mapping[str, Any], f: Findings
) -> dict[str, str]:
    """``{video: split}`` of the videos with glosses (the ``splits`` file, or the seeded split)."""
    if s["splits"] is None:
        return seeded_splits(sorted(glosses), s["seed"])
    path = _setting_file(root, s["splits"], "splits", f)
    split_of = {} if path is None else read_splits(path, set(media), f)
    for video in sorted(set(glosses) - set(split_of)):
        if path is not None:
            f.warnings.append(f"{path}: video {video!r} has no split; left out")
    return {v: sp for v, sp in split_of.items() if v in glosses}


def _choose_classes(root: Path, used: Mapping[str, list[Gloss]], s: Mapping[str, Any], f: Findings) -> list[str]:
    """The class names: the ``labels`` file, or the ``top_k`` most frequent glosses."""
    conv = Conventions.of(s)
    if s["labels"] is None:
        names = top_glosses(used, s["top_k"], conv)
        if not names and used:
            f.problems.append(
                f"{root}: no annotation value in the matched tiers of any .eaf file can be a class (variants:"
                f" {s['variants']}, exclude: {s['exclude']!r})"
            )
        elif len(names) < s["top_k"] and used:
            f.warnings.append(f"{root}: only {len(names)} distinct glosses (top_k {s['top_k']}): {len(names)} classes")
        return names
    path = _setting_file(root, s["labels"], "labels", f)
    names = [] if path is None else read_labels(path, f)
    seen = set(gloss_counts(used, conv))
    for name in names:
        if name and conv.split(name)[1]:
            f.problems.append(
                f"{path}: gloss {name!r} is a variant (variant_marker {conv.marker!r}), never a class; list the gloss"
                f" it is a variant of (variants: {s['variants']}), or set variant_marker: '' to read values as written"
            )
        elif name and conv.excluded(name):
            f.problems.append(
                f"{path}: gloss {name!r} matches the dataset setting exclude ({s['exclude']!r}), so it is never a"
                " class; remove it from the labels file or change exclude"
            )
        elif name and name not in seen:
            f.warnings.append(f"{path}: gloss {name!r} never occurs in the matched tiers")
    return names


def scan(root: Path, settings: Mapping[str, Any] | None = None, require_media: bool = True) -> ElanScan:
    """Read the folder, its ELAN files and the settings' files, validating everything; never raises for bad
    content (problems and warnings are in ``findings``).  ``require_media=False`` (``bench data check
    --no-open``) also reads the ``.eaf`` files whose media are not there yet, as videos without media."""
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
    media, result.eaf_count = find_media(root, findings, require_media)
    if not media:
        hint = "; `bench data check --no-open` counts the labels of .eaf files alone" if result.eaf_count else ""
        findings.problems.append(
            f"{root}: no media found; expected <video>.mp4 and/or <video>.pose files with .eaf files beside them{hint}"
        )
        return result
    glosses, missing = _read_eafs(root, media, s, result)
    split_of = _choose_splits(root, media, glosses, s, findings)
    used = {v: glosses[v] for v in sorted(split_of)}
    result.glosses = used
    result.class_names = _choose_classes(root, used, s, findings)
    index = {name: i for i, name in enumerate(result.class_names)}
    conv = Conventions.of(s)
    for video, gs in used.items():
        files = media[video]
        where = f"{files.eaf or files.video or files.pose}: video {video!r}"
        anns, ignored = label_video(gs, index, conv, s["overlap"], where, findings)
        record = VideoRecord(video, split_of[video], files.video, files.pose, anns, ignored=ignored)
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

SHAPING = ("tier", "overlap", "on_missing_annotation", "variants", "variant_marker", "exclude")  # settings: labels


def fingerprint_of(result: ElanScan, hashes: ContentHashes, progress: bool = False) -> str:
    """sha256 over every used file (relative name, size, sha256 of the content: media and ``.eaf``), the settings
    that shape the labels, the class names, each video's split, its annotations and ignored spans."""
    from tqdm import tqdm

    h = hashlib.sha256()
    s = result.settings
    h.update(json.dumps([result.class_names, {k: s.get(k) for k in SHAPING}]).encode())
    records = [r for split in SPLITS for r in result.records.get(split, [])]
    for r in tqdm(records, desc="hash dataset", unit="video", leave=False, disable=not progress or len(records) < 20):
        for p in (r.video_path, r.pose_path):
            if p is not None:
                h.update(f"{p.relative_to(result.root).as_posix()}|{p.stat().st_size}|{hashes.of(p)}\n".encode())
        eaf = result.eaf_files.get(r.video_id)
        if eaf is not None:
            h.update(f"{eaf.relative_to(result.root).as_posix()}|{result.eaf_sha256[r.video_id]}\n".encode())
        h.update(json.dumps([r.split, r.video_id, [list(a) for a in r.annotations or ()]]).encode())
        if r.ignored:
            h.update(json.dumps([list(a) for a in r.ignored]).encode())
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
        "variants": "merge",  # '*X': merge (class X) | ignore (an ignored span when X is a class) | background
        "variant_marker": "*",  # a value starting with it is a variant of the gloss after it; '': no variants
        "exclude": NO_LETTER,  # regex (re.search): values it matches never become classes; '': none excluded
    }
    rules = {
        "top_k": ">=1",
        "seed": ">=0",
        "overlap": OVERLAP,
        "on_missing_annotation": ON_MISSING,
        "variants": VARIANTS,
    }

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
