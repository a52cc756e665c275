"""Finding a video's media and its ``.eaf`` the way ELAN does (see :mod:`benchmark.datasets.elan`).

An ``.eaf`` of the media's stem anywhere in the tree first; else the media an ``.eaf`` header links
(:func:`linked_media`: ``RELATIVE_MEDIA_URL`` against the ``.eaf``'s folder, then ``MEDIA_URL``'s file name
beside it).  Only headers are parsed here, and only for an ``.eaf`` whose stem names no media.
:func:`eaf_for_media` is the reverse lookup in one folder (``bench spot`` writes spotted signs back with it).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from benchmark.datasets.records import POSE_EXT, VIDEO_EXTS, Findings

EAF_EXT = ".eaf"


@dataclass(frozen=True)
class MediaFiles:
    """One video's files: its media (``video`` and/or ``pose``; neither only for an ``.eaf`` whose media are
    not there yet, with ``require_media=False``) and its ELAN file, if any."""

    video_id: str
    video: Path | None = None
    pose: Path | None = None
    eaf: Path | None = None


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


# -- media links of an .eaf header --------------------------------------------------------------------------------


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


def _file_name(url: str | None) -> str:
    """The last path component of a media URL ('' for none)."""
    return url_path(url or "").rstrip("/").rsplit("/", 1)[-1]


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
        name = _file_name(desc.get("MEDIA_URL"))
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
            name = _file_name(url)
            if Path(name).suffix.lower() in (*VIDEO_EXTS, POSE_EXT):
                return Path(name).stem
    return None


# -- pairing media and .eaf files ---------------------------------------------------------------------------------


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


def _claims(
    media: Mapping[str, dict[str, Path]], eafs: list[Path], findings: Findings
) -> tuple[dict[str, Path], list[Path]]:
    """``({video: its .eaf}, [.eaf files that annotate no media])``: by stem first, then by header links."""
    by_stem: dict[str, Path] = {}
    linked: dict[str, Path] = {}
    pending = []
    for eaf in eafs:
        if eaf.stem in media:
            how = "video ids are file stems, so they must be unique across the folder"
            _claim(by_stem, eaf.stem, eaf, how, findings)
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
    return {**linked, **by_stem}, orphans


def _add_orphans(out: dict[str, MediaFiles], orphans: list[Path], require_media: bool, findings: Findings) -> None:
    """``.eaf`` files without media: a warning each, or (without ``require_media``) videos without media named
    after the media they link (else after the ``.eaf``)."""
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


def find_media(root: Path, findings: Findings, require_media: bool = True) -> tuple[dict[str, MediaFiles], int]:
    """``({video_id: MediaFiles}, number of .eaf files)`` for the media under ``root``, each with its ``.eaf``
    when there is one (see the module docstring for how they are paired).

    Duplicate stems are problems naming both files; an ``.eaf`` without media is a warning, or, without
    ``require_media``, a video without media named after the media it links (else after the ``.eaf``).
    """
    media, eafs = _collect(root, findings)
    claims, orphans = _claims(media, eafs, findings)
    out = {
        stem: MediaFiles(stem, files.get("video"), files.get("pose"), claims.get(stem)) for stem, files in media.items()
    }
    _add_orphans(out, orphans, require_media, findings)
    return dict(sorted(out.items())), len(eafs)
