"""Stage 0: open the dataset, check its annotations, and choose the splits a run trains, selects and scores.

Evaluation split: ``test`` when it carries ground truth, else ``validation``.  The spotter's checkpoint is
chosen on ``validation`` only when it exists, is labelled and is not the evaluation split; otherwise the last
epoch is kept (no selection on the data it is scored on).

Annotations get the checks of ``bench data check`` before any work, against each video's length: its frame
count and frame rate (its header, or its ``.pose`` file when there is no video; 25 fps when the header has
none), by the one rule of :func:`benchmark.datasets.records.past_end` (a sign may end exactly at the video's
end).  A sign ending after its video, or a video of a labelled split without a ground-truth entry, is an
error naming the file, the video and the sign's gloss (``dataset.on_bad_annotation: fail``, the default), or a
warning with the sign (and ignored spans) clipped to the video and the video taken as having no query signs
(``clip``).  A zero-length sign is always a warning.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from benchmark.datasets.records import past_end, video_end_ms
from benchmark.errors import BenchError, DataError
from benchmark.interfaces import FPS, Dataset, VideoRecord
from benchmark.stages.handoffs import RunData


def open_run_data(
    config: dict, components: Callable[[str], Any], cache_dir: Path, *, progress: bool = True, echo=None
) -> RunData:
    """The one way a run's data is opened (a run, a ``--devices`` worker, a sweep's planner and its tasks):
    the entry's dataset, its splits, its annotations checked by the entry's ``dataset.on_bad_annotation``."""
    dataset = open_dataset(config, components, cache_dir, progress=progress)
    policy = config["dataset"].get("on_bad_annotation", "fail")
    return run_data(dataset, echo=echo, on_bad_annotation=policy)


def open_dataset(config: dict, components: Callable[[str], Any], cache_dir: Path, *, progress: bool = True) -> Dataset:
    section = config["dataset"]
    cls = components("dataset").get(section["name"])
    root = section.get("path")
    return cls.open(
        Path(root).expanduser() if root else None, section.get("settings") or {}, Path(cache_dir), progress=progress
    )


def run_data(dataset: Dataset, echo: Callable[[str], None] | None = None, on_bad_annotation: str = "fail") -> RunData:
    """The splits a run uses; the dataset's warnings (e.g. a video without ground truth) are printed."""
    warnings = list(getattr(dataset, "warnings", []) or [])
    if warnings and echo is not None:
        for warning in warnings[:5]:
            echo(f"warning: {warning}")
        if len(warnings) > 5:
            echo(f"warning: ... and {len(warnings) - 5} more (`bench data check` lists them all)")
    splits = dataset.splits()
    eval_split = "test" if "test" in splits and dataset.labelled("test") else "validation"
    if eval_split not in splits or not dataset.labelled(eval_split):
        raise BenchError(f"dataset {dataset.root} has no labelled test or validation split to score on")
    select = (
        "validation"
        if ("validation" in splits and eval_split != "validation" and dataset.labelled("validation"))
        else None
    )
    used = ["train"] + ([select] if select else []) + [eval_split]
    videos = {s: tuple(dataset.videos(s)) for s in used}
    if on_bad_annotation is not None:
        videos = {
            s: check_annotations(dataset, s, vs, on_bad_annotation, echo or (lambda m: None))
            for s, vs in videos.items()
        }
    if not videos["train"]:
        raise BenchError(f"dataset {dataset.root} has no training videos")
    queries, names = query_examples(dataset, used[1:])
    return RunData(
        dataset.name,
        getattr(dataset, "root", None),
        dataset.fingerprint(),
        tuple(dataset.class_names),
        videos,
        eval_split,
        select,
        queries=queries,
        query_names=names,
    )


def query_examples(dataset: Dataset, splits: list[str]) -> tuple[dict, dict]:
    """``({split: examples}, {split: glosses})`` of a query-by-example dataset (empty for MSSL); an example's id
    is made unique in the run (``query-<split>-<class>``: a gloss may also name a video)."""
    queries, names = {}, {}
    for split in splits:
        examples = list(dataset.queries(split)) if hasattr(dataset, "queries") else []
        if examples:
            names[split] = tuple(q.video_id for q in examples)
            queries[split] = tuple(replace(q, video_id=f"query-{split}-{i:04d}") for i, q in enumerate(examples))
    return queries, names


def media_length(video: VideoRecord) -> tuple[int, float] | None:
    """``(frames, fps)`` of the video's media: its header (or its ``.pose`` file when it has no video), fps 25
    when the header has none; None if unknown.  The frames are at that rate, so a sign is checked against
    ``frames * 1000 / fps`` ms (:func:`~benchmark.datasets.records.past_end`)."""
    if video.video_path is not None:
        try:
            from benchmark.preprocessing.frames import probe

            info = probe(video.video_path)
        except BenchError:  # an unreadable video: preprocessing reports it (and on_bad_video decides)
            return None
        return (info.frames, info.fps or FPS) if info.frames else None
    if video.pose_path is not None:
        from benchmark.datasets.check import pose_frames

        frames, fps, problem = pose_frames(video.pose_path)
        return None if problem else (frames, fps or FPS)
    return None


def _gloss(dataset: Dataset, cls: int) -> str:
    names = list(getattr(dataset, "class_names", []) or [])
    return repr(names[cls]) if 0 <= cls < len(names) else f"class {cls}"


def _clip(video: VideoRecord, end_ms: int) -> VideoRecord:
    """The video with its signs and ignored spans clipped to ``end_ms`` (those starting after it dropped)."""
    anns = tuple((c, s, min(e, end_ms)) for c, s, e in video.annotations or () if s < end_ms)
    ignored = tuple((s, min(e, end_ms)) for s, e in video.ignored if s < end_ms)
    return replace(video, annotations=anns, ignored=ignored)


def check_annotations(dataset: Dataset, split: str, videos, policy: str, echo: Callable[[str], None]) -> tuple:
    """``videos`` with their annotations checked against their length (see the module docstring)."""
    if policy not in ("fail", "clip"):
        raise BenchError(f"dataset.on_bad_annotation must be fail or clip, got {policy!r}")
    missing = dataset.missing_ground_truth(split)
    if missing and policy == "fail":
        video, source = next(iter(missing.items()))
        raise DataError(
            f"{source}: video {video!r} of the labelled {split} split has no ground-truth entry "
            f"({len(missing)} such video(s)); add its signs (or an empty list), or run with "
            "--on-bad-annotation clip to take it as having no query signs"
        )
    out = []
    for video in videos:
        anns = video.annotations
        if not anns:
            out.append(video)
            continue
        where = video.video_path or video.pose_path
        for cls, start, end in anns:
            if start == end:
                name = _gloss(dataset, cls)
                echo(f"warning: {where}: video {video.video_id!r}: zero-length sign {name} {[cls, start, end]}")
        length = media_length(video)
        if length is None:
            out.append(video)
            continue
        frames, fps = length
        end_ms = video_end_ms(frames, fps)
        bad = [a for a in anns if past_end(a[2], frames, fps)]
        if bad and policy == "fail":
            raise DataError(
                f"{where}: video {video.video_id!r}: sign {_gloss(dataset, bad[0][0])} {list(bad[0])} ends after the"
                f" video ({frames} frames at {fps:g} fps = {end_ms} ms; {len(bad)} such sign(s)); fix the ground"
                " truth, or run with --on-bad-annotation clip to clip such signs to the video"
            )
        if bad:
            echo(
                f"warning: {where}: video {video.video_id!r}: {len(bad)} sign(s) end after the video "
                f"({end_ms} ms), e.g. {_gloss(dataset, bad[0][0])} ending at {bad[0][2]} ms; clipped"
                " (on_bad_annotation: clip)"
            )
            video = _clip(video, end_ms)
        out.append(video)
    return tuple(out)
