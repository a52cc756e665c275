"""What ``bench spot`` writes per input: an ELAN file with the spotted tier (a copy of the input's own ``.eaf``
when there is one, linked to the media spotted), a JSON and/or a CSV of the segments with their scores."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from benchmark.interfaces import VideoRecord
from benchmark.spot.inputs import MIME, beside
from benchmark.storage.files import write_json, write_text, write_with

FORMATS = ("eaf", "json", "csv")


def segment_rows(segments, names: list[str]) -> list[dict]:
    # the challenge's convention: end_ms is the start of the sign's last frame (as predictions.pkl)
    return [
        {
            "class_id": int(s[0]),
            "gloss": names[int(s[0])] if 0 <= int(s[0]) < len(names) else str(s[0]),
            "start_ms": int(s[1]),
            "end_ms": int(s[2]),
            "score": float(s[3]) if len(s) > 3 else None,
        }
        for s in segments
    ]


def write_outputs(video, segments, names: list[str], out: Path, formats, tier: str, stamp: dict) -> list[Path]:
    """One input's outputs, each written atomically, in :data:`FORMATS` order."""
    rows = segment_rows(segments, names)
    written = []
    if "eaf" in formats:
        written.append(write_eaf(video, rows, out / f"{video.video_id}.eaf", tier))
    if "json" in formats:
        media = video.video_path or video.pose_path
        document = {
            "video": video.video_id,
            "media": str(Path(media).resolve()),
            "pipeline": stamp["pipeline"],
            "input_sha256": stamp["input_sha256"],
            "segments": rows,
        }
        written.append(write_json(out / f"{video.video_id}.json", document))
    if "csv" in formats:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=["class_id", "gloss", "start_ms", "end_ms", "score"])
        writer.writeheader()
        writer.writerows(rows)
        written.append(write_text(out / f"{video.video_id}.csv", buffer.getvalue()))
    return written


def write_eaf(video: VideoRecord, rows: list[dict], path: Path, tier: str) -> Path:
    """An ELAN file with ``tier`` holding the spotted glosses; an ``.eaf`` beside the input is its starting point
    (copied, never changed), else a new one; either way linked to the media spotted."""
    import pympi

    own = beside(video)
    eaf = pympi.Elan.Eaf(str(own)) if own is not None else pympi.Elan.Eaf()
    link_media(eaf, own.parent if own is not None else None, video.video_path, Path(path).parent)
    name, n = tier, 2
    while name in eaf.get_tier_names():
        name, n = f"{tier}-{n}", n + 1
    eaf.add_tier(name)
    for row in rows:  # the times as the project reads ELAN back (the `elan` dataset): the same segments
        eaf.add_annotation(name, row["start_ms"], max(row["end_ms"], row["start_ms"] + 1), row["gloss"])

    def write(tmp: Path) -> None:
        tmp.unlink()  # pympi renames a file already there to `.bak`: let it write a new one
        eaf.to_file(str(tmp))

    return write_with(path, write)


def link_media(eaf, source_dir: Path | None, media: Path | None, target_dir: Path) -> None:
    """Media descriptors for an ``.eaf`` written into ``target_dir``: the copied ones' relative links re-based
    (they were relative to ``source_dir``); the spotted ``media`` linked (its descriptor updated, or added)."""
    media = Path(media).resolve() if media is not None else None
    found = False
    for descriptor in eaf.media_descriptors:
        linked = _linked_path(descriptor, source_dir)
        if media is not None and linked is not None and linked == media:
            linked, found = media, True
            descriptor["MIME_TYPE"] = descriptor.get("MIME_TYPE") or MIME.get(media.suffix.lower(), "video/*")
        if linked is not None:
            descriptor["MEDIA_URL"] = linked.as_uri()
            descriptor["RELATIVE_MEDIA_URL"] = _relative_url(linked, target_dir)
    if media is not None and not found:
        eaf.add_linked_file(
            media.as_uri(), relpath=_relative_url(media, target_dir), mimetype=MIME.get(media.suffix.lower(), "video/*")
        )


def _linked_path(descriptor: dict, source_dir: Path | None) -> Path | None:
    """Where a descriptor points, as ELAN resolves it: the relative URL beside the ``.eaf`` first, else the
    absolute one; None when neither names an existing file."""
    from benchmark.datasets.elan import url_path

    candidates = []
    relative = descriptor.get("RELATIVE_MEDIA_URL")
    if relative and source_dir is not None:
        candidates.append(source_dir / url_path(relative))
    candidates.append(Path(url_path(descriptor.get("MEDIA_URL") or "")))
    for candidate in candidates:
        if str(candidate) and candidate.is_file():
            return candidate.resolve()
    return None


def _relative_url(media: Path, target_dir: Path) -> str:
    """ELAN's form: ``./clip.mp4``, ``../videos/clip.mp4`` (POSIX separators, percent-encoded)."""
    from urllib.parse import quote

    rel = Path(os.path.relpath(media, Path(target_dir).resolve())).as_posix()
    return quote(rel if rel.startswith("../") else f"./{rel}", safe="/.-_~")
