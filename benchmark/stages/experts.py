"""Stage 2, per expert: train it as a clip classifier (two rounds), then extract its clip features.

One group stage per expert (``expert:<id>``) holding ``train-expert:<id>`` and ``extract-features:<id>``, so a
sweep can schedule one expert as one task.  The training key depends on the expert's input (its modality
chain's settings and the dataset), its settings and training, the clips, the seed and its code; the features'
key on the trained weights' key.
"""

from __future__ import annotations

import numpy as np

from benchmark import __version__
from benchmark.engine.clips import ClipSpec, frame_labels
from benchmark.stages.base import Stage, Stages, Step
from benchmark.stages.handoffs import ExpertFeatures, Preprocessed, RunData
from benchmark.stages.names import CHECKPOINT, EXPERT, EXTRACT, TRAIN_EXPERT, per_expert
from benchmark.storage.cache import code_version, make_key
from benchmark.storage.files import save_npy


def expert_training(expert, config: dict, expert_id: str) -> dict:
    """The complete training settings of one expert: the entry's ``expert_training`` < the expert's own
    ``training_defaults`` < the entry's per-expert ``training``."""
    from benchmark.engine.expert_training import training_for

    return training_for(expert, config["expert_training"], config["experts"][expert_id].get("training"))


def train_key(expert, input_key: str, data: RunData, config: dict, expert_id: str) -> str:
    """``input_key``: what the expert's input arrays depend on (:attr:`Preprocessed.input_keys`)."""
    spec = config["experts"][expert_id]
    return make_key(
        TRAIN_EXPERT,
        input_key,
        spec["name"],
        spec["modality"],
        spec["settings"],
        expert_training(expert, config, expert_id),
        runtime_key(config),
        clip_key(config),
        config["seed"],
        data.num_outputs,
        code_version(expert),
        __version__,
    )


def feature_key(expert, trained_key: str, config: dict, expert_id: str) -> str:
    training = expert_training(expert, config, expert_id)
    return make_key("extract", trained_key, training["extract_batch_size"], clip_key(config), runtime_key(config))


def runtime_key(config: dict) -> dict:
    """What of the runtime changes the numbers: the autocast dtype and determinism (loader workers, pinning and
    the memory format change only the speed), with ``auto`` resolved for the run's device."""
    from benchmark.runtime import accelerator

    rt = accelerator.runtime(config.get("device", "cpu"), config.get("runtime"))
    return {"autocast": rt.autocast, "deterministic": rt.deterministic}


def clip_key(config: dict) -> dict:
    """The clip segmentation as it runs (``pad_left`` resolved), for cache keys."""
    return vars(ClipSpec.from_config(config))


def expert_features(stages: Stages, data: RunData, pre: Preprocessed, config: dict, expert_id: str) -> ExpertFeatures:
    spec = config["experts"][expert_id]
    expert = stages.component("expert", spec["name"])
    modality = stages.component("modality", spec["modality"])
    training = expert_training(expert, config, expert_id)
    clips = ClipSpec.from_config(config)
    seed = int(config["seed"])
    trained = train_key(expert, pre.input_keys[spec["modality"]], data, config, expert_id)
    features = feature_key(expert, trained, config, expert_id)
    dim = int(expert.feature_dim(spec["settings"]))
    checkpoint = stages.cache.path(TRAIN_EXPERT, trained) / CHECKPOINT

    def train(folder):
        from benchmark.engine.checkpoints import save_state
        from benchmark.engine.expert_training import train_expert

        videos = [
            (
                frame_labels(v.annotations, data.n_frames(v.video_id), clips.fps, v.ignored),
                pre.array(v.video_id, spec["modality"]),
            )
            for v in data.videos["train"]
        ]
        state = train_expert(
            expert,
            spec["settings"],
            training,
            videos,
            clips,
            data.num_outputs,
            modality=modality,
            device=stages.device,
            seed=seed,
            on_epoch=stages.on_epoch(per_expert(TRAIN_EXPERT, expert_id)),
            progress=stages.progress,
            runtime=config["runtime"],
        )
        save_state(state, folder / CHECKPOINT)
        return {"params": {"expert": spec["name"], "modality": spec["modality"]}}

    def extract(folder):
        from benchmark.engine.checkpoints import load_state
        from benchmark.runtime.progress import bar
        from benchmark.storage.files import require_space

        clips_total = sum(clips.num_clips(data.n_frames(v.video_id)) for v in data.all_videos())
        require_space(folder, int(clips_total * dim * 4 * 1.05), f"the features of expert {expert_id}")
        state = load_state(checkpoint)
        extract_one = extractor(expert, modality, spec["settings"], state, config, expert_id, stages.device)
        for video in bar(data.all_videos(), desc=f"extract {expert_id}", enabled=stages.progress):
            out = folder / f"{video.video_id}.npy"
            if not out.exists():  # written atomically by an earlier, interrupted attempt
                save_npy(out, extract_one(pre.array(video.video_id, spec["modality"])))
        return {"params": {"feature_dim": dim}}

    with stages.group(per_expert(EXPERT, expert_id)):
        stages.echo(f"train expert {expert_id} ({spec['name']} on {spec['modality']})")
        stages.run(per_expert(TRAIN_EXPERT, expert_id), trained, train)
        result = stages.run(per_expert(EXTRACT, expert_id), features, extract)
    return ExpertFeatures(expert_id, trained, features, result.folder, dim, checkpoint)


def extractor(expert, modality, settings: dict, state, config: dict, expert_id: str, device: str):
    """``extract(array) -> float32 [n_clips, dim]``: one video's clip features with a trained expert, the body
    of the extraction stage and of ``bench spot`` alike (same clips, same batches, same runtime)."""
    from benchmark.engine.extraction import FeatureExtractor

    training = expert_training(expert, config, expert_id)
    clips = ClipSpec.from_config(config)
    run = FeatureExtractor(
        expert,
        settings,
        state,
        device,
        int(training["extract_batch_size"]),
        modality=modality,
        training=training,
        runtime=config.get("runtime"),
    )
    return lambda array: np.asarray(run(array, clips), dtype=np.float32)


# -- in the graph -------------------------------------------------------------------------------------------------


def _run(stages: Stages, walk, config: dict, experts) -> None:
    for eid in experts:
        walk.experts.append(expert_features(stages, walk.data, walk.pre, config, eid))


def _steps(config: dict, data: RunData, components, earlier) -> list[Step]:
    from benchmark.stages.preprocess import input_keys

    inputs = input_keys(data, config, components("modality"))
    out = []
    for eid, spec in config["experts"].items():
        expert = components("expert").get(spec["name"])
        trained = train_key(expert, inputs[spec["modality"]], data, config, eid)
        name = per_expert(TRAIN_EXPERT, eid)
        out.append(Step(EXPERT, name, TRAIN_EXPERT, trained, tuple(earlier), eid))
        out.append(
            Step(EXPERT, per_expert(EXTRACT, eid), EXTRACT, feature_key(expert, trained, config, eid), (name,), eid)
        )
    return out


STAGE_SPEC = Stage(EXPERT, _run, _steps)
