"""``bench lookup``: find query signs, given one example each, in any videos or ``.pose`` files.

Training-free: every query and target is preprocessed into the pose modality (from its ``.pose`` file, or
MediaPipe on the video, cached by content like a run's preprocessing, with the settings of the entry named by
:data:`PREPROCESSING`) and made features (:func:`benchmark.matching.dtw.normalised_joints`, with the frame's
aspect ratio), then :func:`benchmark.matching.dtw.match_many` aligns each query's moving part with every target
(subsequence DTW) and keeps the hits scored over ``threshold``.  :class:`Matching`'s defaults were chosen on
the validation split of the synthetic OSLWL data (``bench data synth --track oslwl``, 20 queries x 10
targets, seed 1; README "Look up signs by example").  The outputs are ``bench spot``'s: an ``.eaf``
per target (a copy of the one beside it, with the tier and its score tier), a JSON and/or CSV; a segment's
class is the query's gloss.

Queries: files (``--query``; the gloss is the file's stem) and a dictionary folder (one example file per gloss,
``.mp4`` and/or ``.pose``, the stem is the gloss).  Two examples of one gloss are an error naming both.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path

from benchmark.errors import DataError
from benchmark.interfaces import VideoRecord
from benchmark.spot.inputs import bad_inputs, check_out, fingerprint, input_hashes, inputs_of, refuse_or_skip
from benchmark.spot.outputs import SpottedRun, segment_rows, write_outputs

PREPROCESSING = "skeleton-only"  # the entry whose preprocessing (pose, skeleton) the look-up uses
MODALITY = "pose"


@dataclass(frozen=True)
class Matching:
    """The look-up's settings (:mod:`benchmark.matching.dtw`): the score a hit needs, the NMS overlap, how much
    of each example is aligned (``trim``, :func:`~benchmark.matching.dtw.active_part`) and reported (``span``).
    Chosen on validation (F1 0.469; 0.445 with threshold 0.4, 0.465 with span 0.5, 0.424 with trim 0.3)."""

    threshold: float = 0.3
    nms_iou: float = 0.3
    max_hits: int | None = None
    trim: float = 0.5
    span: float = 0.6

    def pipeline(self, queries: dict[str, dict[str, str]]) -> str:
        """What made the segments, as ``bench spot``'s ``pipeline`` field: the matcher, its settings, the queries."""
        key = json.dumps(["dtw", vars(self), sorted(queries.items())], sort_keys=True)
        return "dtw:" + hashlib.sha256(key.encode()).hexdigest()[:16]


def query_records(files: list[Path], dictionary: Path | None) -> list[tuple[str, VideoRecord]]:
    """``[(gloss, record)]`` in gloss order: the dictionary's examples and the ``--query`` files."""
    found: dict[str, VideoRecord] = {}
    sources = ([inputs_of([dictionary])] if dictionary is not None else []) + ([inputs_of(files)] if files else [])
    for records in sources:
        for record in records:
            if record.video_id in found:
                where = lambda r: r.video_path or r.pose_path
                raise DataError(
                    f"two query examples of gloss {record.video_id!r}: {where(found[record.video_id])} and "
                    f"{where(record)}; keep one (the file name is the gloss)"
                )
            found[record.video_id] = record
    if not found:
        raise DataError("no query: give --query FILE (repeatable) or --dictionary DIR")
    return sorted(found.items())


def lookup(pm, queries, targets: list[Path], out: Path, *, matching: Matching = Matching(), formats=("eaf", "json"),
           tier: str = "spotted", cache_dir=None, progress: bool = True, on_bad_video: str = "fail",
           echo=print) -> list[Path]:  # fmt: skip
    """Find each ``(gloss, record)`` of ``queries`` in ``targets``; the output files written, per target."""
    from benchmark.matching.dtw import match_many

    videos = inputs_of(targets)
    check_out(videos, Path(out), formats)
    glosses = [g for g, _ in queries]
    examples = [replace(r, video_id=f"query-{i:04d}") for i, (_, r) in enumerate(queries)]
    unreadable = bad_inputs(examples, ())
    if unreadable:  # a query is never skipped: the look-up would silently miss a gloss
        raise DataError("query examples cannot be read:\n" + "\n".join(f"  {why}" for why in unreadable.values()))
    videos = refuse_or_skip(bad_inputs(videos, formats), videos, on_bad_video, echo)
    hashes = {v.video_id: input_hashes(v) for v in [*videos, *examples]}
    arrays, fps = skeletons(pm, [*videos, *examples], fingerprint(hashes), cache_dir, progress, on_bad_video, echo)
    missing = [g for g, e in zip(glosses, examples) if e.video_id not in arrays]
    if missing:
        raise DataError(f"query example(s) of {', '.join(missing)} could not be preprocessed (see the warnings above)")
    found = match_many(
        {g: arrays[e.video_id] for g, e in zip(glosses, examples)},
        {v.video_id: arrays[v.video_id] for v in videos if v.video_id in arrays},
        fps,
        matching.threshold,
        matching.nms_iou,
        matching.max_hits,
        trim=matching.trim,
        span=matching.span,
    )
    pipeline = matching.pipeline({g: hashes[e.video_id] for g, e in zip(glosses, examples)})
    written = []
    for video in videos:
        if video.video_id not in found:
            continue
        rows = segment_rows(found[video.video_id], glosses)
        stamp = {"pipeline": pipeline, "input_sha256": hashes[video.video_id]}
        written += write_outputs(video, [SpottedRun(tier, pipeline, rows)], Path(out), formats, stamp)
    return written


def skeletons(pm, videos, fingerprint: str, cache_dir, progress: bool, on_bad_video: str, echo) -> tuple[dict, float]:
    """``({video_id: [T, D] features}, fps)``: the pose modality by the preprocessing stage with
    :data:`PREPROCESSING`'s settings, made features with each input's frame size."""
    import numpy as np

    from benchmark.engine.clips import entry_fps
    from benchmark.matching.dtw import normalised_joints
    from benchmark.modalities.pose import frame_size
    from benchmark.stages.base import Stages
    from benchmark.stages.handoffs import RunData
    from benchmark.stages.preprocess import preprocess
    from benchmark.storage.cache import StageCache

    config = pm.components("benchmark").resolve(PREPROCESSING, None).config
    config["preprocess"] = {**config["preprocess"], "on_bad_video": on_bad_video}
    config["experts"] = {MODALITY: {"name": "stgcn", "modality": MODALITY, "settings": {}}}
    data = RunData("lookup", None, fingerprint, (), {"train": (), "test": tuple(videos)}, "test", None)
    stages = Stages(StageCache(cache_dir), pm.components, None, None, device="cpu", progress=progress, echo=echo)
    pre = preprocess(stages, data, config)
    arrays = {
        v.video_id: normalised_joints(np.asarray(pre.array(v.video_id, MODALITY)), frame_size(v))
        for v in videos
        if v.video_id in pre.index
    }
    return arrays, entry_fps(config)
