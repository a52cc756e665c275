"""``bench data check``: validate a dataset folder and summarise what a researcher wants to see first.

Two layouts: the ChaLearn MSSL folder (:mod:`benchmark.datasets.chalearn`) and an ELAN corpus
(:mod:`benchmark.datasets.elan`); both scans give a ``ScanResult``, reported the same way.

Reports videos per split (with video / pose files), total duration, instances per class, the sign-length
distribution, and every problem (unreadable or empty videos, ground truth naming missing videos, class ids
outside the class list, overlapping or inverted annotations, non-integer times, malformed pickles,
annotations past the end of their video).  Durations come from the video (OpenCV) or else the ``.pose`` file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmark.datasets.chalearn import SPLITS, ScanResult, scan
from benchmark.datasets.records import annotation_stats
from benchmark.interfaces import FPS, MS_PER_FRAME


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


def pose_frames(path: Path) -> tuple[int, str | None]:
    try:
        from pose_format import Pose

        pose = Pose.read(path.read_bytes())
        return int(pose.body.data.shape[0]), None
    except Exception as e:  # any parser failure means a bad file
        return 0, f"{path}: cannot be read by pose-format ({type(e).__name__}: {e})"


def check_dataset(root: Path, num_classes: int | None = None, open_media: bool = True) -> dict[str, Any]:
    """Scan a ChaLearn MSSL folder and return a report dict (``problems`` empty when the dataset is usable)."""
    return report_of(scan(Path(root), num_classes), open_media)


def check_elan(root: Path, settings: dict[str, Any] | None = None, open_media: bool = True) -> dict[str, Any]:
    """The same report for an ELAN folder (:mod:`benchmark.datasets.elan`) read with ``settings``."""
    from benchmark.datasets.elan import scan as scan_elan

    return report_of(scan_elan(Path(root), settings), open_media)


def report_of(res: ScanResult, open_media: bool = True) -> dict[str, Any]:
    """The report of a scanned folder: its media opened (when ``open_media``) and its annotations summarised."""
    root = res.root
    problems, warnings = list(res.findings.problems), list(res.findings.warnings)
    report: dict[str, Any] = {"root": str(root), "classes": res.class_names, "splits": {}}
    all_gt: dict[str, Any] = {}
    for split in SPLITS:
        recs = res.records.get(split)
        if not recs:
            continue
        seconds = 0.0
        for r in recs:
            frames = 0
            if open_media and r.video_path is not None:
                frames, fps, problem = _video_frames(r.video_path)
                if problem:
                    problems.append(problem)
                elif abs(fps - FPS) > 0.01:
                    warnings.append(f"{r.video_path}: {fps:g} fps; the benchmark assumes {FPS} fps (40 ms per frame)")
            if open_media and r.pose_path is not None and (r.video_path is None or frames == 0):
                frames, problem = pose_frames(r.pose_path)
                if problem:
                    problems.append(problem)
            seconds += frames / FPS
            if frames and r.annotations:
                last = max(e for _, _, e in r.annotations)
                if last // MS_PER_FRAME >= frames:
                    problems.append(
                        f"{r.video_path or r.pose_path}: video {r.video_id!r}: annotation ends at {last} ms,"
                        f" after the video's end ({frames} frames = {frames * MS_PER_FRAME} ms)"
                    )
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
    report["stats"] = annotation_stats(all_gt, len(res.class_names)) if res.class_names else None
    report["problems"], report["warnings"] = problems, warnings
    return report


def format_report(rep: dict[str, Any], max_warnings: int = 20) -> str:
    lines = [f"dataset {rep['root']}: {len(rep['classes'])} classes"]
    for split, s in rep["splits"].items():
        dur = "" if s["seconds"] is None else f", {s['seconds'] / 60:.1f} min"
        gt = f"ground truth {s['ground_truth']}" if s["labelled"] else "unlabelled"
        n = f", {s['stats']['instances']} signs" if s["stats"] else ""
        lines.append(
            f"  {split:<10} {s['videos']:>4} videos ({s['with_video']} video, {s['with_pose']} pose){dur}{n}; {gt}"
        )
    lines.append(f"  total duration {rep['total_seconds'] / 60:.1f} min")
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
    for w in rep["warnings"][:max_warnings]:
        lines.append(f"warning: {w}")
    if len(rep["warnings"]) > max_warnings:
        lines.append(f"warning: ... {len(rep['warnings']) - max_warnings} more warnings")
    if rep["problems"]:
        lines.append(f"{len(rep['problems'])} problem(s):")
        lines += [f"  problem: {p}" for p in rep["problems"]]
    else:
        lines.append("no problems found")
    return "\n".join(lines)
