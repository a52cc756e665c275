"""Reading an ELAN corpus folder into a :class:`ElanScan`: settings, media, ``.eaf`` files, splits, classes and
each video's labels, every problem collected (see :mod:`benchmark.datasets.elan` for the rules)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.datasets.elan.glosses import (
    SIGN,
    Conventions,
    Gloss,
    gloss_counts,
    label_video,
    read_glosses,
    top_glosses,
)
from benchmark.datasets.elan.lists import read_labels, read_splits, seeded_splits, setting_file
from benchmark.datasets.elan.media import EAF_EXT, MediaFiles, find_media
from benchmark.datasets.records import SPLITS, Findings, ScanResult
from benchmark.datasets.settings import declared_problems
from benchmark.interfaces import VideoRecord


@dataclass
class ElanScan(ScanResult):
    """A :class:`~benchmark.datasets.records.ScanResult` plus each video's ``.eaf``, its sha256 and glosses."""

    eaf_files: dict[str, Path] = field(default_factory=dict)  # video -> .eaf
    eaf_sha256: dict[str, str] = field(default_factory=dict)  # video -> sha256 of the .eaf bytes
    settings: dict[str, Any] = field(default_factory=dict)
    glosses: dict[str, list[Gloss]] = field(default_factory=dict)  # video -> its glosses (videos in a split)
    eaf_count: int = 0  # .eaf files found under the folder


def setting_problems(settings: Mapping[str, Any], dataset) -> list[str]:
    """What is wrong with the (merged) settings of ``dataset`` (the elan dataset class): its declaration
    (unknown keys, ``rules``) and what the rules cannot say; checked here too because
    :meth:`~benchmark.datasets.elan.ElanCorpus.open` may be called outside a run."""
    problems = declared_problems(dataset, settings)
    for key in ("tier", "labels", "splits"):
        value = settings.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            problems.append(f"dataset elan: setting {key} must be a non-empty string or null, got {value!r}")
    for key in ("variant_marker", "exclude"):
        if not isinstance(settings.get(key), str):
            problems.append(f"dataset elan: setting {key} must be a string ('' for none), got {settings.get(key)!r}")
    try:
        re.compile(settings.get("exclude") or "")
    except (re.error, TypeError) as e:
        problems.append(f"dataset elan: setting exclude {settings.get('exclude')!r} is not a regular expression ({e})")
    return problems


def _missing_eaf(root: Path, video: str, files: MediaFiles, policy: str, findings: Findings) -> str | None:
    """A media file without ``.eaf`` under ``on_missing_annotation``: the ``.eaf`` it would have when the video is
    taken as having no signs (``empty``), else None (a problem, or a warning and the video left out)."""
    shown = files.video or files.pose
    if policy == "fail":
        findings.problems.append(
            f"{shown}: video {video!r}: no annotation file {video}{EAF_EXT} (looked everywhere under {root},"
            " and at the media the .eaf files link); add one, or set the dataset setting"
            " on_missing_annotation to skip (leave the video out) or empty (a video without signs)"
        )
    elif policy == "skip":
        findings.warnings.append(f"{shown}: video {video!r}: no {video}{EAF_EXT}; left out")
    else:
        return str(shown.with_suffix(EAF_EXT))
    return None


def read_eafs(
    root: Path, media: Mapping[str, MediaFiles], s: Mapping[str, Any], result: ElanScan
) -> tuple[dict[str, list[Gloss]], dict[str, str]]:
    """``({video: glosses}, {video: expected .eaf})``: each video's glosses, and the videos taken as having none
    (``on_missing_annotation: empty``)."""
    findings = result.findings
    glosses: dict[str, list[Gloss]] = {}
    missing: dict[str, str] = {}
    for video, files in media.items():
        if files.eaf is None:
            expected = _missing_eaf(root, video, files, s["on_missing_annotation"], findings)
            if expected is not None:
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
    return glosses, missing


def choose_splits(
    root: Path, media: Mapping[str, MediaFiles], glosses: Mapping[str, list[Gloss]], s: Mapping[str, Any], f: Findings
) -> dict[str, str]:
    """``{video: split}`` of the videos with glosses (the ``splits`` file, or the seeded split)."""
    if s["splits"] is None:
        return seeded_splits(sorted(glosses), s["seed"])
    path = setting_file(root, s["splits"], "splits", f)
    split_of = {} if path is None else read_splits(path, set(media), f)
    for video in sorted(set(glosses) - set(split_of)):
        if path is not None:
            f.warnings.append(f"{path}: video {video!r} has no split; left out")
    return {v: sp for v, sp in split_of.items() if v in glosses}


def _check_labels(path: Path, names: list[str], seen: set[str], s: Mapping[str, Any], f: Findings) -> None:
    """A labels file's glosses that can never be a class (a variant, an excluded value: problems) or never
    occur (warnings)."""
    conv = Conventions.of(s)
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


def choose_classes(root: Path, used: Mapping[str, list[Gloss]], s: Mapping[str, Any], f: Findings) -> list[str]:
    """The class names: the ``labels`` file, or the ``top_k`` most frequent glosses."""
    conv = Conventions.of(s)
    if conv.one_class:
        if not gloss_counts(used, conv) and used:
            f.problems.append(
                f"{root}: labels: sign, but no annotation of the matched tiers is a sign (exclude: {s['exclude']!r})"
            )
        return [SIGN]
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
    path = setting_file(root, s["labels"], "labels", f)
    names = [] if path is None else read_labels(path, f)
    _check_labels(path, names, set(gloss_counts(used, conv)), s, f)
    return names


def _label_records(
    result: ElanScan, media: Mapping[str, MediaFiles], split_of: Mapping[str, str], missing: Mapping[str, str]
) -> None:
    """Each video of a split as a :class:`VideoRecord` labelled under the chosen classes, by split."""
    s = result.settings
    index = {name: i for i, name in enumerate(result.class_names)}
    conv = Conventions.of(s)
    for video, gs in result.glosses.items():
        files = media[video]
        where = f"{files.eaf or files.video or files.pose}: video {video!r}"
        anns, ignored = label_video(gs, index, conv, s["overlap"], where, result.findings)
        record = VideoRecord(video, split_of[video], files.video, files.pose, anns, ignored=ignored)
        result.records.setdefault(split_of[video], []).append(record)
        if video in missing:
            result.missing_gt.setdefault(split_of[video], {})[video] = missing[video]
    for split in result.records:
        result.gt_sources[split] = "the .eaf files" + ("" if s["tier"] is None else f" (tier {s['tier']!r})")
    result.records = {sp: result.records[sp] for sp in SPLITS if sp in result.records}


def scan_folder(root: Path, s: Mapping[str, Any], problems: list[str], require_media: bool = True) -> ElanScan:
    """Read the folder with the merged settings ``s`` (whose ``problems`` stop it before anything is read)."""
    findings = Findings(list(problems))
    result = ElanScan(root, [], findings=findings, settings=dict(s))
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
    glosses, missing = read_eafs(root, media, s, result)
    split_of = choose_splits(root, media, glosses, s, findings)
    result.glosses = {v: glosses[v] for v in sorted(split_of)}
    result.class_names = choose_classes(root, result.glosses, s, findings)
    _label_records(result, media, split_of, missing)
    if not result.records and not findings.problems:
        findings.problems.append(f"{root}: no video is in any split")
    return result
