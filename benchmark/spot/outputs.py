"""What ``bench spot`` writes per input: an ELAN file with the spotted tiers (a copy of the input's own ``.eaf``
when there is one, linked to the media spotted: :mod:`benchmark.spot.eaf`), a JSON and/or a CSV of the segments
with their scores and alternatives."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from benchmark.interfaces import VideoRecord
from benchmark.spot.inputs import beside
from benchmark.storage.files import write_json, write_text

FORMATS = ("eaf", "json", "csv")
COLUMNS = ["class_id", "gloss", "start_ms", "end_ms", "score"]


@dataclass(frozen=True)
class SpottedRun:
    """One run's segments of one input: the tier they go to and the pipeline that spotted them."""

    tier: str
    pipeline: str
    rows: list[dict]


def segment_rows(segments, names: list[str]) -> list[dict]:
    """Segments ``[class, start_ms, end_ms, score[, alternatives]]`` as rows; ``candidates`` (the alternatives,
    best first) only when the segment has them."""

    def gloss(c: int) -> str:
        return names[c] if 0 <= c < len(names) else str(c)

    rows = []
    for s in segments:  # the challenge's convention: end_ms is the start of the sign's last frame (predictions.pkl)
        row = {
            "class_id": int(s[0]),
            "gloss": gloss(int(s[0])),
            "start_ms": int(s[1]),
            "end_ms": int(s[2]),
            "score": float(s[3]) if len(s) > 3 and s[3] is not None else None,
        }
        if len(s) > 4 and s[4]:
            row["candidates"] = [{"class_id": int(c), "gloss": gloss(int(c)), "score": float(v)} for c, v in s[4]]
        rows.append(row)
    return rows


def write_outputs(video, runs: list[SpottedRun], out: Path, formats, stamp: dict) -> list[Path]:
    """One input's outputs, each written atomically, in :data:`FORMATS` order: the first run's segments are the
    JSON's ``segments`` (its tier ``tier``), the others (``--also``) are under ``also``."""
    written = []
    if "eaf" in formats:
        written.append(write_eaf(video, runs, out / f"{video.video_id}.eaf"))
    if "json" in formats:
        media = video.video_path or video.pose_path
        document = {
            "video": video.video_id,
            "media": str(Path(media).resolve()),
            "pipeline": stamp["pipeline"],
            "input_sha256": stamp["input_sha256"],
            "tier": runs[0].tier,
            "segments": runs[0].rows,
        }
        if len(runs) > 1:
            document["also"] = [{"tier": r.tier, "pipeline": r.pipeline, "segments": r.rows} for r in runs[1:]]
        written.append(write_json(out / f"{video.video_id}.json", document))
    if "csv" in formats:
        written.append(write_text(out / f"{video.video_id}.csv", csv_text(runs)))
    return written


def csv_text(runs: list[SpottedRun]) -> str:
    """A row per segment: ``tier`` first when several runs wrote tiers, ``gloss_k``/``score_k`` per alternative."""
    k = max((len(r.get("candidates", ())) for run in runs for r in run.rows), default=0)
    extra = [f"{name}_{i}" for i in range(2, k + 2) for name in ("gloss", "score")]
    columns = (["tier"] if len(runs) > 1 else []) + COLUMNS + extra
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for run in runs:
        for row in run.rows:
            flat = {**row, "tier": run.tier}
            for i, alt in enumerate(row.get("candidates", ()), start=2):
                flat[f"gloss_{i}"], flat[f"score_{i}"] = alt["gloss"], alt["score"]
            writer.writerow(flat)
    return buffer.getvalue()


def write_eaf(video: VideoRecord, runs: list[SpottedRun], path: Path) -> Path:
    """An ELAN file with each run's tier (scores and alternatives in dependent tiers): the ``.eaf`` beside the
    input is its starting point (copied, never changed), else a new one; either way linked to the media spotted
    (:mod:`benchmark.spot.eaf`)."""
    from benchmark.spot.eaf import SpottedTier, write_spotted_eaf

    tiers = [SpottedTier(run.tier, run.rows) for run in runs]
    written, _ = write_spotted_eaf(Path(path), beside(video), video.video_path, tiers)
    return written
