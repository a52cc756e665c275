"""``bench data check``: the generic checks of a dataset and the report a researcher wants to see first.

Every dataset gets them through :meth:`benchmark.interfaces.Dataset.check`: by default (:func:`check_opened`)
its settings against their declaration, :meth:`~benchmark.interfaces.Dataset.open` (what it raises is the
problem), each split's videos and their annotations against the class list; then, for any dataset, each
video's media opened (:func:`report_of`).  A dataset whose loader can collect every problem of a folder
instead of raising the first ones (ChaLearn MSSL, ELAN) overrides ``check`` to report its own scan the same way
and adds its format's notes.

The report: videos per split (with video / pose files), each video's frame rate (a count per rate: the pipeline
resamples every input to the entry's ``preprocess.fps``, so a rate is information, not a problem), total
duration (frames / the file's own rate), instances per class, the sign-length distribution, and every problem
(unreadable or empty videos, annotations past the end of their video, by
:func:`benchmark.datasets.records.past_end`, the rule a run checks too, and what the dataset found).
Durations and rates come from the video's header (OpenCV) or else the ``.pose`` file.  The same message for
many files is printed once, with the count and a few files as examples.  ``open_media=False`` (``--no-open``)
opens no media.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from benchmark.datasets.records import (
    ASSUMED_FPS,
    POSE_EXT,
    SPLITS,
    VIDEO_EXTS,
    Findings,
    ScanResult,
    annotation_stats,
    past_end,
    validate_video_annotations,
    video_end_ms,
)
from benchmark.datasets.settings import declared_problems

EXAMPLES = 3  # files or values shown for a summarised message
FILE_EXTS = (".eaf", POSE_EXT, ".pkl", ".txt", *VIDEO_EXTS)  # a message starting "<such a file>: " names a file
CheckReport = dict[str, Any]  # what Dataset.check returns and format_report prints (keys: see report_of)


# -- the generic check ------------------------------------------------------------------------------------------


def problem_report(root: Path | None, problems: list[str]) -> CheckReport:
    """The report of a dataset that could not be read at all: its problems, nothing else."""
    report = report_of(ScanResult(Path(root or "."), [], findings=Findings(list(problems))), open_media=False)
    report["root"] = "(no folder)" if root is None else str(root)
    return report


def check_opened(
    dataset, root: Path | None, settings, cache_dir: Path | None, *, open_media: bool = True
) -> CheckReport:
    """The default :meth:`~benchmark.interfaces.Dataset.check` of the dataset class ``dataset``: its settings
    against their declaration, then the opened dataset's videos and annotations (:func:`scan_of`), reported by
    :func:`report_of`."""
    from benchmark.errors import BenchError

    merged = dataset.with_defaults(settings)
    problems = declared_problems(dataset, merged)
    if problems:
        return problem_report(root, problems)
    try:
        opened = dataset.open(None if root is None else Path(root), merged, cache_dir, progress=False)
    except BenchError as e:
        return problem_report(root, [str(e)])
    return report_of(scan_of(opened), open_media)


def scan_of(ds) -> ScanResult:
    """An opened dataset as a :class:`~benchmark.datasets.records.ScanResult`: every split's videos, a video
    without media and annotations outside the class list, inverted or overlapping as problems, videos its
    ground truth does not mention and the dataset's own warnings as warnings."""
    findings = Findings(warnings=list(getattr(ds, "warnings", None) or []))
    res = ScanResult(Path(getattr(ds, "root", None) or "."), list(ds.class_names), findings=findings)
    for split in ds.splits():
        videos = list(ds.videos(split))
        res.records[split] = videos
        for r in videos:
            media = r.video_path or r.pose_path
            where = f"{media}: video {r.video_id!r}" if media else f"video {r.video_id!r} ({split})"
            if media is None:
                findings.problems.append(f"{where}: neither a video nor a .pose file")
            if r.annotations is not None:
                validate_video_annotations(r.annotations, where, ds.num_classes, findings, class_hint="")
        if ds.labelled(split):
            res.gt_sources[split] = f"of dataset {ds.name}"
        res.missing_gt[split] = ds.missing_ground_truth(split)
        for video, source in res.missing_gt[split].items():
            findings.warnings.append(f"{source}: video {video!r} has no ground-truth entry (no query signs)")
    return res


# -- media --------------------------------------------------------------------------------------------------------


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
        f" ({frames} frames at {_rate(fps or ASSUMED_FPS)} fps = {video_end_ms(frames, fps)} ms; sign {name!r})"
    )


def _measure(recs, class_names: list[str], rates: Counter, problems: list[str]) -> float:
    """Seconds of a split's media, each video's rate counted in ``rates`` and signs past its end in
    ``problems``."""
    seconds = 0.0
    for r in recs:
        frames, fps = media_length(r, problems)
        if frames:
            rates[_rate(fps)] += 1
        seconds += frames / (fps or ASSUMED_FPS)
        problem = _past_end_problem(r, frames, fps, class_names)
        if problem:
            problems.append(problem)
    return seconds


def report_of(res: ScanResult, open_media: bool = True) -> CheckReport:
    """The report of a scanned folder: its media opened (when ``open_media``) and its annotations summarised.

    Keys: ``root``, ``classes``, ``splits`` (per split: ``videos``, ``with_video``, ``with_pose``, ``seconds``,
    ``labelled``, ``ground_truth``, ``stats``), ``total_seconds``, ``frame_rates``, ``stats``, ``problems``
    (empty when the dataset is usable), ``warnings``; a dataset may add its own (``conventions``: lines
    printed under "annotation values"; ``eaf_files``: files counted by "all N files" summaries)."""
    problems, warnings = list(res.findings.problems), list(res.findings.warnings)
    report: dict[str, Any] = {"root": str(res.root), "classes": res.class_names, "splits": {}}
    rates: Counter = Counter()
    all_gt: dict[str, Any] = {}
    for split in SPLITS:
        recs = res.records.get(split)
        if not recs:
            continue
        seconds = _measure(recs, res.class_names, rates, problems) if open_media else 0.0
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


# -- the text report --------------------------------------------------------------------------------------------


def relative(path, root) -> str | None:
    """``path`` relative to ``root`` as shown in a report (as given when outside it; None for None)."""
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
        shown = ", ".join(relative(f, root) for f in named[:EXAMPLES]) + (", ..." if len(named) > EXAMPLES else "")
        out.append(f"{'all ' if every else ''}{len(named)} files: {rest} (e.g. {shown})")
    return out


def _rates_line(rates: dict[str, int]) -> str | None:
    if not rates:
        return None
    parts = [
        f"{r} fps ({n} video{'s' * (n != 1)})" if i == 0 else f"{r} fps ({n})" for i, (r, n) in enumerate(rates.items())
    ]
    return "frame rates: " + ", ".join(parts)


def _split_lines(rep: CheckReport) -> list[str]:
    """One line per split, then the total duration (or why it was not measured) and the frame rates."""
    lines = []
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
    return lines + ([rates] if rates else [])


def _stats_lines(rep: CheckReport) -> list[str]:
    """Sign lengths, gaps and instances per class, when there are signs."""
    st = rep.get("stats")
    if not st or not st["instances"]:
        return []
    L = st["length_ms"]
    lengths = f"min {L['min']:.0f}  mean {L['mean']:.0f}  median {L['median']:.0f}  max {L['max']:.0f}"
    lines = [f"sign length (ms): {lengths}"]
    if st["gap_ms"]:
        G = st["gap_ms"]
        lines.append(f"gap between signs (ms): min {G['min']:.0f}  median {G['median']:.0f}  max {G['max']:.0f}")
    lines.append("instances per class (all labelled splits):")
    width = max(len(c) for c in rep["classes"])
    for i, (name, n) in enumerate(zip(rep["classes"], st["per_class"])):
        lines.append(f"  {i:>3} {name:<{width}} {n:>5}")
    return lines


def _finding_lines(rep: CheckReport, max_warnings: int) -> list[str]:
    """Warnings (the first ``max_warnings``) and problems, repeated messages summarised."""
    n_eaf = rep.get("eaf_files", 0)
    warnings = summarise(rep["warnings"], rep["root"], n_eaf)
    lines = [f"warning: {w}" for w in warnings[:max_warnings]]
    if len(warnings) > max_warnings:
        lines.append(f"warning: ... {len(warnings) - max_warnings} more warnings")
    if not rep["problems"]:
        return [*lines, "no problems found"]
    lines.append(f"{len(rep['problems'])} problem(s):")
    return lines + [f"  problem: {p}" for p in summarise(rep["problems"], rep["root"], n_eaf)]


def format_report(rep: CheckReport, max_warnings: int = 20) -> str:
    """The report as ``bench data check`` prints it."""
    lines = [f"dataset {rep['root']}: {len(rep['classes'])} classes", *_split_lines(rep), *_stats_lines(rep)]
    if rep.get("conventions"):
        lines.append("annotation values:")
        lines += [f"  {c}" for c in rep["conventions"]]
    return "\n".join(lines + _finding_lines(rep, max_warnings))
