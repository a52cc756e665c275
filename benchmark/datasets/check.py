"""``bench data check``: validate a dataset folder and summarise what a researcher wants to see first.

Two layouts: the ChaLearn MSSL folder (:mod:`benchmark.datasets.chalearn`) and an ELAN corpus
(:mod:`benchmark.datasets.elan`); both scans give a ``ScanResult``, reported the same way.

Reports videos per split (with video / pose files), each video's frame rate (a count per rate: the pipeline
resamples every input to the entry's ``preprocess.fps``, so a rate is information, not a problem), total
duration (frames / the file's own rate), instances per class, the sign-length distribution, and every problem
(unreadable or empty videos, ground truth naming missing videos, class ids outside the class list, overlapping
or inverted annotations, non-integer times, malformed pickles, annotations past the end of their video, by
:func:`benchmark.datasets.records.past_end`, the rule a run checks too).  Durations and rates come from the
video's header (OpenCV) or else the ``.pose`` file.  For an ELAN corpus it also counts the annotation
conventions that decide what becomes a class (:func:`elan_notes`).  The same message for many files is printed
once, with the count and a few files as examples.  ``open_media=False`` (``--no-open``) opens no media, and
reads an ELAN folder whose media are not there yet.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from benchmark.datasets.chalearn import POSE_EXT, SPLITS, VIDEO_EXTS, ScanResult, scan
from benchmark.datasets.records import annotation_stats, past_end, video_end_ms
from benchmark.interfaces import FPS

EXAMPLES = 3  # files or values shown for a summarised message
FILE_EXTS = (".eaf", POSE_EXT, ".pkl", ".txt", *VIDEO_EXTS)  # a message starting "<such a file>: " names a file


def _video_frames(path: Path) -> tuple[int, float, str | None]:
    """(frames, fps, problem) of a video, decoding nothing but the header (and one frame to prove it decodes)."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            return 0, 0.0, f"{path}: OpenCV cannot open this video (unreadable or unsupported format)"
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        ok, _ = cap.read()
        if not ok or n <= 0:
            return 0, fps, f"{path}: video has zero decodable frames (empty or truncated)"
        return n, fps, None
    finally:
        cap.release()


def pose_frames(path: Path) -> tuple[int, float, str | None]:
    """(frames, fps, problem) of a ``.pose`` file (fps 0.0 when its header has none)."""
    try:
        from pose_format import Pose

        pose = Pose.read(path.read_bytes())
        return int(pose.body.data.shape[0]), float(pose.body.fps or 0.0), None
    except Exception as e:  # any parser failure means a bad file
        return 0, 0.0, f"{path}: cannot be read by pose-format ({type(e).__name__}: {e})"


def check_dataset(root: Path, num_classes: int | None = None, open_media: bool = True) -> dict[str, Any]:
    """Scan a ChaLearn MSSL folder and return a report dict (``problems`` empty when the dataset is usable)."""
    return report_of(scan(Path(root), num_classes), open_media)


def check_elan(root: Path, settings: dict[str, Any] | None = None, open_media: bool = True) -> dict[str, Any]:
    """The same report for an ELAN folder (:mod:`benchmark.datasets.elan`) read with ``settings``; without
    ``open_media`` the ``.eaf`` files whose media are not there yet are counted too."""
    from benchmark.datasets.elan import scan as scan_elan

    res = scan_elan(Path(root), settings, require_media=open_media)
    rep = report_of(res, open_media)
    rep["conventions"] = elan_notes(res)
    rep["eaf_files"] = res.eaf_count
    return rep


def _rate(fps: float) -> str:
    """A frame rate as shown (``29.97``, ``25``), ``unknown`` when the header has none."""
    return f"{round(fps, 3):g}" if fps > 0 else "unknown"


def media_length(r, problems: list[str]) -> tuple[int, float]:
    """(frames, fps) of a record's media, its video's header first, else its ``.pose`` file; (0, 0.0) unknown."""
    frames, fps = 0, 0.0
    if r.video_path is not None:
        frames, fps, problem = _video_frames(r.video_path)
        if problem:
            problems.append(problem)
    if r.pose_path is not None and (r.video_path is None or frames == 0):
        frames, fps, problem = pose_frames(r.pose_path)
        if problem:
            problems.append(problem)
    return frames, fps


def _past_end_problem(r, frames: int, fps: float, class_names: list[str]) -> str | None:
    """The problem of a record whose last sign ends after its media (the rule of :func:`past_end`), or None."""
    if not frames or not r.annotations:
        return None
    cls, _, last = max(r.annotations, key=lambda a: a[2])
    if not past_end(last, frames, fps):
        return None
    name = class_names[cls] if 0 <= cls < len(class_names) else cls
    return (
        f"{r.video_path or r.pose_path}: video {r.video_id!r}: annotation ends at {last} ms, after the video's end"
        f" ({frames} frames at {_rate(fps or FPS)} fps = {video_end_ms(frames, fps)} ms; sign {name!r})"
    )


def report_of(res: ScanResult, open_media: bool = True) -> dict[str, Any]:
    """The report of a scanned folder: its media opened (when ``open_media``) and its annotations summarised."""
    root = res.root
    problems, warnings = list(res.findings.problems), list(res.findings.warnings)
    report: dict[str, Any] = {"root": str(root), "classes": res.class_names, "splits": {}}
    rates: Counter = Counter()
    all_gt: dict[str, Any] = {}
    for split in SPLITS:
        recs = res.records.get(split)
        if not recs:
            continue
        seconds = 0.0
        for r in recs:
            if not open_media:
                continue
            frames, fps = media_length(r, problems)
            if frames:
                rates[_rate(fps)] += 1
            seconds += frames / (fps or FPS)
            problem = _past_end_problem(r, frames, fps, res.class_names)
            if problem:
                problems.append(problem)
        labelled = split in res.gt_sources
        gt = {r.video_id: list(r.annotations or ()) for r in recs} if labelled else {}
        all_gt.update({f"{split}/{k}": v for k, v in gt.items()})
        report["splits"][split] = {
            "videos": len(recs),
            "with_video": sum(r.video_path is not None for r in recs),
            "with_pose": sum(r.pose_path is not None for r in recs),
            "seconds": seconds if open_media else None,
            "labelled": labelled,
            "ground_truth": res.gt_sources.get(split),
            "stats": annotation_stats(gt, len(res.class_names)) if labelled else None,
        }
    report["total_seconds"] = sum(s["seconds"] or 0.0 for s in report["splits"].values())
    report["frame_rates"] = dict(sorted(rates.items(), key=lambda kv: (-kv[1], kv[0])))
    report["stats"] = annotation_stats(all_gt, len(res.class_names)) if res.class_names else None
    report["problems"], report["warnings"] = problems, warnings
    return report


# -- ELAN conventions -----------------------------------------------------------------------------------------


def _n(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


def _examples(counts: Counter, k: int = EXAMPLES) -> str:
    """``'A' (5), 'B' (2), ... (+3 more)``: the most frequent values first, ties by value."""
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = ", ".join(f"{v!r} ({n})" for v, n in top[:k])
    return shown + (f", ... (+{len(top) - k} more)" if len(top) > k else "")


VARIANT_MEANING = {
    "merge": "counted as their class (variants: merge)",
    "ignore": "ignored spans, neither sign nor background (variants: ignore)",
    "background": "background (variants: background)",
}


def _variant_notes(values: list[str], conv, classes: set[str]) -> list[str]:
    split = [(v, *conv.split(v)) for v in values]
    of_class = Counter(v for v, gloss, variant in split if variant and gloss in classes and not conv.excluded(v))
    other = Counter(v for v, gloss, variant in split if variant and v not in of_class)
    lines = []
    if of_class:
        n_classes = len({conv.split(v)[0] for v in of_class})
        lines.append(
            f"variants of classes ({conv.marker!r} + a class): {_n(sum(of_class.values()), 'annotation')} of"
            f" {_n(n_classes, 'class', 'classes')}, {_examples(of_class)}; {VARIANT_MEANING[conv.variants]}"
        )
    if other:
        lines.append(
            f"variants of glosses that are not classes: {_n(sum(other.values()), 'annotation')}, {_examples(other)};"
            " background"
        )
    return lines


def _value_notes(values: list[str], conv, classes: set[str]) -> list[str]:
    """Fingerspelling-like values and values without a letter, counted."""
    import re

    from benchmark.datasets.elan import FINGERSPELLING_PREFIXES, NO_LETTER

    lines = []
    spelled = Counter(v for v in values if conv.split(v)[0].startswith(FINGERSPELLING_PREFIXES))
    if spelled:
        n_class = sum(1 for v in spelled if conv.split(v)[0] in classes)
        prefixes = ", ".join(map(repr, FINGERSPELLING_PREFIXES))
        lines.append(
            f"fingerspelling-like values (prefix {prefixes}): {_n(sum(spelled.values()), 'annotation')}, {len(spelled)}"
            f" distinct, {_examples(spelled)}; {n_class} of them classes (exclude: '^DT:' would leave them out)"
        )
    letterless = Counter(v for v in values if re.search(NO_LETTER, v))
    if letterless:
        kept = [v for v in letterless if not conv.excluded(v)]
        status = "all excluded (exclude)" if not kept else f"{len(kept)} distinct not excluded by exclude"
        lines.append(
            f"values without a letter: {_n(sum(letterless.values()), 'annotation')}, {len(letterless)} distinct,"
            f" {_examples(letterless)}; {status}"
        )
    return lines


def _short_notes(res) -> list[str]:
    """Annotations shorter than one frame at 25 fps (the pipeline's default grid)."""
    limit = 1000.0 / FPS
    short = [(v, g) for v, gs in res.glosses.items() for g in gs if g.end_ms - g.start_ms < limit]
    if not short:
        return []
    shown = "; ".join(f"{_relative(res.eaf_files.get(v), res.root) or v}: {g}" for v, g in short[:EXAMPLES])
    more = f"; ... (+{len(short) - EXAMPLES} more)" if len(short) > EXAMPLES else ""
    return [f"annotations shorter than one frame at {FPS} fps ({limit:g} ms): {len(short)}, {shown}{more}"]


def _unused_label_notes(res, conv) -> list[str]:
    from benchmark.datasets.elan import gloss_counts

    if res.settings.get("labels") is None or not res.class_names:
        return []
    seen = gloss_counts(res.glosses, conv)
    never = [c for c in res.class_names if c and c not in seen]
    if not never:
        return []
    shown = ", ".join(map(repr, never[: EXAMPLES * 2])) + (", ..." if len(never) > EXAMPLES * 2 else "")
    return [f"glosses of the labels file that never occur: {len(never)} of {len(res.class_names)}, {shown}"]


def elan_notes(res) -> list[str]:
    """What an ELAN corpus's conventions make of its annotation values (the videos in a split), counted with
    examples: variants, fingerspelling, values without a letter, one-frame annotations, unused labels."""
    from benchmark.datasets.elan import Conventions

    if not res.glosses:  # (settings with problems: nothing read)
        return []
    conv = Conventions.of(res.settings)
    classes = set(res.class_names)
    values = [g.value for gs in res.glosses.values() for g in gs]
    return [
        *_variant_notes(values, conv, classes),
        *_value_notes(values, conv, classes),
        *_short_notes(res),
        *_unused_label_notes(res, conv),
    ]


# -- the text report --------------------------------------------------------------------------------------------


def _relative(path, root) -> str | None:
    if path is None:
        return None
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _file_of(message: str) -> tuple[str | None, str]:
    """``(file, rest)`` of a message ``"<file>: <rest>"``; ``(None, message)`` when it names no file first."""
    head, sep, rest = message.partition(": ")
    if sep and Path(head).suffix.lower() in FILE_EXTS:
        return head, rest
    return None, message


def summarise(messages: list[str], root: str | Path = "", n_eaf: int = 0) -> list[str]:
    """Messages, the same message for several files once: ``"12 files: <message> (e.g. a.eaf, b.eaf, ...)"``,
    ``"all 273 files: ..."`` when every ``.eaf`` file of the folder has it; in first-seen order."""
    groups: dict[str, list[str | None]] = {}
    for m in messages:
        file, rest = _file_of(m)
        groups.setdefault(rest if file else m, []).append(file)
    out = []
    for rest, files in groups.items():
        named = [f for f in files if f is not None]
        if len(named) < 2:
            out += [f"{f}: {rest}" if f else rest for f in files]
            continue
        every = n_eaf > 1 and len(named) == n_eaf and all(f.lower().endswith(".eaf") for f in named)
        shown = ", ".join(_relative(f, root) for f in named[:EXAMPLES]) + (", ..." if len(named) > EXAMPLES else "")
        out.append(f"{'all ' if every else ''}{len(named)} files: {rest} (e.g. {shown})")
    return out


def _rates_line(rates: dict[str, int]) -> str | None:
    if not rates:
        return None
    parts = [
        f"{r} fps ({n} video{'s' * (n != 1)})" if i == 0 else f"{r} fps ({n})" for i, (r, n) in enumerate(rates.items())
    ]
    return "frame rates: " + ", ".join(parts)


def format_report(rep: dict[str, Any], max_warnings: int = 20) -> str:
    lines = [f"dataset {rep['root']}: {len(rep['classes'])} classes"]
    for split, s in rep["splits"].items():
        dur = "" if s["seconds"] is None else f", {s['seconds'] / 60:.1f} min"
        gt = f"ground truth {s['ground_truth']}" if s["labelled"] else "unlabelled"
        n = f", {s['stats']['instances']} signs" if s["stats"] else ""
        lines.append(
            f"  {split:<10} {s['videos']:>4} videos ({s['with_video']} video, {s['with_pose']} pose){dur}{n}; {gt}"
        )
    opened = any(s["seconds"] is not None for s in rep["splits"].values())
    lines.append(
        f"  total duration {rep['total_seconds'] / 60:.1f} min" if opened else "  duration not measured (--no-open)"
    )
    rates = _rates_line(rep.get("frame_rates") or {})
    if rates:
        lines.append(rates)
    st = rep.get("stats")
    if st and st["instances"]:
        L = st["length_ms"]
        lines.append(
            f"sign length (ms): min {L['min']:.0f}  mean {L['mean']:.0f}  median {L['median']:.0f}  max {L['max']:.0f}"
        )
        if st["gap_ms"]:
            G = st["gap_ms"]
            lines.append(f"gap between signs (ms): min {G['min']:.0f}  median {G['median']:.0f}  max {G['max']:.0f}")
        lines.append("instances per class (all labelled splits):")
        width = max(len(c) for c in rep["classes"])
        for i, (name, n) in enumerate(zip(rep["classes"], st["per_class"])):
            lines.append(f"  {i:>3} {name:<{width}} {n:>5}")
    if rep.get("conventions"):
        lines.append("annotation values:")
        lines += [f"  {c}" for c in rep["conventions"]]
    n_eaf = rep.get("eaf_files", 0)
    warnings = summarise(rep["warnings"], rep["root"], n_eaf)
    for w in warnings[:max_warnings]:
        lines.append(f"warning: {w}")
    if len(warnings) > max_warnings:
        lines.append(f"warning: ... {len(warnings) - max_warnings} more warnings")
    if rep["problems"]:
        lines.append(f"{len(rep['problems'])} problem(s):")
        lines += [f"  problem: {p}" for p in summarise(rep["problems"], rep["root"], n_eaf)]
    else:
        lines.append("no problems found")
    return "\n".join(lines)
