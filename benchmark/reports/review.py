"""``bench review``: spotted signs next to the annotator's, in one self-contained HTML page or as subtitles.

A spotter is judged by looking: which signs it misses, what it finds that is not there.  Per file, the page
shows a timeline of the human tier over the spotted one (a colour per gloss, misses and false positives hatched),
a sortable table and the video, which a click on a segment seeks to.  No server, no network: CSS and JS inline
(:data:`TEMPLATE`), the video linked by a path relative to the page.  :func:`collect` reads a run folder (its
``review.json``) or a folder of ``<id>.eaf`` and/or ``<id>.json`` files as ``bench spot`` writes them.  Marks are
per segment at one IoU, as the run's timelines: a review aid, not the official metric.
"""

from __future__ import annotations

import html
import json
import os
import re
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

from benchmark.errors import DataError
from benchmark.reports import IOU
from benchmark.reports.timelines import iou
from benchmark.storage.files import write_text

REVIEW_JSON = "review.json"  # what a run folder holds for this page
SPOTTED_TIERS = ("spotted", "SIGN")  # the spotted tier's default name, then the one older files used
PLAYABLE = (".mp4", ".webm", ".mov", ".avi", ".mkv", ".ogv", ".m4v")  # what a <video> may play
TEMPLATE = "review_page.html"
# tab10 without its red (red marks misses and false positives), then golden-ratio hues
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


@dataclass
class Segment:
    gloss: str
    start_ms: int
    end_ms: int
    score: float | None = None
    alternatives: list[tuple[str, float | None]] = field(default_factory=list)
    status: str = ""  # spotted: TP / FP; human: found / miss; "" without a human tier


@dataclass
class FileReview:
    file_id: str
    source: Path
    spotted: list[Segment]
    human: list[Segment] | None = None  # None: no human tier
    media: Path | None = None
    human_tier: str | None = None
    spotted_tier: str | None = None


@dataclass
class Review:
    files: list[FileReview]
    glosses: list[str]  # the palette's order: the run's classes, else every gloss sorted
    threshold: float = IOU
    warnings: list[str] = field(default_factory=list)


def collect(folder, tier: str | None = None, spotted_tier: str | None = None, threshold: float = IOU) -> Review:
    """The files of ``folder`` (a run folder, a ``bench spot`` output folder or a folder of ``.eaf`` files),
    each marked at ``threshold``.  ``tier``/``spotted_tier``: names or fnmatch patterns of the two tiers."""
    folder = Path(folder)
    warnings: list[str] = []
    if (folder / REVIEW_JSON).is_file():
        files, classes = from_run(folder / REVIEW_JSON)
    else:
        files, classes = from_folder(folder, tier, spotted_tier, warnings), []
    for f in files:
        mark(f, threshold)
    seen = {s.gloss for f in files for s in f.spotted + (f.human or [])}
    glosses = [c for c in classes if c in seen] + sorted(seen - set(classes))
    return Review(files, glosses, threshold, warnings)


def mark(f: FileReview, threshold: float) -> None:
    """Spotted segments TP/FP, human signs found/miss: same gloss and temporal IoU >= ``threshold``."""
    if f.human is None:
        return
    hit = lambda a, b: a.gloss == b.gloss and iou([0, a.start_ms, a.end_ms], [0, b.start_ms, b.end_ms]) >= threshold
    for s in f.spotted:
        s.status = "TP" if any(hit(s, h) for h in f.human) else "FP"
    for h in f.human:
        h.status = "found" if any(hit(h, s) for s in f.spotted) else "miss"


# -- a run folder -------------------------------------------------------------------------------------------------


def _load_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable JSON file ({exc})") from None


def from_run(path: Path) -> tuple[list[FileReview], list[str]]:
    """A run's ``review.json``: ``{"classes", "videos": {id: {"media", "ground_truth", "segments"}}}``."""
    data = _load_json(path)
    expected = '{"classes": [...], "videos": {id: {"media", "ground_truth": [[c, s, e]], "segments": [[c, s, e, p]]}}}'
    if not isinstance(data, dict) or not isinstance(data.get("videos"), dict):
        raise DataError(f"{path}: expected {expected}; run `bench run` again to write it")
    classes = [str(c) for c in data.get("classes") or []]
    name = lambda c: classes[int(c)] if 0 <= int(c) < len(classes) else str(c)
    files = []
    for video_id, entry in sorted(data["videos"].items()):
        try:
            spotted = [
                Segment(name(r[0]), int(r[1]), int(r[2]), _score(r[3] if len(r) > 3 else None))
                for r in entry["segments"]
            ]
            truth = entry.get("ground_truth")
            human = None if truth is None else [Segment(name(r[0]), int(r[1]), int(r[2])) for r in truth]
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise DataError(f"{path}: video {video_id!r}: expected {expected} ({exc!r})") from None
        media = Path(entry["media"]) if entry.get("media") else None
        media = path.parent / media if media is not None and not media.is_absolute() else media
        by_time = lambda segs: None if segs is None else sorted(segs, key=lambda x: (x.start_ms, x.end_ms))
        files.append(
            FileReview(str(video_id), path, by_time(spotted), by_time(human), media, "ground truth", "segments")
        )
    return files, classes


def _score(value) -> float | None:
    try:
        return None if value is None or value == "" else float(value)
    except (TypeError, ValueError):
        return None


# -- a bench spot folder or a folder of .eaf files ----------------------------------------------------------------


def from_folder(folder: Path, tier: str | None, spotted_tier: str | None, warnings: list[str]) -> list[FileReview]:
    """``<id>.eaf`` and/or ``<id>.json`` per file: the human tier from the ``.eaf``, the spotted segments from
    the JSON (scores, candidates) unless ``spotted_tier`` names the ``.eaf``'s tier."""
    eafs = {p.stem: p for p in sorted(folder.glob("*.eaf")) if not p.name.startswith(".")}
    docs = {}
    for p in sorted(folder.glob("*.json")):
        doc = _load_json(p) if not p.name.startswith(".") else None
        if isinstance(doc, dict) and isinstance(doc.get("segments"), list):
            docs[p.stem] = (p, doc)
        elif p.stem in eafs:
            warnings.append(f"{p}: not a `bench spot` JSON (no segments list): skipped")
    if not eafs and not docs:
        raise DataError(
            f"{folder}: nothing to review: expected a `bench spot` output folder (<id>.eaf and/or <id>.json), a run "
            f"folder (with {REVIEW_JSON}) or a folder of .eaf files with a human and a spotted tier"
        )
    files, unnamed = [], []
    for file_id in sorted(set(eafs) | set(docs)):
        f = _one_file(file_id, eafs.get(file_id), docs.get(file_id), tier, spotted_tier, warnings)
        if f.human is None and file_id in eafs and tier is None:
            unnamed.append(f"{eafs[file_id].name}: {f.human_tier}")
        f.human_tier = f.human_tier if f.human is not None else None
        files.append(f)
    for option, value, found in (("--spotted-tier", spotted_tier, "spotted_tier"), ("--tier", tier, "human")):
        if value is not None and not any(getattr(f, found) is not None for f in files):
            raise DataError(f"{folder}: no .eaf file has a tier matching {option} {value!r} ({'; '.join(warnings)})")
    if not docs and not any(f.spotted_tier for f in files):
        raise DataError(
            f"{folder}: no spotted tier ({'/'.join(SPOTTED_TIERS)}) in any .eaf: name it with --spotted-tier"
        )
    if unnamed:
        shown = "; ".join(unnamed[:3]) + (" ..." if len(unnamed) > 3 else "")
        warnings.append(
            f"no human tier in {len(unnamed)} file(s), which have not exactly one other non-empty tier ({shown}): "
            "name it with --tier NAME or a pattern"
        )
    return files


def _one_file(file_id, eaf_path, doc, tier, spotted_tier, warnings) -> FileReview:
    source = eaf_path or doc[0]
    f = FileReview(file_id, source, [])
    eaf = _read_eaf(eaf_path) if eaf_path is not None else None
    if eaf is not None:
        f.spotted_tier = _spotted_name(eaf, spotted_tier, doc[1].get("tier") if doc else None)
        f.human_tier, f.human = _human(
            eaf, eaf_path, f.spotted_tier or spotted_tier or SPOTTED_TIERS[0], tier, warnings
        )
    if doc is not None and (spotted_tier is None or eaf is None):  # a JSON alone has no tier to name
        f.spotted, f.spotted_tier = _json_segments(*doc), doc[0].name
    elif f.spotted_tier:
        f.spotted = _tier_segments(eaf, f.spotted_tier)
    else:
        warnings.append(f"{eaf_path}: no spotted tier (tiers: {', '.join(eaf.tiers)}): name it with --spotted-tier")
    f.media = _media(eaf_path, doc[1] if doc else None, source.parent / file_id)
    return f


def _read_eaf(path: Path):
    import pympi

    try:
        return pympi.Elan.Eaf(str(path))
    except Exception as exc:  # pympi raises whatever the XML parser does
        raise DataError(
            f"{path}: not a readable ELAN file ({exc}); open and save it in ELAN, or move it away"
        ) from None


def _family(name: str) -> re.Pattern:
    """The spotted tier's own tiers: scores ``<tier>-score``, alternatives ``<tier>-2`` and ``<tier>-2-score``."""
    return re.compile(rf"{re.escape(name)}(-\d+)?(-score)?")


def _spotted_name(eaf, pattern: str | None, named: str | None) -> str | None:
    """The tier ``pattern`` matches; by default the one the JSON names, else ``spotted``, else ``SIGN``."""
    if pattern is None:
        return next((n for n in (named, *SPOTTED_TIERS) if n in eaf.tiers), None)
    return next((n for n in eaf.tiers if fnmatchcase(n, pattern)), None)


def _human(eaf, path: Path, spotted: str, pattern: str | None, warnings: list[str]):
    """``(tier name(s), signs)``; no signs (None) when ``pattern`` matches no tier, or, without a pattern, when
    the file has not exactly one other non-empty time-alignable tier (the first item then lists them).  Tiers
    of ``bench spot``'s types (``signspot-*``: other runs' tiers too) are never human."""
    family, types = _family(spotted), eaf.linguistic_types
    others = [
        n
        for n, t in eaf.tiers.items()
        if not family.fullmatch(n)
        and not str(t[2].get("LINGUISTIC_TYPE_REF")).startswith("signspot-")
        and str(types.get(t[2].get("LINGUISTIC_TYPE_REF"), {}).get("TIME_ALIGNABLE", "true")).lower() == "true"
    ]
    if pattern is not None:
        names = [n for n in others if fnmatchcase(n, pattern)]
        if not names:
            warnings.append(f"{path}: no tier matches --tier {pattern!r} (tiers: {', '.join(eaf.tiers)})")
            return None, None
    else:
        names = [n for n in others if eaf.tiers[n][0] or eaf.tiers[n][1]]
        if len(names) != 1:
            return ", ".join(names) or "none", None
    signs = [Segment(str(v), int(s), int(e)) for n in names for s, e, v, *_ in eaf.get_annotation_data_for_tier(n)]
    return ", ".join(names), sorted(signs, key=lambda x: (x.start_ms, x.end_ms))


def _scores(eaf, name: str) -> dict[tuple[int, int], float | None]:
    if name not in eaf.tiers:
        return {}
    return {(int(s), int(e)): _score(v) for s, e, v, *_ in eaf.get_ref_annotation_data_for_tier(name)}


def _tier_segments(eaf, name: str) -> list[Segment]:
    """The spotted tier's segments, scores from ``<tier>-score``, alternatives from ``<tier>-2`` ... (same times)."""
    scores = _scores(eaf, f"{name}-score")
    alternatives: dict[tuple[int, int], list] = {}
    k = 2
    while f"{name}-{k}" in eaf.tiers:
        alt_scores = _scores(eaf, f"{name}-{k}-score")
        for s, e, v, *_ in eaf.get_annotation_data_for_tier(f"{name}-{k}"):
            alternatives.setdefault((int(s), int(e)), []).append((str(v), alt_scores.get((int(s), int(e)))))
        k += 1
    out = [
        Segment(str(v), int(s), int(e), scores.get((int(s), int(e))), alternatives.get((int(s), int(e)), []))
        for s, e, v, *_ in eaf.get_annotation_data_for_tier(name)
    ]
    return sorted(out, key=lambda x: (x.start_ms, x.end_ms))


def _json_segments(path: Path, doc: dict) -> list[Segment]:
    out = []
    for i, row in enumerate(doc["segments"]):
        try:
            gloss = str(row.get("gloss") if row.get("gloss") is not None else row["class_id"])
            alts = [
                (str(c.get("gloss", c.get("class_id"))), _score(c.get("score"))) for c in row.get("candidates") or []
            ]
            alts = [a for a in alts if a[0] != gloss]  # the candidates list the segment's own gloss first
            out.append(Segment(gloss, int(row["start_ms"]), int(row["end_ms"]), _score(row.get("score")), alts))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DataError(f"{path}: segment {i}: expected gloss/class_id, start_ms, end_ms ({exc!r})") from None
    return sorted(out, key=lambda x: (x.start_ms, x.end_ms))


def _media(eaf_path: Path | None, doc: dict | None, stem: Path) -> Path | None:
    """The file's media: the ``.eaf``'s links, the JSON's ``media``, a file of the same stem; a video first."""
    from benchmark.datasets.elan.media import linked_media, media_descriptors, url_path

    found: list[Path] = []
    if eaf_path is not None:
        found += linked_media(eaf_path)
        found += [Path(url_path(d["MEDIA_URL"])) for d in media_descriptors(eaf_path) if d.get("MEDIA_URL")]
    if doc and doc.get("media"):
        found.append(Path(str(doc["media"])))
    found += [stem.with_name(stem.name + ext) for ext in (*PLAYABLE, ".pose")]
    found = [p for p in found if p.is_file()]
    return next((p for p in found if p.suffix.lower() in PLAYABLE), found[0] if found else None)


# -- the page -----------------------------------------------------------------------------------------------------


def write_html(review: Review, out, title: str | None = None) -> Path:
    """The page, written atomically to ``out`` (``out/review.html`` when ``out`` is a folder)."""
    out = Path(out) / "review.html" if Path(out).is_dir() else Path(out)
    return write_text(out, render_html(review, out.parent.resolve(), title))


def render_html(review: Review, out_dir: Path, title: str | None = None) -> str:
    """The page's text, media linked relative to ``out_dir`` (where the page goes).  The segments are rendered
    here; the page's script builds each table from them, sorts it, and seeks the video."""
    from importlib.resources import files

    colours = {g: _colour(i) for i, g in enumerate(review.glosses)}
    parts = {
        "TITLE": esc(title or f"Spotted signs: {len(review.files)} file(s)"),
        "IOU": f"{review.threshold:g}",
        "SUMMARY": _summary(review),
        "LEGEND": "".join(
            f'<li><span class="swatch" style="background:{c}"></span>{esc(g)}</li>' for g, c in colours.items()
        ),
        "FILES": "\n".join(_section(i, f, colours, out_dir) for i, f in enumerate(review.files)),
    }
    page = files("benchmark.reports").joinpath(TEMPLATE).read_text(encoding="utf-8")
    return re.sub(r"@@([A-Z]+)@@", lambda m: parts[m.group(1)], page)  # one pass: inserted text is not searched


def esc(text) -> str:
    return html.escape(str(text), quote=True)


def _colour(i: int) -> str:
    return PALETTE[i] if i < len(PALETTE) else f"hsl({i * 0.618034 % 1 * 360:.0f}, 65%, {42 + 14 * (i % 2)}%)"


def _summary(review: Review) -> str:
    judged = [f for f in review.files if f.human is not None]
    count = lambda status: sum(s.status == status for f in judged for s in f.spotted + f.human)
    text = f"<p>{len(review.files)} file(s), {sum(len(f.spotted) for f in review.files)} spotted segment(s)"
    if not judged:
        return text + ". No human tier, so nothing is marked (name one with <code>--tier</code>).</p>"
    return text + (
        f', {sum(len(f.human) for f in judged)} human sign(s) in {len(judged)} file(s).</p><p class="counts">At '
        f'temporal IoU &ge; {review.threshold:g} with the same gloss: <b class="n-tp">{count("TP")}</b> TP, '
        f'<b class="n-fp">{count("FP")}</b> FP, <b class="n-miss">{count("miss")}</b> missed. A review aid counted '
        "per segment, not the official metric (<code>bench score</code>: F1 over 13 IoU thresholds).</p>"
    )


def _segment(s: Segment, lane: str, colour: str, duration: int) -> str:
    """One segment of a lane: its data in ``data-*`` attributes (the table is built from them), a tooltip."""
    alts = ", ".join(g + (f" ({p:.3f})" if p is not None else "") for g, p in s.alternatives)
    score = "" if s.score is None else f"{s.score:.3f}"
    tip = f"{s.gloss}  {s.start_ms / 1000:.3f}-{s.end_ms / 1000:.3f} s  {lane}" + (f"  score {score}" if score else "")
    tip += (f"  {s.status}" if s.status else "") + (f"\nalternatives: {alts}" if alts else "")
    bad = s.status in ("FP", "miss")
    mark = f'<span class="mark">{s.status}</span>' if bad else ""
    left, width = 100 * s.start_ms / duration, max(0.2, 100 * (s.end_ms - s.start_ms) / duration)
    return (
        f'<div class="segment {lane}{" bad" if bad else ""}" tabindex="0" data-lane="{lane}" '
        f'data-gloss="{esc(s.gloss)}" data-start-ms="{s.start_ms}" data-end-ms="{s.end_ms}" data-score="{score}" '
        f'data-status="{s.status}" data-alternatives="{esc(alts)}" data-colour="{colour}" title="{esc(tip)}" '
        f'style="left:{left:.4f}%;width:{width:.4f}%;background-color:{colour}"><span class="label">{esc(s.gloss)}'
        f"</span>{mark}</div>"
    )


def _section(i: int, f: FileReview, colours: dict, out_dir: Path) -> str:
    duration = max([s.end_ms for s in f.spotted + (f.human or [])] + [1000])
    lanes = [("human", f.human_tier, f.human)] if f.human is not None else []
    lanes += [("spotted", f.spotted_tier, f.spotted)]
    labels = "".join(
        f'<div class="lane-label" title="{esc(name)}">{lane}: {esc(name)}</div>' for lane, name, _ in lanes
    )
    segments = lambda lane, segs: "".join(_segment(s, lane, colours[s.gloss], duration) for s in segs)
    bodies = "".join(f'<div class="lane" data-name="{lane}">{segments(lane, segs)}</div>' for lane, _, segs in lanes)
    human = "no human tier" if f.human is None else f"human tier {esc(f.human_tier)}: {len(f.human)} sign(s)"
    return (
        f'<section class="file" id="file-{i}" data-file="{esc(f.file_id)}" data-duration-ms="{duration}">'
        f'<h2>{esc(f.file_id)}</h2><p class="meta">{esc(f.source.name)}; {human}; spotted ({esc(f.spotted_tier)}): '
        f"{len(f.spotted)} segment(s)</p>{_player(f, out_dir)}"
        f'<div class="timeline"><div class="labels">{labels}</div><div class="scroll"><div class="track">'
        f'<div class="ticks"></div>{bodies}<div class="playhead"></div></div></div></div>'
        '<div class="table-wrap"><table class="segments"><thead></thead><tbody></tbody></table></div></section>'
    )


def _player(f: FileReview, out_dir: Path) -> str:
    """A ``<video>`` linked relative to the page (percent-encoded, POSIX separators), or why there is none."""
    from urllib.parse import quote

    if f.media is None:
        return '<p class="media none">No media found (linked in the .eaf, named in the JSON, or beside it).</p>'
    if f.media.suffix.lower() not in PLAYABLE:
        return f'<p class="media none">Media {esc(f.media.name)}: not playable in a browser.</p>'
    try:
        src = quote(Path(os.path.relpath(f.media.resolve(), out_dir)).as_posix(), safe="/")
    except ValueError:  # another drive (Windows): no relative path
        src = f.media.resolve().as_uri()
    return f'<video controls preload="metadata" src="{esc(src)}"></video>'
