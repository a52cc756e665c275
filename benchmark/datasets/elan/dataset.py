"""The ``elan`` dataset class, its settings, and the two ways a folder is read: :func:`scan` (every problem
collected) and :class:`ElanCorpus` (raising them), plus its ``bench data check`` report."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchmark.datasets.elan.fingerprint import fingerprint_of
from benchmark.datasets.elan.glosses import NO_LETTER, VARIANTS
from benchmark.datasets.elan.scan import ElanScan, scan_folder, setting_problems
from benchmark.datasets.hashes import hashes_for
from benchmark.datasets.records import SPLITS
from benchmark.errors import DataError
from benchmark.interfaces import Dataset, VideoRecord

OVERLAP = ("error", "drop", "keep")
ON_MISSING = ("fail", "skip", "empty")


class ElanCorpus(Dataset):
    """A folder of media with ELAN ``.eaf`` files (see :mod:`benchmark.datasets.elan`); raises DataError on bad
    content."""

    name = "elan"
    description = "folder of media (.mp4 and/or .pose) with ELAN .eaf files beside them (gloss tier, label list)"
    defaults = {
        "tier": None,  # gloss tier: a name or fnmatch pattern; null: each file's only tier
        "labels": None,  # text file, line i = class i; null: the top_k most frequent glosses; sign: one class SIGN
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

    @classmethod
    def check(
        cls, root: Path | None, settings: Mapping[str, Any], cache_dir: Path | None, *, open_media: bool = True
    ) -> dict[str, Any]:
        """The generic report of the folder as :func:`scan` reads it (every problem, not the first ones
        :meth:`open` raises), plus the annotation conventions (:func:`~benchmark.datasets.elan.notes.elan_notes`)
        and the number of ``.eaf`` files; without ``open_media`` the ``.eaf`` files whose media are not there
        yet are read too (label counts before the media are downloaded)."""
        from benchmark.datasets.check import problem_report, report_of
        from benchmark.datasets.elan.notes import elan_notes

        if root is None:
            return problem_report(None, ["dataset elan needs a folder (media files with .eaf files beside them)"])
        res = scan(Path(root).expanduser(), settings, require_media=open_media)
        rep = report_of(res, open_media)
        rep["conventions"] = elan_notes(res)
        rep["eaf_files"] = res.eaf_count
        return rep

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


def scan(root: Path, settings: Mapping[str, Any] | None = None, require_media: bool = True) -> ElanScan:
    """Read the folder, its ELAN files and the settings' files, validating everything; never raises for bad
    content (problems and warnings are in ``findings``).  ``require_media=False`` (``bench data check
    --no-open``) also reads the ``.eaf`` files whose media are not there yet, as videos without media."""
    s = ElanCorpus.with_defaults(settings)
    return scan_folder(Path(root), s, setting_problems(s, ElanCorpus), require_media)


def check_elan(root: Path, settings: Mapping[str, Any] | None = None, open_media: bool = True) -> dict[str, Any]:
    """``bench data check --dataset elan``'s report of a folder (:meth:`ElanCorpus.check`)."""
    return ElanCorpus.check(Path(root), settings or {}, None, open_media=open_media)
