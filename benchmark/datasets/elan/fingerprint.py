"""The fingerprint of an ELAN corpus: what keys every cached stage of a run on it."""

from __future__ import annotations

import hashlib
import json

from benchmark.datasets.elan.scan import ElanScan
from benchmark.datasets.hashes import ContentHashes
from benchmark.datasets.records import SPLITS
from benchmark.runtime.progress import bar

SHAPING = ("tier", "overlap", "on_missing_annotation", "variants", "variant_marker", "exclude")  # settings: labels


def fingerprint_of(result: ElanScan, hashes: ContentHashes, progress: bool = False) -> str:
    """sha256 over every used file (relative name, size, sha256 of the content: media and ``.eaf``), the settings
    that shape the labels, the class names, each video's split, its annotations and ignored spans."""
    h = hashlib.sha256()
    s = result.settings
    h.update(json.dumps([result.class_names, {k: s.get(k) for k in SHAPING}]).encode())
    records = [r for split in SPLITS for r in result.records.get(split, [])]
    for r in bar(records, desc="hash dataset", unit="video", enabled=progress, min_items=20):
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
