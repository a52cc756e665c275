"""Stage 5: score the predictions with every metric of the entry and write the run's outputs.

Not cached (it takes milliseconds) and written to the run's own output folder: the predictions pickle,
``scores.json``, ``per_class.json`` (:func:`benchmark.reports.tables.per_class_table`), the figures
``f1_by_iou.png`` and ``per_class_f1.png``, and timeline plots of the first videos.

The run's numbers are the run's (its summary, on the parent run in a tracker), so the stage itself reports
no metrics: a search for ``f1`` finds runs, not their score stages.
"""

from __future__ import annotations

from pathlib import Path

from benchmark.engine.clips import entry_fps, frame_to_ms
from benchmark.interfaces import FPS
from benchmark.metrics.uncertainty import bootstrap_ci, video_counts
from benchmark.stages.base import Stage, Stages, Step
from benchmark.stages.handoffs import Predictions, RunData, RunSummary
from benchmark.stages.names import PER_VIDEO, PREDICTIONS, REVIEW, SCORE
from benchmark.storage.cache import make_key
from benchmark.storage.files import write_bytes, write_json

TIMELINES = 20  # videos with a timeline plot


def score_key(decode_key: str, config: dict) -> str:
    return make_key(SCORE, decode_key, list(config["metrics"]))


def score(stages: Stages, data: RunData, predictions: Predictions, config: dict) -> RunSummary:
    names = list(config["metrics"])
    holder: dict = {}

    def compute(out: Path):
        segments = data.scorable(data.eval_split, predictions.load_scored())
        gt = data.ground_truth(data.eval_split)
        scores = {name: stages.component("metric", name).compute(gt, segments) for name in names}
        for name, result in scores.items():
            if isinstance(result, dict) and result.get("note"):
                stages.echo(f"note: {name}: {result['note']}")
        summary = {k: float(v) for k, v in scores[names[0]].items() if _is_number(v)}
        for name in names[1:]:
            summary.update({f"{name}.{k}": float(v) for k, v in scores[name].items() if _is_number(v)})
        counts = video_counts(stages.component("metric", names[0]), gt, segments, pooled=scores[names[0]])
        if counts is not None:  # the primary metric pools per-video counts: its F1 has an interval over videos
            summary["f1_ci_low"], summary["f1_ci_high"] = bootstrap_ci(list(counts.values()))
        artifacts = write_outputs(
            out, data, gt, segments, scores, predictions.path, primary=names[0], fps=entry_fps(config)
        )
        if counts is not None:
            artifacts.append(write_json(out / PER_VIDEO, {"metric": names[0], "counts": counts}))
        artifacts.append(write_json(out / REVIEW, review_document(data, gt, segments, entry_fps(config))))
        holder["summary"] = RunSummary(summary, scores, data.eval_split, out, artifacts)
        return {}

    stages.run(SCORE, score_key(predictions.key, config), compute, cached=False)
    return holder["summary"]


def write_outputs(
    out: Path,
    data: RunData,
    gt,
    segments,
    scores,
    predictions_path: Path,
    primary: str | None = None,
    fps: float = FPS,
) -> list[Path]:
    from benchmark.reports.figures import f1_by_iou_figure, per_class_f1_figure
    from benchmark.reports.tables import per_class_table
    from benchmark.reports.timelines import timeline_plot

    segments = {v: [s[:3] for s in segs] for v, segs in segments.items()}  # the challenge's form
    out.mkdir(parents=True, exist_ok=True)
    write_bytes(out / PREDICTIONS, predictions_path.read_bytes())
    write_json(out / "scores.json", scores)
    rows = per_class_table(gt, segments, list(data.names_of(data.eval_split)))
    write_json(out / "per_class.json", rows)
    artifacts = [out / "config.yaml", out / PREDICTIONS, out / "scores.json", out / "per_class.json"]
    artifacts.append(f1_by_iou_figure(scores, out / "f1_by_iou.png", primary=primary))
    pooled = (scores.get(primary) or {}).get("f1") if primary else None
    title = "F1 per class" + (f" (run F1 {pooled:.3f})" if isinstance(pooled, float) else "")
    artifacts.append(per_class_f1_figure(rows, out / "per_class_f1.png", title=title))
    for video_id in sorted(gt)[:TIMELINES]:
        frames = data.frames.get(video_id)
        artifacts.append(
            timeline_plot(
                video_id,
                gt[video_id],
                segments.get(video_id, []),
                list(data.names_of(data.eval_split)),
                out / "timelines" / f"{video_id}.png",
                duration_ms=int(frame_to_ms(frames, fps)) if frames else None,
            )
        )
    return artifacts


def review_document(data: RunData, gt, segments, fps: float) -> dict:
    """What ``bench review RUN_FOLDER`` shows: per test video its media, the ground truth and the scored
    segments (the challenge's pickle has no scores)."""
    media = {v.video_id: v.video_path or v.pose_path for v in data.videos[data.eval_split]}
    return {
        "classes": list(data.names_of(data.eval_split)),
        "fps": fps,
        "videos": {
            video: {
                "media": str(Path(media[video]).resolve()) if media.get(video) else None,
                "ground_truth": [list(map(int, a[:3])) for a in gt.get(video, [])],
                "segments": [list(s) for s in segments.get(video, [])],
            }
            for video in sorted(set(gt) | set(segments))
        },
    }


def _is_number(v) -> bool:
    import numpy as np

    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


# -- in the graph -------------------------------------------------------------------------------------------------


def _run(stages: Stages, walk, config: dict, experts) -> None:
    walk.summary = score(stages, walk.data, walk.predictions, config)


def _steps(config: dict, data: RunData, components, earlier) -> list[Step]:
    from benchmark.stages.names import DECODE

    return [Step(SCORE, SCORE, SCORE, score_key(earlier[DECODE].key, config), (DECODE,))]


def _never(cache, step: Step, config: dict, data: RunData, components) -> bool:
    """Scoring is computed by every run (milliseconds, into the run's own folder)."""
    return False


STAGE_SPEC = Stage(SCORE, _run, _steps, _never)
