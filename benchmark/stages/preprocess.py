"""Stage 1: preprocess every video into the modalities the experts read (and what those require).

One folder per dataset and preprocessing settings, shared by every run and extended in place: a run that needs
a modality (or a video) not there yet computes only that, so swapping experts reuses the pose and crops already
computed.  Files are written atomically; the manifest, rewritten atomically after each pass, records per video
the arrays that are complete and the frame count, and which videos were skipped as bad.
"""

from __future__ import annotations

import json

from benchmark import __version__
from benchmark.engine.clips import entry_fps
from benchmark.stages.base import Stage, Stages, Step
from benchmark.stages.handoffs import Preprocessed, RunData
from benchmark.stages.names import MANIFEST, PREPROCESS
from benchmark.storage.cache import code_version, make_key
from benchmark.storage.files import write_json

STAGE = PREPROCESS


def needed_modalities(config: dict) -> list[str]:
    """The modalities the experts read, and the one a query spotter reads itself (its ``modality`` setting:
    :class:`benchmark.interfaces.QuerySpotter`); dependencies are added by the plan."""
    own = (config.get("spotter") or {}).get("settings", {}).get("modality")
    return sorted({spec["modality"] for spec in config["experts"].values()} | ({own} if own else set()))


def preprocess_key(data: RunData, config: dict, registry) -> str:
    """Keyed by every modality the entry configures (not only those this run needs), so runs with other expert
    subsets share the folder."""
    from benchmark.preprocessing import pool
    from benchmark.preprocessing.plan import modality_plan, signature

    pre = config["preprocess"]
    configured = sorted({m for m in pre if m in registry} | set(needed_modalities(config)))
    plan = modality_plan(configured, registry)
    versions = {m: code_version(mod) for m, mod in plan.items()}
    return make_key(
        STAGE, data.fingerprint, signature(plan, pre), entry_fps(config), versions, code_version(pool), __version__
    )


def input_keys(data: RunData, config: dict, registry) -> dict[str, str]:
    """What each needed modality's arrays depend on: the dataset and the settings of its own modality chain."""
    from benchmark.preprocessing.plan import modality_plan, signature

    return {
        m: make_key(data.fingerprint, signature(modality_plan([m], registry), config["preprocess"]), entry_fps(config))
        for m in needed_modalities(config)
    }


def check_space(folder, todo, index: dict, plan: dict, pre: dict) -> None:
    """Refuse to start when the disk clearly cannot hold the arrays still missing (an estimate; a disk that fills
    anyway still gets a clear error)."""
    from benchmark.preprocessing.plan import modality_settings
    from benchmark.preprocessing.space import estimate_bytes
    from benchmark.storage.files import require_space

    settings = {name: modality_settings(name, m, pre, plan) for name, m in plan.items()}
    need = estimate_bytes(todo, plan, settings, index)
    if need:
        require_space(folder, need, f"preprocessing {len(todo)} video(s)")


def preprocess(stages: Stages, data: RunData, config: dict) -> Preprocessed:
    from benchmark.preprocessing.plan import modality_plan

    registry = stages.components("modality")
    pre = config["preprocess"]
    key = preprocess_key(data, config, registry)
    needed = needed_modalities(config)
    plan = modality_plan(needed, registry)
    videos = data.all_videos()
    stages.echo(f"{STAGE}: {len(videos)} videos, modalities {', '.join(sorted(plan))}")

    def compute(folder):
        manifest_path = folder / MANIFEST
        manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
        index, frames, skipped = (manifest.get(k, {}) for k in ("videos", "frames", "skipped"))
        todo = [
            v for v in videos if v.video_id not in skipped and any(m not in index.get(v.video_id, {}) for m in plan)
        ]
        if todo:
            check_space(folder, todo, index, plan, pre)
            _compute(stages, todo, plan, config, folder, index, frames, skipped)
            write_json(
                manifest_path,
                {"stage": STAGE, "key": key, "videos": index, "frames": frames, "skipped": skipped},
                indent=1,
            )
        return {
            "computed": bool(todo),
            "metrics": {"videos": len(todo), "skipped": len(skipped)},
            "params": {"modalities": sorted(plan)},
        }

    result = stages.run(STAGE, key, compute, extend=True)
    manifest = json.loads((result.folder / MANIFEST).read_text())
    index = {v: m for v, m in manifest["videos"].items() if all(n in m for n in plan)}
    return Preprocessed(
        key,
        result.folder,
        index,
        {v: manifest["frames"][v] for v in index},
        manifest["skipped"],
        input_keys(data, config, registry),
    )


def _compute(stages: Stages, todo, plan: dict, config: dict, folder, index: dict, frames: dict, skipped: dict):
    """Preprocess the videos ``todo`` into ``folder``; their arrays, frame counts and skips go into the index."""
    from benchmark.preprocessing.pool import preprocess_videos

    pre = config["preprocess"]
    reasons: dict[str, str] = {}
    outputs = preprocess_videos(
        todo,
        plan,
        pre,
        folder,
        workers=stages.workers if stages.workers is not None else int(pre["workers"]),
        on_bad_video=pre["on_bad_video"],
        progress=stages.progress,
        min_frames=int(config["clips"]["length"]),
        skipped=reasons,
    )
    for video in todo:
        out = outputs.get(video.video_id)
        if out is None:
            skipped[video.video_id] = reasons.get(video.video_id, "bad video")
            stages.echo(f"  skipped video {video.video_id} (on_bad_video: skip): {skipped[video.video_id]}")
            continue
        index.setdefault(video.video_id, {}).update({m: str(p.relative_to(folder)) for m, p in out.paths.items()})
        frames[video.video_id] = int(out.frames)


def preprocessed(cache, key: str, data: RunData, config: dict, registry) -> bool:
    """Whether the shared folder of ``key`` already holds every modality ``config`` needs for every video (the
    stage extends its folder in place, so "cached" means complete for this run, not merely present)."""
    from benchmark.preprocessing.plan import modality_plan

    path = cache.path(STAGE, key) / MANIFEST
    if not path.is_file():
        return False
    manifest = json.loads(path.read_text())
    names = set(modality_plan(needed_modalities(config), registry))
    index, skipped = manifest.get("videos", {}), manifest.get("skipped", {})
    return all(v.video_id in skipped or names <= set(index.get(v.video_id, {})) for v in data.all_videos())


# -- in the graph -------------------------------------------------------------------------------------------------


def _run(stages: Stages, walk, config: dict, experts) -> None:
    walk.pre = preprocess(stages, walk.data, config)
    walk.data = walk.pre.restrict(walk.data)  # the videos left out as bad drop out of every later stage


def _steps(config: dict, data: RunData, components, earlier) -> list[Step]:
    return [Step(STAGE, STAGE, STAGE, preprocess_key(data, config, components("modality")))]


def _done(cache, step: Step, config: dict, data: RunData, components) -> bool:
    return preprocessed(cache, step.key, data, config, components("modality"))


STAGE_SPEC = Stage(STAGE, _run, _steps, _done)
