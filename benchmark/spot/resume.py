"""Resuming a corpus: after an input's outputs, a stamp ``.<id>.spot.json`` in ``--out`` says which pipeline
(:func:`bundle_id`), which input content, tier and formats produced them, and the sha256 of every output; an
input whose stamp matches, with every output unchanged, is not spotted again."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from benchmark.spot.inputs import file_sha256
from benchmark.spot.outputs import FORMATS
from benchmark.storage.bundle import Bundle
from benchmark.storage.files import write_json

STAMP_VERSION = 1


def bundle_id(bundle: Bundle) -> str:
    """sha256 over the bundle's files (names and contents): the same trained pipeline wherever it was fetched."""
    digest = hashlib.sha256()
    for path in sorted(p for p in bundle.folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(bundle.folder).as_posix().encode() + b"\0" + file_sha256(path).encode())
    return digest.hexdigest()


def stamp_path(out: Path, video_id: str) -> Path:
    return Path(out) / f".{video_id}.spot.json"


def output_paths(out: Path, video_id: str, formats) -> list[Path]:
    return [Path(out) / f"{video_id}.{fmt}" for fmt in FORMATS if fmt in formats]


def stamp_for(pipeline: str, hashes: dict[str, str], tier: str, formats) -> dict:
    return {
        "version": STAMP_VERSION,
        "pipeline": pipeline,
        "input_sha256": hashes,
        "tier": tier,
        "formats": sorted(formats),
    }


def already_spotted(out: Path, video_id: str, expected: dict) -> bool:
    """Whether ``out`` holds this input's outputs, complete, for the same pipeline, content, tier and formats."""
    path = stamp_path(out, video_id)
    try:
        stamp = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if {k: stamp.get(k) for k in expected} != expected:
        return False
    outputs = stamp.get("outputs") or {}
    files = output_paths(out, video_id, expected["formats"])
    return sorted(outputs) == sorted(p.name for p in files) and all(
        p.is_file() and file_sha256(p) == outputs[p.name] for p in files
    )


def write_stamp(out: Path, video_id: str, stamp: dict, written: list[Path]) -> None:
    """Last, after the input's outputs: its presence says they are all complete."""
    write_json(stamp_path(out, video_id), {**stamp, "outputs": {p.name: file_sha256(p) for p in written}})
